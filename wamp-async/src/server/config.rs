//! What a router listens on and how its connections are bounded.

use std::path::PathBuf;
use std::time::Duration;

use wamp_proto::serializer::SerializerKind;

use super::tls::ServerTls;

/// Where a listener binds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BindAddress {
    /// A TCP address, `"127.0.0.1:8080"`, `"[::1]:0"` or `"localhost:8080"` (port 0:
    /// the OS picks a free port; see [`RouterHandle::listeners`](super::RouterHandle::listeners)).
    Tcp(String),
    /// A Unix domain socket path. A stale socket file there is replaced, and the file
    /// is removed when the router stops.
    Unix(PathBuf),
}

/// The WAMP transport a listener speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenTransport {
    /// WebSocket: the subprotocol (`wamp.2.json`, `wamp.2.msgpack`, `wamp.2.cbor`) picks
    /// the serializer.
    WebSocket {
        /// The one path the upgrade request must ask for (`"/ws"`); other paths get
        /// HTTP 404. `None` accepts any path.
        path: Option<String>,
    },
    /// RawSocket: the 4-octet handshake picks the serializer.
    RawSocket,
}

/// One listener: an address, a transport, optional TLS, and limits.
///
/// ```
/// use wamp_runtime::{ListenerConfig, SerializerKind};
///
/// let ws = ListenerConfig::websocket("127.0.0.1:8080", "/ws");
/// let rs = ListenerConfig::rawsocket("127.0.0.1:8081").serializers([SerializerKind::MsgPack]);
/// # #[cfg(unix)]
/// let unix = ListenerConfig::unix("/tmp/wamp.sock");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ListenerConfig {
    /// Where to bind.
    pub bind: BindAddress,
    /// What to speak.
    pub transport: ListenTransport,
    /// TLS (`wss`, `rss`), if set.
    pub tls: Option<ServerTls>,
    /// The serializers accepted. Default: all three.
    pub serializers: Vec<SerializerKind>,
    /// The largest message accepted from a client, in bytes. Default: 16 MiB (the
    /// RawSocket maximum). RawSocket announces the next power of two at least this big.
    pub max_message_size: usize,
    /// Keepalive `(interval, timeout)`: after this much silence from a client, ping it
    /// (a WebSocket Ping or a RawSocket PING), and drop it if nothing arrives within the
    /// timeout, so a vanished peer does not hold its session forever. Default: on for
    /// WebSocket ([`DEFAULT_KEEPALIVE`](crate::DEFAULT_KEEPALIVE): 30 s, then 15 s), off
    /// for RawSocket, whose PING Autobahn|Python clients do not answer. While
    /// backpressure holds a connection's input (it feeds a congested reader) its socket
    /// is not read, so its answer is not seen either: keep `interval + timeout` above the
    /// router's `write_timeout`, after which the congested reader is cut and the hold
    /// ends.
    pub auto_ping: Option<(Duration, Duration)>,
    /// How long a message (a WebSocket frame or fragmented message, a RawSocket frame)
    /// that has begun to arrive may take to arrive whole; then the client is dropped
    /// (WebSocket close code 1008). A client that trickles a large frame would otherwise
    /// hold its connection and buffer for as long as it keeps sending a byte now and
    /// then. Default: 60 s ([`DEFAULT_MESSAGE_TIMEOUT`]); `None` turns it off.
    pub message_timeout: Option<Duration>,
    /// The transport authentication (a [`TransportAuth`](wamp_router::TransportAuth)
    /// of the router's configuration, by name) that this listener's clients join with,
    /// in place of the realms' own `auth`. Default: none, the realms' own.
    pub auth: Option<String>,
    /// WebSocket: the web origins whose pages may connect, `*` matching any run of
    /// characters; other pages get HTTP 403 (see `wamp_transport_ws::ServerConfig`'s
    /// `allowed_origins`). Default: `None`, every origin.
    pub allowed_origins: Option<Vec<String>>,
    /// The TCP listen queue (connections the kernel accepts before the router takes
    /// them). Default: `None`, the runtime's choice (Tokio's is 1024).
    pub backlog: Option<u32>,
    /// HTTP services on this (WebSocket) listener's port beside the WebSocket endpoint:
    /// the HTTP bridge and static files (Crossbar.io's web transport paths). A request
    /// that is not a WebSocket upgrade and whose path one of them serves goes to it.
    pub web: Vec<WebService>,
}

