//! HTTP services beside a WebSocket endpoint on one port: the HTTP bridge (publisher and
//! caller, as Crossbar.io's web services) and static files.
//!
//! A connection of a listener with web services starts here: its request head is read
//! (bounded in size and by the handshake deadline). A WebSocket upgrade, or a request no
//! service takes, goes on to the WebSocket framer with those bytes replayed in front of
//! the stream; a request for a service is answered once and the connection closed
//! (`Connection: close`).
//!
//! The bridge's publications and calls go through one in-process session per service,
//! joined on first use to the service's realm with its role (the router has a transport
//! authentication for it that admits exactly that) and joined again if it ended.

use std::io;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use futures::channel::oneshot;
use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures::lock::Mutex;
use hmac::{Hmac, Mac};
use serde_json::{json, Map as JsonMap, Value as Json};
use sha2::Sha256;
use wamp_proto::auth::ChannelBinding;
use wamp_proto::Value;

use super::config::{HttpBridge, WebService};
use super::connection::Start;
use super::listener::ListenerSpec;
use crate::join::JoinConfig;
use crate::runtime::{with_deadline, BoxStream, Runtime};
use crate::session::Session;

/// The longest request head read before deciding where a request goes.
const MAX_HEAD: usize = 16 * 1024;
/// The most headers parsed.
const MAX_HEADERS: usize = 64;
/// The largest static file served. Files are read whole, on the connection's task: this
/// serves the pages and scripts of a WAMP application, not downloads.
const MAX_FILE: u64 = 8 << 20;

/// The web services of one listener, prepared.
pub(crate) struct Web {
    routes: Vec<Route>,
}

enum Route {
    Bridge(Arc<Bridge>),
    Metrics(String),
    Static { path: String, directory: PathBuf },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BridgeKind {
    Publisher,
    Caller,
}

/// One bridge endpoint and its session.
pub(crate) struct Bridge {
    kind: BridgeKind,
    config: HttpBridge,
    /// The in-process "listener" its session comes through: its auth admits the role.
    spec: Arc<ListenerSpec>,
    session: Mutex<Option<Session>>,
}

/// The transport authentication the router has for a bridge's session.
pub(crate) fn bridge_auth_name(listener: &str, path: &str) -> String {
    format!("http bridge {listener} {path}")
}

impl Web {
    /// The services of a listener labelled `label`; `None` when it has none.
    pub(crate) fn new(label: &str, services: &[WebService]) -> Option<Arc<Web>> {
        if services.is_empty() {
            return None;
        }
        let routes = services
            .iter()
            .map(|service| match service {
                WebService::Publisher(config) | WebService::Caller(config) => {
                    let kind = match service {
                        WebService::Publisher(_) => BridgeKind::Publisher,
                        _ => BridgeKind::Caller,
                    };
                    let mut spec = ListenerSpec::in_process();
                    spec.label = format!("{label} {}", config.path);
                    spec.auth = Some(Arc::from(bridge_auth_name(label, &config.path)));
                    Route::Bridge(Arc::new(Bridge {
                        kind,
                        config: config.clone(),
                        spec: Arc::new(spec),
                        session: Mutex::new(None),
                    }))
                }
                WebService::Static { path, directory } => Route::Static {
                    path: path.clone(),
                    directory: directory.clone(),
                },
                WebService::Metrics { path } => Route::Metrics(path.clone()),
            })
            .collect();
        Some(Arc::new(Web { routes }))
    }

