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
//! principals, timeouts and bounds). `[[listeners]]` gives listeners one by one, each
//! with its own `auth` (per-transport authentication, in place of the realms' own).
//!
//! A file that holds a JSON object is read as a Crossbar.io node configuration
//! ([`crossbar`]); `--check FILE` prints what either kind would serve, and exits.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tracing::info;
use wamp_tokio::wamp_router::{AuthConfig, Limits, RealmConfig};
#[cfg(test)]
use wamp_tokio::WebService;
use wamp_tokio::{ListenerConfig, Router, SerializerKind, ServerTls};

use crate::cli::RouterArgs;
use crate::error::CliError;
use crate::signal::Shutdown;

pub mod crossbar;
mod plan;

pub use plan::Plan;

/// The whole config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    listen: Listen,
    #[serde(default)]
    listeners: Vec<ListenerEntry>,
    tls: Option<Tls>,
    metrics: Option<MetricsConfig>,
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

/// One `[[listeners]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListenerEntry {
    /// `websocket` or `rawsocket`.
    transport: Transport,
    /// A TCP address...
    bind: Option<String>,
    /// ...or a Unix socket path.
    unix: Option<PathBuf>,
    /// WebSocket: the path served. Default `/ws`.
    path: Option<String>,
    /// Serve TLS with the `[tls]` identity.
    #[serde(default)]
    tls: bool,
    serializers: Option<Vec<String>>,
    max_message_size: Option<usize>,
    ping_interval: Option<f64>,
    ping_timeout: Option<f64>,
    message_timeout: Option<f64>,
    allowed_origins: Option<Vec<String>>,
    /// The TCP listen queue.
    backlog: Option<u32>,
    /// This listener's own authentication, in place of the realms'.
    auth: Option<AuthConfig>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Transport {
    WebSocket,
    RawSocket,
}

/// `[metrics]`: where the Prometheus metrics are served over HTTP.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsConfig {
    /// A TCP address.
    listen: String,
    /// The path. Default `/metrics`.
    path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tls {
    certificate: PathBuf,
    key: PathBuf,
    /// CA certificates (PEM) to verify client certificates against: clients are asked
    /// for one, for the `tls` authentication method.
    client_ca: Option<PathBuf>,
}

/// Reads `path`: a Crossbar.io configuration when `crossbar` is set or the file holds a
/// JSON object, else our TOML.
fn read_file(path: &Path, crossbar: bool) -> Result<Source, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
    if crossbar || crossbar::looks_like_crossbar(&text) {
        let dir = path.parent().unwrap_or(Path::new("."));
        let plan = crossbar::read(&text, dir).map_err(|e| {
            CliError::Usage(format!(
                "{} (Crossbar.io configuration):\n{e}",
                path.display()
            ))
        })?;
        return Ok(Source::Crossbar(Box::new(plan)));
    }
    toml::from_str(&text)
        .map(|file| Source::Toml(Box::new(file)))
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

enum Source {
    Toml(Box<FileConfig>),
    Crossbar(Box<Plan>),
}

/// An address flag or config value; empty means "off".
fn on(addr: Option<String>) -> Option<String> {
    addr.filter(|a| !a.is_empty())
}

