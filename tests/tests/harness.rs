//! The harness itself, proven against the real peers: Crossbar.io starts on free ports and
//! stops without leaving processes, Autobahn|Python callers and callees talk through
//! every transport (WebSocket with json/msgpack/cbor, RawSocket over TCP and a Unix
//! socket, TLS), the static principals authenticate, and a restart keeps the ports.
//!
//! Each test starts its own router (about 3 s); the Python peers take about a second each.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wamp_integration::autobahn::{self, Auth, CallOutcome, Callee, Peer, Serializer};
use wamp_integration::credentials::*;
use wamp_integration::{pids_using_dir, Crossbar, CrossbarOptions};

/// Bound of one call through ab_caller.py.
const CALL_LIMIT: Duration = Duration::from_secs(20);
/// Bound of waiting for one invocation at a callee.
const INVOCATION_LIMIT: Duration = Duration::from_secs(20);

fn start(options: CrossbarOptions) -> Crossbar {
    let started = Instant::now();
    let router = match Crossbar::start(options) {
        Ok(router) => router,
        Err(e) => panic!("{e}"),
    };
    eprintln!(
        "crossbar up in {:?} (transports accepting after {:?}), cbdir {}",
        started.elapsed(),
        router.startup_time(),
        router.cbdir().display()
    );
    router
}

/// Unwraps a harness result; on error, prints the router's log first.
fn check<T>(router: &Crossbar, result: wamp_integration::Result<T>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => {
            router.print_log();
            panic!("{e}");
        }
    }
}

/// Starts an ab_callee.py that serves `procedure` at `url` until it is stopped.
fn start_callee(router: &Crossbar, url: String, serializer: Serializer, procedure: &str) -> Callee {
    check(
        router,
        Callee::start(&Peer::new(url, serializer), procedure, None),
    )
}

/// Calls `procedure` through ab_caller.py without arguments.
fn call_bare(peer: &Peer, procedure: &str) -> wamp_integration::Result<CallOutcome> {
    autobahn::call(peer, procedure, &json!([]), &json!({}), CALL_LIMIT)
}

/// Calls through ab_caller.py and expects a RESULT; returns (args, kwargs).
fn call_ok(
    router: &Crossbar,
    peer: &Peer,
    procedure: &str,
    args: Value,
    kwargs: Value,
) -> (Vec<Value>, serde_json::Map<String, Value>) {
    let outcome = check(
        router,
        autobahn::call(peer, procedure, &args, &kwargs, CALL_LIMIT),
    );
    match outcome {
        CallOutcome::Result { args, kwargs } => (args, kwargs),
        other => {
            router.print_log();
            panic!("{procedure} via {} ({:?}): {other:?}", peer.url, peer.auth)
        }
    }
}

/// Calls through ab_caller.py and expects an ERROR (or an ABORT reason); returns its URI.
fn call_err(router: &Crossbar, peer: &Peer, procedure: &str) -> String {
    let outcome = check(router, call_bare(peer, procedure));
    match outcome {
        CallOutcome::Error { uri, .. } => uri,
        other => panic!("{procedure} via {} should fail: {other:?}", peer.url),
    }
}

/// A call the Autobahn callee answers: arguments reversed, keywords echoed plus
/// `served_by: autobahn` and the disclosed caller.
fn assert_echo(
    router: &Crossbar,
    caller: &Peer,
    callee: &mut Callee,
    procedure: &str,
    tag: &str,
) -> serde_json::Map<String, Value> {
    let sent_args = json!([1, "two", {"three": [3.5, true, null]}, tag]);
    let (args, kwargs) = call_ok(
        router,
        caller,
        procedure,
        sent_args.clone(),
        json!({"tag": tag, "n": -7}),
    );
    let received = check(router, callee.next_call(INVOCATION_LIMIT));
    assert_eq!(
        Value::Array(received.args),
        sent_args,
        "callee got the args"
    );
    assert_eq!(received.kwargs.get("tag"), Some(&json!(tag)));

    let mut reversed = sent_args.as_array().cloned().unwrap_or_default();
    reversed.reverse();
    assert_eq!(args, reversed, "{tag}: positional results");
    assert_eq!(kwargs.get("tag"), Some(&json!(tag)), "{tag}: kwargs echoed");
    assert_eq!(kwargs.get("n"), Some(&json!(-7)), "{tag}: kwargs echoed");
    assert_eq!(kwargs.get("served_by"), Some(&json!("autobahn")), "{tag}");
    assert!(
        kwargs.get("caller").is_some_and(Value::is_u64),
        "{tag}: the router discloses the caller: {kwargs:?}"
    );
    kwargs
}

