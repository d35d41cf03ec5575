//! `wamp-tokio`: a WAMP client and an embedded WAMP router on [Tokio](https://tokio.rs).
//!
//! This crate is a thin adapter: [`TokioRuntime`] gives the connection loop and the
//! router of [`wamp_runtime`] Tokio's tasks, timers and sockets, and everything else is
//! `wamp_runtime`'s API, re-exported here. See the [`wamp_runtime`] docs for the session
//! API (calls, registrations, subscriptions, publications, errors) and
//! [`wamp_runtime::RouterBuilder`] for the router.
//!
//! ```no_run
//! use wamp_tokio::{Invocation, JoinConfig, Yield};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let session = wamp_tokio::connect("ws://127.0.0.1:8080/ws", JoinConfig::new("realm1")).await?;
//!     let _echo = session
//!         .register("com.example.echo", |inv: Invocation| async move {
//!             Ok(Yield::from_payload(inv.payload().clone()))
//!         })
//!         .await?;
//!     let (text,): (String,) = session.call("com.example.echo").args(&("hi",)).await?.args()?;
//!     assert_eq!(text, "hi");
//!     session.leave().await?;
//!     Ok(())
//! }
//! ```
//!
//! A router with a WebSocket and a RawSocket listener, and a component of the
//! application joined to it in-process:
//!
//! ```no_run
//! use wamp_tokio::{Invocation, JoinConfig, RealmConfig, Router, RouterConfig, Yield};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = RouterConfig::new().realm(RealmConfig::anonymous("realm1")?);
//!     let router = Router::builder(config)
//!         .listen_ws("127.0.0.1:8080", "/ws")
//!         .listen_rawsocket("127.0.0.1:8081")
//!         .start()
//!         .await?;
//!     let local = router.connect_local(JoinConfig::new("realm1")).await?;
//!     let _echo = local
//!         .register("com.example.echo", |inv: Invocation| async move {
//!             Ok(Yield::from_payload(inv.payload().clone()))
//!         })
//!         .await?;
//!     wamp_tokio::ctrl_c().await?;
//!     router.shutdown().await;
//!     Ok(())
//! }
//! ```
//!
//! Sockets are Tokio's (`TCP_NODELAY` set), bridged to futures-io with
//! `tokio_util::compat`; timers are `tokio::time`. The Tokio runtime needs its I/O and
//! time drivers enabled (`Runtime::new()` and `#[tokio::main]` have both).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io;
#[cfg(unix)]
use std::path::PathBuf;
use std::time::Instant;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::runtime::Handle;
use tokio_util::compat::TokioAsyncReadCompatExt;

/// The runtime-agnostic crate this one adapts.
pub use wamp_runtime;
/// [`wamp_runtime::connect`], for an explicit runtime.
pub use wamp_runtime::connect as connect_with;
pub use wamp_runtime::*;

/// Tokio as a [`Runtime`]: spawns on a runtime handle, sleeps with `tokio::time`,
/// connects with `tokio::net`.
#[derive(Debug, Clone)]
pub struct TokioRuntime {
    handle: Handle,
}

impl TokioRuntime {
    /// The Tokio runtime this is called from, if any.
    pub fn try_current() -> Option<TokioRuntime> {
        Handle::try_current()
            .ok()
            .map(|handle| TokioRuntime { handle })
    }

    /// A runtime spawning on `handle`.
    pub fn from_handle(handle: Handle) -> TokioRuntime {
        TokioRuntime { handle }
    }
}