    /// The service for a request path: a bridge at exactly that path, else the static
    /// folder with the longest matching prefix.
    fn route(&self, path: &str) -> Option<&Route> {
        let bridge = self.routes.iter().find(|r| match r {
            Route::Bridge(b) => b.config.path == path,
            Route::Metrics(at) => at == path,
            Route::Static { .. } => false,
        });
        bridge.or_else(|| {
            self.routes
                .iter()
                .filter(|r| match r {
                    Route::Static { path: prefix, .. } => under(path, prefix),
                    Route::Bridge(_) | Route::Metrics(_) => false,
                })
                .max_by_key(|r| match r {
                    Route::Static { path, .. } => path.len(),
                    Route::Bridge(_) | Route::Metrics(_) => 0,
                })
        })
    }
}

/// Whether `path` is `prefix` or below it.
fn under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// A parsed request head.
struct Head {
    method: String,
    /// The path, without the query.
    path: String,
    query: String,
    upgrade: bool,
    content_type: Option<String>,
    content_length: Option<usize>,
    chunked: bool,
    origin: Option<String>,
    /// Where the body starts in the bytes read.
    len: usize,
}

/// Reads a request head; `Ok(None)` when the bytes are not one (the WebSocket framer
/// then answers them).
fn parse(buf: &[u8]) -> Result<Option<Head>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Err(()),
        Err(_) => return Ok(None),
    };
    let target = request.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    Ok(Some(Head {
        method: request.method.unwrap_or("").to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        upgrade: header("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket")),
        content_type: header("content-type").map(str::to_owned),
        content_length: header("content-length").and_then(|v| v.parse().ok()),
        chunked: header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked")),
        origin: header("origin").map(str::to_owned),
        len,
    }))
}