#[test]
fn crossbar_starts_on_free_ports_and_stops_without_leftovers() {
    let mut router = start(CrossbarOptions::default());
    let cbdir = router.cbdir().to_path_buf();
    let controller = router.pid().expect("running");

    for port in router.ports().all() {
        TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .unwrap_or_else(|e| panic!("port {port} accepts: {e}"));
    }
    assert!(router.unix_path().exists());
    assert_eq!(
        router.ws_url(),
        format!("ws://127.0.0.1:{}/ws", router.ports().ws)
    );
    assert_eq!(
        router.rawsocket_url(),
        format!("rs://127.0.0.1:{}", router.ports().rawsocket)
    );

    // The controller and its router worker both run in the node directory.
    let running = pids_using_dir(&cbdir);
    eprintln!("processes in {}: {running:?}", cbdir.display());
    assert!(running.contains(&controller), "{running:?}");
    assert!(running.len() >= 2, "controller and worker: {running:?}");

    let stopping = Instant::now();
    let stopped = router.stop();
    check(&router, stopped);
    eprintln!("crossbar stopped in {:?}", stopping.elapsed());
    assert!(!router.is_running());
    assert_eq!(pids_using_dir(&cbdir), Vec::<u32>::new(), "nothing left");
    assert!(router.log().contains("=== harness: controller"));
    // Stopping twice is harmless.
    let stopped = router.stop();
    check(&router, stopped);
}

#[test]
fn autobahn_peers_talk_over_websocket_rawsocket_and_unix_socket() {
    let router = start(CrossbarOptions::default());

    // WebSocket, each serializer on the callee side, and the caller on the same and on
    // another serializer (so the router translates between them).
    for (i, serializer) in Serializer::ALL.into_iter().enumerate() {
        let procedure = format!("test.harness.ws.{}", serializer.as_str());
        let mut callee = start_callee(&router, router.ws_url(), serializer, &procedure);
        let other = Serializer::ALL[(i + 1) % Serializer::ALL.len()];
        for caller in [serializer, other] {
            let tag = format!("ws {} -> {}", caller.as_str(), serializer.as_str());
            assert_echo(
                &router,
                &Peer::new(router.ws_url(), caller),
                &mut callee,
                &procedure,
                &tag,
            );
        }
        let finished = check(&router, callee.stop());
        assert!(finished.stdout.iter().any(|line| line.starts_with("LEFT")));
    }

    // RawSocket: a callee on TCP, callers on TCP, on the Unix socket and on WebSocket.
    let procedure = "test.harness.rawsocket";
    let mut callee = check(
        &router,
        Callee::start(
            &Peer::new(router.rawsocket_url(), Serializer::MsgPack),
            procedure,
            Some(3),
        ),
    );
    for (caller, tag) in [
        (
            Peer::new(router.rawsocket_url(), Serializer::Cbor),
            "rs cbor",
        ),
        (
            Peer::unix(router.unix_path(), Serializer::Json),
            "unix json",
        ),
        (
            Peer::new(router.ws_url(), Serializer::MsgPack),
            "ws msgpack",
        ),
    ] {
        assert_echo(&router, &caller, &mut callee, procedure, tag);
    }
    // After its three calls the callee leaves and exits by itself.
    let finished = check(&router, callee.finish(Duration::from_secs(10)));
    assert!(finished.status.success(), "{finished:?}");

    // An application error travels back with its URI and arguments.
    let procedure = "test.harness.error";
    let mut callee = start_callee(&router, router.ws_url(), Serializer::Json, procedure);
    let outcome = check(
        &router,
        autobahn::call(
            &Peer::new(router.rawsocket_url(), Serializer::Cbor),
            procedure,
            &json!(["why"]),
            &json!({"error": "com.example.oops"}),
            CALL_LIMIT,
        ),
    );
    check(&router, callee.next_call(INVOCATION_LIMIT));
    assert_eq!(
        outcome,
        CallOutcome::Error {
            uri: "com.example.oops".into(),
            args: vec![json!("why")],
            kwargs: serde_json::Map::new(),
        }
    );
    // A call nobody registered.
    let uri = call_err(
        &router,
        &Peer::new(router.ws_url(), Serializer::Json),
        "test.harness.nobody",
    );
    assert_eq!(uri, "wamp.error.no_such_procedure");
}

