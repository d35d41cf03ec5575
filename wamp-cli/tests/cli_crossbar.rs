//! The `wamp` binary against a real Crossbar.io router: register/call round trips over
//! WebSocket and RawSocket with every serializer, errors and exit codes, progressive
//! results and call timeouts (against a callee written with wamp-tokio), publish and
//! subscribe with each match policy and acknowledge, stop signals, and ticket, WAMP-CRA
//! and cryptosign authentication right and wrong, plain and over TLS with `--ca`.
//!
//! Two routers (one with TLS), about 3 s each to start. Every `wamp` process is waited
//! for with a bound and killed by its pid if it overstays.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wamp_integration::credentials::*;
use wamp_integration::wamp_cli::spawn_piped;
use wamp_integration::{Crossbar, CrossbarOptions};

/// Bound of one short command (connect, one request, leave).
const RUN_LIMIT: Duration = Duration::from_secs(15);
/// Bound of waiting for a status line (`registered ...`, `subscribed ...`).
const READY_LIMIT: Duration = Duration::from_secs(15);

fn start_router(tls: bool) -> Crossbar {
    let started = Instant::now();
    let router = Crossbar::start(CrossbarOptions::default().with_tls(tls))
        .unwrap_or_else(|e| panic!("crossbar did not start: {e}"));
    eprintln!("crossbar (tls: {tls}) up in {:?}", started.elapsed());
    router
}

// ---- running the binary -----------------------------------------------------------

/// The lines of one output stream, read by a thread as they come.
struct Lines {
    rx: Receiver<String>,
    seen: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl Lines {
    fn read(stream: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let keep = seen.clone();
        let reader = thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                keep.lock().expect("not poisoned").push(line.clone());
                // The receiver may be gone; the line is kept in `seen` anyway.
                let _ = tx.send(line);
            }
        });
        Lines {
            rx,
            seen,
            reader: Some(reader),
        }
    }

    /// Waits up to `limit` for a line that satisfies `wanted`.
    fn wait_for(&self, limit: Duration, wanted: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) if wanted(&line) => return Some(line),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    fn all(&self) -> Vec<String> {
        self.seen.lock().expect("not poisoned").clone()
    }

    /// Waits for the stream to end (the process has exited, so it will).
    fn join(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// A running `wamp` process.
struct Wamp {
    what: String,
    child: Child,
    stdout: Lines,
    stderr: Lines,
}

/// How a `wamp` process ended.
#[derive(Debug)]
struct Finished {
    what: String,
    code: Option<i32>,
    stdout: Vec<String>,
    stderr: String,
}

impl Finished {
    fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "{}: unexpected exit: {self:#?}",
            self.what
        );
        self
    }

    fn expect_stderr(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "{}: no {needle:?} on stderr: {self:#?}",
            self.what
        );
        self
    }

    /// The stdout lines as JSON.
    fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .iter()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("stdout line {line:?} is not JSON ({e}): {self:#?}"))
            })
            .collect()
    }
}

impl Wamp {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Wamp {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wamp"));
        command
            .args(args)
            .env_remove("WAMP_SECRET")
            .env_remove("RUST_LOG");
        let mut child = spawn_piped(&mut command, env)
            .unwrap_or_else(|e| panic!("cannot run wamp {args:?}: {e}"));
        let stdout = Lines::read(child.stdout.take().expect("piped"));
        let stderr = Lines::read(child.stderr.take().expect("piped"));
        Wamp {
            what: format!("wamp {}", args.join(" ")),
            child,
            stdout,
            stderr,
        }
    }

    /// Waits for a stderr line starting with `prefix`.
    fn wait_stderr(&self, prefix: &str) {
        if self
            .stderr
            .wait_for(READY_LIMIT, |line| line.starts_with(prefix))
            .is_none()
        {
            panic!(
                "{}: no {prefix:?} on stderr within {READY_LIMIT:?}; stderr: {:?}",
                self.what,
                self.stderr.all()
            );
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the process to exit; kills it (by its pid) if it does not,
    /// and fails the test.
    fn finish(mut self, limit: Duration) -> Finished {
        let deadline = Instant::now() + limit;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                Ok(None) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    self.stdout.join();
                    self.stderr.join();
                    panic!(
                        "{} did not exit within {limit:?}; killed. stdout: {:?} stderr: {:?}",
                        self.what,
                        self.stdout.all(),
                        self.stderr.all()
                    );
                }
                Err(e) => panic!("{}: cannot wait: {e}", self.what),
            }
        };
        self.stdout.join();
        self.stderr.join();
        Finished {
            what: self.what.clone(),
            code: status.code(),
            stdout: self.stdout.all(),
            stderr: self.stderr.all().join("\n"),
        }
    }
}

