//! What `wamp router` will serve, whichever file format it came from: the router's
//! configuration, its listeners, and what the file asked for that is not served.

use std::fmt::Write as _;
use std::time::Duration;

use wamp_tokio::wamp_router::{AuthConfig, RouterConfig};
use wamp_tokio::{BindAddress, ListenTransport, ListenerConfig, ServerOptions, WebService};

/// A configuration ready to start.
#[derive(Debug, Default)]
pub struct Plan {
    /// Realms, roles, principals, limits, and the transports' own authentication.
    pub config: RouterConfig,
    /// The listeners, each perhaps naming one of `config.transport_auth`.
    pub listeners: Vec<ListenerConfig>,
    /// What the file asked for that is left out, with the key's path and why.
    pub warnings: Vec<String>,
    /// The runtime's opening handshake limit, if the file sets one.
    pub handshake_timeout: Option<Duration>,
    /// The runtime's closing handshake limit, if the file sets one.
    pub close_timeout: Option<Duration>,
}

impl Plan {
    /// The runtime options the plan asks for.
    pub fn server_options(&self) -> ServerOptions {
        let mut options = ServerOptions::default();
        if let Some(d) = self.handshake_timeout {
            options.handshake_timeout = d;
        }
        if let Some(d) = self.close_timeout {
            options.close_timeout = d;
        }
        options
    }

    /// What will be served, for `wamp router --check` and the start-up log.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for listener in &self.listeners {
            let _ = writeln!(out, "listener {}", listener_line(listener));
            let auth = listener
                .auth
                .as_deref()
                .and_then(|name| self.config.transport_auth.iter().find(|t| t.name == name));
            match auth {
                Some(t) => {
                    let _ = writeln!(out, "  auth: {}", auth_line(&t.auth));
                }
                None => out.push_str("  auth: the realms' own\n"),
            }
            for service in &listener.web {
                let line = match service {
                    WebService::Publisher(b) => {
                        format!("{} publishes on {} as {:?}", b.path, b.realm, b.role)
                    }
                    WebService::Caller(b) => {
                        format!("{} calls on {} as {:?}", b.path, b.realm, b.role)
                    }
                    WebService::Static { path, directory } => {
                        format!("{path} serves files from {}", directory.display())
                    }
                    WebService::Metrics { path } => format!("{path} serves the metrics"),
                    other => format!("{other:?}"),
                };
                let _ = writeln!(out, "  http: {line}");
            }
        }
        for realm in &self.config.realms {
            let roles: Vec<&str> = realm.roles.iter().map(|r| r.name.as_str()).collect();
            let _ = writeln!(
                out,
                "realm {}: roles {}{}",
                realm.name,
                if roles.is_empty() {
                    "(none)".to_owned()
                } else {
                    roles.join(", ")
                },
                if realm.meta_api { "; meta API" } else { "" }
            );
            if !realm.auth.is_empty() {
                let _ = writeln!(out, "  auth: {}", auth_line(&realm.auth));
            }
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
        out
    }
}

/// The WebSocket path of a listener that serves HTTP only: one no request can have (a
/// request path has no control characters), so upgrades are refused with 404.
const NO_WEBSOCKET: &str = "/\u{1}";

/// The transport of a listener that serves HTTP only.
pub fn http_only() -> ListenTransport {
    ListenTransport::WebSocket {
        path: Some(NO_WEBSOCKET.to_owned()),
    }
}

/// Whether a listener serves HTTP only.
pub fn is_http_only(l: &ListenerConfig) -> bool {
    matches!(&l.transport, ListenTransport::WebSocket { path: Some(p) } if p == NO_WEBSOCKET)
}

/// A listener serving the metrics at `path` on `addr`, over HTTP only.
pub fn metrics_listener(addr: &str, path: &str) -> ListenerConfig {
    ListenerConfig::new(BindAddress::Tcp(addr.to_owned()), http_only()).web(WebService::Metrics {
        path: path.to_owned(),
    })
}

fn listener_line(l: &ListenerConfig) -> String {
    if is_http_only(l) {
        if let BindAddress::Tcp(addr) = &l.bind {
            return format!("http://{addr} (HTTP only)");
        }
    }
    let scheme = match (&l.transport, l.tls.is_some()) {
        (ListenTransport::WebSocket { .. }, false) => "ws",
        (ListenTransport::WebSocket { .. }, true) => "wss",
        (ListenTransport::RawSocket, false) => "rs",
        (ListenTransport::RawSocket, true) => "rss",
        _ => "?",
    };
    let path = match &l.transport {
        ListenTransport::WebSocket { path: Some(p) } => p.as_str(),
        _ => "",
    };
    let serializers: Vec<String> = l.serializers.iter().map(|s| s.to_string()).collect();
    match &l.bind {
        BindAddress::Unix(file) => format!(
            "{scheme} on unix socket {}{path} ({})",
            file.display(),
            serializers.join(", ")
        ),
        BindAddress::Tcp(addr) => format!("{scheme}://{addr}{path} ({})", serializers.join(", ")),
        other => format!("{other:?}"),
    }
}

fn auth_line(auth: &AuthConfig) -> String {
    let mut parts = Vec::new();
    if let Some(a) = &auth.anonymous {
        parts.push(format!("anonymous as {:?}", a.role));
    }
    for (method, n) in [
        ("ticket", auth.ticket.len()),
        ("wampcra", auth.wampcra.len()),
        ("cryptosign", auth.cryptosign.len()),
        ("wamp-scram", auth.scram.len()),
    ] {
        if n > 0 {
            parts.push(format!(
                "{method} ({n} principal{})",
                if n == 1 { "" } else { "s" }
            ));
        }
    }
    if parts.is_empty() {
        "nobody may join".to_owned()
    } else {
        parts.join(", ")
    }
}