#[test]
fn static_principals_authenticate_on_the_auth_transports() {
    let router = start(CrossbarOptions::default());
    let procedure = "test.harness.whoami";
    let mut callee = start_callee(&router, router.ws_url(), Serializer::Json, procedure);

    let cases = [
        (Auth::ticket(), TICKET_AUTHID),
        (Auth::wampcra(), WAMPCRA_AUTHID),
        (Auth::wampcra_salted(), WAMPCRA_SALTED_AUTHID),
        (Auth::cryptosign(), CRYPTOSIGN_AUTHID),
        (Auth::scram(), SCRAM_AUTHID),
    ];
    for (i, (auth, authid)) in cases.into_iter().enumerate() {
        // Alternate the transports and serializers across the methods.
        let (url, serializer) = if i % 2 == 0 {
            (router.ws_auth_url(), Serializer::Cbor)
        } else {
            (router.rawsocket_auth_url(), Serializer::MsgPack)
        };
        let caller = Peer::new(url, serializer).with_auth(auth);
        let kwargs = assert_echo(&router, &caller, &mut callee, procedure, authid);
        assert_eq!(
            kwargs.get("caller_authid"),
            Some(&json!(authid)),
            "the router authenticated {authid}"
        );
    }

    // Refusals arrive as ABORT reasons.
    let wrong = Peer::new(router.ws_auth_url(), Serializer::Json).with_auth(Auth::Ticket {
        authid: TICKET_AUTHID.into(),
        ticket: "wrong".into(),
    });
    assert_eq!(
        call_err(&router, &wrong, procedure),
        "wamp.error.not_authorized"
    );
    let anonymous = Peer::new(router.rawsocket_auth_url(), Serializer::Json);
    assert_eq!(
        call_err(&router, &anonymous, procedure),
        "wamp.error.no_auth_method"
    );
}

#[test]
fn tls_transports_serve_callers_that_trust_the_test_ca() {
    let router = start(CrossbarOptions::default().with_tls(true));
    let wss = router.wss_url().expect("TLS enabled");
    let rss = router.rss_url().expect("TLS enabled");
    let ca = router.ca_file().expect("TLS enabled").to_path_buf();
    assert!(router
        .ca_pem()
        .is_some_and(|pem| pem.starts_with("-----BEGIN CERTIFICATE-----")));
    assert!(wss.starts_with("wss://127.0.0.1:") && wss.ends_with("/ws"));
    assert!(rss.starts_with("rss://127.0.0.1:"));

    let procedure = "test.harness.tls";
    let mut callee = start_callee(&router, router.ws_url(), Serializer::Cbor, procedure);
    // Anonymous over wss, and a principal over rss.
    assert_echo(
        &router,
        &Peer::new(wss.clone(), Serializer::Json).with_ca_file(&ca),
        &mut callee,
        procedure,
        "wss json",
    );
    let kwargs = assert_echo(
        &router,
        &Peer::new(rss, Serializer::MsgPack)
            .with_ca_file(&ca)
            .with_auth(Auth::cryptosign()),
        &mut callee,
        procedure,
        "rss msgpack",
    );
    assert_eq!(kwargs.get("caller_authid"), Some(&json!(CRYPTOSIGN_AUTHID)));

    // Without the test CA the certificate is not trusted: the TLS is real.
    let untrusting = Peer::new(wss, Serializer::Json);
    let outcome = check(&router, call_bare(&untrusting, procedure));
    let CallOutcome::Error { uri, args, .. } = outcome else {
        panic!("a caller that does not trust the CA got through: {outcome:?}");
    };
    assert_eq!(uri, "ab.no_session");
    assert!(
        args.iter().any(|reason| reason
            .as_str()
            .is_some_and(|r| r.contains("CERTIFICATE_VERIFY_FAILED"))),
        "{args:?}"
    );
}

