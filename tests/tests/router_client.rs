//! Our client (`wamp-runtime` through `wamp-tokio` and `wamp-async-std`) against our own
//! router (`wamp_runtime::RouterBuilder`), each on both runtimes: the same feature cases that
//! run against Crossbar.io in `client_crossbar.rs` (shared in `common/`), over
//! WebSocket, RawSocket, TLS (wss, rss), a Unix socket and in-process, all three
//! serializers, and caller and callee on different serializers; every authentication
//! method with the harness's principals, WAMP-SCRAM included (which Crossbar does not
//! speak); a slow consumer and an abrupt disconnect stall nobody else; shutdown ends
//! every session with GOODBYE `wamp.close.system_shutdown` and closes the listeners.
//!
//! Every router listens on 127.0.0.1 with ports the OS picks, and is shut down by the
//! case that started it.

mod common;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{
    authentication, bounded, join, on_both_runtimes, refused, rpc_and_pubsub, rpc_and_pubsub_over,
    transports, Endpoints, Scram,
};
use futures::future::{select, Either};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use serde_json::{json, Value};
use tempfile::TempDir;
use wamp_integration::credentials::*;
use wamp_integration::{TestPki, REALM};
use wamp_tokio::wamp_runtime::{
    self, Auth, BoxStream, CloseReason, ConnectError, CraSalt, Disclose, Invocation, JoinConfig,
    Limits, ListenerConfig, Permission, RealmConfig, RoleConfig, RouterBuilder, RouterConfig,
    RouterError, RouterHandle, Runtime, ScramKdf, SerializerKind, ServerOptions, ServerTls,
    TransportConfig, Uri, Yield,
};

/// The realm of the harness's Crossbar: roles `anonymous` and `authenticated`, both
/// allowed everything with callers and publishers disclosed, and the harness's static
/// principals (plus a WAMP-SCRAM one).
fn realm(anonymous: bool) -> RealmConfig {
    let everything = Permission::everything().disclose(Disclose {
        caller: true,
        publisher: true,
    });
    let salt = CraSalt {
        salt: WAMPCRA_SALT.into(),
        iterations: WAMPCRA_ITERATIONS,
        keylen: WAMPCRA_KEYLEN as usize,
    };
    let scram_kdf = ScramKdf::Argon2id13 {
        iterations: SCRAM_ITERATIONS,
        memory: SCRAM_MEMORY,
    };
    let realm = RealmConfig::new(REALM)
        .expect("a valid realm")
        .role(RoleConfig::new(ANONYMOUS_ROLE).permit(everything.clone()))
        .role(RoleConfig::new(AUTHENTICATED_ROLE).permit(everything))
        .ticket(TICKET_AUTHID, AUTHENTICATED_ROLE, TICKET)
        .wampcra(WAMPCRA_AUTHID, AUTHENTICATED_ROLE, WAMPCRA_SECRET)
        .wampcra_salted(
            WAMPCRA_SALTED_AUTHID,
            AUTHENTICATED_ROLE,
            WAMPCRA_SALTED_SECRET,
            salt,
        )
        .cryptosign(
            CRYPTOSIGN_AUTHID,
            AUTHENTICATED_ROLE,
            &[CRYPTOSIGN_PUBLIC_KEY_HEX],
        )
        .scram(SCRAM_AUTHID, AUTHENTICATED_ROLE, SCRAM_PASSWORD, scram_kdf);
    if anonymous {
        realm.allow_anonymous(ANONYMOUS_ROLE)
    } else {
        realm
    }
}

/// The two routers one runtime's cases run against, like the harness's Crossbar: one
/// with anonymous access (ws, rs, wss, rss, unix), one with static principals only
/// (ws, rs). A router's realm decides who may join, whatever the listener, so the
/// principals-only transports are a second router.
struct Routers {
    open: RouterHandle,
    auth: RouterHandle,
    endpoints: Endpoints,
    dir: TempDir,
}