impl Drop for Wamp {
    fn drop(&mut self) {
        // A failed test must not leave the process behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `wamp` to completion (bounded).
fn wamp(args: &[&str]) -> Finished {
    Wamp::start(args, &[]).finish(RUN_LIMIT)
}

/// Sends `signal` (`TERM`, `INT`) to `pid` with kill(1).
fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid}: {status}");
}

// ---- a callee written with wamp-tokio ------------------------------------------------

/// `com.cli.progress(n)`: n progressive results `[i]`, then `[n, "done"]`.
/// `com.cli.slow()`: answers after 30 s (unless interrupted first).
struct RustCallee {
    stop: Option<futures::channel::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl RustCallee {
    fn start(url: String) -> RustCallee {
        use wamp_tokio::{Invocation, Yield};

        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let (stop, stopped) = futures::channel::oneshot::channel::<()>();
        let thread = thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(async move {
                let setup = async {
                    let session = wamp_tokio::connect(url.as_str(), "realm1").await?;
                    let progress = session
                        .register("com.cli.progress", |inv: Invocation| async move {
                            let n: u64 = inv.first()?;
                            for i in 1..=n {
                                inv.progress(&(i,), &()).await?;
                            }
                            Ok(Yield::args(&(n, "done"))?)
                        })
                        .await?;
                    let slow = session
                        .register("com.cli.slow", |_inv: Invocation| async move {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            Ok(Yield::empty())
                        })
                        .await?;
                    Ok::<_, Box<dyn std::error::Error>>((session, progress, slow))
                };
                match setup.await {
                    Ok((session, _progress, _slow)) => {
                        let _ = ready_tx.send(Ok(()));
                        let _ = stopped.await;
                        let _ = session.leave().await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                    }
                }
            });
        });
        match ready_rx.recv_timeout(READY_LIMIT) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("the Rust callee could not register: {e}"),
            Err(e) => panic!("the Rust callee was not ready within {READY_LIMIT:?}: {e}"),
        }
        RustCallee {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for RustCallee {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // Leaving is bounded by the session's GOODBYE timeout.
            let _ = thread.join();
        }
    }
}

// ---- the tests -----------------------------------------------------------------------

/// Register and call round trips, errors, progressive results, timeouts, publish and
/// subscribe, and stop signals, on the anonymous transports.
#[test]
fn rpc_and_pubsub_against_crossbar() {
    let router = start_router(false);
    let ws = router.ws_url();
    let rs = router.rawsocket_url();
    let unix = format!("unix://{}", router.unix_path().display());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        round_trips(&ws, &rs);
        missing_procedure(&ws, &rs);
        progressive_and_timeout(&ws, &rs);
        pubsub(&ws, &rs, &unix);
        stop_signals(&ws, &rs);
    }));
    if let Err(panic) = result {
        router.print_log();
        std::panic::resume_unwind(panic);
    }
}