impl Runtime for TokioRuntime {
    fn spawn(&self, future: BoxFuture<'static, ()>) {
        // Detached: the task ends by itself when its session does.
        drop(self.handle.spawn(future));
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        // Timers belong to the runtime's time driver; enter it so that creating one
        // works from any thread.
        let _guard = self.handle.enter();
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).boxed()
    }

    fn now(&self) -> Instant {
        // Tokio's own clock, so that under a paused clock (`start_paused`, `pause`) the
        // sessions' deadlines and the timers they wait on share one virtual time.
        let _guard = self.handle.enter();
        tokio::time::Instant::now().into_std()
    }

    fn connect_tcp(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<BoxStream>> {
        // On the runtime itself, so that `connect` may be awaited from any executor.
        let task = self.handle.spawn(async move {
            let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            wamp_runtime::tune_tcp(socket2::SockRef::from(&stream))?;
            Ok(Box::new(stream.compat()) as BoxStream)
        });
        async move { task.await.map_err(io::Error::other)? }.boxed()
    }

    #[cfg(unix)]
    fn connect_unix(&self, path: PathBuf) -> BoxFuture<'static, io::Result<BoxStream>> {
        let task = self.handle.spawn(async move {
            let stream = tokio::net::UnixStream::connect(path).await?;
            Ok(Box::new(stream.compat()) as BoxStream)
        });
        async move { task.await.map_err(io::Error::other)? }.boxed()
    }

    fn bind_tcp(&self, addr: String) -> BoxFuture<'static, io::Result<BoxListener>> {
        let task = self.handle.spawn(async move {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            Ok(Box::new(TcpListener(listener)) as BoxListener)
        });
        async move { task.await.map_err(io::Error::other)? }.boxed()
    }

    fn bind_tcp_backlog(
        &self,
        addr: String,
        backlog: u32,
    ) -> BoxFuture<'static, io::Result<BoxListener>> {
        // Registering with the I/O driver needs the runtime's context.
        let _guard = self.handle.enter();
        let listener = wamp_runtime::bind_std_tcp(&addr, backlog)
            .and_then(tokio::net::TcpListener::from_std)
            .map(|listener| Box::new(TcpListener(listener)) as BoxListener);
        futures::future::ready(listener).boxed()
    }

    #[cfg(unix)]
    fn bind_unix(&self, path: PathBuf) -> BoxFuture<'static, io::Result<BoxListener>> {
        // Registering with the I/O driver needs the runtime's context.
        let _guard = self.handle.enter();
        let listener = tokio::net::UnixListener::bind(path)
            .map(|listener| Box::new(UnixListener(listener)) as BoxListener);
        futures::future::ready(listener).boxed()
    }
}

struct TcpListener(tokio::net::TcpListener);

impl Listener for TcpListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(BoxStream, SocketAddress)>> {
        async move {
            let (stream, peer) = self.0.accept().await?;
            wamp_runtime::tune_tcp(socket2::SockRef::from(&stream))?;
            Ok((
                Box::new(stream.compat()) as BoxStream,
                SocketAddress::Tcp(peer),
            ))
        }
        .boxed()
    }

    fn local_addr(&self) -> io::Result<SocketAddress> {
        self.0.local_addr().map(SocketAddress::Tcp)
    }
}

#[cfg(unix)]
struct UnixListener(tokio::net::UnixListener);

#[cfg(unix)]
impl Listener for UnixListener {
    fn accept(&mut self) -> BoxFuture<'_, io::Result<(BoxStream, SocketAddress)>> {
        async move {
            let (stream, peer) = self.0.accept().await?;
            let peer = SocketAddress::Unix(peer.as_pathname().map(Into::into));
            Ok((Box::new(stream.compat()) as BoxStream, peer))
        }
        .boxed()
    }

    fn local_addr(&self) -> io::Result<SocketAddress> {
        let addr = self.0.local_addr()?;
        Ok(SocketAddress::Unix(addr.as_pathname().map(Into::into)))
    }
}

/// The embedded router on Tokio: [`Router::builder`] starts one. See
/// [`wamp_runtime::RouterBuilder`]. Needs the `router` feature.
#[cfg(feature = "router")]
#[derive(Debug)]
pub enum Router {}

#[cfg(feature = "router")]
impl Router {
    /// A router with `config` on the current Tokio runtime; add listeners, then
    /// [`start`](RouterBuilder::start) it. Outside a Tokio runtime, `start` fails with
    /// [`RouterError::Runtime`].
    pub fn builder(config: RouterConfig) -> RouterBuilder<TokioRuntime> {
        match TokioRuntime::try_current() {
            Some(rt) => RouterBuilder::new(rt, config),
            None => RouterBuilder::without_runtime(
                config,
                "wamp_tokio::Router::builder was called outside a Tokio runtime",
            ),
        }
    }
}

