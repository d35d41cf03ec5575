//! The client feature tests shared by `client_crossbar.rs` (against Crossbar.io) and
//! `router_client.rs` (against our own router): written once, generic over the
//! [`Runtime`], run on both runtimes, pointed at a router by its [`Endpoints`].

// Each test binary uses the cases it needs.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::{Future, IntoFuture};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::channel::mpsc;
use futures::future::{select, Either};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use wamp_integration::credentials::*;
use wamp_integration::REALM;
use wamp_tokio::wamp_runtime::{
    self, Auth, CloseReason, ConnectError, Error, Event, Invocation, JoinConfig, MatchPolicy,
    RegisterOptions, RetryPolicy, Runtime, SerializerKind, Session, SubscribeOptions,
    TransportConfig, TransportSpec, Uri, WampError, Yield,
};
use wamp_tokio::wamp_runtime::{Component, ComponentBuilder, Retry};

/// The longest any one case may take.
pub const CASE_LIMIT: Duration = Duration::from_secs(30);

/// What the cases need to know about the router: its URLs.
pub struct Endpoints {
    /// WebSocket, anonymous.
    pub ws: String,
    /// RawSocket, anonymous.
    pub rs: String,
    /// WebSocket, static principals only.
    pub ws_auth: String,
    /// RawSocket, static principals only.
    pub rs_auth: String,
    /// WebSocket over TLS, anonymous and static principals.
    pub wss: String,
    /// RawSocket over TLS, anonymous and static principals.
    pub rss: String,
    /// The CA that signed the TLS certificate.
    pub ca_pem: String,
    /// RawSocket over a Unix socket (`unix:///path`), anonymous.
    pub unix: String,
}

/// What the router does with the spec's WAMP-SCRAM, which this client implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scram {
    /// Refused: Crossbar.io 26 speaks Autobahn's `scram` prototype instead.
    Refused,
    /// The session joins as [`SCRAM_AUTHID`].
    Accepted,
}

/// Runs `future` on the runtime's timer with a deadline; a hang fails the case.
pub async fn bounded<R: Runtime, T>(rt: &R, what: &str, future: impl IntoFuture<Output = T>) -> T {
    within(rt, CASE_LIMIT, future)
        .await
        .unwrap_or_else(|| panic!("{what}: no outcome within {CASE_LIMIT:?}"))
}

/// `future`'s output, or `None` if `limit` passes first (on the runtime's timer).
pub async fn within<R: Runtime, T>(
    rt: &R,
    limit: Duration,
    future: impl IntoFuture<Output = T>,
) -> Option<T> {
    let deadline = rt.sleep_until(Instant::now() + limit);
    match select(std::pin::pin!(future.into_future()), deadline).await {
        Either::Left((value, _)) => Some(value),
        Either::Right(_) => None,
    }
}

pub async fn join<R: Runtime>(rt: &R, transport: &TransportConfig, join: &JoinConfig) -> Session {
    match bounded(rt, "connect", wamp_runtime::connect(rt, transport, join)).await {
        Ok(session) => session,
        Err(e) => panic!("connect to {}: {e}", transport.endpoint),
    }
}

/// Two sessions (caller and callee) on `url` with `serializer`, through every RPC and
/// pub/sub feature. `tag` keeps URIs apart between runs.
pub async fn rpc_and_pubsub_over<R: Runtime>(
    rt: R,
    url: String,
    serializer: SerializerKind,
    tag: String,
) {
    let transport = TransportConfig::new(&url)
        .expect("valid URL")
        .serializer(serializer);
    let realm = JoinConfig::new(REALM);
    let callee = join(&rt, &transport, &realm).await;
    let caller = join(&rt, &transport, &realm).await;
    assert_eq!(caller.serializer(), serializer);
    rpc_and_pubsub(rt, callee, caller, tag).await;
}