/// What the flags and the config file (if any) ask to serve.
fn plan(args: &RouterArgs) -> Result<Plan, CliError> {
    let file = args.check.as_ref().or(args.config.as_ref());
    let source = match file {
        Some(path) => read_file(path, args.crossbar)?,
        None => Source::Toml(Box::default()),
    };
    // Only our own defaults get the open `realm1`: a Crossbar.io config without realms
    // serves none, as Crossbar.io does.
    let crossbar = matches!(source, Source::Crossbar(_));
    let mut plan = match source {
        Source::Toml(file) => toml_plan(args, *file)?,
        Source::Crossbar(plan) => {
            let mut plan = *plan;
            // Flags that add listeners or realms still do; the keepalive flags apply to
            // the file's listeners too.
            if args.ws.is_some() || args.rawsocket.is_some() || args.unix.is_some() {
                let flags = toml_plan(args, FileConfig::default())?;
                plan.listeners.extend(flags.listeners);
            }
            plan
        }
    };
    for name in &args.realm {
        if plan
            .config
            .realms
            .iter()
            .any(|r| r.name.as_str() == name.as_str())
        {
            return Err(CliError::Usage(format!("realm {name} is configured twice")));
        }
        let realm = RealmConfig::anonymous(name)
            .map_err(|e| CliError::Usage(format!("realm {name:?}: {e}")))?;
        plan.config.realms.push(realm);
    }
    if plan.config.realms.is_empty() && !crossbar {
        plan.config
            .realms
            .push(RealmConfig::anonymous("realm1").expect("a valid URI"));
    } else if plan.config.realms.is_empty() {
        plan.warnings
            .push("config: no realms, so every client is refused".into());
    }
    if let Some(addr) = args.metrics.as_deref().filter(|a| !a.is_empty()) {
        plan.listeners
            .push(plan::metrics_listener(addr, "/metrics"));
    }
    Ok(plan)
}

/// Our TOML and the flags as a plan (realms from `--realm` are added by the caller).
fn toml_plan(args: &RouterArgs, file: FileConfig) -> Result<Plan, CliError> {
    let mut plan = Plan::default();
    plan.config.realms = file.realms;
    if let Some(metrics) = &file.metrics {
        let path = metrics.path.as_deref().unwrap_or("/metrics");
        plan.listeners
            .push(plan::metrics_listener(&metrics.listen, path));
    }
    if let Some(limits) = file.limits {
        plan.config.limits = limits;
    }
    let listen = file.listen;
    // The default listeners are there unless the file lists its own.
    let default = |addr: &str| file.listeners.is_empty().then(|| addr.to_owned());
    let ws = on(args
        .ws
        .clone()
        .or(listen.ws)
        .or_else(|| default("127.0.0.1:8080")));
    let ws_path = args
        .ws_path
        .clone()
        .or(listen.ws_path)
        .unwrap_or_else(|| "/ws".into());
    let rawsocket = on(args
        .rawsocket
        .clone()
        .or(listen.rawsocket)
        .or_else(|| default("127.0.0.1:8081")));
    let unix = args.unix.clone().or(listen.unix);
    let tls = match &file.tls {
        Some(tls) => {
            let usage = |e: String| CliError::Usage(format!("[tls]: {e}"));
            let identity = ServerTls::from_pem_files(&tls.certificate, &tls.key)
                .map_err(|e| usage(e.to_string()))?;
            Some(match &tls.client_ca {
                Some(path) => {
                    let pem = std::fs::read(path)
                        .map_err(|e| usage(format!("{}: {e}", path.display())))?;
                    identity
                        .client_certificates(&pem)
                        .map_err(|e| usage(e.to_string()))?
                }
                None => identity,
            })
        }
        None => None,
    };
    let (wss, rss) = (on(listen.wss), on(listen.rss));
    let wants_tls = wss.is_some() || rss.is_some() || file.listeners.iter().any(|l| l.tls);
    if tls.is_none() && wants_tls {
        return Err(CliError::Usage(
            "TLS listeners need a [tls] table with certificate and key".into(),
        ));
    }

    let keepalive = keepalive(
        args.ping_interval.or(listen.ping_interval),
        args.ping_timeout.or(listen.ping_timeout),
    )?;
    let message_timeout = message_timeout(args.message_timeout.or(listen.message_timeout))?;
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
    let listeners = &mut plan.listeners;
    if let Some(addr) = ws {
        listeners.push(websocket(ListenerConfig::websocket(addr, ws_path.clone())));
    }
    if let Some(addr) = rawsocket {
        listeners.push(raw(ListenerConfig::rawsocket(addr)));
    }
    if let Some(path) = unix {
        listeners.push(raw(ListenerConfig::unix(path)));
    }
    if let Some(tls) = &tls {
        if let Some(addr) = wss {
            listeners.push(websocket(
                ListenerConfig::websocket(addr, ws_path).tls(tls.clone()),
            ));
        }
        if let Some(addr) = rss {
            listeners.push(raw(ListenerConfig::rawsocket(addr).tls(tls.clone())));
        }
    }
    for (i, entry) in file.listeners.into_iter().enumerate() {
        let at = |why: String| CliError::Usage(format!("[[listeners]] #{}: {why}", i + 1));
        let mut listener = match (entry.transport, entry.bind, entry.unix) {
            (Transport::WebSocket, Some(addr), None) => websocket(ListenerConfig::websocket(
                addr,
                entry.path.unwrap_or_else(|| "/ws".into()),
            )),
            (Transport::WebSocket, None, Some(file)) => websocket(ListenerConfig::unix_websocket(
                file,
                entry.path.unwrap_or_else(|| "/ws".into()),
            )),
            (Transport::RawSocket, Some(addr), None) => raw(ListenerConfig::rawsocket(addr)),
            (Transport::RawSocket, None, Some(file)) => raw(ListenerConfig::unix(file)),
            _ => {
                return Err(at(
                    "give either bind (a TCP address) or unix (a socket path)".into(),
                ))
            }
        };
        if entry.tls {
            listener = listener.tls(tls.clone().expect("checked above"));
        }
        if let Some(names) = entry.serializers {
            let kinds = names
                .iter()
                .map(|n| serializer(n).ok_or_else(|| at(format!("unknown serializer {n:?}"))))
                .collect::<Result<Vec<_>, _>>()?;
            listener = listener.serializers(kinds);
        }
        if let Some(bytes) = entry.max_message_size {
            listener = listener.max_message_size(bytes);
        }
        if entry.ping_interval.is_some() || entry.ping_timeout.is_some() {
            listener.auto_ping = self::keepalive(entry.ping_interval, entry.ping_timeout)
                .map_err(|e| at(e.to_string()))?;
        }
        if entry.message_timeout.is_some() {
            listener.message_timeout =
                self::message_timeout(entry.message_timeout).map_err(|e| at(e.to_string()))?;
        }
        listener.allowed_origins = entry.allowed_origins;
        listener.backlog = entry.backlog;
        if let Some(auth) = entry.auth {
            let name = format!("listener {}", i + 1);
            plan.config = std::mem::take(&mut plan.config).transport_auth(&name, auth);
            listener.auth = Some(name);
        }
        plan.listeners.push(listener);
    }
    Ok(plan)
}

