//! `wamp router`: the embedded router from the command line.
//!
//! Listeners come from the flags (`--ws`, `--rawsocket`, `--unix`), else from the
//! `[listen]` table of `--config`, else the defaults (WebSocket on 127.0.0.1:8080 at
//! `/ws`, RawSocket on 127.0.0.1:8081). Realms come from `--config` and `--realm`
//! (each `--realm` is an anonymous realm where everyone may do everything); with
//! neither, `realm1` is that realm.
//!
//! The config file is TOML:
//!
//! ```toml
//! [listen]
//! ws = "127.0.0.1:8080"        # "" turns a listener off
//! ws_path = "/ws"
//! rawsocket = "127.0.0.1:8081"
//! unix = "/tmp/wamp.sock"      # RawSocket over a Unix socket
//! wss = "127.0.0.1:8443"       # TLS listeners need [tls]
//! rss = "127.0.0.1:8444"
//!
//! [tls]
//! certificate = "server.pem"   # the chain, leaf first
//! key = "server.key"
//!
//! [[realms]]
//! name = "realm1"
//! [[realms.roles]]
//! name = "user"
//! permissions = [{ uri = "com.example.", match = "prefix", allow = { call = true, subscribe = true } }]
//! [[realms.auth.ticket]]
//! authid = "joe"
//! role = "user"
//! ticket = "secret!!!"
//! ```
//!
//! The `realms` and `limits` tables are `wamp_router::RouterConfig`'s; see its docs
//! for every key (roles, permissions, anonymous/ticket/wampcra/cryptosign/scram
//! principals, timeouts and bounds).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tracing::info;
use wamp_tokio::wamp_router::{Limits, RealmConfig, RouterConfig};
use wamp_tokio::{ListenerConfig, Router, ServerTls};

use crate::cli::RouterArgs;
use crate::error::CliError;
use crate::signal::Shutdown;