/// An HTTP service of a WebSocket listener.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WebService {
    /// `POST {"topic": .., "args": [..], "kwargs": {..}, "options": {..}}` publishes
    /// (acknowledged) and answers `{"id": PUBLICATION}`.
    Publisher(HttpBridge),
    /// `POST {"procedure": .., "args": [..], "kwargs": {..}}` calls and answers the
    /// result as `{"args": [..], "kwargs": {..}}`.
    Caller(HttpBridge),
    /// `GET` serves the router's metrics in the Prometheus text format at `path`.
    Metrics {
        /// The URL path (`/metrics`).
        path: String,
    },
    /// `GET` serves the files under `directory` at `path` (`index.html` for a folder).
    Static {
        /// The URL path it is served at (`/` for everything no other service takes).
        path: String,
        /// The folder.
        directory: PathBuf,
    },
}

/// An HTTP bridge endpoint: its requests become a WAMP session's publications or calls,
/// as Crossbar.io's `publisher` and `caller` web services do.
///
/// A WAMP error (refused, no such procedure, the callee's error) is HTTP 200 with
/// `{"error": URI, "args": [..], "kwargs": {..}}`; a request the bridge refuses (bad
/// JSON, wrong content type, too large, bad signature) is 400, 401, 405 or 413 with the
/// reason in `error`. Responses allow any origin (CORS), as Crossbar.io's do.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpBridge {
    /// The URL path (`/publish`).
    pub path: String,
    /// The realm its session joins.
    pub realm: String,
    /// The role its session has there (its permissions decide what requests may do).
    pub role: String,
    /// Signed requests: with a secret, every request must carry the query parameters
    /// `key` (this key), `timestamp` (UTC, `2011-10-14T16:59:51.123Z`, within
    /// `timestamp_delta_limit` of now), `seq`, `nonce` (integers) and `signature`:
    /// base64url of HMAC-SHA256 under the secret over key, timestamp, seq, nonce and
    /// the body, concatenated (Crossbar.io's scheme).
    pub key: Option<String>,
    /// See `key`.
    pub secret: Option<String>,
    /// The largest body accepted; larger ones get 413. Default 1 MiB.
    pub post_body_limit: usize,
    /// How far a signed request's timestamp may be from now. Default 300 s.
    pub timestamp_delta_limit: Duration,
    /// How long a bridged call may take before it answers `wamp.error.timeout`.
    /// Default 30 s.
    pub call_timeout: Duration,
    /// Only requests that came over TLS are served (others get 400).
    pub require_tls: bool,
    /// Only requests from these networks (`10.0.0.0/8`, `::1/128`, a bare address) are
    /// served (others get 400). Empty: any address.
    pub require_ip: Vec<String>,
}

impl HttpBridge {
    /// An unsigned bridge at `path` whose session joins `realm` as `role`.
    pub fn new(path: impl Into<String>, realm: impl Into<String>, role: impl Into<String>) -> Self {
        HttpBridge {
            path: path.into(),
            realm: realm.into(),
            role: role.into(),
            key: None,
            secret: None,
            post_body_limit: 1 << 20,
            timestamp_delta_limit: Duration::from_secs(300),
            call_timeout: Duration::from_secs(30),
            require_tls: false,
            require_ip: Vec::new(),
        }
    }

    /// Requires requests signed with `key` and `secret` (see [`key`](HttpBridge::key)).
    #[must_use]
    pub fn signed(mut self, key: impl Into<String>, secret: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self.secret = Some(secret.into());
        self
    }
}

/// How long a message that has begun to arrive may take by default: 60 s, a 16 MiB
/// message at a little over 2 Mbit/s.
pub const DEFAULT_MESSAGE_TIMEOUT: Duration = Duration::from_secs(60);

impl ListenerConfig {
    /// A listener for `transport` on `bind` with defaults.
    pub fn new(bind: BindAddress, transport: ListenTransport) -> ListenerConfig {
        let auto_ping = match transport {
            ListenTransport::WebSocket { .. } => Some(crate::DEFAULT_KEEPALIVE),
            ListenTransport::RawSocket => None,
        };
        ListenerConfig {
            bind,
            transport,
            tls: None,
            serializers: SerializerKind::ALL.to_vec(),
            max_message_size: 16 << 20,
            auto_ping,
            message_timeout: Some(DEFAULT_MESSAGE_TIMEOUT),
            auth: None,
            allowed_origins: None,
            backlog: None,
            web: Vec::new(),
        }
    }

    /// WebSocket on a TCP address, at `path` (`"/ws"`).
    pub fn websocket(addr: impl Into<String>, path: impl Into<String>) -> ListenerConfig {
        ListenerConfig::new(
            BindAddress::Tcp(addr.into()),
            ListenTransport::WebSocket {
                path: Some(path.into()),
            },
        )
    }

    /// RawSocket on a TCP address.
    pub fn rawsocket(addr: impl Into<String>) -> ListenerConfig {
        ListenerConfig::new(BindAddress::Tcp(addr.into()), ListenTransport::RawSocket)
    }

