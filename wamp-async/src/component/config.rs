//! Transport entries of a [`Component`](super::Component): where to connect and how to
//! retry, from Rust or from Autobahn-style configuration data.

use std::time::Duration;

use serde::Deserialize;
use wamp_proto::backoff::BackoffPolicy;
use wamp_proto::serializer::SerializerKind;

use crate::error::ConnectError;
use crate::transport::{Endpoint, TransportConfig};

/// How one transport retries: Autobahn's `max_retries`, `initial_retry_delay`,
/// `max_retry_delay`, `retry_delay_growth` and `retry_delay_jitter`, with its defaults.
///
/// Unlike Autobahn, the first retry waits `initial_retry_delay` (not
/// `initial_retry_delay * growth`), the jitter is bounded (uniform within
/// `±jitter` of the delay), and the state resets after every successful join.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; `None` retries forever. Default: forever.
    pub max_retries: Option<u32>,
    /// The wait before the first retry. Default: 1.5 s.
    pub initial_retry_delay: Duration,
    /// The longest wait. Default: 300 s.
    pub max_retry_delay: Duration,
    /// Each wait is the previous one times this. Default: 1.5.
    pub retry_delay_growth: f64,
    /// Relative jitter in `[0, 1]`. Default: 0.1.
    pub retry_delay_jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::from(BackoffPolicy::default())
    }
}

impl RetryPolicy {
    /// Never retry: one attempt only.
    pub fn never() -> Self {
        RetryPolicy {
            max_retries: Some(0),
            ..RetryPolicy::default()
        }
    }

    /// The core's backoff policy.
    pub fn backoff(&self) -> BackoffPolicy {
        BackoffPolicy {
            max_retries: self.max_retries,
            initial_delay: self.initial_retry_delay,
            max_delay: self.max_retry_delay,
            growth: self.retry_delay_growth,
            jitter: self.retry_delay_jitter,
        }
    }
}

impl From<BackoffPolicy> for RetryPolicy {
    fn from(policy: BackoffPolicy) -> Self {
        RetryPolicy {
            max_retries: policy.max_retries,
            initial_retry_delay: policy.initial_delay,
            max_retry_delay: policy.max_delay,
            retry_delay_growth: policy.growth,
            retry_delay_jitter: policy.jitter,
        }
    }
}

/// One transport of a component: a [`TransportConfig`] and its [`RetryPolicy`].
///
/// Build it from a URL (`"ws://127.0.0.1:8080/ws".parse()`, or
/// `TransportSpec::new(TransportConfig::new(url)?)`), or deserialize it with serde from
/// an Autobahn Component transport entry: a URL string, or a map with `type`
/// (websocket|rawsocket), `url`, `endpoint` {`type` tcp|unix, `host`, `port`, `path`,
/// `timeout`, `tls` (true or {`hostname`, `trust_root`: a PEM file})}, `serializers`
/// (websocket) or `serializer` (rawsocket), `options` (`auto_ping_interval`,
/// `auto_ping_timeout`, `max_message_payload_size`, `max_frame_payload_size`, also in
/// Autobahn's camelCase), `proxy` {`host`, `port`}, `headers`, `max_retries` (-1:
/// forever), `initial_retry_delay`, `max_retry_delay`, `retry_delay_growth`,
/// `retry_delay_jitter` (times in seconds). Unknown keys are refused, as Autobahn does.
///
/// ```
/// use wamp_runtime::TransportSpec;
///
/// let spec: TransportSpec = serde_json::from_value(serde_json::json!({
///     "type": "rawsocket",
///     "endpoint": {"type": "tcp", "host": "127.0.0.1", "port": 8081, "timeout": 5},
///     "serializer": "msgpack",
///     "max_retries": 3,
///     "initial_retry_delay": 0.5,
/// }))?;
/// assert_eq!(spec.retry.max_retries, Some(3));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawEntry")]
pub struct TransportSpec {
    /// Where and how to connect.
    pub transport: TransportConfig,
    /// How to retry.
    pub retry: RetryPolicy,
}

impl TransportSpec {
    /// A transport with the default retry policy.
    pub fn new(transport: TransportConfig) -> Self {
        TransportSpec {
            transport,
            retry: RetryPolicy::default(),
        }
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

impl TryFrom<RawEntry> for TransportSpec {
    type Error = ConnectError;

    fn try_from(raw: RawEntry) -> Result<Self, ConnectError> {
        raw.into_spec()
    }
}

impl std::str::FromStr for TransportSpec {
    type Err = ConnectError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        TransportConfig::new(url).map(TransportSpec::new)
    }
}

impl TryFrom<&str> for TransportSpec {
    type Error = ConnectError;

    fn try_from(url: &str) -> Result<Self, ConnectError> {
        url.parse()
    }
}

impl TryFrom<&String> for TransportSpec {
    type Error = ConnectError;

