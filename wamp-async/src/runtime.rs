//! The small interface a runtime adapter implements: spawn, a timer, a clock, and
//! connecting byte streams.

use std::io;
#[cfg(unix)]
use std::path::PathBuf;
use std::time::Instant;

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
/// A router will later need listeners too; they will be added as further methods with
/// default implementations, so existing runtimes keep compiling.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// Runs `future` to completion in the background. The connection loop and every
    /// procedure handler run in tasks spawned here.
    fn spawn(&self, future: BoxFuture<'static, ()>);

    /// A future that completes at `deadline` (at once if it has passed).
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()>;

    /// The current time on the clock `sleep_until` uses.
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// Opens a TCP connection to `host:port` (a name is resolved by the runtime).
    /// Implementations should disable Nagle's algorithm (`TCP_NODELAY`): WAMP messages
    /// are small and latency-bound.
    fn connect_tcp(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<BoxStream>>;

    /// Opens a Unix domain socket connection to `path`.
    #[cfg(unix)]
    fn connect_unix(&self, path: PathBuf) -> BoxFuture<'static, io::Result<BoxStream>>;
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