    /// RawSocket on a Unix domain socket (what clients reach with `unix:///path`).
    pub fn unix(path: impl Into<PathBuf>) -> ListenerConfig {
        ListenerConfig::new(BindAddress::Unix(path.into()), ListenTransport::RawSocket)
    }

    /// WebSocket on a Unix domain socket, at `ws_path` (for a reverse proxy in front).
    pub fn unix_websocket(path: impl Into<PathBuf>, ws_path: impl Into<String>) -> ListenerConfig {
        ListenerConfig::new(
            BindAddress::Unix(path.into()),
            ListenTransport::WebSocket {
                path: Some(ws_path.into()),
            },
        )
    }

    /// Serves TLS with this identity.
    #[must_use]
    pub fn tls(mut self, tls: ServerTls) -> ListenerConfig {
        self.tls = Some(tls);
        self
    }

    /// Accepts only these serializers.
    #[must_use]
    pub fn serializers(mut self, serializers: impl IntoIterator<Item = SerializerKind>) -> Self {
        self.serializers = serializers.into_iter().collect();
        self
    }

    /// Sets [`max_message_size`](ListenerConfig::max_message_size).
    #[must_use]
    pub fn max_message_size(mut self, bytes: usize) -> ListenerConfig {
        self.max_message_size = bytes;
        self
    }

    /// Sets the keepalive ([`auto_ping`](ListenerConfig::auto_ping)), for either
    /// transport.
    #[must_use]
    pub fn auto_ping(mut self, interval: Duration, timeout: Duration) -> ListenerConfig {
        self.auto_ping = Some((interval, timeout));
        self
    }

    /// Sets [`message_timeout`](ListenerConfig::message_timeout); `None` turns it off.
    #[must_use]
    pub fn message_timeout(mut self, timeout: Option<Duration>) -> ListenerConfig {
        self.message_timeout = timeout;
        self
    }

    /// Authenticates this listener's clients with the router configuration's transport
    /// authentication `name` ([`RouterConfig::transport_auth`](wamp_router::RouterConfig::transport_auth)).
    #[must_use]
    pub fn auth(mut self, name: impl Into<String>) -> ListenerConfig {
        self.auth = Some(name.into());
        self
    }

    /// Serves WebSocket upgrades from web pages only from these origins (see
    /// [`allowed_origins`](ListenerConfig::allowed_origins)).
    #[must_use]
    pub fn allowed_origins(
        mut self,
        patterns: impl IntoIterator<Item = impl Into<String>>,
    ) -> ListenerConfig {
        self.allowed_origins = Some(patterns.into_iter().map(Into::into).collect());
        self
    }

    /// Adds an HTTP service on this (WebSocket) listener's port.
    #[must_use]
    pub fn web(mut self, service: WebService) -> ListenerConfig {
        self.web.push(service);
        self
    }

    /// Turns the keepalive off: a client whose network vanished then keeps its session
    /// until the operating system gives up on the connection, if ever.
    #[must_use]
    pub fn no_auto_ping(mut self) -> ListenerConfig {
        self.auto_ping = None;
        self
    }
}

/// How the router's tasks and queues are bounded.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// The most connections served at once (in-process ones included). Beyond it a
    /// RawSocket client gets handshake error 4 (maximum connection count reached) and a
    /// WebSocket client HTTP 503; beyond twice as many (and at least 64 more),
    /// connections are dropped at once.
    /// Default: 10,000.
    pub max_connections: usize,
    /// How long TLS plus the WebSocket or RawSocket handshake may take. Default: 10 s.
    /// (The WAMP handshake, HELLO to WELCOME, has its own limit in the router's
    /// [`Limits`](wamp_router::Limits).)
    pub handshake_timeout: Duration,
    /// Bytes waiting for one connection's task between the router task and it. Past
    /// this the router holds the connection's messages in its own queue (bounded in bytes
    /// by `Limits`, with backpressure on the sessions that feed it) until the task has
    /// taken them. Default: 64 KiB.
    pub outbound_bytes: usize,
    /// Batches of messages (what one read of a socket brought: at most 64 KiB, or one
    /// larger message) from all connections waiting for the router task. When it is
    /// full, connections stop reading from their sockets until it drains. Default: 256.
    pub inbound_buffer: usize,
    /// How long a connection the router has closed may take to receive what was queued
    /// for it and finish the closing handshake. Default: 5 s.
    pub close_timeout: Duration,
    /// The serializer of in-process sessions
    /// ([`connect_local`](super::RouterHandle::connect_local)). Default: MessagePack.
    pub local_serializer: SerializerKind,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(10),
            outbound_bytes: 64 << 10,
            inbound_buffer: 256,
            close_timeout: Duration::from_secs(5),
            local_serializer: SerializerKind::MsgPack,
        }
    }
}
