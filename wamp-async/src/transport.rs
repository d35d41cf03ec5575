//! Where and how to connect: [`TransportConfig`], built from a URL and refined with
//! builder methods.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
#[cfg(not(target_arch = "wasm32"))]
use std::sync::Arc;
use std::time::Duration;

#[cfg(not(target_arch = "wasm32"))]
use futures_rustls::rustls;
use wamp_proto::serializer::SerializerKind;
use wamp_transport_rawsocket::MaxMessageLen;

use crate::error::ConnectError;

/// The kind of connection, parsed from the URL's scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// `ws://host[:port]/path` or `wss://...` (TLS).
    WebSocket {
        /// The URL as given (its host, path and query make the upgrade request).
        url: String,
        /// The host to connect to (without IPv6 brackets).
        host: String,
        /// The port (80 for `ws`, 443 for `wss` unless given).
        port: u16,
        /// Whether TLS is used (`wss`).
        tls: bool,
    },
    /// `rs://host:port` (RawSocket over TCP) or `rss://host:port` (over TLS).
    RawSocket {
        /// The host to connect to (without IPv6 brackets).
        host: String,
        /// The port.
        port: u16,
        /// Whether TLS is used (`rss`).
        tls: bool,
    },
    /// `unix:///path/to/socket`: RawSocket over a Unix domain socket.
    Unix {
        /// The socket's path.
        path: PathBuf,
    },
}

impl Endpoint {
    /// Parses a transport URL: `ws://`, `wss://`, `rs://`, `rss://` or `unix://`
    /// (`tcp://` and `tcps://` are accepted as synonyms of `rs://` and `rss://`).
    pub fn parse(url: &str) -> Result<Endpoint, ConnectError> {
        let invalid = |why: &str| ConnectError::Config(format!("invalid URL {url:?}: {why}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("expected scheme://..."))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme == "unix" {
            if !rest.starts_with('/') {
                return Err(invalid(
                    "a unix:// URL needs an absolute path (unix:///path)",
                ));
            }
            return Ok(Endpoint::Unix {
                path: PathBuf::from(rest),
            });
        }
        let (tls, websocket) = match scheme.as_str() {
            "ws" => (false, true),
            "wss" => (true, true),
            "rs" | "tcp" => (false, false),
            "rss" | "tcps" => (true, false),
            _ => {
                return Err(invalid(
                    "unsupported scheme (expected ws, wss, rs, rss or unix)",
                ))
            }
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(invalid("user information in the URL is not supported"));
        }
        let (host, port) = split_host_port(authority).map_err(invalid)?;
        let port = match (port, websocket, tls) {
            (Some(port), _, _) => port,
            (None, true, false) => 80,
            (None, true, true) => 443,
            (None, false, _) => return Err(invalid("a RawSocket URL needs a port")),
        };
        if websocket {
            Ok(Endpoint::WebSocket {
                // The scheme in lower case: the upgrade request is built from this URL.
                url: format!("{scheme}://{rest}"),
                host,
                port,
                tls,
            })
        } else {
            if !matches!(&rest[authority.len()..], "" | "/") {
                return Err(invalid("a RawSocket URL has no path"));
            }
            Ok(Endpoint::RawSocket { host, port, tls })
        }
    }

    /// Whether the connection uses TLS.
    pub fn uses_tls(&self) -> bool {
        match self {
            Endpoint::WebSocket { tls, .. } | Endpoint::RawSocket { tls, .. } => *tls,
            Endpoint::Unix { .. } => false,
        }
    }

    /// A short name of the transport for logs: `websocket` or `rawsocket`.
    pub fn transport_name(&self) -> &'static str {
        match self {
            Endpoint::WebSocket { .. } => "websocket",
            Endpoint::RawSocket { .. } | Endpoint::Unix { .. } => "rawsocket",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::WebSocket { url, .. } => f.write_str(url),
            Endpoint::RawSocket { host, port, tls } => {
                let scheme = if *tls { "rss" } else { "rs" };
                if host.contains(':') {
                    write!(f, "{scheme}://[{host}]:{port}")
                } else {
                    write!(f, "{scheme}://{host}:{port}")
                }
            }
            Endpoint::Unix { path } => write!(f, "unix://{}", path.display()),
        }
    }
}