/// The whole config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    listen: Listen,
    tls: Option<Tls>,
    #[serde(default)]
    realms: Vec<RealmConfig>,
    #[serde(default)]
    limits: Option<Limits>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Listen {
    ws: Option<String>,
    ws_path: Option<String>,
    rawsocket: Option<String>,
    unix: Option<PathBuf>,
    wss: Option<String>,
    rss: Option<String>,
    ping_interval: Option<f64>,
    ping_timeout: Option<f64>,
    rawsocket_ping: Option<bool>,
    message_timeout: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tls {
    certificate: PathBuf,
    key: PathBuf,
}

fn read_config(path: &Path) -> Result<FileConfig, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

/// An address flag or config value; empty means "off".
fn on(addr: Option<String>) -> Option<String> {
    addr.filter(|a| !a.is_empty())
}

/// Runs the router until Ctrl-C or SIGTERM.
pub async fn run(args: RouterArgs) -> Result<(), CliError> {
    let mut shutdown = Shutdown::listen().map_err(CliError::Signal)?;
    let file = match &args.config {
        Some(path) => read_config(path)?,
        None => FileConfig::default(),
    };
    let mut config = RouterConfig::new();
    config.realms = file.realms;
    if let Some(limits) = file.limits {
        config.limits = limits;
    }
    let mut realms = args.realm.clone();
    if realms.is_empty() && config.realms.is_empty() {
        realms.push("realm1".to_string());
    }
    for name in &realms {
        if config
            .realms
            .iter()
            .any(|r| r.name.as_str() == name.as_str())
        {
            return Err(CliError::Usage(format!("realm {name} is configured twice")));
        }
        let realm = RealmConfig::anonymous(name)
            .map_err(|e| CliError::Usage(format!("realm {name:?}: {e}")))?;
        config.realms.push(realm);
    }

    let listen = file.listen;
    let ws = on(args
        .ws
        .or(listen.ws)
        .or_else(|| Some("127.0.0.1:8080".into())));
    let ws_path = args
        .ws_path
        .or(listen.ws_path)
        .unwrap_or_else(|| "/ws".into());
    let rawsocket = on(args
        .rawsocket
        .or(listen.rawsocket)
        .or_else(|| Some("127.0.0.1:8081".into())));
    let unix = args.unix.or(listen.unix);
    let tls = match &file.tls {
        Some(tls) => Some(
            ServerTls::from_pem_files(&tls.certificate, &tls.key)
                .map_err(|e| CliError::Usage(format!("[tls]: {e}")))?,
        ),
        None => None,
    };
    let (wss, rss) = (on(listen.wss), on(listen.rss));
    if tls.is_none() && (wss.is_some() || rss.is_some()) {
        return Err(CliError::Usage(
            "wss/rss listeners need a [tls] table with certificate and key".into(),
        ));
    }

    let keepalive = keepalive(
        args.ping_interval.or(listen.ping_interval),
        args.ping_timeout.or(listen.ping_timeout),
    )?;
    let message_timeout = match args.message_timeout.or(listen.message_timeout) {
        None => Some(wamp_tokio::DEFAULT_MESSAGE_TIMEOUT),
        Some(0.0) => None,
        Some(secs) => Some(seconds("message_timeout", secs)?),
    };
    // Every listener's message timeout. The keepalive is the WebSocket listeners';
    // RawSocket keeps its default (off) unless asked, since Autobahn|Python's RawSocket
    // clients drop a connection that sends them PING (TCP keepalive still finds a
    // vanished host there).
    let rawsocket_ping = args.rawsocket_ping || listen.rawsocket_ping.unwrap_or(false);
    let any = |config: ListenerConfig| config.message_timeout(message_timeout);
    let websocket = |config: ListenerConfig| match keepalive {
        Some((interval, timeout)) => any(config).auto_ping(interval, timeout),
        None => any(config).no_auto_ping(),
    };
    let raw = |config: ListenerConfig| match keepalive {
        Some(_) if rawsocket_ping => websocket(config),
        _ => any(config),
    };
    let mut builder = Router::builder(config);
    if let Some(addr) = ws {
        builder = builder.listen(websocket(ListenerConfig::websocket(addr, ws_path.clone())));
    }
    if let Some(addr) = rawsocket {
        builder = builder.listen(raw(ListenerConfig::rawsocket(addr)));
    }
    if let Some(path) = unix {
        builder = builder.listen(raw(ListenerConfig::unix(path)));
    }
    if let Some(tls) = tls {
        if let Some(addr) = wss {
            builder = builder.listen(websocket(
                ListenerConfig::websocket(addr, ws_path).tls(tls.clone()),
            ));
        }
        if let Some(addr) = rss {
            builder = builder.listen(raw(ListenerConfig::rawsocket(addr).tls(tls)));
        }
    }
    let router = builder.start().await.map_err(|e| match &args.config {
        Some(path) => CliError::Usage(format!(
            "cannot start the router (config {}): {e}",
            path.display()
        )),
        None => CliError::Usage(format!("cannot start the router: {e}")),
    })?;
    for listener in router.listeners() {
        let url = listener
            .url()
            .unwrap_or_else(|| format!("{:?}", listener.addr));
        info!(%url, "listening");
        // Also on stderr without -v: the one thing a user always needs to know.
        eprintln!("listening on {url}");
    }
    eprintln!("realms: {}", realms_line(&realms, &args.config));
    let signal = shutdown.recv().await;
    eprintln!("{signal}: shutting down");
    router.shutdown().await;
    eprintln!("stopped");
    Ok(())
}

/// The WebSocket keepalive from `--ping-interval`/`--ping-timeout` (or the config
/// keys), in seconds: `None` when the interval is 0, the default where neither is set.
fn keepalive(
    interval: Option<f64>,
    timeout: Option<f64>,
) -> Result<Option<(Duration, Duration)>, CliError> {
    let (default_interval, default_timeout) = wamp_tokio::DEFAULT_KEEPALIVE;
    let interval = match interval {
        Some(value) => seconds("ping_interval", value)?,
        None => default_interval,
    };
    if interval.is_zero() {
        return Ok(None);
    }
    let timeout = match timeout {
        Some(value) => seconds("ping_timeout", value)?,
        None => default_timeout,
    };
    if timeout.is_zero() {
        return Err(CliError::Usage(
            "ping_timeout must be positive (a ping_interval of 0 turns the keepalive off)".into(),
        ));
    }
    Ok(Some((interval, timeout)))
}

/// `value` seconds, or why not.
fn seconds(what: &str, value: f64) -> Result<Duration, CliError> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| CliError::Usage(format!("{what} {value} is not a number of seconds")))
}

