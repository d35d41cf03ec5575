//! The harness's error type: every failure says which process or step, and carries the
//! output that explains it, so a failing test needs no second run to be understood.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// What can go wrong while preparing, running or stopping the real peers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation failed (spawning a process, writing a file, signalling).
    #[error("{context}: {source}")]
    Io {
        /// What the harness was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `scripts/python-env.sh` could not provide the interop venv.
    #[error("cannot prepare the interop Python venv with {script}: {reason}")]
    PythonEnv {
        /// The script that was run.
        script: PathBuf,
        /// Why it failed.
        reason: String,
    },
    /// `scripts/js-env.sh` could not provide Autobahn|JS.
    #[error("cannot prepare Autobahn|JS with {script}: {reason}")]
    JsEnv {
        /// The script that was run.
        script: PathBuf,
        /// Why it failed.
        reason: String,
    },
    /// A process did not do what was awaited within its time bound (it has been killed).
    #[error("{what}: nothing within {limit:?}\n{output}")]
    Timeout {
        /// The process and what was awaited.
        what: String,
        /// The time bound.
        limit: Duration,
        /// What the process printed.
        output: String,
    },
    /// A process ended before doing what was awaited.
    #[error("{what}: exited with {status}\n{output}")]
    Exited {
        /// The process and what was awaited.
        what: String,
        /// Its exit status.
        status: ExitStatus,
        /// What the process printed.
        output: String,
    },
    /// A peer printed something the harness could not understand.
    #[error("{what}: unexpected output {line:?}")]
    Output {
        /// The process.
        what: String,
        /// The line it printed.
        line: String,
    },
    /// Crossbar.io did not come up.
    #[error("crossbar did not start: {reason}\n--- crossbar log ---\n{log}")]
    CrossbarStart {
        /// Why the harness gave up.
        reason: String,
        /// Crossbar's log so far.
        log: String,
    },
    /// The browser tests' environment (`scripts/web-env.sh`), chromedriver or a
    /// WebDriver request failed.
    #[error("browser: {0}")]
    Browser(String),
    /// No free TCP port could be found.
    #[error("no free TCP port on 127.0.0.1: {0}")]
    Ports(String),
    /// Generating the test certificates failed.
    #[error("cannot generate the TLS test certificates: {0}")]
    Certificate(#[from] rcgen::Error),
    /// Encoding the node configuration failed.
    #[error("cannot encode the crossbar node configuration: {0}")]
    Config(#[from] serde_json::Error),
}

/// The harness's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps an I/O error with what the harness was doing.
pub(crate) fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}
