//! Our own router, run as a user runs it (`wamp router --config FILE`), proven with the
//! Autobahn interop suites (`tests/interop/ab_suite.py`, `tests/interop/abjs_suite.mjs`)
//! that `suites_crossbar.rs` proves against Crossbar.io: every check must pass (there is
//! no known failure), over WebSocket with JSON, MessagePack and CBOR and over RawSocket,
//! with every authentication method right and wrong (WAMP-SCRAM included: our router
//! speaks the spec's, and the Python suite has a client for it), the authorization
//! refusals, the meta API and every cancel mode. SIGTERM must then stop the router with
//! exit code 0 within a few seconds, Autobahn|Python sessions still joined being told
//! goodbye (`wamp.close.system_shutdown`).
//!
//! Then the command itself: `--realm` repeated, a `[tls]` table serving `wss://` and
//! `rss://` (with a connected session when the router is stopped), and bad config files
//! (exit 2, before anything listens, with a message that names the problem).
//!
//! The `wamp` executable comes from `cargo build --workspace --bin wamp` run by this test
//! (a no-op when `cargo test --workspace --all-targets` has just built it); cargo's JSON
//! messages name it, so the target directory and profile are cargo's own. Every process
//! is bounded in time and stopped by its pid. The whole file takes a few seconds once the
//! binary is built (each suite about 1.5 s against our router).

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use wamp_integration::autobahn::{Callee, Peer, Serializer};
use wamp_integration::ports::free_ports;
use wamp_integration::suites::{
    run_js_suite, run_python_suite, tally, wamp_router_config, AuthMethod, Check, SuiteTarget,
    ALLOW_EVERYTHING,
};
use wamp_integration::wamp_cli::{
    finish, run_wamp, spawn_piped, wamp_binary, RouterProcess, CLIENT_LIMIT, STOP_LIMIT,
};
use wamp_integration::{TestPki, REALM, TLS_SERVER_NAME};

/// The suites' view of that router: both listeners anonymous and for the principals.
fn suites_target(urls: &[String]) -> SuiteTarget {
    let pick = |scheme: &str| -> Vec<String> {
        urls.iter()
            .filter(|url| url.starts_with(scheme))
            .cloned()
            .collect()
    };
    let mut target = SuiteTarget::new(REALM);
    target.ws_urls = pick("ws://");
    target.rawsocket_urls = pick("rs://");
    assert_eq!(
        (target.ws_urls.len(), target.rawsocket_urls.len()),
        (1, 1),
        "{urls:?}"
    );
    target.auth_urls = [target.ws_urls.clone(), target.rawsocket_urls.clone()].concat();
    // Our router speaks the spec's WAMP-SCRAM.
    target = target.with_harness_principals(AuthMethod::WampScram);
    // Bounds for the whole test: the suites start no check after their deadline.
    target.deadline = Duration::from_secs(30);
    target
}

/// Asserts that a sample of checks ran (each kind of endpoint, the groups issue 6 names):
/// a suite given too few arguments skips checks and still reports no failure.
fn assert_coverage(suite: &str, checks: &[Check], expected: &[&str]) {
    for name in expected {
        assert!(
            checks.iter().any(|c| c.name == *name),
            "{suite} ran no check {name}"
        );
    }
}

