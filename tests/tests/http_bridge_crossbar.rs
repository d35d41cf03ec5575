//! The HTTP bridge and static files, checked with a plain HTTP client (a raw HTTP/1.0
//! request over a TCP socket) against Crossbar.io and then against `wamp router
//! --config` given the same `config.json`: a web transport with a WebSocket path, a
//! `publisher`, a signed `publisher` (key and secret, a small `post_body_limit`), a
//! `caller` and a `static` folder. Every request must get the same status from both, and
//! the same result where the bridge answers with WAMP data (call results, WAMP errors
//! with their URI and arguments, publication acknowledgements); published events reach
//! a WebSocket subscriber on both.
//!
//! About 15 s: Crossbar.io starts in a few seconds, then each router serves a dozen
//! requests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use wamp_integration::autobahn::{Callee, Peer, Serializer};
use wamp_integration::ports::free_ports;
use wamp_integration::wamp_cli::{finish, spawn_piped, wamp_binary, RouterProcess, CLIENT_LIMIT};
use wamp_integration::{Crossbar, CrossbarOptions, REALM};

const KEY: &str = "bridge-key";
const SECRET: &str = "bridge-secret";

/// The web transport on `port`, serving `folder` at `/`.
fn web_transport(port: u16, folder: &str) -> Value {
    json!({
        "type": "web",
        "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": port},
        "paths": {
            "/": {"type": "static", "directory": folder},
            "ws": {"type": "websocket", "auth": {"anonymous": {"type": "static", "role": "anonymous"}}},
            "publish": {"type": "publisher", "realm": REALM, "role": "anonymous"},
            "signed": {"type": "publisher", "realm": REALM, "role": "anonymous",
                       "options": {"key": KEY, "secret": SECRET, "post_body_limit": 200}},
            "call": {"type": "caller", "realm": REALM, "role": "anonymous"},
        },
    })
}