/// Every RPC and pub/sub feature between two anonymous sessions, however they were
/// joined (their serializers may differ). `tag` keeps URIs apart between runs.
pub async fn rpc_and_pubsub<R: Runtime>(rt: R, callee: Session, caller: Session, tag: String) {
    assert_eq!(caller.details().authrole.as_deref(), Some(ANONYMOUS_ROLE));
    let uri = |name: &str| format!("{tag}.{name}");

    // Args and kwargs both ways; the caller disclosed.
    let _echo = callee
        .register(uri("echo"), |inv: Invocation| async move {
            let args: Vec<Value> = inv.args()?;
            let mut kwargs: BTreeMap<String, Value> = inv.kwargs()?;
            kwargs.insert("caller".into(), json!(inv.caller().map(|c| c.get())));
            let reversed: Vec<Value> = args.into_iter().rev().collect();
            Ok(Yield::new(&reversed, &kwargs)?)
        })
        .await
        .expect("register echo");
    let result = bounded(
        &rt,
        "echo",
        caller
            .call(uri("echo"))
            .args(&(1, "two", [3.5]))
            .kwargs(&BTreeMap::from([("k", "v")]))
            .disclose_me(true),
    )
    .await
    .expect("echo result");
    assert_eq!(
        result.args::<Value>().expect("args"),
        json!([[3.5], "two", 1])
    );
    let kwargs: BTreeMap<String, Value> = result.kwargs().expect("kwargs");
    assert_eq!(kwargs.get("k"), Some(&json!("v")));
    assert_eq!(kwargs.get("caller"), Some(&json!(caller.id().get())));

    // An application error with its URI and arguments.
    let _fail = callee
        .register(uri("fail"), |inv: Invocation| async move {
            let (n,): (i32,) = inv.args()?;
            Err(
                WampError::with_message("test.error.refused", format!("no {n}"))
                    .with_kwargs(&BTreeMap::from([("n", n)])),
            )
        })
        .await
        .expect("register fail");
    let err = bounded(&rt, "fail", caller.call(uri("fail")).args(&(7,)))
        .await
        .expect_err("fails");
    let Error::Wamp(wamp) = &err else {
        panic!("not a WAMP error: {err}")
    };
    assert_eq!(wamp.uri(), "test.error.refused");
    assert_eq!(wamp.message().as_deref(), Some("no 7"));
    assert_eq!(
        wamp.kwargs::<BTreeMap<String, i32>>().expect("kwargs")["n"],
        7
    );
    // Arguments the handler cannot decode, and a procedure nobody serves.
    let err = bounded(&rt, "bad args", caller.call(uri("fail")).args(&("x",)))
        .await
        .expect_err("bad args");
    assert_eq!(err.uri(), Some(&Uri::INVALID_ARGUMENT), "{err}");
    let err = bounded(&rt, "nothing", caller.call(uri("nothing")))
        .await
        .expect_err("no callee");
    assert_eq!(err.uri(), Some(&Uri::NO_SUCH_PROCEDURE), "{err}");

    // Progressive results, then the final one.
    let _count = callee
        .register(uri("count"), |inv: Invocation| async move {
            let (n,): (u32,) = inv.args()?;
            for i in 0..n {
                inv.progress(&(i,), &()).await?;
            }
            Ok(Yield::args(&(n,))?)
        })
        .await
        .expect("register count");
    let parts: Vec<(u32, bool)> = bounded(
        &rt,
        "progress",
        caller
            .call(uri("count"))
            .args(&(3,))
            .progress()
            .map(|r| {
                let r = r.expect("a result");
                (r.first().expect("a number"), r.is_progress())
            })
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(parts, [(0, true), (1, true), (2, true), (3, false)]);

    // Cancel: dropping the call future; the callee sees the interrupt.
    let (started_tx, mut started) = mpsc::channel(1);
    let _slow = callee
        .register(uri("slow"), move |inv: Invocation| {
            let mut started_tx = started_tx.clone();
            async move {
                let _ = started_tx.send(inv.interrupted()).await;
                futures::future::pending::<()>().await;
                Ok(Yield::empty())
            }
        })
        .await
        .expect("register slow");
    let call = caller.call(uri("slow")).into_future();
    let interrupted = match bounded(&rt, "slow call starts", select(call, started.next())).await {
        Either::Left((outcome, _)) => panic!("the slow call ended: {outcome:?}"),
        Either::Right((interrupted, call)) => {
            drop(call);
            interrupted.expect("the handler started")
        }
    };
    bounded(&rt, "the callee sees the interrupt", interrupted).await;
    // Both sessions are still fine afterwards.
    bounded(&rt, "echo after cancel", caller.call(uri("echo")))
        .await
        .expect("echo after cancel");

    // Pattern registrations: prefix and wildcard see the concrete procedure.
    let procedure_of =
        |inv: Invocation| async move { Ok(Yield::args(&(inv.procedure().as_str(),))?) };
    let _prefix = callee
        .register_with(
            uri("pre"),
            RegisterOptions::new().match_policy(MatchPolicy::Prefix),
            procedure_of,
        )
        .await
        .expect("register prefix");
    let _wildcard = callee
        .register_with(
            format!("{tag}..wild"),
            RegisterOptions::new().match_policy(MatchPolicy::Wildcard),
            procedure_of,
        )
        .await
        .expect("register wildcard");
    for concrete in [uri("pre.a.b"), uri("x.wild")] {
        let called: String = bounded(&rt, "pattern call", caller.call(&concrete))
            .await
            .expect("pattern call")
            .first()
            .expect("a string");
        assert_eq!(called, concrete);
    }

    // Pub/sub: exact and pattern subscriptions, acknowledge, exclude_me, publisher.
    let mut exact = callee.subscribe(uri("news")).await.expect("subscribe");
    let mut prefix = callee
        .subscribe_with(
            uri("news"),
            SubscribeOptions::new().match_policy(MatchPolicy::Prefix),
        )
        .await
        .expect("subscribe prefix");
    let mut own = caller.subscribe(uri("news")).await.expect("subscribe own");
    let publication = bounded(
        &rt,
        "publish",
        caller
            .publish(uri("news"))
            .args(&("first",))
            .kwargs(&BTreeMap::from([("n", 1)]))
            .disclose_me(true)
            .acknowledge(true),
    )
    .await
    .expect("published")
    .expect("acknowledged");
    let event = bounded(&rt, "event", exact.next())
        .await
        .expect("an event")
        .expect("not lagged");
    assert_eq!(event.first::<String>().expect("arg"), "first");
    assert_eq!(
        event.kwargs::<BTreeMap<String, i32>>().expect("kwargs")["n"],
        1
    );
    assert_eq!(event.publication(), publication);
    assert_eq!(event.publisher(), Some(caller.id()));
    let pattern_event = bounded(&rt, "pattern event", prefix.next())
        .await
        .expect("an event")
        .expect("not lagged");
    assert_eq!(pattern_event.topic().as_str(), uri("news"));
    // A deeper topic reaches only the prefix subscription, with its concrete topic.
    bounded(
        &rt,
        "publish deeper",
        caller.publish(uri("news.deep")).acknowledge(true),
    )
    .await
    .expect("published");
    let deep = bounded(&rt, "deep event", prefix.next())
        .await
        .expect("an event")
        .expect("not lagged");
    assert_eq!(deep.topic().as_str(), uri("news.deep"));
    // The publisher is excluded by default, included with exclude_me(false): its own
    // subscription's first event is the second publication.
    bounded(
        &rt,
        "publish again",
        caller
            .publish(uri("news"))
            .args(&("second",))
            .exclude_me(false),
    )
    .await
    .expect("queued");
    let mine = bounded(&rt, "own event", own.next())
        .await
        .expect("an event")
        .expect("not lagged");
    assert_eq!(mine.first::<String>().expect("arg"), "second");

    assert!(matches!(
        bounded(&rt, "leave", caller.leave()).await,
        Ok(CloseReason::Goodbye { local: true, .. })
    ));
    assert!(bounded(&rt, "leave", callee.leave()).await.is_ok());
}

/// Every authentication method, right and wrong, over `url` (a transport that offers
/// no anonymous access).
pub async fn authentication<R: Runtime>(rt: R, url: String, scram: Scram) {
    let transport = TransportConfig::new(&url).expect("valid URL");
    let salted = Auth::wampcra(WAMPCRA_SALTED_AUTHID, WAMPCRA_SALTED_SECRET);
    let cryptosign = Auth::cryptosign_hex(Some(CRYPTOSIGN_AUTHID.into()), CRYPTOSIGN_SEED_HEX)
        .expect("a valid key");
    let right = [
        (Auth::ticket(TICKET_AUTHID, TICKET), TICKET_AUTHID),
        (
            Auth::wampcra(WAMPCRA_AUTHID, WAMPCRA_SECRET),
            WAMPCRA_AUTHID,
        ),
        (salted, WAMPCRA_SALTED_AUTHID),
        (cryptosign, CRYPTOSIGN_AUTHID),
    ];
    for (auth, authid) in right {
        let method = auth.method();
        let session = join(&rt, &transport, &JoinConfig::new(REALM).auth(auth)).await;
        let details = session.details();
        assert_eq!(details.authid.as_deref(), Some(authid), "{method}");
        assert_eq!(
            details.authrole.as_deref(),
            Some(AUTHENTICATED_ROLE),
            "{method}"
        );
        assert_eq!(details.authmethod.as_deref(), Some(method), "{method}");
        leave(&rt, &session).await;
    }
    let other_key = "00".repeat(32);
    let wrong = [
        Auth::ticket(TICKET_AUTHID, "not the ticket"),
        Auth::wampcra(WAMPCRA_AUTHID, "not the secret"),
        Auth::wampcra(WAMPCRA_SALTED_AUTHID, "not the secret"),
        Auth::cryptosign_hex(Some(CRYPTOSIGN_AUTHID.into()), &other_key).expect("a valid key"),
        Auth::ticket("nobody", TICKET),
    ];
    for auth in wrong {
        let method = auth.method();
        let err = refused(&rt, &transport, &JoinConfig::new(REALM).auth(auth)).await;
        assert!(
            matches!(&err, ConnectError::Aborted { reason, .. } if reason == &Uri::NOT_AUTHORIZED),
            "{method}: {err}"
        );
        assert!(err.is_auth_rejection(), "{method}: {err}");
    }
    let scram_join = JoinConfig::new(REALM).auth(Auth::scram(SCRAM_AUTHID, SCRAM_PASSWORD));
    let outcome = bounded(
        &rt,
        "scram",
        wamp_runtime::connect(&rt, &transport, &scram_join),
    )
    .await;
    match (scram, outcome) {
        // Crossbar.io 26 speaks Autobahn's `scram` prototype, not the spec's
        // `wamp-scram` this client implements: the router refuses the method.
        (Scram::Refused, Err(err)) => assert!(err.is_auth_rejection(), "scram: {err}"),
        (Scram::Accepted, Ok(session)) => {
            let details = session.details();
            assert_eq!(details.authid.as_deref(), Some(SCRAM_AUTHID));
            assert_eq!(details.authmethod.as_deref(), Some("wamp-scram"));
            assert_eq!(details.authrole.as_deref(), Some(AUTHENTICATED_ROLE));
            leave(&rt, &session).await;
            let wrong = JoinConfig::new(REALM).auth(Auth::scram(SCRAM_AUTHID, "not the password"));
            let err = refused(&rt, &transport, &wrong).await;
            assert!(err.is_auth_rejection(), "scram: {err}");
        }
        (scram, outcome) => panic!("scram {scram:?}: {outcome:?}"),
    }
    // No method at all on an authenticated-only transport.
    let err = refused(&rt, &transport, &JoinConfig::new(REALM)).await;
    assert!(matches!(err, ConnectError::Aborted { .. }), "{err}");
}

/// TLS (wss, rss) with the router's CA, the Unix socket, and connect failures.
pub async fn transports<R: Runtime>(rt: R, router: &Endpoints) {
    for url in [&router.wss, &router.rss] {
        let transport = TransportConfig::new(url)
            .expect("valid URL")
            .tls_roots_pem(router.ca_pem.as_bytes());
        let session = join(&rt, &transport, &JoinConfig::new(REALM)).await;
        let err = bounded(&rt, "call over TLS", session.call("test.tls.nothing"))
            .await
            .expect_err("no callee");
        assert_eq!(err.uri(), Some(&Uri::NO_SUCH_PROCEDURE));
        // Authentication works over TLS too.
        let ticket = JoinConfig::new(REALM).auth(Auth::ticket(TICKET_AUTHID, TICKET));
        let authenticated = join(&rt, &transport, &ticket).await;
        assert_eq!(
            authenticated.details().authid.as_deref(),
            Some(TICKET_AUTHID)
        );
        leave(&rt, &session).await;
        leave(&rt, &authenticated).await;
        // The system's roots do not know the harness CA.
        let untrusted = TransportConfig::new(url).expect("valid URL");
        match refused(&rt, &untrusted, &JoinConfig::new(REALM)).await {
            // The certificate error itself is kept as the source, not a string of it.
            ConnectError::Tls(source) => assert!(
                format!("{source:?}").contains("InvalidCertificate"),
                "{url} without the CA: {source:?}"
            ),
            other => panic!("{url} without the CA: {other:?}"),
        }
        // The CA is trusted, but the certificate is for another name.
        let wrong_name = TransportConfig::new(url)
            .expect("valid URL")
            .tls_roots_pem(router.ca_pem.as_bytes())
            .tls_server_name("not-the-router.example");
        match refused(&rt, &wrong_name, &JoinConfig::new(REALM)).await {
            ConnectError::Tls(source) => assert!(
                format!("{source:?}").contains("NotValidForName"),
                "{url} under another name: {source:?}"
            ),
            other => panic!("{url} under another name: {other:?}"),
        }
    }
    // Plain TCP to the TLS port: a clear error at once, not a hang or a session.
    let plain_url = router.wss.replacen("wss://", "ws://", 1);
    let plain = TransportConfig::new(&plain_url).expect("valid URL");
    let err = refused(&rt, &plain, &JoinConfig::new(REALM)).await;
    assert!(
        matches!(err, ConnectError::Transport(_) | ConnectError::Io(_)),
        "{plain_url}: {err:?}"
    );

    for serializer in SerializerKind::ALL {
        let transport = TransportConfig::new(&router.unix)
            .expect("valid URL")
            .serializer(serializer);
        let session = join(&rt, &transport, &JoinConfig::new(REALM)).await;
        let _reg = session
            .register(
                format!("test.unix.{serializer}"),
                |inv: Invocation| async move { Ok(Yield::from_payload(inv.payload().clone())) },
            )
            .await
            .expect("register over unix");
        let back: (String,) = bounded(
            &rt,
            "unix call",
            session
                .call(format!("test.unix.{serializer}"))
                .args(&("over unix",)),
        )
        .await
        .expect("unix call")
        .args()
        .expect("args");
        assert_eq!(back.0, "over unix");
        leave(&rt, &session).await;
    }

    let ws = TransportConfig::new(&router.ws).expect("valid URL");
    let err = refused(&rt, &ws, &JoinConfig::new("no.such.realm")).await;
    assert_eq!(err.abort_reason(), Some(&Uri::NO_SUCH_REALM), "{err}");
    assert!(!err.is_auth_rejection());
    // The session closes cleanly when the last handle goes: the router sees GOODBYE.
    let session = join(&rt, &ws, &JoinConfig::new(REALM)).await;
    let closed = session.closed();
    drop(session);
    assert!(matches!(
        bounded(&rt, "closed on drop", closed).await,
        CloseReason::Goodbye { local: true, .. }
    ));
}

/// Every case, once per runtime.
pub fn on_both_runtimes<F, Fut, G, GFut>(name: &str, tokio_case: F, async_std_case: G)
where
    F: FnOnce(wamp_tokio::TokioRuntime) -> Fut,
    Fut: Future<Output = ()>,
    G: FnOnce(wamp_async_std::AsyncStdRuntime) -> GFut,
    GFut: Future<Output = ()>,
{
    let started = Instant::now();
    on_tokio(tokio_case);
    let tokio_time = started.elapsed();
    async_std::task::block_on(async_std_case(wamp_async_std::AsyncStdRuntime));
    eprintln!(
        "{name}: tokio {tokio_time:?}, async-std {:?}",
        started.elapsed() - tokio_time
    );
}

/// A bare WebSocket client on `addr` (a TCP stream that has done the upgrade to `/ws`
/// with `wamp.2.json`), for tests that need a peer that misbehaves: it answers nothing
/// unless the test writes it.
pub async fn bare_websocket<R: Runtime>(
    rt: &R,
    addr: std::net::SocketAddr,
) -> wamp_tokio::BoxStream {
    use futures::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = rt
        .connect_tcp(addr.ip().to_string(), addr.port())
        .await
        .expect("connects");
    let upgrade = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: wamp.2.json\r\n\r\n"
    );
    stream
        .write_all(upgrade.as_bytes())
        .await
        .expect("upgrade sent");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream
            .read_exact(&mut byte)
            .await
            .expect("the response head");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

/// A bare RawSocket client on `addr` (a TCP stream that has sent the handshake for JSON
/// and a 16 MiB limit), with the router's 4-byte handshake reply, for tests that need a
/// peer that misbehaves.
pub async fn bare_rawsocket<R: Runtime>(
    rt: &R,
    addr: std::net::SocketAddr,
) -> (wamp_tokio::BoxStream, [u8; 4]) {
    use futures::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = rt
        .connect_tcp(addr.ip().to_string(), addr.port())
        .await
        .expect("connects");
    stream
        .write_all(&[0x7f, 0xf1, 0, 0])
        .await
        .expect("handshake sent");
    let mut reply = [0u8; 4];
    stream
        .read_exact(&mut reply)
        .await
        .expect("handshake reply");
    (stream, reply)
}

/// The transport of a bare client, which frames JSON messages by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bare {
    /// [`bare_websocket`], masked text frames ([`masked_text_frame`]).
    WebSocket,
    /// [`bare_rawsocket`], regular frames ([`rawsocket_frame`]).
    RawSocket,
}

