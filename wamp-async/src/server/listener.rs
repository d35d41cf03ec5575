//! Listeners: binding the configured addresses, and one accept loop per listener that
//! hands every accepted stream to a connection task.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wamp_proto::Instant;

use futures::future::{select, Either};
use futures::SinkExt;
use tracing::Instrument;
use wamp_transport_rawsocket::{self as rawsocket, MaxMessageLen};
use wamp_transport_ws::{self as ws, Validation};

use super::config::{BindAddress, ListenTransport, ListenerConfig};
use super::hub::{ServerCtx, ToRouter};
use super::tls::ServerTls;
use super::{connection, ListenerInfo, RouterError};
use crate::framer::Framer;
use crate::runtime::{BoxListener, Runtime};

/// After a failed `accept` (out of file descriptors, a reset), wait this long before
/// the next one rather than spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What every connection of one listener shares: how to frame it, TLS, and what the
/// session meta API reports about its transport.
pub(crate) struct ListenerSpec {
    pub(crate) transport: ListenTransport,
    pub(crate) tls: Option<ServerTls>,
    ws: ws::ServerConfig,
    raw: rawsocket::ServerConfig,
    /// `tcp`, `tls`, `unix` or `memory` (Crossbar's `channel_type`).
    pub(crate) channel_type: &'static str,
    /// The listener, for logs.
    pub(crate) label: String,
    /// The router's transport authentication its clients join with, if not the realms'.
    pub(crate) auth: Option<Arc<str>>,
    /// Its HTTP services, if it has any.
    pub(crate) web: Option<Arc<super::web::Web>>,
}

impl ListenerSpec {
    /// Checks a listener's configuration and prepares its framer settings.
    pub(crate) fn new(config: &ListenerConfig) -> Result<ListenerSpec, RouterError> {
        let invalid = |why: String| RouterError::Listener(format!("{}: {why}", label(config)));
        if config.serializers.is_empty() {
            return Err(invalid("no serializers".into()));
        }
        let max = config.max_message_size;
        let raw_max = MaxMessageLen::at_least(max)
            .filter(|_| max > 0)
            .ok_or_else(|| invalid(format!("max_message_size {max} is not in 1..=16 MiB")))?;
        let raw = rawsocket::ServerConfig {
            serializers: config.serializers.clone(),
            max_message_len: raw_max,
            keepalive: config
                .auto_ping
                .map(|(interval, timeout)| rawsocket::KeepAlive::new(interval, timeout)),
            message_timeout: config.message_timeout,
            ..rawsocket::ServerConfig::default()
        };
        let mut ws = ws::ServerConfig::new()
            .serializers(config.serializers.iter().copied())
            .max_message_size(Some(max))
            .max_frame_size(Some(max))
            // The router decodes every message once; the framer need not.
            .validation(Validation::Skip);
        if let Some((interval, timeout)) = config.auto_ping {
            ws = ws.auto_ping(interval, timeout);
        }
        if let Some(timeout) = config.message_timeout {
            ws = ws.message_timeout(timeout);
        }
        ws.allowed_origins.clone_from(&config.allowed_origins);
        if let ListenTransport::WebSocket { path: Some(path) } = &config.transport {
            if !path.starts_with('/') {
                return Err(invalid(format!("the path {path:?} does not start with /")));
            }
        }
        for service in &config.web {
            let path = match service {
                super::WebService::Publisher(b) | super::WebService::Caller(b) => &b.path,
                super::WebService::Static { path, .. } | super::WebService::Metrics { path } => {
                    path
                }
            };
            if !path.starts_with('/') {
                return Err(invalid(format!(
                    "the web path {path:?} does not start with /"
                )));
            }
            if config.transport == ListenTransport::RawSocket {
                return Err(invalid("web services need a WebSocket listener".into()));
            }
        }
        // The WebSocket machine checks its own configuration when it is made: try once.
        Framer::websocket_server(ws.clone(), Instant::now()).map_err(invalid)?;
        let channel_type = match (&config.bind, config.tls.is_some()) {
            (_, true) => "tls",
            (BindAddress::Tcp(_), false) => "tcp",
            (BindAddress::Unix(_), false) => "unix",
        };
        Ok(ListenerSpec {
            transport: config.transport.clone(),
            tls: config.tls.clone(),
            ws,
            raw,
            channel_type,
            label: label(config),
            auth: config.auth.as_deref().map(Arc::from),
            web: super::web::Web::new(&label(config), &config.web),
        })
    }

    /// The in-process "listener": RawSocket over a memory pipe, every serializer.
    pub(crate) fn in_process() -> ListenerSpec {
        ListenerSpec {
            transport: ListenTransport::RawSocket,
            tls: None,
            ws: ws::ServerConfig::new(),
            raw: rawsocket::ServerConfig::default(),
            channel_type: "memory",
            label: "in-process".into(),
            auth: None,
            web: None,
        }
    }