/// Serves a connection of a listener with web services: a request for one of them is
/// answered here, anything else is the WebSocket endpoint's.
pub(crate) async fn serve<R: Runtime>(
    start: Start<R>,
    mut stream: BoxStream,
    binding: Option<ChannelBinding>,
    web: Arc<Web>,
) {
    let mut buf = Vec::with_capacity(1024);
    let read_head = async {
        let mut chunk = [0u8; 2048];
        loop {
            match parse(&buf) {
                Ok(head) => return Some(head),
                Err(()) if buf.len() >= MAX_HEAD => return Some(None),
                Err(()) => {}
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let head = match with_deadline(&start.ctx.rt, start.deadline, read_head).await {
        Some(Some(head)) => head,
        // The peer went away, or was too slow to send a request.
        Some(None) | None => return,
    };
    let route = head
        .as_ref()
        .filter(|h| !h.upgrade)
        .and_then(|h| web.route(&h.path).map(|r| (h, r)));
    let Some((head, route)) = route else {
        // The WebSocket endpoint's: it reads the same bytes first.
        let replay = Replay {
            head: buf,
            at: 0,
            inner: stream,
        };
        return start.serve(Box::new(replay), binding).await;
    };
    let response = match route {
        Route::Static { path, directory } => serve_file(head, path, directory),
        Route::Metrics(_) => metrics(&start, head).await,
        Route::Bridge(bridge) => {
            let body = read_body(
                &start,
                &mut stream,
                head,
                &buf,
                bridge.config.post_body_limit,
            )
            .await;
            match body {
                Ok(body) => bridge.serve(&start, head, &body).await,
                Err(response) => response,
            }
        }
    };
    let write = async {
        let _ = stream
            .write_all(&response.encode(head.origin.as_deref()))
            .await;
        let _ = stream.flush().await;
        let _ = stream.close().await;
    };
    let limit = start.ctx.rt.now() + start.ctx.options.close_timeout;
    let _ = with_deadline(&start.ctx.rt, limit, write).await;
}

/// The body of a bridge request (POST/PUT with a Content-Length within `limit`), or the
/// response that refuses it.
async fn read_body<R: Runtime>(
    start: &Start<R>,
    stream: &mut BoxStream,
    head: &Head,
    buf: &[u8],
    limit: usize,
) -> Result<Vec<u8>, Response> {
    if head.method == "OPTIONS" {
        return Ok(Vec::new());
    }
    if head.method != "POST" && head.method != "PUT" {
        return Err(Response::refused(
            405,
            format!("method {} not allowed: use POST or PUT", head.method),
        ));
    }
    if head.chunked {
        return Err(Response::refused(
            411,
            "send the body with a Content-Length".into(),
        ));
    }
    let Some(length) = head.content_length else {
        return Err(Response::refused(
            411,
            "a Content-Length is required".into(),
        ));
    };
    if length > limit {
        return Err(Response::refused(
            413,
            format!("the body of {length} bytes is over the limit of {limit} bytes"),
        ));
    }
    let mut body = buf[head.len..].to_vec();
    body.truncate(length);
    let rest = async {
        let mut chunk = [0u8; 8192];
        while body.len() < length {
            let want = (length - body.len()).min(chunk.len());
            match stream.read(&mut chunk[..want]).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
        true
    };
    match with_deadline(&start.ctx.rt, start.deadline, rest).await {
        Some(true) => Ok(body),
        _ => Err(Response::refused(
            400,
            "the body did not arrive whole in time".into(),
        )),
    }
}

impl Bridge {
    async fn serve<R: Runtime>(&self, start: &Start<R>, head: &Head, body: &[u8]) -> Response {
        if head.method == "OPTIONS" {
            return Response::options();
        }
        if let Some(kind) = &head.content_type {
            let essence = kind.split(';').next().unwrap_or("").trim();
            if !essence.eq_ignore_ascii_case("application/json") {
                return Response::refused(
                    400,
                    format!("content type {essence:?}: only application/json is accepted"),
                );
            }
        }
        if self.config.require_tls && start.spec.tls.is_none() {
            return Response::refused(400, "request denied because not using TLS".into());
        }
        if !self.config.require_ip.is_empty() {
            let allowed = start.peer.tcp().is_some_and(|addr| {
                self.config
                    .require_ip
                    .iter()
                    .any(|net| in_network(addr.ip(), net))
            });
            if !allowed {
                return Response::refused(400, "request denied based on IP address".into());
            }
        }
        if let Err(response) = self.check_signature(&head.query, body) {
            return response;
        }
        let request: JsonMap<String, Json> = match serde_json::from_slice(body) {
            Ok(Json::Object(request)) => request,
            Ok(_) => return Response::refused(400, "the body must be a JSON object".into()),
            Err(e) => return Response::refused(400, format!("the body is not valid JSON: {e}")),
        };
        let session = match self.session(start).await {
            Ok(session) => session,
            Err(why) => {
                return Response::json(
                    500,
                    json!({"error": "wamp.error.runtime_error", "args": [why], "kwargs": {}}),
                )
            }
        };
        let args = request
            .get("args")
            .cloned()
            .unwrap_or(Json::Array(Vec::new()));
        let kwargs = request
            .get("kwargs")
            .cloned()
            .unwrap_or(Json::Object(JsonMap::new()));
        if !args.is_array() && !args.is_null() || !kwargs.is_object() && !kwargs.is_null() {
            return Response::refused(400, "args must be a list and kwargs a dictionary".into());
        }
        let args = if args.is_null() { json!([]) } else { args };
        let kwargs = if kwargs.is_null() { json!({}) } else { kwargs };
        match self.kind {
            BridgeKind::Publisher => {
                let Some(topic) = request.get("topic").and_then(Json::as_str) else {
                    return Response::refused(400, "the body names no topic".into());
                };
                let mut publish = session
                    .publish(topic)
                    .args(&args)
                    .kwargs(&kwargs)
                    .acknowledge(true);
                if let Some(Json::Object(options)) = request.get("options") {
                    for (key, value) in options {
                        if let Ok(value) = serde_json::from_value::<Value>(value.clone()) {
                            publish = publish.option(key.as_str(), value);
                        }
                    }
                }
                match publish.await {
                    Ok(id) => Response::json(200, json!({"id": id.map(|id| id.get())})),
                    Err(e) => Response::wamp_error(&e),
                }
            }
            BridgeKind::Caller => {
                let Some(procedure) = request.get("procedure").and_then(Json::as_str) else {
                    return Response::refused(400, "the body names no procedure".into());
                };
                let call = session
                    .call(procedure)
                    .args(&args)
                    .kwargs(&kwargs)
                    .timeout(self.config.call_timeout);
                match call.await {
                    Ok(result) => {
                        let mut out = JsonMap::new();
                        let args: Vec<Json> = result.args().unwrap_or_default();
                        let kwargs: JsonMap<String, Json> = result.kwargs().unwrap_or_default();
                        if !args.is_empty() {
                            out.insert("args".into(), Json::Array(args));
                        }
                        if !kwargs.is_empty() {
                            out.insert("kwargs".into(), Json::Object(kwargs));
                        }
                        Response::json(200, Json::Object(out))
                    }
                    Err(e) => Response::wamp_error(&e),
                }
            }
        }
    }

    /// The bridge's session, joined now if it has none (or its last one ended).
    async fn session<R: Runtime>(&self, start: &Start<R>) -> Result<Session, String> {
        let mut slot = self.session.lock().await;
        if let Some(session) = slot.as_ref().filter(|s| !s.is_closed()) {
            return Ok(session.clone());
        }
        let (reply, joined) = oneshot::channel();
        super::local::connect_via(
            &start.ctx,
            self.spec.clone(),
            JoinConfig::new(self.config.realm.as_str()),
            reply,
        );
        let session = joined
            .await
            .map_err(|_| "the router stopped".to_owned())?
            .map_err(|e| {
                format!(
                    "the bridge's session could not join {}: {e}",
                    self.config.realm
                )
            })?;
        *slot = Some(session.clone());
        Ok(session)
    }

    /// Checks a signed request (when the bridge has a secret).
    fn check_signature(&self, query: &str, body: &[u8]) -> Result<(), Response> {
        let (Some(key), Some(secret)) = (&self.config.key, &self.config.secret) else {
            return Ok(());
        };
        let param = |name: &str| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| percent_decode(v, true))
        };
        let missing = |name: &str| {
            Response::refused(
                400,
                format!("signed request required, but the {name:?} parameter is missing"),
            )
        };
        let given_key = param("key").ok_or_else(|| missing("key"))?;
        let timestamp = param("timestamp").ok_or_else(|| missing("timestamp"))?;
        let seq = param("seq").ok_or_else(|| missing("seq"))?;
        let nonce = param("nonce").ok_or_else(|| missing("nonce"))?;
        let signature = param("signature").ok_or_else(|| missing("signature"))?;
        if seq.parse::<u64>().is_err() || nonce.parse::<u64>().is_err() {
            return Err(Response::refused(
                400,
                "seq and nonce must be integers".into(),
            ));
        }
        if &given_key != key {
            return Err(Response::refused(
                401,
                format!("unknown key {given_key:?} in signed request"),
            ));
        }
        let Some(at) = parse_timestamp(&timestamp) else {
            return Err(Response::refused(400, format!("invalid timestamp {timestamp:?} (must be UTC ISO-8601, e.g. 2011-10-14T16:59:51.123Z)")));
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        if (now - at).abs() > self.config.timestamp_delta_limit.as_secs_f64() {
            return Err(Response::refused(
                400,
                "the request's timestamp is too far from now".into(),
            ));
        }
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            return Err(Response::refused(
                500,
                "the bridge's secret cannot be used".into(),
            ));
        };
        for part in [
            given_key.as_bytes(),
            timestamp.as_bytes(),
            seq.as_bytes(),
            nonce.as_bytes(),
            body,
        ] {
            mac.update(part);
        }
        let Ok(claimed) = base64::engine::general_purpose::URL_SAFE.decode(signature.trim()) else {
            return Err(Response::refused(401, "invalid request signature".into()));
        };
        mac.verify_slice(&claimed)
            .map_err(|_| Response::refused(401, "invalid request signature".into()))
    }
}

/// Whether `ip` is in `network` (`10.0.0.0/8`, `fd00::/8`, or a bare address); an
/// IPv4 address mapped into IPv6 counts as IPv4.
fn in_network(ip: std::net::IpAddr, network: &str) -> bool {
    use std::net::IpAddr;
    let (base, bits) = network.split_once('/').unwrap_or((network, ""));
    let Ok(base) = base.trim().parse::<IpAddr>() else {
        return false;
    };
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let (ip, base, width) = match (ip, base) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    let bits: u32 = match bits {
        "" => width,
        b => match b.parse() {
            Ok(n) if n <= width => n,
            _ => return false,
        },
    };
    let shift = width - bits;
    shift >= 128 || (ip >> shift) == (base >> shift)
}

/// `%XX` decoded, and `+` as a space where `plus_is_space` (query parameters).
fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Seconds since the epoch of `2011-10-14T16:59:51.123Z` (fraction optional).
fn parse_timestamp(text: &str) -> Option<f64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    if !(1970..=9999).contains(&year) {
        return None;
    }
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hour, minute, second) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let fraction: f64 = format!("0.{fraction}").parse().ok()?;
    // Days from the civil date (the proleptic Gregorian calendar).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hour * 3600 + minute * 60 + second) as f64 + fraction)
}