/// A bare client on `addr` that has sent `messages`, one frame each, and reads nothing
/// unless the test does (a peer that joins and then stops reading, say).
pub async fn bare_client_that_sent<R: Runtime>(
    rt: &R,
    addr: std::net::SocketAddr,
    transport: Bare,
    messages: &[Value],
) -> wamp_tokio::BoxStream {
    use futures::io::AsyncWriteExt;
    let mut stream = match transport {
        Bare::WebSocket => bare_websocket(rt, addr).await,
        Bare::RawSocket => bare_rawsocket(rt, addr).await.0,
    };
    for message in messages {
        let frame = match transport {
            Bare::WebSocket => masked_text_frame(message),
            Bare::RawSocket => rawsocket_frame(message),
        };
        stream.write_all(&frame).await.expect("sent");
    }
    stream
}

/// `message` as JSON in one regular RawSocket frame.
pub fn rawsocket_frame(message: &Value) -> Vec<u8> {
    let payload = serde_json::to_vec(message).expect("JSON");
    let len = u32::try_from(payload.len()).expect("a small message");
    let mut frame = vec![0u8];
    frame.extend_from_slice(&len.to_be_bytes()[1..]);
    frame.extend_from_slice(&payload);
    frame
}

/// `message` as JSON in one masked text frame, as a client sends it (under 126 bytes).
pub fn masked_text_frame(message: &Value) -> Vec<u8> {
    let payload = serde_json::to_vec(message).expect("JSON");
    assert!(payload.len() < 126, "a short message");
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Runs `case` on a two-thread Tokio runtime, as `wamp router` runs on this machine.
pub fn on_two_threads<F: Future<Output = ()>>(case: impl FnOnce(wamp_tokio::TokioRuntime) -> F) {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    block_on_tokio(builder, case);
}

/// Runs `case` on a one-thread Tokio runtime.
pub fn on_tokio<F: Future<Output = ()>>(case: impl FnOnce(wamp_tokio::TokioRuntime) -> F) {
    block_on_tokio(tokio::runtime::Builder::new_current_thread(), case);
}

/// Runs `case` to completion on the runtime `builder` makes (with all its drivers).
fn block_on_tokio<F: Future<Output = ()>>(
    mut builder: tokio::runtime::Builder,
    case: impl FnOnce(wamp_tokio::TokioRuntime) -> F,
) {
    let tokio = builder.enable_all().build().expect("a tokio runtime");
    let rt = wamp_tokio::TokioRuntime::from_handle(tokio.handle().clone());
    tokio.block_on(case(rt));
}

/// A component transport on `url` that reconnects by `policy`.
pub fn retrying_transport(url: &str, policy: &RetryPolicy) -> TransportSpec {
    TransportSpec::new(TransportConfig::new(url).expect("url")).retry(policy.clone())
}

/// A component event handler that sends each event's one string argument to `tx`.
pub fn forward_string_events(
    tx: mpsc::UnboundedSender<String>,
) -> impl Fn(Event) -> std::future::Ready<()> + Send + Sync + 'static {
    move |event| {
        if let Ok((s,)) = event.args::<(String,)>() {
            let _ = tx.unbounded_send(s);
        }
        std::future::ready(())
    }
}