    /// A framer for a new connection; `full`: the router is at its connection limit
    /// (RawSocket then answers the handshake with error 4, WebSocket the upgrade
    /// request with HTTP 503; a WebSocket request for another path gets 404).
    pub(crate) fn framer(&self, now: Instant, full: bool) -> Result<Framer, String> {
        match self.transport {
            ListenTransport::WebSocket { ref path } => {
                let mut ws = self.ws.clone();
                ws.path.clone_from(path);
                ws.max_connections_reached = full;
                Framer::websocket_server(ws, now)
            }
            ListenTransport::RawSocket => {
                let mut raw = self.raw.clone();
                raw.max_connections_reached = full;
                Ok(Framer::rawsocket_server(raw, now))
            }
        }
    }

    pub(crate) fn framing(&self) -> &'static str {
        match self.transport {
            ListenTransport::WebSocket { .. } => "websocket",
            ListenTransport::RawSocket => "rawsocket",
        }
    }
}

pub(crate) fn label(config: &ListenerConfig) -> String {
    let tls = config.tls.is_some();
    match (&config.bind, &config.transport) {
        (BindAddress::Tcp(addr), ListenTransport::WebSocket { path }) => {
            let scheme = if tls { "wss" } else { "ws" };
            format!("{scheme}://{addr}{}", path.as_deref().unwrap_or("/"))
        }
        (BindAddress::Tcp(addr), ListenTransport::RawSocket) => {
            let scheme = if tls { "rss" } else { "rs" };
            format!("{scheme}://{addr}")
        }
        (BindAddress::Unix(path), ListenTransport::WebSocket { path: ws_path }) => format!(
            "websocket on unix://{}{}",
            path.display(),
            ws_path.as_deref().unwrap_or("/")
        ),
        (BindAddress::Unix(path), ListenTransport::RawSocket) => {
            format!("unix://{}", path.display())
        }
    }
}

/// A bound listener, not yet accepting. Dropping it closes the listener.
pub(crate) struct Bound {
    pub(crate) listener: BoxListener,
    pub(crate) spec: Arc<ListenerSpec>,
    pub(crate) info: ListenerInfo,
    /// The socket file to remove when the listener stops.
    unix_path: Option<PathBuf>,
}

impl Drop for Bound {
    fn drop(&mut self) {
        if let Some(path) = &self.unix_path {
            // Only our own socket: the bind created it.
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Binds a listener.
pub(crate) async fn bind<R: Runtime>(
    rt: &R,
    config: &ListenerConfig,
) -> Result<Bound, RouterError> {
    let spec = Arc::new(ListenerSpec::new(config)?);
    let bind_error = |source: io::Error| RouterError::Bind {
        addr: spec.label.clone(),
        source,
    };
    let (listener, unix_path) = match &config.bind {
        BindAddress::Tcp(addr) => {
            let listener = match config.backlog {
                Some(backlog) => rt.bind_tcp_backlog(addr.clone(), backlog).await,
                None => rt.bind_tcp(addr.clone()).await,
            };
            (listener.map_err(bind_error)?, None)
        }
        #[cfg(unix)]
        BindAddress::Unix(path) => {
            remove_stale_socket(path).map_err(bind_error)?;
            let listener = rt.bind_unix(path.clone()).await.map_err(bind_error)?;
            (listener, Some(path.clone()))
        }
        #[cfg(not(unix))]
        BindAddress::Unix(_) => {
            return Err(bind_error(io::Error::new(
                io::ErrorKind::Unsupported,
                "Unix domain sockets are not available on this platform",
            )))
        }
    };
    let addr = listener.local_addr().map_err(bind_error)?;
    let info = ListenerInfo {
        addr,
        transport: config.transport.clone(),
        tls: config.tls.is_some(),
    };
    Ok(Bound {
        listener,
        spec,
        info,
        unix_path,
    })
}

/// A socket file left by an earlier run would make the bind fail, so it is removed;
/// a socket someone still listens on, or anything else at the path, is not ours to
/// remove.
#[cfg(unix)]
fn remove_stale_socket(path: &std::path::Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            // Connecting to a Unix socket does not block: it is accepted into the
            // backlog or refused at once.
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("something is listening on {}", path.display()),
                ));
            }
            std::fs::remove_file(path)
        }
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Accepts connections until the router stops, then closes the listener and tells the
/// router task.
pub(crate) async fn accept_loop<R: Runtime>(ctx: ServerCtx<R>, bound: Bound) {
    let span = tracing::info_span!("wamp.listener", listener = %bound.spec.label);
    accept_until_stopped(ctx, bound).instrument(span).await;
}

async fn accept_until_stopped<R: Runtime>(ctx: ServerCtx<R>, mut bound: Bound) {
    loop {
        let accepted = match select(bound.listener.accept(), ctx.stopped()).await {
            Either::Left((accepted, _)) => accepted,
            Either::Right(_) => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                tracing::debug!(%peer, "accepted a connection");
                connection::spawn(&ctx, bound.spec.clone(), stream, peer);
            }
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                let pause = ctx.rt.sleep_until(ctx.rt.now() + ACCEPT_BACKOFF);
                if let Either::Right(_) = select(pause, ctx.stopped()).await {
                    break;
                }
            }
        }
    }
    let addr = bound.info.addr.clone();
    // Closes the socket (and removes a Unix socket's file).
    drop(bound);
    tracing::info!(%addr, "stopped listening");
    let _ = ctx.to_router.clone().send(ToRouter::ListenerClosed).await;
}