impl Routers {
    async fn start<R: Runtime>(rt: &R) -> Routers {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let pki = TestPki::generate().expect("a test PKI");
        let cert = dir.path().join("server.pem");
        let key = dir.path().join("server.key");
        std::fs::write(&cert, &pki.cert_pem).expect("write the certificate");
        std::fs::write(&key, &pki.key_pem).expect("write the key");
        let tls = ServerTls::from_pem_files(&cert, &key).expect("TLS identity");
        let open = RouterBuilder::new(rt.clone(), RouterConfig::new().realm(realm(true)))
            .listen_ws("127.0.0.1:0", "/ws")
            .listen_rawsocket("127.0.0.1:0")
            .listen(ListenerConfig::websocket("127.0.0.1:0", "/ws").tls(tls.clone()))
            .listen(ListenerConfig::rawsocket("127.0.0.1:0").tls(tls))
            .listen_unix(dir.path().join("router.sock"))
            .start()
            .await
            .expect("the open router starts");
        let auth = RouterBuilder::new(rt.clone(), RouterConfig::new().realm(realm(false)))
            .listen_ws("127.0.0.1:0", "/ws")
            .listen_rawsocket("127.0.0.1:0")
            .start()
            .await
            .expect("the principals-only router starts");
        let url = |router: &RouterHandle, i: usize| {
            router.listeners()[i]
                .url()
                .expect("a listener with a client URL")
        };
        let endpoints = Endpoints {
            ws: url(&open, 0),
            rs: url(&open, 1),
            wss: url(&open, 2),
            rss: url(&open, 3),
            unix: url(&open, 4),
            ws_auth: url(&auth, 0),
            rs_auth: url(&auth, 1),
            ca_pem: pki.ca_pem,
        };
        Routers {
            open,
            auth,
            endpoints,
            dir,
        }
    }

    async fn shutdown<R: Runtime>(self, rt: &R) {
        bounded(rt, "shutdown", self.open.shutdown()).await;
        bounded(rt, "shutdown", self.auth.shutdown()).await;
        // The Unix socket file goes with the listener.
        assert!(!self.dir.path().join("router.sock").exists());
    }
}

/// Every RPC and pub/sub case over ws, rs and unix with each serializer, in-process,
/// and between sessions of different serializers and transports.
async fn rpc_and_pubsub_everywhere<R: Runtime>(rt: R, name: &str) {
    let routers = Routers::start(&rt).await;
    let e = &routers.endpoints;
    for serializer in SerializerKind::ALL {
        for (kind, url) in [("ws", &e.ws), ("rs", &e.rs), ("unix", &e.unix)] {
            let tag = format!("test.{name}.{kind}.{serializer}");
            rpc_and_pubsub_over(rt.clone(), url.clone(), serializer, tag).await;
        }
    }

    // In-process, both sessions without a socket.
    let callee = local(&rt, &routers.open, JoinConfig::new(REALM)).await;
    let caller = local(&rt, &routers.open, JoinConfig::new(REALM)).await;
    assert_eq!(caller.details().transport, "in-process");
    rpc_and_pubsub(rt.clone(), callee, caller, format!("test.{name}.local")).await;

    // Mixed: each pair of serializers, on different transports, and in-process against
    // a socket.
    let mixed = [
        (&e.ws, SerializerKind::Json, &e.rs, SerializerKind::Cbor),
        (&e.rs, SerializerKind::MsgPack, &e.ws, SerializerKind::Json),
        (
            &e.unix,
            SerializerKind::Cbor,
            &e.ws,
            SerializerKind::MsgPack,
        ),
    ];
    for (i, (callee_url, callee_ser, caller_url, caller_ser)) in mixed.into_iter().enumerate() {
        let callee = connect(&rt, callee_url, callee_ser).await;
        let caller = connect(&rt, caller_url, caller_ser).await;
        assert_eq!(
            (callee.serializer(), caller.serializer()),
            (callee_ser, caller_ser)
        );
        rpc_and_pubsub(rt.clone(), callee, caller, format!("test.{name}.mixed{i}")).await;
    }
    let callee = local(&rt, &routers.open, JoinConfig::new(REALM)).await;
    let caller = connect(&rt, &e.ws, SerializerKind::Json).await;
    assert_eq!(callee.serializer(), SerializerKind::MsgPack);
    rpc_and_pubsub(
        rt.clone(),
        callee,
        caller,
        format!("test.{name}.mixedlocal"),
    )
    .await;

    routers.shutdown(&rt).await;
}