#[test]
fn autobahn_python_and_js_suites_pass_against_wamp_router() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ports = free_ports(2).expect("free ports");
    let config = dir.path().join("router.toml");
    std::fs::write(&config, wamp_router_config(ports[0], ports[1])).expect("write the config");
    let (router, urls) = RouterProcess::start(&["--config", &config.to_string_lossy()]);
    let target = suites_target(&urls);
    let mut complaints = Vec::new();

    // One suite after the other: the meta API checks count sessions.
    let started = Instant::now();
    let run = run_python_suite(&target);
    // No known failures: every check must pass against our router.
    if let Some(checks) = tally("ab_suite.py", run, started, &[], &mut complaints) {
        assert_coverage(
            "ab_suite.py",
            &checks,
            &[
                "rpc.cancel.skip@ws/json",
                "rpc.cancel.kill@ws/msgpack",
                "rpc.cancel.killnowait@ws/cbor",
                "rpc.progressive@rs/cbor",
                "pubsub.eligible_authid@rs/json",
                "meta.session.on_leave",
                "authz.publish_denied",
                "auth.wamp-scram.right@ws",
                "auth.wamp-scram.wrong@rs",
                "auth.cryptosign.bad_signature@rs",
                "auth.wampcra-salted.wrong@ws",
            ],
        );
    }

    let started = Instant::now();
    let run = run_js_suite(&target);
    if let Some(checks) = tally("abjs_suite.mjs", run, started, &[], &mut complaints) {
        assert_coverage(
            "abjs_suite.mjs",
            &checks,
            &[
                "rpc.progressive@ws/msgpack",
                "pubsub.publisher_disclosure@ws/cbor",
                "rpc.caller_disclosure@rs/json",
                "auth.cryptosign.bad_signature@rs",
                "auth.wampcra-salted.wrong@ws",
                "authz.register_denied",
                "meta.session.get",
            ],
        );
    }

    // Autobahn|Python sessions still joined when the router stops are told goodbye
    // (`wamp.close.system_shutdown`), answer it, and the router exits without waiting
    // out its goodbye timeout.
    let callees: Vec<Callee> = [
        Peer::new(target.ws_urls[0].clone(), Serializer::Cbor),
        Peer::new(target.rawsocket_urls[0].clone(), Serializer::MsgPack),
    ]
    .iter()
    .enumerate()
    .map(|(i, peer)| {
        Callee::start(peer, &format!("com.example.stay{i}"), None).expect("an Autobahn callee")
    })
    .collect();
    let asked = Instant::now();
    let log = router.stop();
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "Autobahn's answers to GOODBYE did not end the shutdown early"
    );
    for callee in callees {
        let finished = callee.finish(STOP_LIMIT).expect("the callee ends");
        let left = finished
            .stdout
            .iter()
            .find(|line| line.starts_with("LEFT "))
            .cloned()
            .unwrap_or_default();
        assert!(left.contains("wamp.close.system_shutdown"), "{finished:?}");
    }
    assert!(
        complaints.is_empty(),
        "{} problem(s):\n{}\n--- wamp router ---\n{log}",
        complaints.len(),
        complaints.join("\n")
    );
}