#[test]
fn restart_keeps_the_ports() {
    let mut router = start(CrossbarOptions::default());
    let before = router.ports();
    let (ws, rs) = (router.ws_url(), router.rawsocket_url());
    let old_pid = router.pid().expect("running");
    let cbdir = router.cbdir().to_path_buf();

    let restarted = router.restart();
    check(&router, restarted);
    eprintln!("crossbar restarted in {:?}", router.startup_time());
    assert_eq!(router.ports(), before);
    assert_eq!((router.ws_url(), router.rawsocket_url()), (ws, rs));
    let new_pid = router.pid().expect("running again");
    assert_ne!(old_pid, new_pid);
    assert!(!pids_using_dir(&cbdir).contains(&old_pid));

    let procedure = "test.harness.restart";
    let mut callee = start_callee(&router, router.rawsocket_url(), Serializer::Json, procedure);
    assert_echo(
        &router,
        &Peer::new(router.ws_url(), Serializer::Cbor),
        &mut callee,
        procedure,
        "after restart",
    );
    drop(callee);
    drop(router);
    assert_eq!(
        pids_using_dir(&cbdir),
        Vec::<u32>::new(),
        "drop stops the node"
    );
}

#[test]
fn cryptosign_constants_are_a_key_pair() {
    let seed: [u8; 32] = hex::decode(CRYPTOSIGN_SEED_HEX)
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    assert_eq!(
        hex::encode(key.verifying_key().as_bytes()),
        CRYPTOSIGN_PUBLIC_KEY_HEX
    );
}

#[test]
fn scram_constants_derive_from_the_password() {
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};

    let salt = hex::decode(SCRAM_SALT_HEX).expect("hex");
    let params = argon2::Params::new(SCRAM_MEMORY, SCRAM_ITERATIONS, 1, Some(32)).expect("params");
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut hash = [0u8; 32];
    // The workspace builds argon2 without `alloc`, so the blocks come from here.
    let mut blocks = vec![argon2::Block::new(); argon.params().block_count()];
    argon
        .hash_password_into_with_memory(SCRAM_PASSWORD.as_bytes(), &salt, &mut hash, &mut blocks)
        .expect("argon2id");
    // Crossbar's (Autobahn's) salted password is the unpadded base64 text of the hash.
    let salted = base64::engine::general_purpose::STANDARD_NO_PAD.encode(hash);
    let hmac = |key: &[u8], data: &[u8]| {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
        mac.update(data);
        mac.finalize().into_bytes()
    };
    let client_key = hmac(salted.as_bytes(), b"Client Key");
    let stored_key = Sha256::digest(client_key);
    assert_eq!(hex::encode(stored_key), SCRAM_STORED_KEY_HEX);
    assert_eq!(
        hex::encode(hmac(salted.as_bytes(), b"Server Key")),
        SCRAM_SERVER_KEY_HEX
    );
}

#[test]
fn a_router_that_cannot_start_fails_with_its_log() {
    let err = Crossbar::start(CrossbarOptions::default().with_loglevel("bogus"))
        .expect_err("crossbar refuses an unknown log level");
    let message = err.to_string();
    assert!(message.starts_with("crossbar did not start"), "{message}");
    assert!(message.contains("crossbar exited with"), "{message}");
    assert!(message.contains("bogus"), "the log explains: {message}");
}

#[test]
fn a_peer_that_cannot_connect_fails_with_its_output() {
    let port = wamp_integration::ports::free_port().expect("a free port");
    let nowhere = Peer::new(format!("ws://127.0.0.1:{port}/ws"), Serializer::Json);
    let err =
        Callee::start(&nowhere, "test.harness.nowhere", None).expect_err("nothing listens there");
    let message = err.to_string();
    assert!(message.contains("exited with exit status: 1"), "{message}");
    assert!(message.contains("never registered"), "{message}");

    let outcome =
        call_bare(&nowhere, "test.harness.nowhere").expect("the caller reports the failure");
    let CallOutcome::Error { uri, args, .. } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(uri, "ab.no_session");
    assert!(
        args.iter()
            .any(|a| a.as_str().is_some_and(|a| a.contains("Connect"))),
        "{args:?}"
    );
}