/// The router's metrics, for a GET.
async fn metrics<R: Runtime>(start: &Start<R>, head: &Head) -> Response {
    if head.method != "GET" && head.method != "HEAD" {
        return Response::text(405, "use GET");
    }
    let metrics = |reply| super::hub::ToRouter::Metrics { reply };
    let text = super::hub::ask(&start.ctx.to_router, metrics).await;
    Response {
        status: 200,
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        body: if head.method == "HEAD" {
            Vec::new()
        } else {
            text.into_bytes()
        },
        extra: Vec::new(),
        cors: false,
    }
}

/// A file under `directory` for a GET of `path` served at `prefix`.
fn serve_file(head: &Head, prefix: &str, directory: &Path) -> Response {
    if head.method != "GET" && head.method != "HEAD" {
        return Response::text(405, "use GET");
    }
    let rest = head
        .path
        .strip_prefix(prefix.trim_end_matches('/'))
        .unwrap_or(&head.path);
    let relative = PathBuf::from(percent_decode(rest.trim_start_matches('/'), false));
    // Only plain names: no `..`, no root, no drive.
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Response::text(404, "not found");
    }
    let mut file = directory.join(relative);
    if file.is_dir() {
        file.push("index.html");
    }
    let readable = std::fs::metadata(&file)
        .ok()
        .filter(|m| m.is_file() && m.len() <= MAX_FILE);
    let Some(_) = readable else {
        return Response::text(404, "not found");
    };
    let body = match head.method.as_str() {
        "HEAD" => Ok(Vec::new()),
        _ => std::fs::read(&file),
    };
    match body {
        Ok(body) => Response {
            status: 200,
            content_type: content_type(&file),
            body,
            extra: Vec::new(),
            cors: false,
        },
        Err(_) => Response::text(404, "not found"),
    }
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// One HTTP response.
struct Response {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    extra: Vec<(&'static str, &'static str)>,
    /// Any page may read it (the bridge's answers, as Crossbar.io's).
    cors: bool,
}