    fn try_from(url: &String) -> Result<Self, ConnectError> {
        url.parse()
    }
}

impl TryFrom<String> for TransportSpec {
    type Error = ConnectError;

    fn try_from(url: String) -> Result<Self, ConnectError> {
        url.parse()
    }
}

impl From<TransportConfig> for TransportSpec {
    fn from(transport: TransportConfig) -> Self {
        TransportSpec::new(transport)
    }
}

enum RawEntry {
    Url(String),
    Dict(Box<RawTransport>),
}

// By hand rather than `#[serde(untagged)]`, which would replace every precise error
// ("unknown field `bogus`") with "did not match any variant".
impl<'de> Deserialize<'de> for RawEntry {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entry;
        impl<'de> serde::de::Visitor<'de> for Entry {
            type Value = RawEntry;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a transport URL or a transport map")
            }

            fn visit_str<E: serde::de::Error>(self, url: &str) -> Result<RawEntry, E> {
                Ok(RawEntry::Url(url.to_owned()))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawEntry, A::Error> {
                let raw =
                    RawTransport::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(RawEntry::Dict(Box::new(raw)))
            }
        }
        deserializer.deserialize_any(Entry)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
enum Kind {
    #[default]
    Websocket,
    Rawsocket,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransport {
    #[serde(default, rename = "type")]
    kind: Kind,
    url: Option<String>,
    endpoint: Option<RawEndpoint>,
    serializers: Option<Vec<String>>,
    serializer: Option<String>,
    #[serde(default)]
    options: RawOptions,
    proxy: Option<RawProxy>,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    max_retries: Option<i64>,
    initial_retry_delay: Option<f64>,
    max_retry_delay: Option<f64>,
    retry_delay_growth: Option<f64>,
    retry_delay_jitter: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    #[serde(rename = "type")]
    kind: String,
    host: Option<String>,
    port: Option<u16>,
    path: Option<String>,
    timeout: Option<f64>,
    tls: Option<RawTls>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawTls {
    On(bool),
    Dict {
        hostname: Option<String>,
        /// A PEM file with the roots to trust.
        trust_root: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProxy {
    host: String,
    port: u16,
}

/// The protocol options Autobahn users set most, in either spelling.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawOptions {
    #[serde(alias = "autoPingInterval")]
    auto_ping_interval: Option<f64>,
    #[serde(alias = "autoPingTimeout")]
    auto_ping_timeout: Option<f64>,
    #[serde(alias = "maxMessagePayloadSize")]
    max_message_payload_size: Option<usize>,
    #[serde(alias = "maxFramePayloadSize")]
    max_frame_payload_size: Option<usize>,
}

fn config_error(message: impl Into<String>) -> ConnectError {
    ConnectError::Config(message.into())
}

fn serializer(name: &str) -> Result<SerializerKind, ConnectError> {
    match name {
        "json" => Ok(SerializerKind::Json),
        "msgpack" => Ok(SerializerKind::MsgPack),
        "cbor" => Ok(SerializerKind::Cbor),
        other => Err(config_error(format!(
            "serializer {other:?}: expected json, msgpack or cbor"
        ))),
    }
}

fn seconds(what: &str, value: f64) -> Result<Duration, ConnectError> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| config_error(format!("{what}: {value} is not a duration in seconds")))
}

impl RawEntry {
    fn into_spec(self) -> Result<TransportSpec, ConnectError> {
        match self {
            RawEntry::Url(url) => url.parse(),
            RawEntry::Dict(raw) => raw.into_spec(),
        }
    }
}

impl RawTransport {
    fn into_spec(self) -> Result<TransportSpec, ConnectError> {
        let websocket = matches!(self.kind, Kind::Websocket);
        let mut transport = match (&self.url, &self.endpoint) {
            (_, Some(endpoint)) => self.endpoint_config(endpoint, websocket)?,
            (Some(url), None) => TransportConfig::new(url)?,
            (None, None) => return Err(config_error("transport entry needs a url or an endpoint")),
        };
        // Serializers: a list for WebSocket, one for RawSocket, as Autobahn insists.
        match (websocket, &self.serializers, &self.serializer) {
            (true, _, Some(_)) => {
                return Err(config_error(
                    "websocket transports take `serializers` (a list)",
                ))
            }
            (false, Some(_), _) => {
                return Err(config_error(
                    "rawsocket transports take `serializer` (one name)",
                ))
            }
            (true, Some(names), None) => {
                let kinds = names
                    .iter()
                    .map(|n| serializer(n))
                    .collect::<Result<Vec<_>, _>>()?;
                transport = transport.serializers(kinds);
            }
            (false, None, Some(name)) => transport = transport.serializer(serializer(name)?),
            _ => {}
        }
        if !websocket && (self.proxy.is_some() || !self.headers.is_empty()) {
            return Err(config_error(
                "`proxy` and `headers` are for websocket transports only",
            ));
        }
        for (name, value) in &self.headers {
            transport = transport.header(name.clone(), value.clone());
        }
        if let Some(proxy) = &self.proxy {
            transport = transport.proxy(proxy.host.clone(), proxy.port);
        }
        let options = &self.options;
        if let Some(size) = options.max_message_payload_size {
            transport = transport.max_message_size(Some(size));
        }
        if let Some(size) = options.max_frame_payload_size {
            transport = transport.max_frame_size(Some(size));
        }
        if let Some(interval) = options.auto_ping_interval.filter(|s| *s > 0.0) {
            let timeout = options.auto_ping_timeout.unwrap_or(interval);
            transport = transport.auto_ping(
                seconds("autoPingInterval", interval)?,
                seconds("autoPingTimeout", timeout)?,
            );
        }
        let mut retry = RetryPolicy::default();
        match self.max_retries {
            None | Some(-1) => {}
            Some(n) => {
                retry.max_retries =
                    Some(u32::try_from(n).map_err(|_| {
                        config_error(format!("max_retries: {n} (use -1 for forever)"))
                    })?)
            }
        }
        if let Some(s) = self.initial_retry_delay {
            retry.initial_retry_delay = seconds("initial_retry_delay", s)?;
        }
        if let Some(s) = self.max_retry_delay {
            retry.max_retry_delay = seconds("max_retry_delay", s)?;
        }
        if let Some(g) = self.retry_delay_growth {
            if !(g >= 1.0 && g.is_finite()) {
                return Err(config_error(format!(
                    "retry_delay_growth: {g} (must be >= 1)"
                )));
            }
            retry.retry_delay_growth = g;
        }
        if let Some(j) = self.retry_delay_jitter {
            if !(0.0..=1.0).contains(&j) {
                return Err(config_error(format!(
                    "retry_delay_jitter: {j} (must be in [0, 1])"
                )));
            }
            retry.retry_delay_jitter = j;
        }
        Ok(TransportSpec { transport, retry })
    }