/// Every authentication method, right and wrong, on both principals-only transports
/// and in-process.
async fn authentication_everywhere<R: Runtime>(rt: R) {
    let routers = Routers::start(&rt).await;
    let e = &routers.endpoints;
    for url in [&e.ws_auth, &e.rs_auth] {
        authentication(rt.clone(), url.clone(), Scram::Accepted).await;
    }
    // An in-process component authenticates like any client.
    let ticket = JoinConfig::new(REALM).auth(Auth::ticket(TICKET_AUTHID, TICKET));
    let session = local(&rt, &routers.auth, ticket).await;
    assert_eq!(session.details().authid.as_deref(), Some(TICKET_AUTHID));
    assert_eq!(
        session.details().authrole.as_deref(),
        Some(AUTHENTICATED_ROLE)
    );
    common::leave(&rt, &session).await;
    let wrong = JoinConfig::new(REALM).auth(Auth::ticket(TICKET_AUTHID, "wrong"));
    let err = bounded(&rt, "wrong ticket", routers.auth.connect_local(wrong))
        .await
        .expect_err("refused");
    assert!(err.is_auth_rejection(), "{err}");
    routers.shutdown(&rt).await;
}

/// TLS, the Unix socket and connect failures (the Crossbar cases), plus a wrong
/// WebSocket path.
async fn transports_and_failures<R: Runtime>(rt: R) {
    let routers = Routers::start(&rt).await;
    transports(rt.clone(), &routers.endpoints).await;
    // The session meta API reports each session's transport.
    let expected = [
        (&routers.endpoints.ws, "tcp", "websocket", "tcp4:127.0.0.1:"),
        (
            &routers.endpoints.rss,
            "tls",
            "rawsocket",
            "tcp4:127.0.0.1:",
        ),
        (&routers.endpoints.unix, "unix", "rawsocket", "unix"),
    ];
    for (url, channel, framing, peer) in expected {
        let transport = TransportConfig::new(url)
            .expect("valid URL")
            .serializer(SerializerKind::Cbor)
            .tls_roots_pem(routers.endpoints.ca_pem.as_bytes());
        let session = join(&rt, &transport, &JoinConfig::new(REALM)).await;
        let (details,): (Value,) = bounded(
            &rt,
            "wamp.session.get",
            session
                .call("wamp.session.get")
                .args(&(session.id().get(),)),
        )
        .await
        .expect("session details")
        .args()
        .expect("a dictionary");
        let t = &details["transport"];
        assert_eq!(t["channel_type"], json!(channel), "{details}");
        assert_eq!(t["channel_framing"], json!(framing), "{details}");
        assert_eq!(t["channel_serializer"], json!("cbor"), "{details}");
        let reported = t["peer"].as_str().unwrap_or_default();
        assert!(reported.starts_with(peer), "{details}");
        common::leave(&rt, &session).await;
    }
    let in_process = local(&rt, &routers.open, JoinConfig::new(REALM)).await;
    let (details,): (Value,) = bounded(
        &rt,
        "wamp.session.get",
        in_process
            .call("wamp.session.get")
            .args(&(in_process.id().get(),)),
    )
    .await
    .expect("session details")
    .args()
    .expect("a dictionary");
    assert_eq!(details["transport"]["channel_type"], json!("memory"));
    assert_eq!(details["transport"]["peer"], json!("process"));

    let wrong_path = routers.endpoints.ws.replace("/ws", "/nothing");
    let transport = TransportConfig::new(&wrong_path).expect("valid URL");
    let err = refused(&rt, &transport, &JoinConfig::new(REALM)).await;
    assert!(
        matches!(err, ConnectError::Transport(_)),
        "a wrong path: {err}"
    );
    assert!(err.to_string().contains("404"), "{err}");
    routers.shutdown(&rt).await;
}

