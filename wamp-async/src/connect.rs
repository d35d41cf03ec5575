//! Opening a connection and joining a realm: [`connect`].

use std::io;
use wamp_proto::Instant;

use futures::channel::{mpsc, oneshot};
use futures::future::Either;
use futures::FutureExt;
use tracing::Instrument;
use wamp_proto::serializer::SerializerKind;
use wamp_transport_rawsocket::{self as rawsocket, HandshakeErrorCode, RawSocketError};
use wamp_transport_ws::http::{HeaderName, HeaderValue};
use wamp_transport_ws::{self as ws, Validation};

use crate::budget::ByteBudget;
use crate::driver::{Channels, Driver, Target};
use crate::error::{ConnectError, IoError, TransportError};
use crate::framer::Framer;
use crate::join::JoinConfig;
use crate::proxy;
use crate::runtime::{with_deadline, BoxStream, Runtime};
use crate::session::Session;
#[cfg(not(target_arch = "wasm32"))]
use crate::tls;
use crate::transport::{Endpoint, TlsRoots, TransportConfig};

/// Connects to a router and joins a realm; returns once the router has welcomed the
/// session, with the connection loop running in a task spawned on `rt`.
///
/// The transport's `connect_timeout` covers the TCP connection, the proxy tunnel, TLS
/// and the WebSocket or RawSocket handshake; the join's `handshake_timeout` covers
/// HELLO to WELCOME (authentication included). Over RawSocket the serializers are
/// tried in order: when the router refuses one (error reply 1, or, as Crossbar.io does,
/// by closing the connection), the next is tried on a new connection.
///
/// Dropping the returned future before it resolves closes the connection.
///
/// # Errors
///
/// [`ConnectError`] tells the network ([`Io`](ConnectError::Io),
/// [`Tls`](ConnectError::Tls), [`Timeout`](ConnectError::Timeout),
/// [`Transport`](ConnectError::Transport), [`Proxy`](ConnectError::Proxy)) from the
/// router's refusal ([`Aborted`](ConnectError::Aborted), e.g.
/// `wamp.error.not_authorized`) and from configuration mistakes
/// ([`Config`](ConnectError::Config)).
pub async fn connect<R: Runtime>(
    rt: &R,
    transport: &TransportConfig,
    join: &JoinConfig,
) -> Result<Session, ConnectError> {
    transport.check()?;
    // Configuration mistakes surface before any network traffic.
    join.session_config(SerializerKind::Json)?;
    let span = tracing::info_span!(
        "wamp.connect",
        url = %transport.endpoint,
        transport = transport.endpoint.transport_name(),
        realm = %join.realm,
    );
    async {
        let deadline = rt.now() + transport.connect_timeout;
        if let Endpoint::WebSocket { .. } = transport.endpoint {
            return attempt(rt, transport, join, &transport.serializers, deadline)
                .await
                .map_err(|(e, _)| e);
        }
        let mut serializers = transport.serializers.iter().peekable();
        while let Some(serializer) = serializers.next() {
            match attempt(rt, transport, join, &[*serializer], deadline).await {
                Err((e, false)) if serializers.peek().is_some() && maybe_refused_serializer(&e) => {
                    tracing::info!(serializer = %serializer, error = %e, "RawSocket handshake failed; trying the next serializer");
                }
                result => return result.map_err(|(e, _)| e),
            }
        }
        Err(ConnectError::Config("no serializers".into()))
    }
    .instrument(span)
    .await
}

/// Whether a RawSocket handshake failure may be the router refusing the serializer:
/// error reply 1, or a connection closed or reset during the handshake (Crossbar.io's
/// way of refusing).
fn maybe_refused_serializer(error: &ConnectError) -> bool {
    matches!(
        error,
        ConnectError::Transport(
            TransportError::RawSocket(
                RawSocketError::HandshakeRejected {
                    code: HandshakeErrorCode::SerializerUnsupported
                } | RawSocketError::ClosedDuringHandshake
            ) | TransportError::Io(_)
                | TransportError::Eof
        )
    )
}