/// Splits `host[:port]` or `[v6]:port`; the host comes back without brackets.
fn split_host_port(authority: &str) -> Result<(String, Option<u16>), &'static str> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed [ in the host")?;
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or("junk after the IPv6 address")?,
                ),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("no host");
    }
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or("the port is not a number in 1..=65535")?,
        ),
        None => None,
    };
    Ok((host.to_owned(), port))
}

/// Which certificates a TLS connection trusts.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum TlsRoots {
    /// The operating system's trust store (through `rustls-native-certs`).
    #[default]
    Native,
    /// The certificates in this PEM text (one or more `CERTIFICATE` blocks), e.g. a
    /// private CA.
    Pem(Vec<u8>),
    /// A complete rustls client configuration, for anything else (client
    /// certificates, custom verification). Its ALPN list is left as it is.
    ///
    /// Certificates are always verified otherwise: this crate has no switch to turn
    /// verification off. The only way is a verifier of your own through rustls's
    /// `ClientConfig::dangerous()`, named so on purpose.
    #[cfg(not(target_arch = "wasm32"))]
    Rustls(Arc<rustls::ClientConfig>),
}

impl fmt::Debug for TlsRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsRoots::Native => f.write_str("Native"),
            TlsRoots::Pem(pem) => write!(f, "Pem({} bytes)", pem.len()),
            #[cfg(not(target_arch = "wasm32"))]
            TlsRoots::Rustls(_) => f.write_str("Rustls(..)"),
        }
    }
}

/// TLS settings for `wss://` and `rss://`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TlsOptions {
    /// What to trust.
    pub roots: TlsRoots,
    /// The name to verify the certificate against (and send as SNI), if not the URL's
    /// host.
    pub server_name: Option<String>,
}

/// The keepalive both sides use unless told otherwise: after 30 s without a byte from
/// the peer, ping it; if nothing arrives within 15 s more, the peer is gone and the
/// connection is closed. A half-open connection (a sleeping laptop, a NAT that forgot
/// it) is found within 45 s. On by default for WebSocket; off for RawSocket, whose PING
/// Crossbar.io and Autobahn|Python do not answer (they drop the connection): there,
/// [`TCP_KEEPALIVE`] finds a vanished host or network.
pub const DEFAULT_KEEPALIVE: (Duration, Duration) =
    (Duration::from_secs(30), Duration::from_secs(15));

/// TCP keepalive, set by the runtime crates on every TCP connection they open or
/// accept: after `idle` without traffic the kernel probes the peer every `interval`,
/// and resets the connection after `probes` unanswered probes. The peer's kernel
/// answers, so no peer application has to: this finds a host or network that vanished
/// (within about 45 s) even on RawSocket with peers that answer no PING, where
/// [`DEFAULT_KEEPALIVE`] is off. It cannot find a peer that is up but stalled (its
/// kernel still answers); the WAMP-level keepalive does that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpKeepalive {
    /// Silence before the first probe.
    pub idle: Duration,
    /// Between probes.
    pub interval: Duration,
    /// Unanswered probes before the connection is reset (where the OS lets it be set;
    /// elsewhere the OS default).
    pub probes: u32,
}

/// The [`TcpKeepalive`] of every TCP connection: 30 s, then 3 probes 5 s apart.
pub const TCP_KEEPALIVE: TcpKeepalive = TcpKeepalive {
    idle: Duration::from_secs(30),
    interval: Duration::from_secs(5),
    probes: 3,
};

impl TcpKeepalive {
    /// Sets it on `socket` (the probe count and interval where the OS lets them be
    /// set).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn apply(&self, socket: socket2::SockRef<'_>) -> std::io::Result<()> {
        let keepalive = socket2::TcpKeepalive::new().with_time(self.idle);
        #[cfg(any(
            target_os = "linux",
            target_os = "android",
            target_os = "macos",
            target_os = "ios",
            target_os = "freebsd",
            target_os = "netbsd",
            target_os = "windows"
        ))]
        let keepalive = keepalive
            .with_interval(self.interval)
            .with_retries(self.probes);
        socket.set_tcp_keepalive(&keepalive)
    }
}