/// A subscriber that stops reading its socket, and a callee that vanishes in the middle
/// of a call, while two other sessions keep calling each other.
async fn slow_consumer_and_abrupt_disconnect<R: Runtime>(rt: R) {
    // A short write deadline, so the slow consumer is found out quickly. The publisher
    // feeding it is held by backpressure meanwhile; the other sessions are not.
    let limits = Limits {
        write_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let config = RouterConfig::new().realm(realm(true)).limits(limits);
    let router = RouterBuilder::new(rt.clone(), config)
        .listen_ws("127.0.0.1:0", "/ws")
        .listen_rawsocket("127.0.0.1:0")
        .start()
        .await
        .expect("the router starts");
    let ws = router.listeners()[0].url().expect("a URL");
    let rs_addr = router.listeners()[1].addr.tcp().expect("a TCP address");

    let callee = connect(&rt, &ws, SerializerKind::Json).await;
    let caller = connect(&rt, &ws, SerializerKind::Cbor).await;
    let _echo = callee
        .register("test.busy.echo", |inv: Invocation| async move {
            Ok(Yield::from_payload(inv.payload().clone()))
        })
        .await
        .expect("register");
    let publisher = local(&rt, &router, JoinConfig::new(REALM)).await;

    // The slow consumer subscribes, then never reads again.
    let mut slow = RawClient::connect(&rt, rs_addr).await;
    slow.join().await;
    slow.send(json!([32, 1, {}, "test.busy.flood"])).await;
    assert_eq!(slow.recv().await[0], json!(33), "SUBSCRIBED");
    assert_eq!(router.stats().await.sessions, 4);

    // Flood it; the other sessions' calls stay quick all along.
    let chunk = "x".repeat(64 * 1024);
    let started = Instant::now();
    let mut published = 0;
    let mut slowest_call = Duration::ZERO;
    while router.stats().await.sessions == 4 {
        assert!(published < 5000, "the slow consumer was never closed");
        bounded(
            &rt,
            "publish",
            publisher
                .publish("test.busy.flood")
                .args(&(&chunk,))
                .acknowledge(true),
        )
        .await
        .expect("published");
        published += 1;
        if published % 16 == 0 {
            let call_started = Instant::now();
            let (n,): (u32,) = quick(
                &rt,
                "a call beside the flood",
                caller.call("test.busy.echo").args(&(published,)),
            )
            .await
            .expect("echo")
            .args()
            .expect("args");
            assert_eq!(n, published);
            slowest_call = slowest_call.max(call_started.elapsed());
        }
    }
    eprintln!(
        "slow consumer closed after {published} events of 64 KiB in {:?}; slowest call beside it {slowest_call:?}",
        started.elapsed()
    );
    // Its connection is dropped: what it had buffered, then ABORT saying why, then the
    // end (it reads again within the router's close timeout, so the ABORT reaches it).
    let mut drained = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = bounded(&rt, "the slow consumer's end", slow.stream.read(&mut buf))
            .await
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        drained.extend_from_slice(&buf[..n]);
    }
    let mut frames = Vec::new();
    let mut rest = &drained[..];
    while rest.len() >= 4 {
        let len = u32::from_be_bytes([0, rest[1], rest[2], rest[3]]) as usize;
        assert!(rest.len() >= 4 + len, "a whole frame");
        frames.push(&rest[4..4 + len]);
        rest = &rest[4 + len..];
    }
    let last: Value = serde_json::from_slice(frames.last().expect("frames")).expect("JSON");
    assert_eq!(last[0], json!(3), "ABORT last: {last}");
    assert_eq!(last[2], json!("wamp.close.slow_consumer"), "{last}");
    assert!(frames.len() > 2, "events before it");

    // A callee that vanishes (no GOODBYE) while a call waits for it.
    let mut vanishing = RawClient::connect(&rt, rs_addr).await;
    vanishing.join().await;
    vanishing
        .send(json!([64, 1, {}, "test.busy.vanishing"]))
        .await;
    assert_eq!(vanishing.recv().await[0], json!(65), "REGISTERED");
    let call = caller.call("test.busy.vanishing").into_future();
    let invocation = async {
        let message = vanishing.recv().await;
        assert_eq!(message[0], json!(68), "INVOCATION");
        drop(vanishing);
    };
    let err = match bounded(
        &rt,
        "the vanishing callee",
        select(call, Box::pin(invocation)),
    )
    .await
    {
        Either::Left((outcome, _)) => panic!("the call ended first: {outcome:?}"),
        Either::Right(((), call)) => quick(&rt, "the orphaned call", call)
            .await
            .expect_err("the callee is gone"),
    };
    assert_eq!(err.uri(), Some(&Uri::CANCELED), "{err}");
    // Everyone else carries on.
    let (n,): (u32,) = quick(
        &rt,
        "a call after",
        caller.call("test.busy.echo").args(&(7,)),
    )
    .await
    .expect("echo")
    .args()
    .expect("args");
    assert_eq!(n, 7);
    assert_eq!(router.stats().await.sessions, 3);
    bounded(&rt, "shutdown", router.shutdown()).await;
}