/// One connection attempt; on failure, also whether the transport had opened.
async fn attempt<R: Runtime>(
    rt: &R,
    transport: &TransportConfig,
    join: &JoinConfig,
    serializers: &[SerializerKind],
    deadline: Instant,
) -> Result<Session, (ConnectError, bool)> {
    let timeout = ConnectError::Timeout {
        stage: "connecting",
        after: transport.connect_timeout,
    };
    // The platform's own WebSocket (a browser's), or a stream the loop frames itself.
    let platform = platform_websocket(rt, transport, serializers);
    let piped = platform.is_some();
    let open = match platform {
        Some(open) => Either::Left(open),
        None => Either::Right(open_stream(rt, transport)),
    };
    let stream = with_deadline(rt, deadline, open)
        .await
        .ok_or((timeout, false))?
        .map_err(|e| (e, false))?;
    let framer = if piped {
        Framer::pipe(
            serializers.to_vec(),
            transport.websocket.auto_ping,
            transport.websocket.max_message_size,
        )
    } else {
        framer(rt, transport, serializers).map_err(|e| (e, false))?
    };
    tracing::debug!("connected; starting the transport handshake");
    let target = Target {
        transport: transport.endpoint.to_string(),
        connect_deadline: deadline,
        connect_timeout: transport.connect_timeout,
    };
    start_session(rt, stream, framer, join, target).await
}

/// Joins over a byte stream that is already open (a router's in-process connection):
/// the transport handshake, then HELLO to WELCOME, as [`connect`] does after it has
/// connected. `transport` names the stream in logs and [`SessionDetails`].
///
/// [`SessionDetails`]: crate::SessionDetails
#[cfg(feature = "router")]
pub(crate) async fn connect_stream<R: Runtime>(
    rt: &R,
    stream: BoxStream,
    framer: Framer,
    join: &JoinConfig,
    transport: String,
    connect_timeout: std::time::Duration,
) -> Result<Session, ConnectError> {
    join.session_config(SerializerKind::Json)?;
    let span = tracing::info_span!("wamp.connect", url = %transport, realm = %join.realm);
    let target = Target {
        transport,
        connect_deadline: rt.now() + connect_timeout,
        connect_timeout,
    };
    start_session(rt, stream, framer, join, target)
        .instrument(span)
        .await
        .map_err(|(e, _)| e)
}

/// Starts the connection loop on `stream` and waits until the session has joined.
async fn start_session<R: Runtime>(
    rt: &R,
    stream: BoxStream,
    framer: Framer,
    join: &JoinConfig,
    target: Target,
) -> Result<Session, (ConnectError, bool)> {
    let (commands_tx, commands) = mpsc::channel(join.command_buffer);
    let (control_tx, control) = mpsc::unbounded();
    let (joined_tx, joined) = oneshot::channel();
    let (closed_tx, closed) = oneshot::channel();
    let driver = Driver::new(
        rt.clone(),
        stream,
        framer,
        join.clone(),
        target,
        Channels {
            commands,
            control,
            joined: joined_tx,
            closed: closed_tx,
        },
    );
    rt.spawn(driver.boxed());
    match joined.await {
        Ok(Ok(details)) => Ok(Session::new(
            commands_tx,
            ByteBudget::new(join.command_bytes),
            control_tx,
            details,
            closed,
            join.stream_buffer,
        )),
        Ok(Err(failure)) => Err(failure),
        Err(_) => Err((
            ConnectError::Transport(TransportError::Io(IoError::new(
                io::ErrorKind::ConnectionAborted,
                "the connection task ended before the session was established",
            ))),
            false,
        )),
    }
}

/// A WebSocket the runtime's platform opens itself (a browser's), speaking the
/// [message pipe](crate::message_pipe); `None` where the loop speaks WebSocket itself. What
/// such a platform cannot do is an error here, not ignored: it sets no handshake
/// headers, goes through no proxy of ours, and does TLS itself (with its own trust
/// store and the URL's host name).
fn platform_websocket<R: Runtime>(
    rt: &R,
    transport: &TransportConfig,
    serializers: &[SerializerKind],
) -> Option<futures::future::BoxFuture<'static, Result<BoxStream, ConnectError>>> {
    let Endpoint::WebSocket { url, .. } = &transport.endpoint else {
        return None;
    };
    let protocols: Vec<&'static str> = serializers.iter().map(|s| s.subprotocol()).collect();
    let open = rt.open_websocket(url, &protocols)?;
    let refused = if !transport.websocket.headers.is_empty() {
        Some("this runtime's WebSocket cannot send handshake headers (a browser sets them itself)")
    } else if transport.proxy.is_some() {
        Some("this runtime's WebSocket cannot go through an HTTP proxy of ours (the browser uses its own)")
    } else if !matches!(transport.tls.roots, TlsRoots::Native)
        || transport.tls.server_name.is_some()
    {
        Some("this runtime's WebSocket does its own TLS: trusted roots and the server name cannot be set")
    } else {
        None
    };
    if let Some(why) = refused {
        return Some(Box::pin(
            async move { Err(ConnectError::Config(why.into())) },
        ));
    }
    let url = url.clone();
    Some(Box::pin(async move {
        open.await
            .map_err(|e| ConnectError::Io(io::Error::new(e.kind(), format!("opening {url}: {e}"))))
    }))
}