/// `wamp register --count 1` echoes what `wamp call` sends, across transports and
/// serializers (so arguments are converted between them on the way).
fn round_trips(ws: &str, rs: &str) {
    let expected = json!({
        "args": [1, "1", "hi", {"a": [1, 2.5]}, "\u{0}AAE=", null, -7],
        "kwargs": {"k": "v", "n": -3, "b": "\u{0}/w=="}
    });
    for (i, (reg_url, reg_ser, call_url, call_ser)) in [
        (ws, "json", rs, "cbor"),
        (rs, "msgpack", ws, "json"),
        (ws, "cbor", rs, "msgpack"),
    ]
    .into_iter()
    .enumerate()
    {
        let procedure = format!("com.cli.echo{i}");
        let callee = Wamp::start(
            &[
                "register",
                reg_url,
                &procedure,
                "--count",
                "1",
                "--serializer",
                reg_ser,
            ],
            &[],
        );
        callee.wait_stderr("registered ");
        let call = wamp(&[
            "call",
            call_url,
            &procedure,
            "1",
            "\"1\"",
            "hi",
            r#"{"a":[1,2.5]}"#,
            r#""\u0000AAE=""#,
            "null",
            "-7",
            "--kwargs",
            r#"{"k":"v","n":-3,"b":"\u0000/w=="}"#,
            "--serializer",
            call_ser,
        ]);
        call.expect_code(0);
        assert_eq!(
            call.json_lines(),
            std::slice::from_ref(&expected),
            "{call:#?}"
        );

        let served = callee.finish(RUN_LIMIT);
        served
            .expect_code(0)
            .expect_stderr(&format!("registered {procedure}"));
        let mut invocation = expected.clone();
        invocation["procedure"] = json!(procedure);
        assert_eq!(served.json_lines(), [invocation], "{served:#?}");
    }

    // No arguments at all: both keys are still printed. A pattern registration sees the
    // concrete procedure.
    let callee = Wamp::start(
        &[
            "register",
            ws,
            "com.cli.pattern.",
            "--match",
            "prefix",
            "--count",
            "2",
        ],
        &[],
    );
    callee.wait_stderr("registered com.cli.pattern.");
    let call = wamp(&["call", rs, "com.cli.pattern.a"]);
    assert_eq!(
        call.expect_code(0).json_lines(),
        [json!({"args": [], "kwargs": {}})]
    );
    let call = wamp(&[
        "call",
        ws,
        "com.cli.pattern.b",
        "--kwargs",
        r#"{"only":"kw"}"#,
    ]);
    assert_eq!(
        call.expect_code(0).json_lines(),
        [json!({"args": [], "kwargs": {"only": "kw"}})]
    );
    let served = callee.finish(RUN_LIMIT);
    let procedures: Vec<Value> = served
        .expect_code(0)
        .json_lines()
        .into_iter()
        .map(|line| line["procedure"].clone())
        .collect();
    assert_eq!(
        procedures,
        [json!("com.cli.pattern.a"), json!("com.cli.pattern.b")]
    );
}

/// A WAMP error prints its URI on stderr and exits 1; bad input exits 2 before
/// connecting; an unreachable router exits 3.
fn missing_procedure(ws: &str, rs: &str) {
    for url in [ws, rs] {
        let call = wamp(&["call", url, "com.cli.nobody.home", "1"]);
        call.expect_code(1)
            .expect_stderr("wamp.error.no_such_procedure");
        assert!(call.stdout.is_empty(), "{call:#?}");
    }
    wamp(&["call", ws, "com.cli.x", "--kwargs", "[1]"])
        .expect_code(2)
        .expect_stderr("--kwargs");
    wamp(&["call", ws, "not a uri"])
        .expect_code(2)
        .expect_stderr("invalid URI");
    wamp(&["call", "ws://127.0.0.1:1/ws", "com.cli.x"]).expect_code(3);
}

/// `--progress` prints each progressive result, then the final one; `--timeout` gives
/// up on (and cancels) a call that takes too long.
fn progressive_and_timeout(ws: &str, rs: &str) {
    let _callee = RustCallee::start(ws.to_owned());
    for (url, serializer) in [(ws, "json"), (rs, "cbor")] {
        let call = wamp(&[
            "call",
            url,
            "com.cli.progress",
            "3",
            "--progress",
            "--serializer",
            serializer,
        ]);
        assert_eq!(
            call.expect_code(0).json_lines(),
            [
                json!({"args": [1], "kwargs": {}}),
                json!({"args": [2], "kwargs": {}}),
                json!({"args": [3], "kwargs": {}}),
                json!({"args": [3, "done"], "kwargs": {}}),
            ],
            "{call:#?}"
        );
    }
    // Without --progress only the final result is printed.
    let call = wamp(&["call", ws, "com.cli.progress", "0"]);
    assert_eq!(
        call.expect_code(0).json_lines(),
        [json!({"args": [0, "done"], "kwargs": {}})]
    );

    let started = Instant::now();
    let call = wamp(&["call", rs, "com.cli.slow", "--timeout", "1"]);
    call.expect_code(4).expect_stderr("no result within 1s");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the timeout took {:?}",
        started.elapsed()
    );
}

