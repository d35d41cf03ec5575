//! `wamp-tokio`: a WAMP client on [Tokio](https://tokio.rs).
//!
//! This crate is a thin adapter: [`TokioRuntime`] gives the connection loop of
//! [`wamp_async`] Tokio's tasks, timers and sockets, and everything else is
//! `wamp_async`'s API, re-exported here. See the [`wamp_async`] docs for the session
//! API (calls, registrations, subscriptions, publications, errors).
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
pub use wamp_async;
/// [`wamp_async::connect`], for an explicit runtime.
pub use wamp_async::connect as connect_with;
pub use wamp_async::*;

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

    fn connect_tcp(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<BoxStream>> {
        // On the runtime itself, so that `connect` may be awaited from any executor.
        let task = self.handle.spawn(async move {
            let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            stream.set_nodelay(true)?;
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
}

/// Connects and joins on the current Tokio runtime; see [`wamp_async::connect`].
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
    wamp_async::connect(&rt, &transport.into_transport()?, &join.into()).await
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
/// stops them, each leaving its realm gracefully. See [`wamp_async::run`].
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
    wamp_async::run(&rt, components, async {
        // Without a process-wide handler (another library took it), run until done.
        if wamp_async::ctrl_c().await.is_err() {
            futures::future::pending::<()>().await;
        }
    })
    .await
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
    Fut: std::future::Future<Output = Result<(), component::BoxError>> + Send + 'static,
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

    #[test]
    fn outside_a_runtime_connect_is_a_config_error() {
        let err = futures::executor::block_on(connect("ws://127.0.0.1:1/ws", "realm1"))
            .expect_err("no runtime");
        assert!(err.is_config(), "{err}");
    }
}