fn serializer(name: &str) -> Option<SerializerKind> {
    SerializerKind::ALL
        .iter()
        .copied()
        .find(|k| k.to_string() == name)
}

/// Runs the router until Ctrl-C or SIGTERM; with `--check`, prints what it would serve
/// and returns.
pub async fn run(args: RouterArgs) -> Result<(), CliError> {
    let plan = plan(&args)?;
    if let Some(path) = &args.check {
        // Everything a start would refuse, short of binding: build the router.
        let mut builder = Router::builder(plan.config.clone());
        for listener in &plan.listeners {
            builder = builder.listen(listener.clone());
        }
        builder
            .check()
            .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
        let report = format!("{}{}: OK", plan.describe(), path.display());
        crate::output::print_line(&report)?;
        return Ok(());
    }
    let mut shutdown = Shutdown::listen().map_err(CliError::Signal)?;
    for warning in &plan.warnings {
        tracing::warn!("{warning}");
        eprintln!("warning: {warning}");
    }
    let mut builder = Router::builder(plan.config.clone()).options(plan.server_options());
    for listener in &plan.listeners {
        builder = builder.listen(listener.clone());
    }
    let router = builder.start().await.map_err(|e| match &args.config {
        Some(path) => CliError::Usage(format!(
            "cannot start the router (config {}): {e}",
            path.display()
        )),
        None => CliError::Usage(format!("cannot start the router: {e}")),
    })?;
    for (listener, config) in router.listeners().iter().zip(&plan.listeners) {
        let url = match plan::is_http_only(config) {
            true => match listener.addr.tcp() {
                Some(addr) => format!("http://{addr} (HTTP only)"),
                None => format!("{:?}", listener.addr),
            },
            false => listener
                .url()
                .unwrap_or_else(|| format!("{:?}", listener.addr)),
        };
        info!(%url, "listening");
        // Also on stderr without -v: the one thing a user always needs to know.
        eprintln!("listening on {url}");
    }
    let realms: Vec<String> = plan
        .config
        .realms
        .iter()
        .map(|r| r.name.to_string())
        .collect();
    eprintln!("realms: {}", realms.join(", "));
    let signal = shutdown.recv().await;
    eprintln!("{signal}: shutting down");
    router.shutdown().await;
    eprintln!("stopped");
    Ok(())
}