/// Shutdown: every session, on every transport, gets GOODBYE
/// `wamp.close.system_shutdown`; connections without a session are closed; the
/// listeners close; in-process sessions are refused from then on.
async fn shutdown_ends_every_session<R: Runtime>(rt: R) {
    let routers = Routers::start(&rt).await;
    let e = &routers.endpoints;
    let sessions = [
        connect(&rt, &e.ws, SerializerKind::Json).await,
        connect(&rt, &e.rs, SerializerKind::Cbor).await,
        connect(&rt, &e.unix, SerializerKind::MsgPack).await,
        local(&rt, &routers.open, JoinConfig::new(REALM)).await,
    ];
    let closed: Vec<_> = sessions.iter().map(|s| s.closed()).collect();
    // A connection that has not said HELLO, and one that has not even finished its
    // RawSocket handshake.
    let rs_addr = routers.open.listeners()[1]
        .addr
        .tcp()
        .expect("a TCP address");
    let mut no_hello = RawClient::connect(&rt, rs_addr).await;
    let mut silent = rt
        .connect_tcp("127.0.0.1".into(), rs_addr.port())
        .await
        .expect("connects");
    let ws_addr = routers.open.local_addr().expect("a TCP listener");
    assert_eq!(Some(ws_addr), routers.open.listeners()[0].addr.tcp());

    let started = Instant::now();
    bounded(&rt, "shutdown", routers.open.shutdown()).await;
    eprintln!("shutdown took {:?}", started.elapsed());
    for (closed, session) in closed.into_iter().zip(&sessions) {
        match bounded(&rt, "closed", closed).await {
            CloseReason::Goodbye { reason, local, .. } => {
                assert_eq!(reason, Uri::CLOSE_SYSTEM_SHUTDOWN, "{session:?}");
                assert!(!local, "{session:?}");
            }
            other => panic!("{session:?}: {other:?}"),
        }
    }
    let mut buf = [0u8; 16];
    let n = bounded(&rt, "no HELLO", no_hello.stream.read(&mut buf)).await;
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    let n = bounded(&rt, "no handshake", silent.read(&mut buf)).await;
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    // The listener is closed, and in-process sessions are refused.
    let refused = rt
        .connect_tcp("127.0.0.1".into(), ws_addr.port())
        .await
        .map(|_| ());
    assert!(refused.is_err(), "the listener still accepts");
    let err = bounded(
        &rt,
        "local after shutdown",
        routers.open.connect_local(JoinConfig::new(REALM)),
    )
    .await
    .expect_err("refused");
    assert_eq!(
        err.abort_reason(),
        Some(&Uri::CLOSE_SYSTEM_SHUTDOWN),
        "{err}"
    );
    // Shutting down again is harmless.
    bounded(&rt, "shutdown again", routers.open.shutdown()).await;

    // Dropping every handle shuts a router down too.
    let stopped = routers.auth.stopped();
    let auth_addr = routers.auth.local_addr().expect("a TCP listener");
    let Routers { auth, dir, .. } = routers;
    drop(auth);
    bounded(&rt, "stopped on drop", stopped).await;
    let refused = rt
        .connect_tcp("127.0.0.1".into(), auth_addr.port())
        .await
        .map(|_| ());
    assert!(refused.is_err(), "the listener still accepts");
    drop(dir);
}