/// One HTTP/1.0 request; the status and the body.
fn http(
    port: u16,
    method: &str,
    target: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut request = format!(
        "{method} {target} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(kind) = content_type {
        request.push_str(&format!("Content-Type: {kind}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    stream.write_all(body).expect("write");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The query of a request signed as Crossbar.io documents it.
fn signed_query(body: &[u8], secret: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    // Civil time from days (UTC), for the timestamp's ISO-8601 form.
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let timestamp = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    );
    let (seq, nonce) = ("1", "12345");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("a key");
    for part in [
        KEY.as_bytes(),
        timestamp.as_bytes(),
        seq.as_bytes(),
        nonce.as_bytes(),
        body,
    ] {
        mac.update(part);
    }
    let signature = base64::engine::general_purpose::URL_SAFE.encode(mac.finalize().into_bytes());
    let enc = |s: &str| {
        s.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
            .replace(':', "%3A")
    };
    format!(
        "key={KEY}&timestamp={}&seq={seq}&nonce={nonce}&signature={}",
        enc(&timestamp),
        enc(&signature)
    )
}

/// What a router answered to each request, reduced to what both must agree on.
fn requests(port: u16) -> Vec<(String, u16, Value)> {
    const JSON: Option<&str> = Some("application/json");
    let mut out = Vec::new();
    let mut record = |name: &str, (status, body): (u16, String), keep: &dyn Fn(Value) -> Value| {
        let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
        out.push((name.to_owned(), status, keep(value)));
    };
    let all = |v: Value| v;
    let status_only = |_: Value| Value::Null;
    // A bridge's refusal: the reason is in `error`, worded by each router its own way.
    let refusal = |v: Value| json!(v.get("error").is_some_and(Value::is_string));
    let wamp_error = |v: Value| json!({"error": v["error"], "args": v["args"]});
    let result = |mut v: Value| {
        // Who called (the bridge's session) differs between routers.
        if let Some(kwargs) = v.get_mut("kwargs").and_then(Value::as_object_mut) {
            kwargs.remove("caller");
            kwargs.remove("caller_authid");
        }
        v
    };
    let publication = |v: Value| json!(v.get("id").is_some_and(Value::is_u64));

    record("static index", http(port, "GET", "/", None, b""), &all);
    record(
        "static file",
        http(port, "GET", "/hello.txt", None, b""),
        &all,
    );
    record(
        "static missing",
        http(port, "GET", "/missing.txt", None, b""),
        &status_only,
    );
    let call = json!({"procedure": "com.example.reverse", "args": [1, "two"], "kwargs": {"k": 3}});
    record(
        "call",
        http(port, "POST", "/call", JSON, call.to_string().as_bytes()),
        &result,
    );
    let error = json!({"procedure": "com.example.reverse", "args": [7], "kwargs": {"error": "com.example.oops"}});
    record(
        "callee error",
        http(port, "POST", "/call", JSON, error.to_string().as_bytes()),
        &wamp_error,
    );
    let nobody = json!({"procedure": "com.example.nobody"});
    record(
        "no callee",
        http(port, "POST", "/call", JSON, nobody.to_string().as_bytes()),
        &|v| json!(v["error"]),
    );
    let publish = json!({"topic": "com.example.news", "args": ["hi"], "kwargs": {"n": 1}});
    record(
        "publish",
        http(
            port,
            "POST",
            "/publish",
            JSON,
            publish.to_string().as_bytes(),
        ),
        &publication,
    );
    record(
        "bad json",
        http(port, "POST", "/publish", JSON, b"{nope"),
        &refusal,
    );
    record(
        "wrong content type",
        http(port, "POST", "/publish", Some("text/plain"), b"{}"),
        &refusal,
    );
    record(
        "GET on the bridge",
        http(port, "GET", "/publish", None, b""),
        &refusal,
    );
    let small = json!({"topic": "com.example.news", "args": ["signed"]}).to_string();
    let target = format!("/signed?{}", signed_query(small.as_bytes(), SECRET));
    record(
        "signed",
        http(port, "POST", &target, JSON, small.as_bytes()),
        &publication,
    );
    let target = format!(
        "/signed?{}",
        signed_query(small.as_bytes(), "not the secret")
    );
    record(
        "wrong signature",
        http(port, "POST", &target, JSON, small.as_bytes()),
        &refusal,
    );
    record(
        "unsigned",
        http(port, "POST", "/signed", JSON, small.as_bytes()),
        &refusal,
    );
    let big = json!({"topic": "com.example.news", "args": ["x".repeat(300)]}).to_string();
    let target = format!("/signed?{}", signed_query(big.as_bytes(), SECRET));
    record(
        "over the body limit",
        http(port, "POST", &target, JSON, big.as_bytes()),
        &refusal,
    );
    out
}

/// `wamp subscribe` on the WebSocket path, subscribed, for `count` events.
fn subscriber(port: u16, count: u32) -> Child {
    let mut command = Command::new(wamp_binary());
    command.args([
        "subscribe",
        &format!("ws://127.0.0.1:{port}/ws"),
        "com.example.news",
        "--count",
        &count.to_string(),
    ]);
    let mut child = spawn_piped(&mut command, &[]).expect("spawn wamp subscribe");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut line = String::new();
    BufReader::new(stderr).read_line(&mut line).expect("read");
    assert!(line.starts_with("subscribed"), "{line}");
    child
}

/// Runs the requests with a callee and a subscriber on `port`; what they answered and
/// the events the subscriber got.
fn exercise(port: u16) -> (Vec<(String, u16, Value)>, Vec<Value>) {
    let peer = Peer::new(format!("ws://127.0.0.1:{port}/ws"), Serializer::Json);
    let callee = Callee::start(&peer, "com.example.reverse", None).expect("the callee registers");
    let events = subscriber(port, 2);
    let answers = requests(port);
    let output = finish(events, CLIENT_LIMIT, "wamp subscribe");
    let _ = callee.stop();
    let events = output
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (answers, events)
}

#[test]
fn the_http_bridge_and_static_files_answer_alike_on_crossbar_and_on_wamp_router() {
    let folder = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(folder.path().join("index.html"), "<h1>index</h1>\n").expect("write");
    std::fs::write(folder.path().join("hello.txt"), "hello\n").expect("write");
    let port = free_ports(1).expect("a free port")[0];
    let transport = web_transport(port, &folder.path().to_string_lossy());
    let options = CrossbarOptions::default()
        .with_loglevel("warn")
        .with_transport(transport);
    let mut crossbar = match Crossbar::start(options) {
        Ok(router) => router,
        Err(e) => panic!("{e}"),
    };
    let theirs = exercise(port);
    let config = crossbar.cbdir().join("config.json");
    crossbar.stop().expect("Crossbar.io stops");

    let (ours, _) = RouterProcess::start(&["--config", &config.to_string_lossy()]);
    let mine = exercise(port);
    let log = ours.stop();
    for ((name, status, value), (_, their_status, their_value)) in mine.0.iter().zip(&theirs.0) {
        assert_eq!(
            (status, value),
            (their_status, their_value),
            "{name}: wamp router answered {status} {value}, Crossbar.io {their_status} {their_value}\n{log}"
        );
    }
    assert_eq!(mine.0.len(), theirs.0.len());
    // The expected answers themselves (so that both being wrong alike fails too).
    let expect = |name: &str| {
        mine.0
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, s, v)| (*s, v.clone()))
            .expect("asked")
    };
    assert_eq!(expect("static file"), (200, json!("hello\n")));
    assert_eq!(expect("static missing").0, 404);
    assert_eq!(expect("call").1["args"], json!(["two", 1]));
    assert_eq!(expect("callee error").1["error"], json!("com.example.oops"));
    assert_eq!(
        expect("no callee"),
        (200, json!("wamp.error.no_such_procedure"))
    );
    assert_eq!(expect("publish"), (200, json!(true)));
    assert_eq!(expect("signed"), (200, json!(true)));
    assert_eq!(expect("wrong signature").0, 401);
    assert_eq!(expect("over the body limit").0, 413);
    assert_eq!(expect("GET on the bridge").0, 405);
    // Both publications reached the WebSocket subscriber, on both routers.
    for events in [&mine.1, &theirs.1] {
        let args: Vec<&Value> = events.iter().map(|e| &e["args"]).collect();
        assert_eq!(args, [&json!(["hi"]), &json!(["signed"])], "{events:?}");
    }
}