/// The most bytes a TCP socket may hold that it has not sent yet (`TCP_NOTSENT_LOWAT`,
/// Linux and Android), set by [`tune_tcp`].
///
/// Without it Linux grows a socket's send buffer on its own (up to 4 MiB by default)
/// while the peer reads slowly, so a slow reader's backlog moves out of the queue the
/// router counts and bounds into the kernel, where it adds tens of seconds of latency
/// and the router cannot see it. Worse, a full buffer that large only becomes writable
/// again after the peer has read a large part of it, so a reader that keeps reading
/// slowly looks stalled to the write deadline and is cut as a slow consumer. With the
/// limit the socket is writable whenever the peer has taken what was sent, the backlog
/// waits in the byte-counted queue where backpressure holds its feeders, and a peer
/// that reads at all makes visible progress. What is in flight on the network (sent,
/// not yet acknowledged) is not limited, so fast links keep their throughput.
pub const TCP_UNSENT_LIMIT: u32 = 128 * 1024;

/// A non-blocking standard TCP listener on `addr` (resolved here; the first address
/// that binds wins) with a listen queue of `backlog` connections and `SO_REUSEADDR`,
/// for runtime adapters to adopt ([`Runtime::bind_tcp_backlog`](crate::Runtime::bind_tcp_backlog)).
#[cfg(not(target_arch = "wasm32"))]
pub fn bind_std_tcp(addr: &str, backlog: u32) -> std::io::Result<std::net::TcpListener> {
    use std::net::ToSocketAddrs as _;
    let mut last = None;
    for addr in addr.to_socket_addrs()? {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        #[cfg(unix)]
        socket.set_reuse_address(true)?;
        let bound = socket
            .bind(&addr.into())
            .and_then(|()| socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX)));
        match bound {
            Ok(()) => {
                socket.set_nonblocking(true)?;
                return Ok(socket.into());
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}

/// What the runtime crates do to every TCP connection they open or accept: Nagle off
/// (WAMP messages are small and latency-bound), [`TCP_KEEPALIVE`] on, and, where the
/// OS has it, [`TCP_UNSENT_LIMIT`].
#[cfg(not(target_arch = "wasm32"))]
pub fn tune_tcp(socket: socket2::SockRef<'_>) -> std::io::Result<()> {
    socket.set_tcp_nodelay(true)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    socket.set_tcp_notsent_lowat(TCP_UNSENT_LIMIT)?;
    TCP_KEEPALIVE.apply(socket)
}

/// WebSocket options (Autobahn's `websocket_options` and `headers`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebSocketOptions {
    /// Extra headers for the upgrade request (`Authorization`, `Cookie`, ...).
    pub headers: Vec<(String, String)>,
    /// The largest message accepted from the router. Default: 64 MiB.
    pub max_message_size: Option<usize>,
    /// The largest frame accepted from the router. Default: 16 MiB.
    pub max_frame_size: Option<usize>,
    /// Auto-ping: after `interval` without traffic a Ping is sent; no answer within
    /// `timeout` fails the connection. Default: [`DEFAULT_KEEPALIVE`]; `None` turns it
    /// off.
    pub auto_ping: Option<(Duration, Duration)>,
}

impl Default for WebSocketOptions {
    fn default() -> Self {
        let defaults = wamp_transport_ws::WsOptions::default();
        WebSocketOptions {
            headers: Vec::new(),
            max_message_size: defaults.max_message_size,
            max_frame_size: defaults.max_frame_size,
            auto_ping: Some(DEFAULT_KEEPALIVE),
        }
    }
}

/// An HTTP proxy reached with `CONNECT` (Autobahn's ApplicationRunner `proxy`); used for
/// WebSocket transports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// The proxy's host.
    pub host: String,
    /// The proxy's port.
    pub port: u16,
}