impl Response {
    fn json(status: u16, body: Json) -> Response {
        Response {
            status,
            content_type: "application/json; charset=UTF-8",
            body: body.to_string().into_bytes(),
            extra: Vec::new(),
            cors: true,
        }
    }

    /// A request the bridge refuses, Crossbar.io's way: the reason in `error`.
    fn refused(status: u16, why: String) -> Response {
        Response::json(status, json!({"error": why, "args": [], "kwargs": {}}))
    }

    /// A WAMP error: HTTP 200, as Crossbar.io answers it (the request itself was fine).
    fn wamp_error(error: &crate::Error) -> Response {
        let (uri, args, kwargs) = match error.as_wamp() {
            Some(wamp) => (
                wamp.uri().to_string(),
                wamp.args::<Vec<Json>>().unwrap_or_default(),
                wamp.kwargs::<JsonMap<String, Json>>().unwrap_or_default(),
            ),
            None => (
                error
                    .uri()
                    .map_or_else(|| "wamp.error.runtime_error".to_owned(), |u| u.to_string()),
                vec![Json::String(error.to_string())],
                JsonMap::new(),
            ),
        };
        Response::json(200, json!({"error": uri, "args": args, "kwargs": kwargs}))
    }

    fn options() -> Response {
        Response {
            status: 200,
            content_type: "text/plain",
            body: Vec::new(),
            extra: vec![
                ("Allow", "POST,PUT,OPTIONS"),
                ("Access-Control-Allow-Methods", "POST,PUT,OPTIONS"),
                ("Access-Control-Allow-Headers", "content-type"),
            ],
            cors: true,
        }
    }

