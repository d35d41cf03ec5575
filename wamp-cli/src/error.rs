//! Why a command failed, and the exit code each reason gets (see `cli::EXIT_CODES`).

use std::time::Duration;

use wamp_tokio::{ConnectError, WampError};

use crate::args::payload_json;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line asks for something impossible (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Connecting or joining failed (exit 3).
    #[error("cannot join: {0}")]
    Connect(#[from] ConnectError),
    /// The router or the callee answered with ERROR (exit 1).
    #[error("{}", wamp_error_line(.0))]
    Wamp(WampError),
    /// The session ended before the work was done, or a request failed for a reason
    /// other than a WAMP ERROR (exit 4).
    #[error("{0}")]
    Session(wamp_tokio::Error),
    /// The local `--timeout` passed (exit 4).
    #[error("no result within {0:?}")]
    Timeout(Duration),
    /// Writing the output failed (exit 4).
    #[error("cannot write the output: {0}")]
    Output(std::io::Error),
    /// The stop signals cannot be listened to (exit 4).
    #[error("cannot listen for Ctrl-C and SIGTERM: {0}")]
    Signal(std::io::Error),
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Wamp(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Connect(e) if e.is_config() => 2,
            CliError::Connect(_) => 3,
            CliError::Session(_)
            | CliError::Timeout(_)
            | CliError::Output(_)
            | CliError::Signal(_) => 4,
        }
    }
}

impl From<wamp_tokio::Error> for CliError {
    fn from(e: wamp_tokio::Error) -> Self {
        match e {
            wamp_tokio::Error::Wamp(e) => CliError::Wamp(e),
            // Refused locally before anything was sent: a URI or arguments that cannot be.
            wamp_tokio::Error::InvalidUri(why) => CliError::Usage(format!("invalid URI: {why}")),
            wamp_tokio::Error::Encode(e) => {
                CliError::Usage(format!("cannot encode the arguments: {e}"))
            }
            other => CliError::Session(other),
        }
    }
}

/// `URI {"args":[...],"kwargs":{...}}`: the error URI, then its arguments as JSON.
fn wamp_error_line(error: &WampError) -> String {
    match payload_json(error.payload()) {
        Ok(object) => format!("{} {}", error.uri(), serde_json::Value::Object(object)),
        Err(e) => format!("{} (arguments not decodable: {e})", error.uri()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wamp_errors_show_uri_and_arguments() {
        let e = CliError::Wamp(WampError::with_message("com.example.oops", "it broke"));
        assert_eq!(
            e.to_string(),
            r#"com.example.oops {"args":["it broke"],"kwargs":{}}"#
        );
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn exit_codes_by_blame() {
        assert_eq!(CliError::Usage("x".into()).exit_code(), 2);
        assert_eq!(
            CliError::Connect(ConnectError::Config("bad url".into())).exit_code(),
            2
        );
        let refused = ConnectError::Aborted {
            reason: wamp_tokio::Uri::NOT_AUTHORIZED,
            message: None,
        };
        assert_eq!(CliError::Connect(refused).exit_code(), 3);
        assert_eq!(CliError::Timeout(Duration::from_secs(1)).exit_code(), 4);
        assert_eq!(CliError::from(wamp_tokio::Error::Canceled).exit_code(), 4);
        assert!(matches!(
            CliError::from(wamp_tokio::Error::InvalidUri("a b".into())),
            CliError::Usage(_)
        ));
    }
}