/// The connection limit (RawSocket error 4, HTTP 503), and WebSocket over a Unix
/// socket (which has no client URL: the upgrade is made by hand).
async fn connection_limit_and_unix_websocket<R: Runtime>(rt: R) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ws_socket = dir.path().join("ws.sock");
    // A stale socket file from an earlier run is replaced.
    drop(std::os::unix::net::UnixListener::bind(&ws_socket).expect("a socket file"));
    assert!(ws_socket.exists());
    let mut options = ServerOptions::default();
    options.max_connections = 1;
    let router = RouterBuilder::new(rt.clone(), RouterConfig::new().realm(realm(true)))
        .listen_ws("127.0.0.1:0", "/ws")
        .listen_rawsocket("127.0.0.1:0")
        .listen(ListenerConfig::unix_websocket(&ws_socket, "/ws"))
        .options(options)
        .start()
        .await
        .expect("the router starts");
    assert_eq!(router.listeners()[2].url(), None);
    let ws = router.listeners()[0].url().expect("a URL");
    let rs_addr = router.listeners()[1].addr.tcp().expect("a TCP address");

    let first = connect(&rt, &ws, SerializerKind::Json).await;
    let mut raw = rt
        .connect_tcp("127.0.0.1".into(), rs_addr.port())
        .await
        .expect("connects");
    raw.write_all(&[0x7f, 0xf1, 0, 0]).await.expect("sent");
    let mut reply = [0u8; 4];
    bounded(&rt, "refusal", raw.read_exact(&mut reply))
        .await
        .expect("a handshake reply");
    assert_eq!(reply, [0x7f, 0x40, 0, 0], "error 4: too many connections");
    let transport = TransportConfig::new(&ws).expect("valid URL");
    let err = refused(&rt, &transport, &JoinConfig::new(REALM)).await;
    assert!(err.to_string().contains("503"), "{err}");
    drop(raw);
    common::leave(&rt, &first).await;

    // Once the first connection is gone, the upgrade over the Unix socket succeeds.
    let request = "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
                   Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                   Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n";
    let started = Instant::now();
    let response = loop {
        let mut stream = rt.connect_unix(ws_socket.clone()).await.expect("connects");
        stream.write_all(request.as_bytes()).await.expect("sent");
        let mut response = Vec::new();
        let mut byte = [0u8; 1];
        while !response.ends_with(b"\r\n\r\n") {
            let n = bounded(&rt, "upgrade response", stream.read(&mut byte))
                .await
                .expect("read");
            if n == 0 {
                break;
            }
            response.push(byte[0]);
        }
        let response = String::from_utf8_lossy(&response).into_owned();
        if !response.starts_with("HTTP/1.1 503") || started.elapsed() > QUICK {
            break response;
        }
        rt.sleep_until(Instant::now() + Duration::from_millis(10))
            .await;
    };
    assert!(response.starts_with("HTTP/1.1 101"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("sec-websocket-protocol: wamp.2.json"),
        "{response}"
    );
    // A live socket, or a port in use, is not taken over.
    for taken in [
        ListenerConfig::unix(&ws_socket),
        ListenerConfig::rawsocket(rs_addr.to_string()),
    ] {
        let err = RouterBuilder::new(rt.clone(), RouterConfig::new())
            .listen(taken)
            .start()
            .await
            .expect_err("in use");
        assert!(matches!(err, RouterError::Bind { .. }), "{err}");
    }
    bounded(&rt, "shutdown", router.shutdown()).await;
    assert!(!ws_socket.exists());
}

// ---- helpers ------------------------------------------------------------------------

/// How long a call may take while the router is busy with a slow consumer.
const QUICK: Duration = Duration::from_secs(2);

/// Like [`bounded`], with the much shorter [`QUICK`] limit: nothing may stall.
async fn quick<R: Runtime, T>(rt: &R, what: &str, future: impl IntoFuture<Output = T>) -> T {
    let deadline = rt.sleep_until(Instant::now() + QUICK);
    match select(std::pin::pin!(future.into_future()), deadline).await {
        Either::Left((value, _)) => value,
        Either::Right(_) => panic!("{what}: stalled for {QUICK:?}"),
    }
}

async fn connect<R: Runtime>(
    rt: &R,
    url: &str,
    serializer: SerializerKind,
) -> wamp_runtime::Session {
    let transport = TransportConfig::new(url)
        .expect("valid URL")
        .serializer(serializer);
    join(rt, &transport, &JoinConfig::new(REALM)).await
}

