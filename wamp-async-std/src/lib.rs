//! `wamp-async-std`: a WAMP client and an embedded WAMP router on
//! [async-std](https://docs.rs/async-std) (and, since its sockets are plain futures-io
//! types, a model for smol and other futures-io runtimes).
//!
//! This crate is a thin adapter: [`AsyncStdRuntime`] gives the connection loop and the
//! router of [`wamp_runtime`] async-std's tasks and sockets and `async-io`'s timers, and
//! everything else is `wamp_runtime`'s API, re-exported here. See the [`wamp_runtime`] docs
//! for the session API and [`wamp_runtime::RouterBuilder`] for the router.
//!
//! ```no_run
//! use wamp_async_std::{JoinConfig, SerializerKind, TransportConfig};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     async_std::task::block_on(async {
//!         let transport = TransportConfig::new("rs://127.0.0.1:8081")?.serializer(SerializerKind::MsgPack);
//!         let session = wamp_async_std::connect(transport, JoinConfig::new("realm1")).await?;
//!         session.publish("com.example.hello").args(&("world",)).await?;
//!         session.leave().await?;
//!         Ok(())
//!     })
//! }
//! ```
//!
//! A router serving RawSocket on a Unix socket, with an in-process component:
//!
//! ```no_run
//! use wamp_async_std::{JoinConfig, RealmConfig, Router, RouterConfig};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     async_std::task::block_on(async {
//!         let config = RouterConfig::new().realm(RealmConfig::anonymous("realm1")?);
//!         let router = Router::builder(config).listen_unix("/tmp/wamp.sock").start().await?;
//!         let local = router.connect_local(JoinConfig::new("realm1")).await?;
//!         local.publish("com.example.started").await?;
//!         router.shutdown().await;
//!         Ok(())
//!     })
//! }
//! ```
//!
//! async-std is discontinued upstream; this crate keeps working with it, and the same
//! few lines over `async-io`/`async-net` would serve smol.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io;
#[cfg(unix)]
use std::path::PathBuf;
use std::time::Instant;

use futures::future::BoxFuture;
use futures::FutureExt;

/// The runtime-agnostic crate this one adapts.
pub use wamp_runtime;
/// [`wamp_runtime::connect`], for an explicit runtime.
pub use wamp_runtime::connect as connect_with;
pub use wamp_runtime::*;

/// async-std as a [`Runtime`]: `async_std::task::spawn`, `async_io::Timer`,
/// `async_std::net`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdRuntime;

impl Runtime for AsyncStdRuntime {
    fn spawn(&self, future: BoxFuture<'static, ()>) {
        // Dropping the handle detaches the task; it ends when its session does.
        drop(async_std::task::spawn(future));
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        async_io::Timer::at(deadline).map(|_| ()).boxed()
    }

    fn connect_tcp(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<BoxStream>> {
        async move {
            let stream = async_std::net::TcpStream::connect((host.as_str(), port)).await?;
            wamp_runtime::tune_tcp(socket2::SockRef::from(&stream))?;
            Ok(Box::new(stream) as BoxStream)
        }
        .boxed()
    }

    #[cfg(unix)]
    fn connect_unix(&self, path: PathBuf) -> BoxFuture<'static, io::Result<BoxStream>> {
        async move {
            let stream = async_std::os::unix::net::UnixStream::connect(path).await?;
            Ok(Box::new(stream) as BoxStream)
        }
        .boxed()
    }

    fn bind_tcp(&self, addr: String) -> BoxFuture<'static, io::Result<BoxListener>> {
        async move {
            let listener = async_std::net::TcpListener::bind(addr).await?;
            Ok(Box::new(TcpListener(listener)) as BoxListener)
        }
        .boxed()
    }

    fn bind_tcp_backlog(
        &self,
        addr: String,
        backlog: u32,
    ) -> BoxFuture<'static, io::Result<BoxListener>> {
        let listener = wamp_runtime::bind_std_tcp(&addr, backlog).map(|listener| {
            Box::new(TcpListener(async_std::net::TcpListener::from(listener))) as BoxListener
        });
        futures::future::ready(listener).boxed()
    }

    #[cfg(unix)]
    fn bind_unix(&self, path: PathBuf) -> BoxFuture<'static, io::Result<BoxListener>> {
        async move {
            let listener = async_std::os::unix::net::UnixListener::bind(path).await?;
            Ok(Box::new(UnixListener(listener)) as BoxListener)
        }
        .boxed()
    }
}