    fn text(status: u16, text: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: text.as_bytes().to_vec(),
            extra: Vec::new(),
            cors: false,
        }
    }

    fn encode(&self, origin: Option<&str>) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            401 => "Unauthorized",
            404 => "Not Found",
            405 => "Method Not Allowed",
            411 => "Length Required",
            413 => "Payload Too Large",
            _ => "Internal Server Error",
        };
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n",
            self.status,
            self.content_type,
            self.body.len()
        );
        if self.cors {
            // Any page may use the bridge, as with Crossbar.io (the origin's cookies too).
            let origin = origin.filter(|o| *o != "null").unwrap_or("*");
            out.push_str(&format!(
                "Access-Control-Allow-Origin: {origin}\r\nAccess-Control-Allow-Credentials: true\r\n"
            ));
        }
        for (name, value) in &self.extra {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// A stream that gives back bytes already read before the rest.
struct Replay {
    head: Vec<u8>,
    at: usize,
    inner: BoxStream,
}

impl AsyncRead for Replay {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.at < self.head.len() {
            let n = out.len().min(self.head.len() - self.at);
            out[..n].copy_from_slice(&self.head[self.at..self.at + n]);
            self.at += n;
            if self.at == self.head.len() {
                self.head = Vec::new();
                self.at = 0;
            }
            return Poll::Ready(Ok(n));
        }
        Pin::new(&mut self.inner).poll_read(cx, out)
    }
}

impl AsyncWrite for Replay {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_as_crossbar_writes_them() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00.000Z"), Some(0.0));
        assert_eq!(
            parse_timestamp("2011-10-14T16:59:51.123Z"),
            Some(1_318_611_591.123)
        );
        assert_eq!(parse_timestamp("2000-03-01T00:00:00Z"), Some(951_868_800.0));
        assert_eq!(parse_timestamp("2011-13-14T16:59:51Z"), None);
        assert_eq!(parse_timestamp("2011-10-14 16:59:51Z"), None);
        assert_eq!(parse_timestamp("2011-10-14T16:59:51"), None);
        assert_eq!(parse_timestamp("99999999999999999-01-01T00:00:00Z"), None);
    }

    #[test]
    fn query_values_are_percent_decoded() {
        assert_eq!(percent_decode("a%2Bb%3D%3D", true), "a+b==");
        assert_eq!(percent_decode("x+y", true), "x y");
        assert_eq!(percent_decode("x+y", false), "x+y");
        assert_eq!(percent_decode("100%", true), "100%");
        assert_eq!(percent_decode("%zz%4", true), "%zz%4");
    }

    #[test]
    fn networks_contain_their_addresses() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().expect("an address");
        assert!(in_network(ip("10.1.2.3"), "10.0.0.0/8"));
        assert!(!in_network(ip("11.1.2.3"), "10.0.0.0/8"));
        assert!(in_network(ip("127.0.0.1"), "127.0.0.1"));
        assert!(in_network(ip("::ffff:192.168.1.9"), "192.168.1.0/24"));
        assert!(in_network(ip("::1"), "::1/128") && !in_network(ip("::2"), "::1/128"));
        assert!(in_network(ip("1.2.3.4"), "0.0.0.0/0"));
        assert!(!in_network(ip("1.2.3.4"), "garbage") && !in_network(ip("1.2.3.4"), "1.2.3.4/33"));
    }

    #[test]
    fn static_prefixes_match_whole_segments() {
        assert!(under("/app/x.js", "/app") && under("/app", "/app/") && under("/x", "/"));
        assert!(!under("/apple", "/app"));
    }
}