/// How to reach a router: the endpoint, serializers, TLS, WebSocket or RawSocket options,
/// proxy and connect timeout.
///
/// ```
/// use std::time::Duration;
/// use wamp_runtime::{SerializerKind, TransportConfig};
///
/// let transport: TransportConfig = "ws://127.0.0.1:8080/ws".parse()?;
/// let transport = transport
///     .serializers([SerializerKind::Cbor, SerializerKind::Json])
///     .header("Authorization", "Bearer 123")
///     .auto_ping(Duration::from_secs(10), Duration::from_secs(5))
///     .connect_timeout(Duration::from_secs(3));
/// assert_eq!(transport.endpoint.transport_name(), "websocket");
/// # Ok::<(), wamp_runtime::ConnectError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransportConfig {
    /// Where to connect.
    pub endpoint: Endpoint,
    /// The serializers, in preference order. WebSocket offers them all in this order and
    /// the router picks; RawSocket asks for the first and, if the router refuses it,
    /// reconnects with the next. Default: CBOR, MessagePack, JSON.
    pub serializers: Vec<SerializerKind>,
    /// TLS settings (used by `wss://` and `rss://`).
    pub tls: TlsOptions,
    /// WebSocket options.
    pub websocket: WebSocketOptions,
    /// The largest message accepted from the router over RawSocket, announced in the
    /// handshake. Default: 16 MiB.
    pub rawsocket_max_message_len: MaxMessageLen,
    /// RawSocket PING keepalive `(interval, timeout)`. Default: off.
    pub rawsocket_keepalive: Option<(Duration, Duration)>,
    /// An HTTP `CONNECT` proxy for WebSocket transports.
    pub proxy: Option<ProxyConfig>,
    /// The time allowed for the TCP connection, the proxy tunnel, TLS and the transport
    /// handshake (WebSocket upgrade or RawSocket handshake) together. Default: 10 s.
    pub connect_timeout: Duration,
}

impl TransportConfig {
    /// A configuration for `url` (see [`Endpoint::parse`]) with default options.
    pub fn new(url: &str) -> Result<TransportConfig, ConnectError> {
        Ok(TransportConfig::from_endpoint(Endpoint::parse(url)?))
    }

    /// A configuration for an endpoint with default options.
    pub fn from_endpoint(endpoint: Endpoint) -> TransportConfig {
        TransportConfig {
            endpoint,
            serializers: SerializerKind::ALL.to_vec(),
            tls: TlsOptions::default(),
            websocket: WebSocketOptions::default(),
            rawsocket_max_message_len: MaxMessageLen::MAX,
            rawsocket_keepalive: None,
            proxy: None,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// Uses this one serializer.
    #[must_use]
    pub fn serializer(self, serializer: SerializerKind) -> Self {
        self.serializers([serializer])
    }

    /// Uses these serializers, in preference order.
    #[must_use]
    pub fn serializers(mut self, serializers: impl IntoIterator<Item = SerializerKind>) -> Self {
        self.serializers = serializers.into_iter().collect();
        self
    }

    /// Adds a header to the WebSocket upgrade request.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.websocket.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the largest WebSocket message accepted from the router.
    #[must_use]
    pub fn max_message_size(mut self, max: Option<usize>) -> Self {
        self.websocket.max_message_size = max;
        self
    }

    /// Sets the largest WebSocket frame accepted from the router.
    #[must_use]
    pub fn max_frame_size(mut self, max: Option<usize>) -> Self {
        self.websocket.max_frame_size = max;
        self
    }

    /// Sets the WebSocket auto-ping (on by default: [`DEFAULT_KEEPALIVE`]).
    #[must_use]
    pub fn auto_ping(mut self, interval: Duration, timeout: Duration) -> Self {
        self.websocket.auto_ping = Some((interval, timeout));
        self
    }

    /// Turns the WebSocket auto-ping off: a dead router is then found only by the
    /// operating system's TCP timeouts, or never.
    #[must_use]
    pub fn no_auto_ping(mut self) -> Self {
        self.websocket.auto_ping = None;
        self
    }

    /// Turns on RawSocket PING keepalive (off by default: only for routers known to
    /// answer PING, such as `wamp router`; Crossbar.io drops the connection).
    #[must_use]
    pub fn rawsocket_keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.rawsocket_keepalive = Some((interval, timeout));
        self
    }

    /// Sets the largest RawSocket message accepted from the router.
    #[must_use]
    pub fn rawsocket_max_message_len(mut self, max: MaxMessageLen) -> Self {
        self.rawsocket_max_message_len = max;
        self
    }

    /// Connects through an HTTP `CONNECT` proxy (WebSocket transports only).
    #[must_use]
    pub fn proxy(mut self, host: impl Into<String>, port: u16) -> Self {
        self.proxy = Some(ProxyConfig {
            host: host.into(),
            port,
        });
        self
    }

    /// Sets the connect timeout.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Trusts the certificates in `pem` (instead of the system's).
    #[must_use]
    pub fn tls_roots_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.roots = TlsRoots::Pem(pem.into());
        self
    }