/// A component under test, built with the hooks by which it reports how it lost and
/// sought its router.
pub trait BuildReporting {
    /// Adds hooks that send each leave's reason URI to `left` and append each retry to
    /// `retries` (see [`record_retries`]), and builds the component.
    fn build_reporting(
        self,
        left: mpsc::UnboundedSender<String>,
        retries: &Arc<Mutex<Vec<Retry>>>,
    ) -> Component;
}

impl BuildReporting for ComponentBuilder {
    fn build_reporting(
        self,
        left: mpsc::UnboundedSender<String>,
        retries: &Arc<Mutex<Vec<Retry>>>,
    ) -> Component {
        self.on_leave(move |reason: &CloseReason| {
            let _ = left.unbounded_send(reason.uri().to_string());
        })
        .on_retry(record_retries(retries))
        .build()
        .expect("a valid component")
    }
}

/// Waits 1.5 s while the router is down and asserts that the component, whose `on_retry`
/// is [`record_retries`] into `retries`, has retried at least twice by then.
pub async fn assert_retries_while_down<R: Runtime>(rt: &R, retries: &Arc<Mutex<Vec<Retry>>>) {
    rt.sleep_until(Instant::now() + Duration::from_millis(1500))
        .await;
    let while_down = retries.lock().expect("retries").len();
    assert!(
        while_down >= 2,
        "retries while the router was down: {while_down}"
    );
}

