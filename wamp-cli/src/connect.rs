//! The connection flags to a transport and a join configuration, and joining.

use std::time::Duration;

use wamp_tokio::{JoinConfig, SerializerKind, Session, TransportConfig};

use crate::auth::{auth, SECRET_ENV};
use crate::cli::Connection;
use crate::error::CliError;
use crate::signal::Shutdown;

/// Everything needed to join, checked before any socket is opened.
#[derive(Debug)]
pub struct Target {
    /// Where and how to connect.
    pub transport: TransportConfig,
    /// The realm and the credentials.
    pub join: JoinConfig,
}

impl Target {
    /// Reads the flags (and `WAMP_SECRET`, and the `--ca` file).
    pub fn from_flags(flags: &Connection) -> Result<Target, CliError> {
        let timeout = Duration::from_secs_f64(flags.connect_timeout);
        let mut transport = TransportConfig::new(&flags.url)
            .map_err(|e| CliError::Usage(e.to_string()))?
            .connect_timeout(timeout);
        if let Some(serializer) = flags.serializer {
            transport = transport.serializer(SerializerKind::from(serializer));
        }
        if let Some(path) = &flags.ca {
            let pem = std::fs::read(path)
                .map_err(|e| CliError::Usage(format!("--ca {}: {e}", path.display())))?;
            transport = transport.tls_roots_pem(pem);
        }
        let mut join = JoinConfig::new(flags.realm.as_str()).handshake_timeout(timeout);
        let env_secret = std::env::var(SECRET_ENV).ok();
        match auth(
            flags.authmethod,
            flags.authid.as_deref(),
            flags.secret.as_deref(),
            env_secret,
        )? {
            Some(method) => join = join.auth(method),
            // No method: the router decides, but an authid can still be announced.
            None => {
                if let Some(authid) = &flags.authid {
                    join = join.authid(authid.as_str());
                }
            }
        }
        Ok(Target { transport, join })
    }

    /// Connects and joins.
    pub async fn join(&self) -> Result<Session, CliError> {
        let session = wamp_tokio::connect(self.transport.clone(), self.join.clone()).await?;
        let details = session.details();
        tracing::info!(
            session = %details.id,
            realm = %details.realm,
            authid = details.authid.as_deref().unwrap_or(""),
            authrole = details.authrole.as_deref().unwrap_or(""),
            serializer = %details.serializer,
            "joined"
        );
        Ok(session)
    }
}

/// What the long-running commands (`register`, `subscribe`) share: joins, runs `work`
/// until it ends (it watches `shutdown` itself), then leaves. A stop signal while still
/// connecting ends the command at once, successfully.
pub async fn serve_until_stopped(
    flags: &Connection,
    work: impl AsyncFnOnce(&Session, &mut Shutdown) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let mut shutdown = Shutdown::listen().map_err(CliError::Signal)?;
    let target = Target::from_flags(flags)?;
    let session = tokio::select! {
        session = target.join() => session?,
        signal = shutdown.recv() => {
            tracing::info!(signal, "stopped before joining");
            return Ok(());
        }
    };
    let result = work(&session, &mut shutdown).await;
    leave(&session).await;
    result
}

/// Leaves the realm. The command's outcome is already decided, so how the leaving went
/// only goes to the logs (it is bounded by the GOODBYE timeout).
pub async fn leave(session: &Session) {
    match session.leave().await {
        Ok(reason) => tracing::debug!(%reason, "left"),
        Err(error) => tracing::debug!(%error, "leaving failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    use crate::cli::{Cli, Command};

    fn target(args: &[&str]) -> Result<Target, CliError> {
        let cli =
            Cli::try_parse_from(["wamp", "subscribe"].iter().chain(args).copied()).expect("parses");
        let Command::Subscribe(sub) = cli.command else {
            panic!("not subscribe");
        };
        Target::from_flags(&sub.connection)
    }

    #[test]
    fn flags_make_the_configuration() {
        let t = target(&[
            "rs://127.0.0.1:9",
            "t",
            "--realm",
            "r2",
            "--serializer",
            "json",
            "--connect-timeout",
            "2.5",
            "--authmethod",
            "ticket",
            "--authid",
            "joe",
            "--secret",
            "s",
        ])
        .expect("valid");
        assert_eq!(t.transport.serializers, vec![SerializerKind::Json]);
        assert_eq!(t.transport.connect_timeout, Duration::from_millis(2500));
        assert_eq!(t.join.realm, "r2");
        assert_eq!(t.join.auth, vec![wamp_tokio::Auth::ticket("joe", "s")]);
        assert_eq!(t.join.handshake_timeout, Duration::from_millis(2500));

        let t = target(&["ws://h/ws", "t", "--authid", "joe"]).expect("valid");
        assert!(t.join.auth.is_empty());
        assert_eq!(t.join.authid.as_deref(), Some("joe"));
        assert_eq!(t.transport.serializers.len(), 3, "all offered by default");
    }

    #[test]
    fn bad_urls_and_files_are_usage_errors() {
        for args in [
            &["http://h/", "t"][..],
            &["rs://h", "t"],
            &["wss://h/ws", "t", "--ca", "/nonexistent/ca.pem"],
        ] {
            let err = target(args).expect_err("refused");
            assert!(matches!(err, CliError::Usage(_)), "{args:?}: {err}");
            assert_eq!(err.exit_code(), 2);
        }
    }
}