    /// Uses a complete rustls client configuration (not in a web page, where the
    /// browser does TLS).
    #[cfg(not(target_arch = "wasm32"))]
    #[must_use]
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls.roots = TlsRoots::Rustls(config);
        self
    }

    /// Verifies the router's certificate against `name` instead of the URL's host.
    #[must_use]
    pub fn tls_server_name(mut self, name: impl Into<String>) -> Self {
        self.tls.server_name = Some(name.into());
        self
    }

    /// Checks what can be checked before connecting.
    pub(crate) fn check(&self) -> Result<(), ConnectError> {
        if self.serializers.is_empty() {
            return Err(ConnectError::Config("no serializers".into()));
        }
        for (i, s) in self.serializers.iter().enumerate() {
            if self.serializers[..i].contains(s) {
                return Err(ConnectError::Config(format!("serializer {s} listed twice")));
            }
        }
        if self.connect_timeout.is_zero() {
            return Err(ConnectError::Config(
                "the connect timeout must be positive".into(),
            ));
        }
        if self.proxy.is_some() && !matches!(self.endpoint, Endpoint::WebSocket { .. }) {
            return Err(ConnectError::Config(
                "an HTTP proxy is only supported for WebSocket transports".into(),
            ));
        }
        Ok(())
    }
}

impl FromStr for TransportConfig {
    type Err = ConnectError;
    fn from_str(url: &str) -> Result<Self, Self::Err> {
        TransportConfig::new(url)
    }
}

impl TryFrom<&str> for TransportConfig {
    type Error = ConnectError;
    fn try_from(url: &str) -> Result<Self, Self::Error> {
        TransportConfig::new(url)
    }
}

impl TryFrom<String> for TransportConfig {
    type Error = ConnectError;
    fn try_from(url: String) -> Result<Self, Self::Error> {
        TransportConfig::new(&url)
    }
}

impl TryFrom<&String> for TransportConfig {
    type Error = ConnectError;
    fn try_from(url: &String) -> Result<Self, Self::Error> {
        TransportConfig::new(url)
    }
}

/// Something that makes a [`TransportConfig`]: a configuration, or a URL (`&str`,
/// `String`). The runtime crates' `connect` takes this.
pub trait IntoTransport {
    /// The configuration, or [`ConnectError::Config`] for a bad URL.
    fn into_transport(self) -> Result<TransportConfig, ConnectError>;
}

impl IntoTransport for TransportConfig {
    fn into_transport(self) -> Result<TransportConfig, ConnectError> {
        Ok(self)
    }
}

impl IntoTransport for &TransportConfig {
    fn into_transport(self) -> Result<TransportConfig, ConnectError> {
        Ok(self.clone())
    }
}

impl IntoTransport for &str {
    fn into_transport(self) -> Result<TransportConfig, ConnectError> {
        TransportConfig::new(self)
    }
}

impl IntoTransport for String {
    fn into_transport(self) -> Result<TransportConfig, ConnectError> {
        TransportConfig::new(&self)
    }
}

impl IntoTransport for &String {
    fn into_transport(self) -> Result<TransportConfig, ConnectError> {
        TransportConfig::new(self)
    }
}

