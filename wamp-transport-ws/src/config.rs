//! Client and server configuration: Autobahn's `websocket_options` that a WAMP user
//! expects (message and frame limits, extra headers, auto-ping), plus the serializers.

use std::time::Duration;

use tungstenite::http::{header, HeaderMap, HeaderName, HeaderValue, Uri};
use wamp_proto::serializer::SerializerKind;

use crate::error::UsageError;

/// Auto-ping (Autobahn's `autoPingInterval` / `autoPingTimeout`): keeps idle connections
/// alive through middleboxes and detects a dead peer.
///
/// When nothing has arrived from the peer for `interval`, a Ping is sent. If neither its
/// Pong nor any other data arrives within `timeout` after it, the connection fails with
/// [`WsError::PingTimeout`](crate::WsError::PingTimeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoPing {
    /// How long the connection may be idle (nothing received) before a Ping is sent.
    pub interval: Duration,
    /// How long to wait for the Pong (or any data) after a Ping.
    pub timeout: Duration,
}

impl AutoPing {
    /// Pings after `interval` of silence and gives up `timeout` after the ping.
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        AutoPing { interval, timeout }
    }
}

/// When a received message is checked against the serializer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Validation {
    /// Decode every message on arrival with [`SerializerKind::decode`]; a message that
    /// does not decode fails the connection with close code 1002. The decoded message is
    /// kept, so [`poll_decoded`](crate::WebSocket::poll_decoded) costs nothing more.
    #[default]
    Decode,
    /// Hand messages out undecoded (the session decodes them, for example with
    /// `Session::handle_bytes`). [`poll_decoded`](crate::WebSocket::poll_decoded) then
    /// decodes on demand and fails the connection (1002) if that fails.
    Skip,
}

/// Options shared by both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WsOptions {
    /// The largest message accepted from the peer, after reassembling fragments
    /// (Autobahn's `maxMessagePayloadSize`). Larger ones fail the connection with close
    /// code 1009. `None`: no limit. Default: 64 MiB.
    pub max_message_size: Option<usize>,
    /// The largest single frame accepted from the peer (Autobahn's
    /// `maxFramePayloadSize`). Default: 16 MiB. Note that a message is sent as one frame,
    /// so a peer's frame limit also bounds what may be sent to it.
    pub max_frame_size: Option<usize>,
    /// Auto-ping, off by default.
    pub auto_ping: Option<AutoPing>,
    /// How long the opening handshake may take (Autobahn's `openHandshakeTimeout`).
    /// Default: none.
    pub open_timeout: Option<Duration>,
    /// How long to wait for the peer's Close frame after sending ours (Autobahn's
    /// `closeHandshakeTimeout`). Default: 1 s.
    pub close_timeout: Duration,
    /// How long a message that has begun to arrive (a frame header or a first
    /// fragment) may take to arrive whole; then the connection fails with close code
    /// 1008 and [`WsError::MessageTimeout`](crate::WsError::MessageTimeout). It stops a
    /// peer that trickles a large frame to hold a connection and its buffer (the
    /// auto-ping cannot: any byte counts as life). Default: none.
    pub message_timeout: Option<Duration>,
    /// When received messages are checked against the serializer.
    pub validation: Validation,
}

impl Default for WsOptions {
    fn default() -> Self {
        WsOptions {
            max_message_size: Some(64 << 20),
            max_frame_size: Some(16 << 20),
            auto_ping: None,
            open_timeout: None,
            close_timeout: Duration::from_secs(1),
            message_timeout: None,
            validation: Validation::Decode,
        }
    }
}