/// Publish and subscribe with exact, prefix and wildcard matching, acknowledged or not,
/// across transports and serializers.
fn pubsub(ws: &str, rs: &str, unix: &str) {
    // Exact: two events, then the subscriber leaves by itself.
    let sub = Wamp::start(
        &[
            "subscribe",
            ws,
            "com.cli.news",
            "--count",
            "2",
            "--serializer",
            "json",
        ],
        &[],
    );
    sub.wait_stderr("subscribed com.cli.news");
    wamp(&[
        "publish",
        rs,
        "com.cli.news",
        "1",
        "two",
        "--kwargs",
        r#"{"x":true}"#,
        "--serializer",
        "cbor",
    ])
    .expect_code(0);
    let acked = wamp(&[
        "publish",
        ws,
        "com.cli.news",
        "--acknowledge",
        "--serializer",
        "msgpack",
    ]);
    let lines = acked.expect_code(0).json_lines();
    assert!(
        lines.len() == 1 && lines[0]["publication"].as_u64().is_some_and(|id| id > 0),
        "{acked:#?}"
    );
    let got = sub.finish(RUN_LIMIT);
    assert_eq!(
        got.expect_code(0).json_lines(),
        [
            json!({"args": [1, "two"], "kwargs": {"x": true}, "topic": "com.cli.news"}),
            json!({"args": [], "kwargs": {}, "topic": "com.cli.news"}),
        ],
        "{got:#?}"
    );

    // Prefix and wildcard: the concrete topic is printed.
    let prefix = Wamp::start(
        &[
            "subscribe",
            rs,
            "com.cli.pre",
            "--match",
            "prefix",
            "--count",
            "1",
            "--serializer",
            "msgpack",
        ],
        &[],
    );
    let wildcard = Wamp::start(
        &[
            "subscribe",
            ws,
            "com..wild",
            "--match",
            "wildcard",
            "--count",
            "1",
            "--serializer",
            "cbor",
        ],
        &[],
    );
    prefix.wait_stderr("subscribed com.cli.pre");
    wildcard.wait_stderr("subscribed com..wild");
    wamp(&[
        "publish",
        unix,
        "com.cli.prefixed.deep",
        "5",
        "--acknowledge",
    ])
    .expect_code(0);
    wamp(&[
        "publish",
        ws,
        "com.any.wild",
        r#""\u0000AAE=""#,
        "--acknowledge",
    ])
    .expect_code(0);
    assert_eq!(
        prefix.finish(RUN_LIMIT).expect_code(0).json_lines(),
        [json!({"args": [5], "kwargs": {}, "topic": "com.cli.prefixed.deep"})]
    );
    assert_eq!(
        wildcard.finish(RUN_LIMIT).expect_code(0).json_lines(),
        [json!({"args": ["\u{0}AAE="], "kwargs": {}, "topic": "com.any.wild"})]
    );
}

/// Without --count, register and subscribe run until SIGINT or SIGTERM, then leave and
/// exit 0.
fn stop_signals(ws: &str, rs: &str) {
    let sub = Wamp::start(&["subscribe", rs, "com.cli.forever"], &[]);
    let reg = Wamp::start(&["register", ws, "com.cli.forever"], &[]);
    sub.wait_stderr("subscribed ");
    reg.wait_stderr("registered ");
    send_signal(sub.pid(), "TERM");
    send_signal(reg.pid(), "INT");
    sub.finish(RUN_LIMIT).expect_code(0);
    reg.finish(RUN_LIMIT).expect_code(0);
    // The registration went with the session.
    wamp(&["call", ws, "com.cli.forever"])
        .expect_code(1)
        .expect_stderr("wamp.error.no_such_procedure");
}

/// Ticket, WAMP-CRA (plain and salted), cryptosign and Crossbar's SCRAM with right and
/// wrong credentials, and TLS with the router's CA.
#[test]
fn authentication_and_tls_against_crossbar() {
    let router = start_router(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        authentication(&router);
        tls(&router);
    }));
    if let Err(panic) = result {
        router.print_log();
        std::panic::resume_unwind(panic);
    }
}

