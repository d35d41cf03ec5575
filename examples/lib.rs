//! What the examples share: the runtime they run on and the router they talk to.
//!
//! Every example is one program, generic over [`wamp_runtime::Runtime`], so the same code
//! runs on Tokio (the default) and on async-std:
//!
//! ```text
//! cargo run -p wamp-examples --example rpc_caller -- ws://127.0.0.1:8080/ws
//! cargo run -p wamp-examples --example rpc_caller -- --runtime async-std ws://127.0.0.1:8080/ws
//! ```
//!
//! In an application of your own, pick one runtime crate and drop the choice:
//! `wamp_tokio::connect(url, realm)` or `wamp_async_std::connect(url, realm)` call the
//! same [`wamp_runtime::connect`] the examples call with an explicit runtime.

use std::future::Future;
use std::time::Duration;

use futures::future::{select, Either};
use wamp_runtime::{IntoTransport, JoinConfig, Runtime, Session};

/// An error an example reports (and exits non-zero with).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The router the examples use when none is given.
pub const DEFAULT_URL: &str = "ws://127.0.0.1:8080/ws";

/// Which runtime an example runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeChoice {
    /// Tokio, on one thread (`--runtime tokio`, the default).
    Tokio,
    /// async-std (`--runtime async-std`).
    AsyncStd,
}

/// An example's command line: `[--runtime tokio|async-std] ARGS...`.
#[derive(Debug, Clone)]
pub struct Args {
    /// The runtime to run on.
    pub runtime: RuntimeChoice,
    /// The other arguments, in order.
    pub rest: Vec<String>,
}

impl Args {
    /// Reads the process's arguments. `--runtime NAME` (or `--runtime=NAME`) may come
    /// anywhere; an unknown name is an error.
    pub fn parse() -> Result<Args, BoxError> {
        let mut runtime = RuntimeChoice::Tokio;
        let mut rest = Vec::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let name = match arg.strip_prefix("--runtime") {
                Some("") => args.next().ok_or("--runtime needs a name")?,
                Some(value) if value.starts_with('=') => value[1..].to_owned(),
                _ => {
                    rest.push(arg);
                    continue;
                }
            };
            runtime = match name.as_str() {
                "tokio" => RuntimeChoice::Tokio,
                "async-std" => RuntimeChoice::AsyncStd,
                other => {
                    return Err(format!("unknown runtime {other:?}: tokio or async-std").into())
                }
            };
        }
        Ok(Args { runtime, rest })
    }

    /// The router URL: the first argument, else `WAMP_URL`, else [`DEFAULT_URL`].
    pub fn url(&self) -> String {
        self.rest
            .first()
            .cloned()
            .or_else(|| std::env::var("WAMP_URL").ok())
            .unwrap_or_else(|| DEFAULT_URL.into())
    }
}

/// Runs `program` to completion on a one-thread Tokio runtime.
pub fn on_tokio<F, Fut, T>(program: F) -> Result<T, BoxError>
where
    F: FnOnce(wamp_tokio::TokioRuntime) -> Fut,
    Fut: Future<Output = Result<T, BoxError>>,
{
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async {
        let rt = wamp_tokio::TokioRuntime::try_current().ok_or("not inside Tokio")?;
        program(rt).await
    })
}

/// Runs `program` to completion on async-std.
pub fn on_async_std<F, Fut, T>(program: F) -> Result<T, BoxError>
where
    F: FnOnce(wamp_async_std::AsyncStdRuntime) -> Fut,
    Fut: Future<Output = Result<T, BoxError>>,
{
    async_std::task::block_on(program(wamp_async_std::AsyncStdRuntime))
}

/// Joins `realm1` anonymously at the router of [`Args::url`] and says so: the start of
/// the RPC examples.
#[allow(clippy::print_stdout)] // an example prints what it does
pub async fn join_realm1<R: Runtime>(rt: &R, args: &Args) -> Result<Session, BoxError> {
    let url = args.url();
    let session = wamp_runtime::connect(
        rt,
        &url.as_str().into_transport()?,
        &JoinConfig::new("realm1"),
    )
    .await?;
    println!("joined realm1 on {url} as session {}", session.id());
    Ok(session)
}

/// Waits `delay` on the runtime's clock.
pub async fn sleep<R: Runtime>(rt: &R, delay: Duration) {
    rt.sleep_until(rt.now() + delay).await;
}

/// `future`, or an error saying what did not happen within `limit`: an example never
/// hangs on a router that lost a message.
pub async fn within<R: Runtime, T>(
    rt: &R,
    limit: Duration,
    what: &str,
    future: impl Future<Output = T>,
) -> Result<T, BoxError> {
    match select(std::pin::pin!(future), rt.sleep_until(rt.now() + limit)).await {
        Either::Left((value, _)) => Ok(value),
        Either::Right(_) => Err(format!("{what}: nothing within {limit:?}").into()),
    }
}

/// Runs `$program(rt, args)` on the runtime `args` names: the one place an example
/// names a runtime.
#[macro_export]
macro_rules! run {
    ($program:path, $args:expr) => {{
        let args: $crate::Args = $args;
        match args.runtime {
            $crate::RuntimeChoice::Tokio => $crate::on_tokio(|rt| $program(rt, args)),
            $crate::RuntimeChoice::AsyncStd => $crate::on_async_std(|rt| $program(rt, args)),
        }
    }};
}