impl WsOptions {
    pub(crate) fn check(&self) -> Result<(), UsageError> {
        if let Some(ping) = self.auto_ping {
            if ping.interval.is_zero() || ping.timeout.is_zero() {
                return Err(UsageError::InvalidConfig(
                    "auto-ping interval and timeout must be positive".into(),
                ));
            }
        }
        if self.open_timeout.is_some_and(|t| t.is_zero()) {
            return Err(UsageError::InvalidConfig(
                "the open timeout must be positive".into(),
            ));
        }
        if self.message_timeout.is_some_and(|t| t.is_zero()) {
            return Err(UsageError::InvalidConfig(
                "the message timeout must be positive".into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn tungstenite(&self) -> tungstenite::protocol::WebSocketConfig {
        tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(self.max_message_size)
            .max_frame_size(self.max_frame_size)
            // The stream is a memory buffer: the step only bounds one copy out of it
            // (tungstenite reserves a whole frame once its header is in), and tungstenite
            // allocates this much for every connection up front, so small keeps idle
            // connections cheap.
            .read_buffer_size(1024)
            // Every write goes straight to the output queue; `poll_transmit` batches.
            .write_buffer_size(0)
    }
}

macro_rules! common_setters {
    (serializers: $serializers_doc:literal, header: $header_doc:literal) => {
        #[doc = $serializers_doc]
        pub fn serializers(
            mut self,
            serializers: impl IntoIterator<Item = SerializerKind>,
        ) -> Self {
            self.serializers = serializers.into_iter().collect();
            self
        }

        #[doc = $header_doc]
        pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
            self.headers.append(name, value);
            self
        }

        /// Sets [`WsOptions::max_message_size`].
        pub fn max_message_size(mut self, max: Option<usize>) -> Self {
            self.options.max_message_size = max;
            self
        }

        /// Sets [`WsOptions::max_frame_size`].
        pub fn max_frame_size(mut self, max: Option<usize>) -> Self {
            self.options.max_frame_size = max;
            self
        }

        /// Sets [`WsOptions::auto_ping`].
        pub fn auto_ping(mut self, interval: Duration, timeout: Duration) -> Self {
            self.options.auto_ping = Some(AutoPing::new(interval, timeout));
            self
        }

        /// Sets [`WsOptions::open_timeout`].
        pub fn open_timeout(mut self, timeout: Duration) -> Self {
            self.options.open_timeout = Some(timeout);
            self
        }

        /// Sets [`WsOptions::message_timeout`].
        pub fn message_timeout(mut self, timeout: Duration) -> Self {
            self.options.message_timeout = Some(timeout);
            self
        }

        /// Sets [`WsOptions::close_timeout`].
        pub fn close_timeout(mut self, timeout: Duration) -> Self {
            self.options.close_timeout = timeout;
            self
        }

        /// Sets [`WsOptions::validation`].
        pub fn validation(mut self, validation: Validation) -> Self {
            self.options.validation = validation;
            self
        }
    };
}

/// The client's configuration.
///
/// ```
/// use std::time::Duration;
/// use wamp_proto::serializer::SerializerKind;
/// use wamp_transport_ws::ClientConfig;
///
/// let config = ClientConfig::new("ws://127.0.0.1:8080/ws")?
///     .serializers([SerializerKind::Cbor, SerializerKind::Json])
///     .max_message_size(Some(1 << 20))
///     .auto_ping(Duration::from_secs(10), Duration::from_secs(5));
/// # Ok::<(), wamp_transport_ws::UsageError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The URL to upgrade (`ws://` or `wss://`; the scheme only tells the runtime whether
    /// to use TLS). Its authority becomes the `Host` header, its path and query the
    /// request target.
    pub uri: Uri,
    /// The serializers to offer, in preference order. They are offered as
    /// `Sec-WebSocket-Protocol` in this order, and a server following Autobahn's rule
    /// picks the first one it supports. Default: `SerializerKind::ALL` (CBOR, MessagePack,
    /// JSON).
    pub serializers: Vec<SerializerKind>,
    /// Extra request headers (`Authorization`, `Cookie`, `Origin`, ...). A `Host` here
    /// replaces the one derived from the URL; `Connection`, `Upgrade` and
    /// `Sec-WebSocket-*` are reserved.
    pub headers: HeaderMap,
    /// Options shared with the server side.
    pub options: WsOptions,
}

impl ClientConfig {
    /// A configuration for `url` with default options.
    pub fn new(url: &str) -> Result<ClientConfig, UsageError> {
        let uri: Uri = url
            .parse()
            .map_err(|e| UsageError::InvalidConfig(format!("invalid URL {url:?}: {e}")))?;
        Ok(ClientConfig {
            uri,
            serializers: SerializerKind::ALL.to_vec(),
            headers: HeaderMap::new(),
            options: WsOptions::default(),
        })
    }

    pub(crate) fn check(&self) -> Result<(), UsageError> {
        self.options.check()?;
        check_serializers(&self.serializers)?;
        match self.uri.scheme_str() {
            Some("ws" | "wss") => {}
            _ => {
                return Err(UsageError::InvalidConfig(format!(
                    "the URL {} is not ws:// or wss://",
                    self.uri
                )))
            }
        }
        if self.uri.host().is_none_or(str::is_empty) {
            return Err(UsageError::InvalidConfig(format!(
                "the URL {} has no host",
                self.uri
            )));
        }
        check_headers(&self.headers, &[header::HOST])
    }

    common_setters!(
        serializers: "Sets the serializers to offer, in preference order.",
        header: "Adds an extra request header."
    );
}

/// The server's configuration.
///
/// ```
/// use wamp_proto::serializer::SerializerKind;
/// use wamp_transport_ws::ServerConfig;
/// use wamp_transport_ws::http::{HeaderName, HeaderValue};
///
/// let config = ServerConfig::new()
///     .serializers([SerializerKind::Cbor, SerializerKind::Json])
///     .header(HeaderName::from_static("server"), HeaderValue::from_static("my-router"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The serializers this server speaks. The server picks the first subprotocol in the
    /// *client's* offer that is in this list (Autobahn's rule), so this order only
    /// matters for the list sent back in an HTTP 400. Default: `SerializerKind::ALL`.
    pub serializers: Vec<SerializerKind>,
    /// Extra response headers for a successful upgrade (`Server`, `Set-Cookie`, ...).
    /// `Connection`, `Upgrade` and `Sec-WebSocket-*` are reserved.
    pub headers: HeaderMap,
    /// The one request path this endpoint serves (e.g. `/ws`; the query is ignored).
    /// An upgrade request for another path gets HTTP 404. Default: `None`, any path.
    pub path: Option<String>,
    /// Answer every upgrade request with HTTP 503 (Service Unavailable). The runtime
    /// sets it when it is at its connection limit, as RawSocket's
    /// `max_connections_reached` answers with error reply 4.
    pub max_connections_reached: bool,
    /// The web origins whose pages may connect: patterns where `*` stands for any run
    /// of characters (`https://app.example.com`, `http://localhost:*`, `*`). A request
    /// with an `Origin` header (browsers send one) that matches none gets HTTP 403,
    /// so a page on another site cannot use a visitor's browser to reach the router
    /// (cross-site WebSocket hijacking). Requests without `Origin` (programs, not
    /// pages) and the opaque origin `null` are served. Default: `None`, every origin.
    pub allowed_origins: Option<Vec<String>>,
    /// Options shared with the client side.
    pub options: WsOptions,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig::new()
    }
}