fn realms_line(anonymous: &[String], config: &Option<PathBuf>) -> String {
    let mut parts: Vec<String> = anonymous
        .iter()
        .map(|r| format!("{r} (anonymous)"))
        .collect();
    if let Some(path) = config {
        parts.push(format!("those in {}", path.display()));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keepalive_defaults_turns_off_and_refuses_nonsense() {
        let secs = Duration::from_secs;
        assert_eq!(
            keepalive(None, None).expect("default"),
            Some((secs(30), secs(15)))
        );
        assert_eq!(
            keepalive(Some(5.0), None).expect("interval"),
            Some((secs(5), secs(15)))
        );
        assert_eq!(
            keepalive(Some(0.5), Some(0.25)).expect("both"),
            Some((Duration::from_millis(500), Duration::from_millis(250)))
        );
        assert_eq!(keepalive(Some(0.0), Some(3.0)).expect("off"), None);
        assert!(keepalive(Some(10.0), Some(0.0)).is_err());
        assert!(keepalive(Some(-1.0), None).is_err());
        let file: FileConfig =
            toml::from_str("[listen]\nping_interval = 20\nping_timeout = 5\n").expect("keys");
        assert_eq!(
            (file.listen.ping_interval, file.listen.ping_timeout),
            (Some(20.0), Some(5.0))
        );
    }

    /// The example in wamp-cli/README.md parses, and means what it says.
    #[test]
    fn the_readme_example_config_parses() {
        let readme = include_str!("../README.md");
        let start = readme.find("```toml\n").expect("a toml block") + "```toml\n".len();
        let end = start + readme[start..].find("```").expect("its end");
        let config: FileConfig = toml::from_str(&readme[start..end]).expect("valid config");
        assert_eq!(config.listen.ws.as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(config.listen.wss.as_deref(), Some("127.0.0.1:8443"));
        assert!(config.tls.is_some());
        let realm = config.realms.first().expect("a realm");
        assert_eq!(realm.name.as_str(), "realm1");
        assert_eq!(realm.roles.len(), 1);
        assert_eq!(realm.auth.ticket.len(), 2);
        // The second principal holds a hash of "tkt-secret", as the comment says.
        let stored = wamp_tokio::wamp_runtime::wamp_proto::auth::ticket::StoredTicket::parse(
            &realm.auth.ticket[1].ticket,
        )
        .expect("a hash");
        assert!(stored.verify("tkt-secret").is_ok());
        let cra = realm.auth.wampcra.first().expect("a wampcra principal");
        assert_eq!(cra.salt.as_ref().map(|s| s.iterations), Some(100));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err =
            toml::from_str::<FileConfig>("[listen]\nwebsocket = \"x\"\n").expect_err("unknown");
        assert!(err.to_string().contains("websocket"), "{err}");
    }

    #[test]
    fn an_empty_address_turns_a_listener_off() {
        assert_eq!(on(Some(String::new())), None);
        assert_eq!(
            on(Some("127.0.0.1:1".into())).as_deref(),
            Some("127.0.0.1:1")
        );
    }
}
