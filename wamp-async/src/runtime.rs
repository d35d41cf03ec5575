//! The small interface a runtime adapter implements: spawn, a timer, a clock,
//! connecting byte streams, and (for a router) listening for them.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use wamp_proto::Instant;

use futures::future::BoxFuture;
use futures::io::{AsyncRead, AsyncWrite};

/// A connected, bidirectional byte stream: what the connection loop reads from and
/// writes to. TCP and Unix sockets, TLS sessions and proxy tunnels all end up as one.
pub trait AsyncStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> AsyncStream for T {}

/// A boxed [`AsyncStream`].
pub type BoxStream = Box<dyn AsyncStream>;

/// What the connection loop needs from an async runtime.
///
/// `wamp-tokio` and `wamp-async-std` implement it in a few lines each; everything else
/// (TLS, WebSocket, RawSocket, the session) is written once, in this crate, on top of it.
/// Byte streams are [`futures::io`] streams, so a runtime whose sockets speak Tokio's
/// traits wraps them in a compatibility layer.
///
/// A router also needs listeners: [`bind_tcp`](Runtime::bind_tcp) and
/// [`bind_unix`](Runtime::bind_unix). They have default implementations that fail with
/// [`io::ErrorKind::Unsupported`], so a client-only runtime need not write them.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// Runs `future` to completion in the background. The connection loop and every
    /// procedure handler run in tasks spawned here.
    fn spawn(&self, future: BoxFuture<'static, ()>);

    /// A future that completes at `deadline` (at once if it has passed).
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()>;

    /// The current time on the clock `sleep_until` uses. A runtime with a virtual clock
    /// (Tokio's paused clock) returns that clock's time, so every deadline a session or
    /// the router sets is on the same clock as the timers it waits on.
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// A source of randomness for what this runtime runs: the router's session IDs and
    /// authentication challenges, a client's nonces, the Component's backoff jitter.
    /// The default is the operating system's generator; the type demands a cryptographic
    /// one (`CryptoRng`). A test may return a seeded one to make a run reproducible
    /// (never do that in production: IDs, nonces and challenges must be unpredictable).
    fn rng(&self) -> Box<dyn rand_core::CryptoRng + Send> {
        Box::new(rand_core::UnwrapErr(rand_core::OsRng))
    }

    /// Opens a TCP connection to `host:port` (a name is resolved by the runtime).
    /// Implementations should disable Nagle's algorithm (`TCP_NODELAY`): WAMP messages
    /// are small and latency-bound.
    fn connect_tcp(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<BoxStream>>;

    /// Opens a WebSocket that the platform implements itself, for a runtime where the
    /// page never sees the frames (a web browser): `None`, the default, means the
    /// connection loop speaks WebSocket itself over [`connect_tcp`](Runtime::connect_tcp).
    ///
    /// Nothing may connect before the future is polled: the connection loop may still
    /// refuse the configuration and drop it.
    ///
    /// The stream returned carries the [message pipe](crate::message_pipe): the platform's
    /// open, message and close events as records, and the messages to send back. It may
    /// be returned before the socket has opened; the connect timeout covers the wait for
    /// the `Open` record. `protocols` are the WebSocket subprotocols to offer, in
    /// preference order.
    fn open_websocket(
        &self,
        url: &str,
        protocols: &[&'static str],
    ) -> Option<BoxFuture<'static, io::Result<BoxStream>>> {
        let _ = (url, protocols);
        None
    }

    /// Opens a Unix domain socket connection to `path`.
    #[cfg(unix)]
    fn connect_unix(&self, path: PathBuf) -> BoxFuture<'static, io::Result<BoxStream>>;

    /// Listens for TCP connections on `addr` (`"127.0.0.1:8080"`, `"[::]:0"`,
    /// `"localhost:8080"`; a name is resolved by the runtime, port 0 picks a free port).
    /// Accepted streams should have `TCP_NODELAY` set, as in
    /// [`connect_tcp`](Runtime::connect_tcp).
    fn bind_tcp(&self, addr: String) -> BoxFuture<'static, io::Result<BoxListener>> {
        let _ = addr;
        Box::pin(async { Err(unsupported("TCP listeners")) })
    }

    /// Like [`bind_tcp`](Runtime::bind_tcp), with a listen queue of `backlog`
    /// connections (the kernel's accept queue). Default: `bind_tcp`, whose backlog is
    /// the runtime's choice; the adapters bind with [`bind_std_tcp`](crate::bind_std_tcp).
    fn bind_tcp_backlog(
        &self,
        addr: String,
        backlog: u32,
    ) -> BoxFuture<'static, io::Result<BoxListener>> {
        let _ = backlog;
        self.bind_tcp(addr)
    }

    /// Listens for connections on the Unix domain socket `path`. The caller removes a
    /// stale socket file first.
    #[cfg(unix)]
    fn bind_unix(&self, path: PathBuf) -> BoxFuture<'static, io::Result<BoxListener>> {
        let _ = path;
        Box::pin(async { Err(unsupported("Unix socket listeners")) })
    }
}

fn unsupported(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{what} are not implemented by this runtime"),
    )
}

/// A bound listening socket, as a runtime gives it to the router
/// ([`Runtime::bind_tcp`], [`Runtime::bind_unix`]).
pub trait Listener: Send + 'static {
    /// Waits for the next connection: the stream and the peer's address.
    ///
    /// An error is about one connection attempt (the peer reset it, the process ran out
    /// of file descriptors for a moment): the router logs it, waits a little and calls
    /// `accept` again.
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(BoxStream, SocketAddress)>>;

    /// The address the listener is bound to (with the port the OS picked for port 0).
    fn local_addr(&self) -> io::Result<SocketAddress>;
}

/// A boxed [`Listener`].
pub type BoxListener = Box<dyn Listener>;

/// Where a stream or listener is: a TCP address, a Unix socket, or inside this process.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SocketAddress {
    /// A TCP socket.
    Tcp(SocketAddr),
    /// A Unix domain socket, with its path if it has one (a connecting client's socket
    /// usually has none).
    Unix(Option<PathBuf>),
    /// An in-process connection (a router's
    /// [`connect_local`](crate::RouterHandle::connect_local)).
    InProcess,
}

impl SocketAddress {
    /// The TCP address, if this is one.
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            SocketAddress::Tcp(addr) => Some(*addr),
            _ => None,
        }
    }
}

impl fmt::Display for SocketAddress {
    /// As Crossbar.io reports peers: `tcp4:127.0.0.1:8080`, `tcp6:[::1]:8080`,
    /// `unix:/path`, `unix`, `process`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketAddress::Tcp(addr @ SocketAddr::V4(_)) => write!(f, "tcp4:{addr}"),
            SocketAddress::Tcp(addr @ SocketAddr::V6(_)) => write!(f, "tcp6:{addr}"),
            SocketAddress::Unix(Some(path)) => write!(f, "unix:{}", path.display()),
            SocketAddress::Unix(None) => f.write_str("unix"),
            SocketAddress::InProcess => f.write_str("process"),
        }
    }
}

/// Races `future` against a deadline on the runtime's timer: `None` if the deadline
/// came first.
pub(crate) async fn with_deadline<R: Runtime, T>(
    rt: &R,
    deadline: Instant,
    future: impl std::future::Future<Output = T>,
) -> Option<T> {
    use futures::future::{select, Either};
    let future = std::pin::pin!(future);
    match select(future, rt.sleep_until(deadline)).await {
        Either::Left((value, _)) => Some(value),
        Either::Right(((), _)) => None,
    }
}