fn authentication(router: &Crossbar) {
    let ws = router.ws_auth_url();
    let rs = router.rawsocket_auth_url();
    let publish = |url: &str, auth: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["publish", url, "com.cli.auth", "--acknowledge"];
        args.extend_from_slice(auth);
        Wamp::start(&args, env).finish(RUN_LIMIT)
    };
    let wrong_key = "0000000000000000000000000000000000000000000000000000000000000001";
    // `--authmethod METHOD --authid AUTHID --secret SECRET`.
    let credentials = |method, authid, secret| {
        [
            "--authmethod",
            method,
            "--authid",
            authid,
            "--secret",
            secret,
        ]
    };
    for url in [ws.as_str(), rs.as_str()] {
        // Right; the ticket also through WAMP_SECRET.
        publish(url, &credentials("ticket", TICKET_AUTHID, TICKET), &[]).expect_code(0);
        publish(
            url,
            &["--authmethod", "ticket", "--authid", TICKET_AUTHID],
            &[("WAMP_SECRET", TICKET)],
        )
        .expect_code(0);
        for auth in [
            credentials("wampcra", WAMPCRA_AUTHID, WAMPCRA_SECRET),
            credentials("wampcra", WAMPCRA_SALTED_AUTHID, WAMPCRA_SALTED_SECRET),
            credentials("cryptosign", CRYPTOSIGN_AUTHID, CRYPTOSIGN_SEED_HEX),
            // Crossbar's SCRAM is Autobahn's earlier draft: `scram-autobahn`.
            credentials("scram-autobahn", SCRAM_AUTHID, SCRAM_PASSWORD),
        ] {
            publish(url, &auth, &[]).expect_code(0);
        }
        // Wrong: the router refuses the session.
        for auth in [
            credentials("ticket", TICKET_AUTHID, "wrong"),
            credentials("wampcra", WAMPCRA_AUTHID, "wrong"),
            credentials("wampcra", WAMPCRA_SALTED_AUTHID, "wrong"),
            credentials("cryptosign", CRYPTOSIGN_AUTHID, wrong_key),
            credentials("ticket", "nobody", TICKET),
            credentials("scram-autobahn", SCRAM_AUTHID, "wrong"),
        ] {
            publish(url, &auth, &[])
                .expect_code(3)
                .expect_stderr("wamp.error.not_authorized");
        }
        // No credentials on a transport that needs them.
        publish(url, &[], &[])
            .expect_code(3)
            .expect_stderr("wamp.error.");
    }
    // A method that needs a secret without one is a usage error, found before
    // connecting.
    publish(
        &ws,
        &["--authmethod", "wampcra", "--authid", WAMPCRA_AUTHID],
        &[],
    )
    .expect_code(2)
    .expect_stderr("--secret");
    publish(&ws, &["--authmethod", "cryptosign", "--secret", "abc"], &[])
        .expect_code(2)
        .expect_stderr("64 hex digits");
}

fn tls(router: &Crossbar) {
    let wss = router.wss_url().expect("tls enabled");
    let rss = router.rss_url().expect("tls enabled");
    let ca = router
        .ca_file()
        .expect("tls enabled")
        .to_string_lossy()
        .into_owned();

    let sub = Wamp::start(
        &[
            "subscribe",
            &wss,
            "com.cli.tls",
            "--ca",
            &ca,
            "--count",
            "1",
        ],
        &[],
    );
    sub.wait_stderr("subscribed ");
    wamp(&[
        "publish",
        &rss,
        "com.cli.tls",
        "secure",
        "--ca",
        &ca,
        "--acknowledge",
        "--authmethod",
        "ticket",
        "--authid",
        TICKET_AUTHID,
        "--secret",
        TICKET,
    ])
    .expect_code(0);
    assert_eq!(
        sub.finish(RUN_LIMIT).expect_code(0).json_lines(),
        [json!({"args": ["secure"], "kwargs": {}, "topic": "com.cli.tls"})]
    );
    // The test CA is not among the system's roots.
    wamp(&["publish", &wss, "com.cli.tls"])
        .expect_code(3)
        .expect_stderr("TLS");
}