impl From<Endpoint> for TransportConfig {
    fn from(endpoint: Endpoint) -> Self {
        TransportConfig::from_endpoint(endpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_with_a_backlog_binds_and_accepts() {
        let listener = bind_std_tcp("127.0.0.1:0", 8).expect("binds");
        listener
            .set_nonblocking(false)
            .expect("blocking for the test");
        let addr = listener.local_addr().expect("an address");
        let _client = std::net::TcpStream::connect(addr).expect("connects");
        assert!(listener.accept().is_ok());
        assert!(bind_std_tcp("no-such-host.invalid:1", 8).is_err());
    }

    fn ok(url: &str) -> Endpoint {
        Endpoint::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    /// What `tune_tcp` sets is what the socket then has (read back from the kernel).
    #[test]
    fn tuned_sockets_have_nodelay_keepalive_and_the_unsent_limit() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let stream =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let socket = socket2::SockRef::from(&stream);
        tune_tcp(socket2::SockRef::from(&stream)).expect("tuned");
        assert!(socket.tcp_nodelay().expect("nodelay"));
        assert!(socket.keepalive().expect("keepalive"));
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            assert_eq!(
                socket.tcp_keepalive_time().expect("idle"),
                TCP_KEEPALIVE.idle
            );
            assert_eq!(
                socket.tcp_notsent_lowat().expect("notsent lowat"),
                TCP_UNSENT_LIMIT
            );
        }
    }

    #[test]
    fn websocket_urls() {
        assert_eq!(
            ok("ws://127.0.0.1:8080/ws"),
            Endpoint::WebSocket {
                url: "ws://127.0.0.1:8080/ws".into(),
                host: "127.0.0.1".into(),
                port: 8080,
                tls: false
            }
        );
        let Endpoint::WebSocket { port, tls, .. } = ok("wss://example.com/ws?x=1") else {
            panic!("not ws")
        };
        assert_eq!((port, tls), (443, true));
        let Endpoint::WebSocket { host, port, .. } = ok("WS://[::1]:9000") else {
            panic!("not ws")
        };
        assert_eq!((host.as_str(), port), ("::1", 9000));
        let Endpoint::WebSocket { port, .. } = ok("ws://localhost") else {
            panic!("not ws")
        };
        assert_eq!(port, 80);
    }

    #[test]
    fn rawsocket_and_unix_urls() {
        assert_eq!(
            ok("rs://127.0.0.1:8081"),
            Endpoint::RawSocket {
                host: "127.0.0.1".into(),
                port: 8081,
                tls: false
            }
        );
        assert_eq!(
            ok("rss://router.example:443/"),
            Endpoint::RawSocket {
                host: "router.example".into(),
                port: 443,
                tls: true
            }
        );
        assert_eq!(
            ok("tcp://h:1"),
            Endpoint::RawSocket {
                host: "h".into(),
                port: 1,
                tls: false
            }
        );
        assert_eq!(
            ok("unix:///tmp/router.sock"),
            Endpoint::Unix {
                path: "/tmp/router.sock".into()
            }
        );
        assert_eq!(ok("rs://[::1]:5").to_string(), "rs://[::1]:5");
        assert_eq!(ok("unix:///a/b").to_string(), "unix:///a/b");
    }

    #[test]
    fn bad_urls_are_config_errors() {
        for bad in [
            "127.0.0.1:8080",
            "http://x/ws",
            "rs://host",
            "rs://host:0",
            "rs://host:70000",
            "rs://host:1/path",
            "ws://:80/",
            "ws://[::1/",
            "ws://user@host/",
            "unix://relative/path",
        ] {
            let err = Endpoint::parse(bad).expect_err(bad);
            assert!(matches!(err, ConnectError::Config(_)), "{bad}: {err}");
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn builder_sets_options() {
        let config = TransportConfig::new("ws://h:1/ws")
            .expect("valid")
            .serializer(SerializerKind::Json)
            .header("Cookie", "a=b")
            .max_message_size(Some(1024))
            .max_frame_size(None)
            .auto_ping(Duration::from_secs(2), Duration::from_secs(1))
            .proxy("proxy.local", 3128)
            .connect_timeout(Duration::from_millis(1500))
            .tls_roots_pem(b"-----BEGIN CERTIFICATE-----".to_vec())
            .tls_server_name("router.local");
        assert_eq!(config.serializers, vec![SerializerKind::Json]);
        assert_eq!(
            config.websocket.headers,
            vec![("Cookie".to_owned(), "a=b".to_owned())]
        );
        assert_eq!(config.websocket.max_message_size, Some(1024));
        assert_eq!(config.websocket.max_frame_size, None);
        assert_eq!(
            config.websocket.auto_ping,
            Some((Duration::from_secs(2), Duration::from_secs(1)))
        );
        assert_eq!(
            config.proxy,
            Some(ProxyConfig {
                host: "proxy.local".into(),
                port: 3128
            })
        );
        assert_eq!(config.connect_timeout, Duration::from_millis(1500));
        assert!(matches!(config.tls.roots, TlsRoots::Pem(_)));
        assert_eq!(config.tls.server_name.as_deref(), Some("router.local"));
        config.check().expect("consistent");
    }

    #[test]
    fn inconsistent_configs_are_refused() {
        let rs = TransportConfig::new("rs://h:1").expect("valid");
        assert!(rs.clone().proxy("p", 1).check().is_err());
        assert!(rs.clone().serializers([]).check().is_err());
        assert!(rs
            .clone()
            .serializers([SerializerKind::Json, SerializerKind::Json])
            .check()
            .is_err());
        assert!(rs.connect_timeout(Duration::ZERO).check().is_err());
    }
}