/// Connects and joins on the current Tokio runtime; see [`wamp_runtime::connect`].
///
/// `transport` is a URL (`"ws://127.0.0.1:8080/ws"`, `"rs://127.0.0.1:8081"`, ...) or
/// a [`TransportConfig`]; `join` a realm name or a [`JoinConfig`].
pub async fn connect(
    transport: impl IntoTransport,
    join: impl Into<JoinConfig>,
) -> Result<Session, ConnectError> {
    let rt = TokioRuntime::try_current().ok_or_else(|| {
        ConnectError::Config("wamp_tokio::connect must be called inside a Tokio runtime".into())
    })?;
    wamp_runtime::connect(&rt, &transport.into_transport()?, &join.into()).await
}

fn current_runtime() -> Result<TokioRuntime, ComponentError> {
    TokioRuntime::try_current().ok_or_else(|| {
        ComponentError::Config("wamp_tokio: must be called inside a Tokio runtime".into())
    })
}

/// Runs `component` on the current Tokio runtime until it is done; see
/// [`Component::start`].
pub async fn start(component: &Component) -> Result<(), ComponentError> {
    component.start(&current_runtime()?).await
}

/// Runs `components` on the current Tokio runtime until all are done; Ctrl-C or SIGTERM
/// stops them, each leaving its realm gracefully. See [`wamp_runtime::run`].
pub async fn run(components: &[Component]) -> Vec<Result<(), ComponentError>> {
    let rt = match current_runtime() {
        Ok(rt) => rt,
        Err(error) => {
            let message = error.to_string();
            return components
                .iter()
                .map(|_| Err(ComponentError::Config(message.clone())))
                .collect();
        }
    };
    wamp_runtime::run_until_signal(&rt, components).await
}

/// Runs `runner` with `main` on the current Tokio runtime; see
/// [`ApplicationRunner::run`].
pub async fn run_application<F, Fut>(
    runner: &ApplicationRunner,
    main: F,
    auto_reconnect: bool,
) -> Result<(), ComponentError>
where
    F: Fn(Session) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), wamp_runtime::BoxError>> + Send + 'static,
{
    runner.run(&current_runtime()?, main, auto_reconnect).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_timer_and_refused_connections_work() {
        let rt = TokioRuntime::try_current().expect("inside tokio");
        let start = Instant::now();
        rt.sleep_until(start + std::time::Duration::from_millis(20))
            .await;
        assert!(start.elapsed() >= std::time::Duration::from_millis(20));
        // Nothing listens on port 1 of the loopback.
        let err = connect("rs://127.0.0.1:1", "realm1")
            .await
            .expect_err("refused");
        assert!(matches!(err, ConnectError::Io(_)), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn now_follows_a_paused_clock() {
        let rt = TokioRuntime::try_current().expect("inside tokio");
        let real = Instant::now();
        let start = rt.now();
        let hour = std::time::Duration::from_secs(3600);
        rt.sleep_until(start + hour).await;
        // An hour passed on the runtime's clock, and no real hour.
        assert!(rt.now() - start >= hour);
        assert!(real.elapsed() < hour / 60);
    }

    #[tokio::test]
    async fn listeners_accept_and_report_their_addresses() {
        let rt = TokioRuntime::try_current().expect("inside tokio");
        let mut listener = rt.bind_tcp("127.0.0.1:0".into()).await.expect("bound");
        let Ok(SocketAddress::Tcp(addr)) = listener.local_addr() else {
            panic!("not a TCP address")
        };
        assert_ne!(addr.port(), 0);
        let connecting = rt.connect_tcp("127.0.0.1".into(), addr.port());
        let (accepted, connected) = futures::join!(listener.accept(), connecting);
        let (_, peer) = accepted.expect("accepted");
        assert!(matches!(peer, SocketAddress::Tcp(p) if p.ip() == addr.ip()));
        drop(connected.expect("connected"));
    }

    #[cfg(feature = "router")]
    #[test]
    fn outside_a_runtime_a_router_does_not_start() {
        let builder = Router::builder(RouterConfig::new());
        let err = futures::executor::block_on(builder.start()).expect_err("no runtime");
        assert!(matches!(err, RouterError::Runtime(_)), "{err}");
    }

    #[test]
    fn outside_a_runtime_connect_is_a_config_error() {
        let err = futures::executor::block_on(connect("ws://127.0.0.1:1/ws", "realm1"))
            .expect_err("no runtime");
        assert!(err.is_config(), "{err}");
    }
}