/// `--realm` twice: both realms are served (anonymously), and no other.
#[test]
fn wamp_router_serves_each_realm_flag() {
    let ports = free_ports(1).expect("a free port");
    let ws = format!("127.0.0.1:{}", ports[0]);
    let (router, urls) = RouterProcess::start(&[
        "--ws",
        &ws,
        "--rawsocket",
        "",
        "--realm",
        "com.one",
        "--realm",
        "com.two",
    ]);
    assert_eq!(urls, [format!("ws://{ws}/ws")]);
    for realm in ["com.one", "com.two"] {
        let out = run_wamp(&["call", &urls[0], "--realm", realm, "wamp.session.count"]);
        assert_eq!(out.status.code(), Some(0), "{realm}: {out:?}");
        // The calling session itself.
        assert_eq!(out.stdout.trim(), r#"{"args":[1],"kwargs":{}}"#, "{out:?}");
    }
    // The default realm1 is not served once realms are named.
    let out = run_wamp(&["call", &urls[0], "--realm", "realm1", "wamp.session.count"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(out.stderr.contains("no_such_realm"), "{out:?}");
    router.stop();
}

/// A `[tls]` table serves `wss://` and `rss://`; a client that trusts the test CA joins
/// through both. SIGTERM with a session still connected stops the router gracefully
/// (that session is told goodbye and ends).
#[test]
fn wamp_router_serves_tls_from_its_config() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pki = TestPki::generate().expect("test certificates");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write a test file");
        path.to_string_lossy().into_owned()
    };
    let ca = write("ca.pem", &pki.ca_pem);
    let cert = write("server.pem", &pki.cert_pem);
    let key = write("server.key", &pki.key_pem);
    let ports = free_ports(2).expect("free ports");
    let config = write(
        "router.toml",
        &format!(
            r#"
[listen]
ws = ""
rawsocket = ""
wss = "127.0.0.1:{}"
rss = "127.0.0.1:{}"

[tls]
certificate = "{cert}"
key = "{key}"

[[realms]]
name = "{REALM}"
[[realms.roles]]
name = "anonymous"
permissions = {ALLOW_EVERYTHING}
[realms.auth.anonymous]
role = "anonymous"
"#,
            ports[0], ports[1]
        ),
    );
    let (router, urls) = RouterProcess::start(&["--config", &config]);
    let expected = [
        format!("wss://127.0.0.1:{}/ws", ports[0]),
        format!("rss://127.0.0.1:{}", ports[1]),
    ];
    assert_eq!(urls, expected, "only the TLS listeners");

    // A subscriber stays connected over rss:// while the router is stopped.
    let rss = format!("rss://{TLS_SERVER_NAME}:{}", ports[1]);
    let subscriber = spawn_piped(
        Command::new(wamp_binary())
            .args(["subscribe", &rss, "--ca", &ca, "com.example.tls"])
            .env_remove("RUST_LOG"),
        &[],
    )
    .expect("spawn wamp subscribe");

    let wss = format!("wss://{TLS_SERVER_NAME}:{}/ws", ports[0]);
    // Once the subscriber has joined, there are two sessions.
    let deadline = Instant::now() + CLIENT_LIMIT;
    loop {
        let out = run_wamp(&["call", &wss, "--ca", &ca, "wamp.session.count"]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        if out.stdout.trim() == r#"{"args":[2],"kwargs":{}}"# {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the subscriber never joined: {out:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
    // Without the CA the certificate is refused.
    let out = run_wamp(&["call", &wss, "wamp.session.count"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");

    router.stop();
    // The router's GOODBYE ends the subscriber's session, and so the command.
    let out = finish(subscriber, STOP_LIMIT, "wamp subscribe");
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert!(out.stderr.contains("wamp.close.system_shutdown"), "{out:?}");
}

/// A config file that cannot be used: exit 2 and a message naming the file and the
/// problem, before anything listens.
#[test]
fn wamp_router_refuses_bad_config_files() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("missing.toml", None, "missing.toml: No such file"),
        ("syntax.toml", Some("[listen\nws = 1"), "syntax.toml: TOML parse error"),
        (
            "unknown.toml",
            Some("[listen]\nwebsocket = \"127.0.0.1:1\"\n"),
            "unknown field `websocket`",
        ),
        (
            "realm.toml",
            Some("[[realms]]\nname = \"bad..realm\"\n"),
            "\"bad..realm\" is not a valid URI",
        ),
        (
            "role.toml",
            Some("[[realms]]\nname = \"r\"\n[[realms.auth.ticket]]\nauthid = \"a\"\nrole = \"nobody\"\nticket = \"t\"\n"),
            "uses role \"nobody\", which the realm does not define",
        ),
        (
            "tls.toml",
            Some("[listen]\nwss = \"127.0.0.1:1\"\n"),
            "need a [tls] table",
        ),
        (
            "certs.toml",
            Some("[tls]\ncertificate = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n"),
            "[tls]",
        ),
    ];
    for (name, text, needle) in cases {
        let path = dir.path().join(name);
        if let Some(text) = text {
            std::fs::write(&path, text).expect("write a config file");
        }
        // Listeners on port 0 so a config that slipped through could not collide.
        let out = run_wamp(&[
            "router",
            "--ws",
            "127.0.0.1:0",
            "--rawsocket",
            "",
            "--config",
            &path.to_string_lossy(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{name}: {out:?}");
        assert!(
            out.stderr.contains(needle),
            "{name}: no {needle:?} in {out:?}"
        );
        assert!(!out.stderr.contains("listening on"), "{name}: {out:?}");
    }
}

/// `--check` reads a config of either kind, builds the router without binding, prints
/// what it would serve and exits 0; a config that cannot work exits 2 with every problem
/// named by its path, and nothing listens either way.
#[test]
fn wamp_router_check_prints_what_a_config_serves() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let good = dir.path().join("config.json");
    std::fs::write(
        &good,
        r#"{"version": 2, "controller": {}, "workers": [{"type": "router",
            "realms": [{"name": "realm1", "roles": [{"name": "anonymous", "permissions": [{"uri": "", "match": "prefix", "allow": {"call": true}}]}]}],
            "transports": [
              {"type": "rawsocket", "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": 1}},
              {"type": "websocket", "endpoint": {"type": "tcp", "interface": "127.0.0.1", "port": 2},
               "auth": {"ticket": {"type": "static", "principals": {"joe": {"ticket": "t", "role": "nobody"}}}}}]}]}"#,
    )
    .expect("write a config file");
    let out = run_wamp(&["router", "--check", &good.to_string_lossy()]);
    // The ticket principal's role is not on realm1; that is refused when joining (a
    // transport's principals may join any realm), not by the check.
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    for line in [
        "listener rs://127.0.0.1:1 (cbor, msgpack, json)\n  auth: anonymous as \"anonymous\"",
        "listener ws://127.0.0.1:2 (cbor, msgpack, json)\n  auth: ticket (1 principal)",
        "realm realm1: roles anonymous; meta API",
        "warning: config.controller: ignored",
        "config.json: OK",
    ] {
        assert!(out.stdout.contains(line), "no {line:?} in {out:?}");
    }
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"version": 2, "workers": [{"type": "router",
            "realms": [{"name": "realm1", "roles": [{"name": "user", "permissions": [{"uri": "com.", "validate": {"call": "int"}}]}]}],
            "transports": [{"type": "rawsocket", "endpoint": {"type": "tcp", "port": 1},
                            "auth": {"wampcra": {"type": "function", "create": "authenticate.create"}}}]}]}"#,
    )
    .expect("write a config file");
    let out = run_wamp(&["router", "--check", &bad.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    for needle in [
        "workers[0].realms[0].roles[0].permissions[0].validate: not supported",
        "workers[0].transports[0].auth.wampcra: not supported",
    ] {
        assert!(out.stderr.contains(needle), "no {needle:?} in {out:?}");
    }
}

/// `--metrics ADDR`: the Prometheus metrics over HTTP, following what clients did.
#[test]
fn wamp_router_serves_metrics_over_http() {
    use std::io::{Read, Write};
    let (router, urls) = RouterProcess::start(&[
        "--ws",
        "127.0.0.1:0",
        "--rawsocket",
        "",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let ws = urls
        .iter()
        .find(|u| u.starts_with("ws://"))
        .expect("a WebSocket listener");
    let metrics = urls
        .iter()
        .find_map(|u| u.strip_prefix("http://")?.strip_suffix(" (HTTP only)"))
        .expect("the metrics listener");
    let out = run_wamp(&["call", ws, "com.example.nobody"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let mut stream = std::net::TcpStream::connect(metrics).expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let _ = router.stop();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("Content-Type: text/plain; version=0.0.4"),
        "{response}"
    );
    for line in [
        "wamp_router_sessions_joined_total 1",
        "wamp_router_messages_received_total{type=\"CALL\"} 1",
        "wamp_router_messages_sent_total{type=\"ERROR\"} 1",
        "wamp_router_sessions{realm=\"realm1\"} 0",
    ] {
        assert!(
            response.lines().any(|l| l == line),
            "no {line:?} in\n{response}"
        );
    }
}