/// The byte stream: TCP (maybe through a proxy) and TLS, or a Unix socket.
async fn open_stream<R: Runtime>(
    rt: &R,
    transport: &TransportConfig,
) -> Result<BoxStream, ConnectError> {
    match &transport.endpoint {
        Endpoint::WebSocket {
            host, port, tls, ..
        }
        | Endpoint::RawSocket { host, port, tls } => {
            let stream = match &transport.proxy {
                Some(proxy) => {
                    let mut stream = tcp(rt, &proxy.host, proxy.port).await?;
                    proxy::connect(&mut stream, host, *port).await?;
                    stream
                }
                None => tcp(rt, host, *port).await?,
            };
            #[cfg(not(target_arch = "wasm32"))]
            let stream = if *tls {
                tls::connect(stream, host, &transport.tls).await?
            } else {
                stream
            };
            #[cfg(target_arch = "wasm32")]
            if *tls {
                return Err(ConnectError::Config(
                    "TLS over a runtime's own TCP streams is not built for wasm32".into(),
                ));
            }
            Ok(stream)
        }
        #[cfg(unix)]
        Endpoint::Unix { path } => rt.connect_unix(path.clone()).await.map_err(|e| {
            ConnectError::Io(io::Error::new(
                e.kind(),
                format!("connecting to {}: {e}", path.display()),
            ))
        }),
        #[cfg(not(unix))]
        Endpoint::Unix { .. } => Err(ConnectError::Config(
            "Unix domain sockets are not available on this platform".into(),
        )),
    }
}

async fn tcp<R: Runtime>(rt: &R, host: &str, port: u16) -> Result<BoxStream, ConnectError> {
    rt.connect_tcp(host.to_owned(), port).await.map_err(|e| {
        ConnectError::Io(io::Error::new(
            e.kind(),
            format!("connecting to {host}:{port}: {e}"),
        ))
    })
}

/// The WebSocket or RawSocket machine for the endpoint.
fn framer<R: Runtime>(
    rt: &R,
    transport: &TransportConfig,
    serializers: &[SerializerKind],
) -> Result<Framer, ConnectError> {
    match &transport.endpoint {
        Endpoint::WebSocket { url, .. } => {
            let options = &transport.websocket;
            let invalid = |e: &dyn std::fmt::Display| ConnectError::Config(e.to_string());
            let mut config = ws::ClientConfig::new(url)
                .map_err(|e| invalid(&e))?
                .serializers(serializers.iter().copied())
                .max_message_size(options.max_message_size)
                .max_frame_size(options.max_frame_size)
                // The session decodes each message once; the framer need not.
                .validation(Validation::Skip);
            if let Some((interval, timeout)) = options.auto_ping {
                config = config.auto_ping(interval, timeout);
            }
            for (name, value) in &options.headers {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|e| ConnectError::Config(format!("header name {name:?}: {e}")))?;
                let value = HeaderValue::from_str(value)
                    .map_err(|e| ConnectError::Config(format!("header {name}: {e}")))?;
                config = config.header(name, value);
            }
            Framer::websocket(config, rt.now()).map_err(ConnectError::Config)
        }
        Endpoint::RawSocket { .. } | Endpoint::Unix { .. } => {
            let serializer = serializers
                .first()
                .copied()
                .ok_or_else(|| ConnectError::Config("no serializers".into()))?;
            let mut config = rawsocket::ClientConfig::new(serializer);
            config.max_message_len = transport.rawsocket_max_message_len;
            config.keepalive = transport
                .rawsocket_keepalive
                .map(|(interval, timeout)| rawsocket::KeepAlive::new(interval, timeout));
            Ok(Framer::rawsocket(config, rt.now()))
        }
    }
}
