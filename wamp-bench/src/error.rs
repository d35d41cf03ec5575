//! The bench's one error type: what failed, in words, so a run that cannot go on says why.

use std::fmt;

/// Why a scenario or a target could not run.
#[derive(Debug)]
pub enum BenchError {
    /// A socket, file or process operation failed.
    Io(String),
    /// A peer sent something the raw client does not accept (bad handshake, ABORT, ERROR).
    Protocol(String),
    /// A bounded wait ran out.
    Timeout(String),
    /// A target could not be started or the command line was wrong.
    Setup(String),
}

/// The bench's result type.
pub type Result<T> = std::result::Result<T, BenchError>;

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Io(what) => write!(f, "i/o: {what}"),
            BenchError::Protocol(what) => write!(f, "protocol: {what}"),
            BenchError::Timeout(what) => write!(f, "timeout: {what}"),
            BenchError::Setup(what) => write!(f, "setup: {what}"),
        }
    }
}

impl std::error::Error for BenchError {}

impl From<std::io::Error> for BenchError {
    fn from(e: std::io::Error) -> Self {
        BenchError::Io(e.to_string())
    }
}

impl From<wamp_integration::Error> for BenchError {
    fn from(e: wamp_integration::Error) -> Self {
        BenchError::Setup(e.to_string())
    }
}

/// Adds what was being done to an I/O error.
pub fn io_ctx(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
    let what = what.into();
    move |e| BenchError::Io(format!("{what}: {e}"))
}

/// Runs `fut` for at most `limit`; a [`BenchError::Timeout`] naming `what` otherwise.
pub async fn within<T>(
    limit: std::time::Duration,
    what: &str,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result,
        Err(_) => Err(BenchError::Timeout(format!("{what} (after {limit:?})"))),
    }
}