/// `message_timeout` in seconds: the default when unset, none when 0.
fn message_timeout(secs: Option<f64>) -> Result<Option<Duration>, CliError> {
    match secs {
        None => Ok(Some(wamp_tokio::DEFAULT_MESSAGE_TIMEOUT)),
        Some(0.0) => Ok(None),
        Some(secs) => Ok(Some(seconds("message_timeout", secs)?)),
    }
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
        let readme = include_str!("../../README.md");
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

    fn router_args(args: &[&str]) -> RouterArgs {
        use clap::Parser as _;
        let cli = crate::cli::Cli::try_parse_from([&["wamp", "router"], args].concat())
            .expect("valid arguments");
        match cli.command {
            crate::cli::Command::Router(args) => args,
            other => panic!("{other:?}"),
        }
    }

    /// `[[listeners]]` replaces the default listeners, and each may carry its own auth.
    #[test]
    fn listeners_with_their_own_auth() {
        let file: FileConfig = toml::from_str(
            r#"
[[listeners]]
transport = "websocket"
bind = "127.0.0.1:9000"
path = "/wamp"
serializers = ["json"]
allowed_origins = ["https://app.example"]
ping_interval = 0
auth.anonymous = { role = "public" }

[[listeners]]
transport = "rawsocket"
unix = "/tmp/internal.sock"
max_message_size = 4096

[[realms]]
name = "realm1"
roles = [{ name = "public" }]
"#,
        )
        .expect("valid TOML");
        let plan = toml_plan(&router_args(&[]), file).expect("a plan");
        let [public, internal] = &plan.listeners[..] else {
            panic!("only the file's two listeners: {:?}", plan.listeners)
        };
        assert_eq!(
            public.bind,
            wamp_tokio::BindAddress::Tcp("127.0.0.1:9000".into())
        );
        assert_eq!(public.serializers, [SerializerKind::Json]);
        assert_eq!(public.auto_ping, None);
        assert_eq!(public.allowed_origins.as_ref().map(Vec::len), Some(1));
        let name = public.auth.as_deref().expect("its own auth");
        let auth = &plan
            .config
            .transport_auth
            .iter()
            .find(|t| t.name == name)
            .expect("defined")
            .auth;
        assert_eq!(
            auth.anonymous.as_ref().map(|a| a.role.as_str()),
            Some("public")
        );
        assert_eq!(
            (internal.auth.as_deref(), internal.max_message_size),
            (None, 4096)
        );
        let bad: FileConfig =
            toml::from_str("[[listeners]]\ntransport = \"rawsocket\"\n").expect("valid TOML");
        let err = toml_plan(&router_args(&[]), bad).expect_err("no address");
        assert!(err.to_string().contains("[[listeners]] #1"), "{err}");
    }

    #[test]
    fn the_metrics_table_adds_an_http_listener() {
        let file: FileConfig =
            toml::from_str("[metrics]\nlisten = \"127.0.0.1:9100\"\npath = \"/m\"\n")
                .expect("valid");
        let plan = toml_plan(&router_args(&[]), file).expect("a plan");
        let metrics = plan
            .listeners
            .iter()
            .find(|l| plan::is_http_only(l))
            .expect("one");
        assert!(matches!(&metrics.web[..], [WebService::Metrics { path }] if path == "/m"));
        // The default listeners stay.
        assert_eq!(plan.listeners.len(), 3);
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