    fn endpoint_config(
        &self,
        endpoint: &RawEndpoint,
        websocket: bool,
    ) -> Result<TransportConfig, ConnectError> {
        let tls = match &endpoint.tls {
            None | Some(RawTls::On(false)) => None,
            Some(RawTls::On(true)) => Some((None, None)),
            Some(RawTls::Dict {
                hostname,
                trust_root,
            }) => Some((hostname.clone(), trust_root.clone())),
        };
        let mut config = match endpoint.kind.as_str() {
            "tcp" => {
                if endpoint.path.is_some() {
                    return Err(config_error("tcp endpoints take host and port, not path"));
                }
                let host = endpoint
                    .host
                    .clone()
                    .ok_or_else(|| config_error("tcp endpoint needs host"))?;
                let port = endpoint
                    .port
                    .ok_or_else(|| config_error("tcp endpoint needs port"))?;
                let secure = tls.is_some();
                let url = if websocket {
                    // The endpoint decides where to connect; the url (if any) gives the
                    // path and Host header.
                    match &self.url {
                        Some(url) => url.clone(),
                        None => format!("{}://{host}:{port}/", if secure { "wss" } else { "ws" }),
                    }
                } else {
                    format!("{}://{host}:{port}", if secure { "rss" } else { "rs" })
                };
                let mut config = TransportConfig::new(&url)?;
                if websocket && self.url.is_some() {
                    // Connect to the endpoint's address even if the url names another.
                    if let Endpoint::WebSocket {
                        host: h, port: p, ..
                    } = &mut config.endpoint
                    {
                        *h = host;
                        *p = port;
                    }
                }
                config
            }
            "unix" => {
                if endpoint.host.is_some() || endpoint.port.is_some() || tls.is_some() {
                    return Err(config_error(
                        "unix endpoints take a path only (no host, port or tls)",
                    ));
                }
                if websocket {
                    return Err(config_error(
                        "WebSocket over a Unix socket is not supported; use type rawsocket",
                    ));
                }
                let path = endpoint
                    .path
                    .clone()
                    .ok_or_else(|| config_error("unix endpoint needs path"))?;
                TransportConfig::new(&format!("unix://{path}"))?
            }
            other => {
                return Err(config_error(format!(
                    "endpoint type {other:?}: expected tcp or unix"
                )))
            }
        };
        if let Some(timeout) = endpoint.timeout {
            config = config.connect_timeout(seconds("endpoint timeout", timeout)?);
        }
        if let Some((hostname, trust_root)) = tls {
            if let Some(name) = hostname {
                config = config.tls_server_name(name);
            }
            if let Some(path) = trust_root {
                let pem = std::fs::read(&path)
                    .map_err(|e| config_error(format!("trust_root {path:?}: {e}")))?;
                config = config.tls_roots_pem(pem);
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: serde_json::Value) -> Result<TransportSpec, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    #[test]
    fn a_url_string_is_a_websocket_transport_with_default_retries() {
        let spec = spec(json!("ws://127.0.0.1:8080/ws")).expect("valid");
        assert!(matches!(
            spec.transport.endpoint,
            Endpoint::WebSocket { .. }
        ));
        assert_eq!(spec.retry, RetryPolicy::default());
        assert_eq!(spec.retry.initial_retry_delay, Duration::from_millis(1500));
    }

    #[test]
    fn autobahn_dicts_map_every_key() {
        let spec = spec(json!({
            "type": "websocket",
            "url": "ws://example.invalid/ws",
            "endpoint": {"type": "tcp", "host": "127.0.0.1", "port": 9000, "timeout": 3},
            "serializers": ["cbor", "json"],
            "options": {"autoPingInterval": 10, "autoPingTimeout": 5, "maxMessagePayloadSize": 65536},
            "headers": {"X-Test": "1"},
            "max_retries": -1,
            "initial_retry_delay": 0.25,
            "max_retry_delay": 10,
            "retry_delay_growth": 2,
            "retry_delay_jitter": 0.2,
        }))
        .expect("valid");
        let t = &spec.transport;
        assert_eq!(t.serializers, [SerializerKind::Cbor, SerializerKind::Json]);
        assert_eq!(t.connect_timeout, Duration::from_secs(3));
        assert_eq!(t.websocket.max_message_size, Some(65536));
        assert_eq!(
            t.websocket.auto_ping,
            Some((Duration::from_secs(10), Duration::from_secs(5)))
        );
        assert_eq!(
            t.websocket.headers,
            [("X-Test".to_string(), "1".to_string())]
        );
        let Endpoint::WebSocket { host, port, .. } = &t.endpoint else {
            panic!("not a websocket endpoint: {:?}", t.endpoint)
        };
        assert_eq!(
            (host.as_str(), *port),
            ("127.0.0.1", 9000),
            "the endpoint decides where to connect"
        );
        assert_eq!(
            spec.retry,
            RetryPolicy {
                max_retries: None,
                initial_retry_delay: Duration::from_millis(250),
                max_retry_delay: Duration::from_secs(10),
                retry_delay_growth: 2.0,
                retry_delay_jitter: 0.2,
            }
        );
    }

    #[test]
    fn rawsocket_over_tcp_and_unix() {
        let tcp = spec(json!({
            "type": "rawsocket",
            "endpoint": {"type": "tcp", "host": "127.0.0.1", "port": 8081},
            "serializer": "msgpack",
            "max_retries": 0,
        }))
        .expect("valid");
        assert!(matches!(tcp.transport.endpoint, Endpoint::RawSocket { .. }));
        assert_eq!(tcp.transport.serializers, [SerializerKind::MsgPack]);
        assert_eq!(tcp.retry.max_retries, Some(0));
        let unix = spec(json!({
            "type": "rawsocket",
            "endpoint": {"type": "unix", "path": "/tmp/router.sock"},
        }))
        .expect("valid");
        assert!(matches!(unix.transport.endpoint, Endpoint::Unix { .. }));
    }

    #[test]
    fn what_autobahn_refuses_is_refused_with_a_reason() {
        for (entry, why) in [
            (json!({"url": "ws://h/ws", "bogus": 1}), "unknown field"),
            (
                json!({"url": "ws://h/ws", "serializer": "json"}),
                "serializers",
            ),
            (
                json!({"type": "rawsocket", "url": "rs://h:1", "serializers": ["json"]}),
                "serializer",
            ),
            (
                json!({"type": "rawsocket", "url": "rs://h:1", "headers": {"a": "b"}}),
                "websocket transports only",
            ),
            (
                json!({"url": "ws://h/ws", "serializers": ["ubjson"]}),
                "ubjson",
            ),
            (
                json!({"type": "rawsocket", "endpoint": {"type": "unix", "path": "/s", "host": "h"}}),
                "path only",
            ),
            (json!({"endpoint": {"type": "tcp", "host": "h"}}), "port"),
            (
                json!({"url": "ws://h/ws", "max_retries": -2}),
                "max_retries",
            ),
            (
                json!({"url": "ws://h/ws", "retry_delay_jitter": 2}),
                "jitter",
            ),
            (
                json!({"url": "ws://h/ws", "retry_delay_growth": 0.5}),
                "growth",
            ),
            (json!({}), "url or an endpoint"),
        ] {
            let err = spec(entry.clone()).expect_err("refused");
            assert!(err.contains(why), "{entry}: {err}");
        }
    }
}