async fn local<R: Runtime>(
    rt: &R,
    router: &RouterHandle,
    join: JoinConfig,
) -> wamp_runtime::Session {
    bounded(rt, "connect_local", router.connect_local(join))
        .await
        .expect("an in-process session")
}

/// A bare RawSocket JSON client written by hand, to misbehave: stop reading, vanish.
struct RawClient {
    stream: BoxStream,
}

impl RawClient {
    async fn connect<R: Runtime>(rt: &R, addr: SocketAddr) -> RawClient {
        // Magic, 16 MiB limit and JSON; the router answers in kind.
        let (stream, reply) = common::bare_rawsocket(rt, addr).await;
        assert_eq!((reply[0], reply[1] & 0x0f), (0x7f, 1), "{reply:?}");
        RawClient { stream }
    }

    async fn join(&mut self) {
        let roles = json!({"subscriber": {}, "callee": {}});
        self.send(json!([1, REALM, {"roles": roles}])).await;
        assert_eq!(self.recv().await[0], json!(2), "WELCOME");
    }

    async fn send(&mut self, message: Value) {
        let frame = common::rawsocket_frame(&message);
        self.stream.write_all(&frame).await.expect("sent");
    }

    async fn recv(&mut self) -> Value {
        let mut header = [0u8; 4];
        self.stream
            .read_exact(&mut header)
            .await
            .expect("a frame header");
        assert_eq!(header[0], 0, "a regular frame");
        let len = u32::from_be_bytes([0, header[1], header[2], header[3]]);
        let mut payload = vec![0u8; len as usize];
        self.stream.read_exact(&mut payload).await.expect("a frame");
        serde_json::from_slice(&payload).expect("JSON")
    }
}

// ---- the tests ----------------------------------------------------------------------

#[test]
fn rpc_and_pubsub_on_every_transport_serializer_and_mix() {
    on_both_runtimes(
        "rpc and pub/sub",
        |rt| rpc_and_pubsub_everywhere(rt, "tokio"),
        |rt| rpc_and_pubsub_everywhere(rt, "asyncstd"),
    );
}

#[test]
fn authentication_with_the_harness_principals() {
    on_both_runtimes(
        "authentication",
        authentication_everywhere,
        authentication_everywhere,
    );
}

#[test]
fn tls_unix_and_connect_failures() {
    on_both_runtimes(
        "TLS, Unix socket, failures",
        transports_and_failures,
        transports_and_failures,
    );
}

#[test]
fn a_slow_consumer_or_an_abrupt_disconnect_stalls_nobody() {
    on_both_runtimes(
        "slow consumer, abrupt disconnect",
        slow_consumer_and_abrupt_disconnect,
        slow_consumer_and_abrupt_disconnect,
    );
}

#[test]
fn shutdown_ends_sessions_with_system_shutdown() {
    on_both_runtimes(
        "shutdown",
        shutdown_ends_every_session,
        shutdown_ends_every_session,
    );
}

#[test]
fn the_connection_limit_and_websocket_on_a_unix_socket() {
    on_both_runtimes(
        "connection limit, unix websocket",
        connection_limit_and_unix_websocket,
        connection_limit_and_unix_websocket,
    );
}

#[test]
fn the_runtime_crates_build_routers() {
    let config = || RouterConfig::new().realm(realm(true));
    on_both_runtimes(
        "Router::builder",
        |rt| async move {
            let router = wamp_tokio::Router::builder(config())
                .listen_ws("127.0.0.1:0", "/ws")
                .start()
                .await
                .expect("starts");
            let url = router.listeners()[0].url().expect("a URL");
            let session = connect(&rt, &url, SerializerKind::Json).await;
            common::leave(&rt, &session).await;
            bounded(&rt, "shutdown", router.shutdown()).await;
        },
        |rt| async move {
            let router = wamp_async_std::Router::builder(config())
                .listen_rawsocket("127.0.0.1:0")
                .start()
                .await
                .expect("starts");
            let url = router.listeners()[0].url().expect("a URL");
            let session = connect(&rt, &url, SerializerKind::Cbor).await;
            common::leave(&rt, &session).await;
            bounded(&rt, "shutdown", router.shutdown()).await;
        },
    );
}