struct TcpListener(async_std::net::TcpListener);

impl Listener for TcpListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(BoxStream, SocketAddress)>> {
        async move {
            let (stream, peer) = self.0.accept().await?;
            wamp_runtime::tune_tcp(socket2::SockRef::from(&stream))?;
            Ok((Box::new(stream) as BoxStream, SocketAddress::Tcp(peer)))
        }
        .boxed()
    }

    fn local_addr(&self) -> io::Result<SocketAddress> {
        self.0.local_addr().map(SocketAddress::Tcp)
    }
}

#[cfg(unix)]
struct UnixListener(async_std::os::unix::net::UnixListener);

#[cfg(unix)]
impl Listener for UnixListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(BoxStream, SocketAddress)>> {
        async move {
            let (stream, peer) = self.0.accept().await?;
            let peer = SocketAddress::Unix(peer.as_pathname().map(Into::into));
            Ok((Box::new(stream) as BoxStream, peer))
        }
        .boxed()
    }

    fn local_addr(&self) -> io::Result<SocketAddress> {
        let addr = self.0.local_addr()?;
        Ok(SocketAddress::Unix(addr.as_pathname().map(Into::into)))
    }
}

/// The embedded router on async-std: [`Router::builder`] starts one. See
/// [`wamp_runtime::RouterBuilder`]. Needs the `router` feature.
#[cfg(feature = "router")]
#[derive(Debug)]
pub enum Router {}

#[cfg(feature = "router")]
impl Router {
    /// A router with `config` on async-std; add listeners, then
    /// [`start`](RouterBuilder::start) it.
    pub fn builder(config: RouterConfig) -> RouterBuilder<AsyncStdRuntime> {
        RouterBuilder::new(AsyncStdRuntime, config)
    }
}

/// Connects and joins on async-std; see [`wamp_runtime::connect`].
///
/// `transport` is a URL (`"ws://127.0.0.1:8080/ws"`, `"rs://127.0.0.1:8081"`, ...) or
/// a [`TransportConfig`]; `join` a realm name or a [`JoinConfig`].
pub async fn connect(
    transport: impl IntoTransport,
    join: impl Into<JoinConfig>,
) -> Result<Session, ConnectError> {
    wamp_runtime::connect(&AsyncStdRuntime, &transport.into_transport()?, &join.into()).await
}

/// Runs `component` on async-std until it is done; see [`Component::start`].
pub async fn start(component: &Component) -> Result<(), ComponentError> {
    component.start(&AsyncStdRuntime).await
}

/// Runs `components` on async-std until all are done; Ctrl-C or SIGTERM stops them,
/// each leaving its realm gracefully. See [`wamp_runtime::run`].
pub async fn run(components: &[Component]) -> Vec<Result<(), ComponentError>> {
    wamp_runtime::run_until_signal(&AsyncStdRuntime, components).await
}

/// Runs `runner` with `main` on async-std; see [`ApplicationRunner::run`].
pub async fn run_application<F, Fut>(
    runner: &ApplicationRunner,
    main: F,
    auto_reconnect: bool,
) -> Result<(), ComponentError>
where
    F: Fn(Session) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), wamp_runtime::BoxError>> + Send + 'static,
{
    runner.run(&AsyncStdRuntime, main, auto_reconnect).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timer_and_refused_connections_work() {
        async_std::task::block_on(async {
            let start = Instant::now();
            AsyncStdRuntime
                .sleep_until(start + std::time::Duration::from_millis(20))
                .await;
            assert!(start.elapsed() >= std::time::Duration::from_millis(20));
            let err = connect("rs://127.0.0.1:1", "realm1")
                .await
                .expect_err("refused");
            assert!(matches!(err, ConnectError::Io(_)), "{err}");
        });
    }
}