/// A component `on_retry` hook that appends each retry to `retries`.
pub fn record_retries(retries: &Arc<Mutex<Vec<Retry>>>) -> impl Fn(&Retry) + Send + Sync + 'static {
    let retries = retries.clone();
    move |retry| retries.lock().expect("retries").push(*retry)
}

/// The environment variable `name` parsed as a `T`; `default` when it is unset or does
/// not parse.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Connects (bounded) where the router, or the way to it, must refuse the session; the
/// error.
pub async fn refused<R: Runtime>(
    rt: &R,
    transport: &TransportConfig,
    join: &JoinConfig,
) -> ConnectError {
    match bounded(
        rt,
        "a refused connect",
        wamp_runtime::connect(rt, transport, join),
    )
    .await
    {
        Ok(_) => panic!(
            "{}: joined, but the session should be refused",
            transport.endpoint
        ),
        Err(e) => e,
    }
}

/// Leaves `session` (bounded), and the router must answer the GOODBYE.
pub async fn leave<R: Runtime>(rt: &R, session: &Session) {
    bounded(rt, "leave", session.leave()).await.expect("leaves");
}

/// What `wamp.session.count` says (the asking session included).
pub async fn session_count(session: &Session) -> u64 {
    session
        .call("wamp.session.count")
        .await
        .expect("wamp.session.count")
        .first()
        .expect("a count")
}

/// The address of a `ws://HOST:PORT/...` or `rs://HOST:PORT` URL.
pub fn url_addr(url: &str) -> std::net::SocketAddr {
    url.split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|host_port| host_port.parse().ok())
        .unwrap_or_else(|| panic!("no address in {url}"))
}

/// Waits (bounded) until `router` counts `n` sessions.
pub async fn wait_for_sessions<R: Runtime>(
    rt: &R,
    router: &wamp_tokio::wamp_runtime::RouterHandle,
    n: usize,
) {
    bounded(rt, "the session count", async {
        while router.stats().await.sessions != n {
            rt.sleep_until(Instant::now() + Duration::from_millis(10))
                .await;
        }
    })
    .await;
}