impl ServerConfig {
    /// A configuration speaking every serializer, with default options.
    pub fn new() -> ServerConfig {
        ServerConfig {
            serializers: SerializerKind::ALL.to_vec(),
            headers: HeaderMap::new(),
            path: None,
            max_connections_reached: false,
            allowed_origins: None,
            options: WsOptions::default(),
        }
    }

    /// Serves pages only from these origins (see
    /// [`allowed_origins`](Self::allowed_origins)).
    pub fn allowed_origins(
        mut self,
        patterns: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.allowed_origins = Some(patterns.into_iter().map(Into::into).collect());
        self
    }

    /// Serves only upgrade requests for `path` (see [`path`](Self::path)).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    pub(crate) fn check(&self) -> Result<(), UsageError> {
        self.options.check()?;
        check_serializers(&self.serializers)?;
        if let Some(path) = &self.path {
            if !path.starts_with('/') {
                return Err(UsageError::InvalidConfig(format!(
                    "the path {path:?} does not start with /"
                )));
            }
        }
        check_headers(&self.headers, &[])
    }

    common_setters!(
        serializers: "Sets the serializers this server speaks.",
        header: "Adds an extra response header."
    );
}

fn check_serializers(serializers: &[SerializerKind]) -> Result<(), UsageError> {
    if serializers.is_empty() {
        return Err(UsageError::InvalidConfig("no serializers".into()));
    }
    for (i, s) in serializers.iter().enumerate() {
        if serializers[..i].contains(s) {
            return Err(UsageError::InvalidConfig(format!("serializer {s} twice")));
        }
    }
    Ok(())
}

/// Rejects headers the handshake itself owns: overriding them would break the upgrade
/// (`Sec-WebSocket-Extensions` would let the peer turn on compression we cannot decode).
fn check_headers(headers: &HeaderMap, allowed: &[HeaderName]) -> Result<(), UsageError> {
    for name in headers.keys() {
        if allowed.contains(name) {
            continue;
        }
        let reserved = name == header::CONNECTION
            || name == header::UPGRADE
            || name == header::HOST
            || name == header::CONTENT_LENGTH
            || name.as_str().starts_with("sec-websocket-");
        if reserved {
            return Err(UsageError::InvalidConfig(format!(
                "the header {name} is set by the handshake"
            )));
        }
    }
    Ok(())
}
