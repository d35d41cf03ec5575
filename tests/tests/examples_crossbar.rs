//! The runnable examples (`examples/`, package `wamp-examples`), each written once and
//! run on Tokio and on async-std, as a newcomer runs them, against a real Crossbar.io
//! router: RPC callee and caller (across runtimes and transports, the URL from argv and
//! from `WAMP_URL`), pub/sub, the reconnecting
//! Component (to completion, and retrying against a closed port until SIGTERM stops
//! it), and authentication with ticket, WAMP-CRA and cryptosign, right and wrong.
//! Each run checks the exit status and what the program printed.
//!
//! The example binaries come from `cargo build --examples` run by this test (a no-op
//! when `cargo test --workspace --all-targets` has just built them); cargo's JSON
//! messages name each executable, so the target directory and profile are cargo's own.
//! Every process is bounded in time and stopped by its pid.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};
use wamp_integration::cargo_build::{self, wait_timeout};
use wamp_integration::credentials::*;
use wamp_integration::wamp_cli::spawn_piped;
use wamp_integration::{Crossbar, CrossbarOptions};

/// How long one example may run (they take well under a second against a local router).
const RUN_LIMIT: Duration = Duration::from_secs(30);
/// How long an example gets to exit after SIGTERM before it is killed.
const TERM_GRACE: Duration = Duration::from_secs(10);
/// Where the examples' package (`wamp-examples`) is.
const PACKAGE: &str = "examples";
/// An example on Tokio (`--runtime tokio`, what it runs on by default).
const TOKIO: Runtime = Runtime("tokio");
/// An example on async-std (`--runtime async-std`).
const ASYNC_STD: Runtime = Runtime("async-std");

/// The runtime an example is told to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Runtime(&'static str);

/// Sends `signal` to `pid` (a child of this test); one already gone is fine.
fn signal(pid: u32, signal: Signal) {
    let pid = i32::try_from(pid).ok().and_then(Pid::from_raw);
    if let Some(pid) = pid {
        match kill_process(pid, signal) {
            Ok(()) | Err(rustix::io::Errno::SRCH) => {}
            Err(e) => panic!("signal {pid:?}: {e}"),
        }
    }
}

/// The example executables, by (package, example name).
struct Examples(BTreeMap<(String, String), PathBuf>);

impl Examples {
    /// Builds every example with the profile this test was built with; returns where
    /// cargo put them.
    fn build() -> Examples {
        let examples = cargo_build::build(&["--examples"])
            .into_iter()
            .filter(|artifact| artifact.kind == "example")
            .map(|artifact| ((artifact.package, artifact.name), artifact.executable))
            .collect();
        Examples(examples)
    }

    /// The executable of the example `name`.
    fn path(&self, name: &str) -> &Path {
        self.0
            .get(&(PACKAGE.to_owned(), name.to_owned()))
            .unwrap_or_else(|| panic!("cargo built no example {name} in {PACKAGE}"))
    }

    /// Starts an example on `runtime` with `args` and extra environment; `WAMP_URL` is
    /// unset unless given, so the caller's environment cannot steer it. Tokio, the
    /// default, is not named on the command line, as a newcomer would not name it.
    fn spawn(&self, runtime: Runtime, name: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut command = Command::new(self.path(name));
        if runtime == ASYNC_STD {
            command.args(["--runtime", runtime.0]);
        }
        command.args(args).env_remove("WAMP_URL");
        let mut child = spawn_piped(&mut command, env)
            .unwrap_or_else(|e| panic!("spawn example {name} on {}: {e}", runtime.0));
        let label = format!(
            "{name} on {} {} (pid {})",
            runtime.0,
            args.join(" "),
            child.id()
        );
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = child.stderr.take().expect("piped stderr");
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            text
        });
        Running {
            label,
            child,
            lines,
            seen: Vec::new(),
            stderr: Some(stderr),
        }
    }

    /// Runs an example to completion within [`RUN_LIMIT`].
    fn run(&self, runtime: Runtime, name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.spawn(runtime, name, args, env).finish(RUN_LIMIT)
    }
}

/// How an example ended and what it printed.
#[derive(Debug)]
struct Output {
    label: String,
    status: ExitStatus,
    stdout: Vec<String>,
    stderr: String,
}

impl Output {
    /// Asserts the exit code.
    fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.status.code(), Some(code), "{self}");
        self
    }

    /// Asserts that some line of stdout starts with `prefix`; returns the line.
    fn line(&self, prefix: &str) -> &str {
        self.stdout
            .iter()
            .find(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?}:\n{self}"))
    }

    /// Asserts that these lines appear on stdout in this order (others may come between).
    fn lines_in_order(&self, expected: &[&str]) -> &Self {
        let mut rest = self.stdout.iter();
        for wanted in expected {
            assert!(
                rest.any(|line| line == wanted),
                "{wanted:?} missing or out of order:\n{self}"
            );
        }
        self
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- {} exited with {} ---\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.label,
            self.status,
            self.stdout.join("\n"),
            self.stderr
        )
    }
}

/// A running example: stdout line by line, stderr collected, killed by its pid if the
/// test lets go of it early.
struct Running {
    label: String,
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Option<thread::JoinHandle<String>>,
}

impl Running {
    /// Reads stdout until a line starts with `prefix`, within `limit`; returns it.
    fn wait_for(&mut self, prefix: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let label = self.label.clone();
                    let output = self.stop();
                    panic!("{label}: no line {prefix:?} within {limit:?}\n{output}")
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let output = self.collect(Some(Duration::from_secs(5)));
                    panic!("ended before printing {prefix:?}\n{output}")
                }
            }
        }
    }

    /// Waits up to `limit` for the example to exit on its own.
    fn finish(mut self, limit: Duration) -> Output {
        match wait_timeout(&mut self.child, limit) {
            Some(_) => self.collect(None),
            None => {
                let label = self.label.clone();
                let output = self.stop();
                panic!("{label}: still running after {limit:?}; stopped\n{output}")
            }
        }
    }

    /// SIGTERM (what Ctrl-C's handler also gets), then SIGKILL after [`TERM_GRACE`].
    fn stop(&mut self) -> Output {
        signal(self.child.id(), Signal::TERM);
        self.collect(Some(TERM_GRACE))
    }

    /// Waits for the exit (killing the process after `grace` if given) and gathers the
    /// output.
    fn collect(&mut self, grace: Option<Duration>) -> Output {
        let status = match grace.map(|grace| wait_timeout(&mut self.child, grace)) {
            Some(Some(status)) => status,
            Some(None) => {
                let _ = self.child.kill();
                self.child.wait().expect("wait after SIGKILL")
            }
            None => self.child.wait().expect("wait for the example"),
        };
        // The pipes are closed now; the reader threads finish reading them.
        let mut stdout = std::mem::take(&mut self.seen);
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            stdout.push(line);
        }
        let stderr = self
            .stderr
            .take()
            .and_then(|reader| reader.join().ok())
            .unwrap_or_default();
        Output {
            label: self.label.clone(),
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The callee of either runtime serves the caller of either runtime, over WebSocket and
/// RawSocket; Ctrl-C (SIGTERM) makes the callee leave and exit 0.
fn rpc(examples: &Examples, router: &Crossbar) {
    let ws = router.ws_url();
    let rs = router.rawsocket_url();
    // Without a callee, the caller says what to do and fails.
    let alone = examples.run(TOKIO, "rpc_caller", &[&ws], &[]);
    assert_ne!(alone.status.code(), Some(0), "{alone}");
    assert!(
        alone.stderr.contains("start the rpc_callee example"),
        "{alone}"
    );

    for (callee, url) in [(TOKIO, &ws), (ASYNC_STD, &rs)] {
        // The tokio callee takes the URL as its argument, the async-std one from WAMP_URL.
        let mut callee = if callee == TOKIO {
            examples.spawn(callee, "rpc_callee", &[url], &[])
        } else {
            examples.spawn(callee, "rpc_callee", &[], &[("WAMP_URL", url)])
        };
        callee.wait_for("registered com.example.add2", RUN_LIMIT);
        for caller in [TOKIO, ASYNC_STD] {
            let output = examples.run(caller, "rpc_caller", &[url], &[]);
            output.expect_code(0).lines_in_order(&[
                "add2(2, 3) = 5",
                "add2(i64::MAX, 1) failed: com.example.error.overflow \
                 (9223372036854775807 + 1 does not fit in 64 bits)",
            ]);
            assert!(output.line("joined realm1 on ").contains(url.as_str()));
            output.line("left: ");
        }
        let output = callee.stop();
        output.expect_code(0).lines_in_order(&[
            "add2(2, 3) = 5",
            "add2(9223372036854775807, 1) overflows: answering with an error",
            "add2(2, 3) = 5",
            "stopping",
        ]);
        output.line("left: ");
    }
}

fn pubsub(examples: &Examples, router: &Crossbar) {
    for runtime in [TOKIO, ASYNC_STD] {
        let output = examples.run(runtime, "pubsub", &[&router.ws_url()], &[]);
        output.expect_code(0).lines_in_order(&[
            "subscribed to com.example.tick",
            "received tick 1 on com.example.tick: tick number 1",
            "received tick 2 on com.example.tick: tick number 2",
            "received tick 3 on com.example.tick: tick number 3",
            "done",
        ]);
        output.line("published tick 3 (publication ");
    }
}

/// The Component runs `main` to completion on either runtime; against a port nobody
/// listens on it retries with the policy's first delay until SIGTERM stops it, cleanly.
fn component(examples: &Examples, router: &Crossbar) {
    for (package, url) in [
        (TOKIO, router.ws_url()),
        (ASYNC_STD, router.rawsocket_url()),
    ] {
        let output = examples.run(package, "component", &[&url], &[]);
        output.expect_code(0).lines_in_order(&[
            "double(1) = 2",
            "double(2) = 4",
            "double(3) = 6",
            "disconnected (clean: true)",
            "done",
        ]);
        output.line("joined realm1 as session ");
        output.line("left: ");
        for n in 1..=3 {
            output.line(&format!("heartbeat {n}"));
        }
    }

    let closed = wamp_integration::ports::free_port().expect("a free port");
    let nowhere = format!("rs://127.0.0.1:{closed}");
    for package in [TOKIO, ASYNC_STD] {
        let mut running = examples.spawn(package, "component", &[&nowhere], &[]);
        let first = running.wait_for("retry 1 in ", RUN_LIMIT);
        // 500 ms ± 10 % jitter, printed as a Debug Duration.
        let delay = first.trim_start_matches("retry 1 in ");
        let millis = parse_debug_millis(delay).unwrap_or_else(|| panic!("{first:?}"));
        assert!((450.0..=550.0).contains(&millis), "{first}");
        running.wait_for("retry 2 in ", RUN_LIMIT);
        let output = running.stop();
        output.expect_code(0);
        assert_eq!(
            output.stdout.last().map(String::as_str),
            Some("done"),
            "{output}"
        );
        output.line("connection failed: ");
    }
}

/// `500ms`, `512.3ms`, `1.02s` (a `Duration`'s Debug form) in milliseconds.
fn parse_debug_millis(text: &str) -> Option<f64> {
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.parse().ok();
    }
    text.strip_suffix('s')?
        .parse::<f64>()
        .ok()
        .map(|s| s * 1000.0)
}

fn authentication(examples: &Examples, router: &Crossbar) {
    let ws = router.ws_auth_url();
    let rs = router.rawsocket_auth_url();
    let right = [
        ("ticket", TICKET_AUTHID, TICKET),
        ("wampcra", WAMPCRA_AUTHID, WAMPCRA_SECRET),
        ("wampcra", WAMPCRA_SALTED_AUTHID, WAMPCRA_SALTED_SECRET),
        ("cryptosign", CRYPTOSIGN_AUTHID, CRYPTOSIGN_SEED_HEX),
    ];
    for (method, authid, secret) in right {
        let output = examples.run(TOKIO, "auth", &[&ws, method, authid, secret], &[]);
        let joined = output.expect_code(0).line("joined realm1 on ");
        assert!(
            joined.ends_with(&format!(
                "authid {authid}, authrole {AUTHENTICATED_ROLE}, authmethod {method}"
            )),
            "{output}"
        );
        output.line("left: ");
    }
    // The same program on async-std.
    let output = examples.run(
        ASYNC_STD,
        "auth",
        &[&ws, "ticket", TICKET_AUTHID, TICKET],
        &[],
    );
    output.expect_code(0).line("joined realm1 on ");
    // Three arguments: the URL comes from WAMP_URL.
    let output = examples.run(
        TOKIO,
        "auth",
        &["ticket", TICKET_AUTHID, TICKET],
        &[("WAMP_URL", &rs)],
    );
    assert!(output
        .expect_code(0)
        .line("joined realm1 on ")
        .contains(&rs));

    let other_key = "11".repeat(32);
    let wrong = [
        ("ticket", TICKET_AUTHID, "not the ticket"),
        ("wampcra", WAMPCRA_AUTHID, "not the secret"),
        ("cryptosign", CRYPTOSIGN_AUTHID, other_key.as_str()),
    ];
    for (method, authid, secret) in wrong {
        let output = examples.run(TOKIO, "auth", &[&ws, method, authid, secret], &[]);
        output.expect_code(1).line(&format!(
            "the router refused the {method} credentials of {authid}"
        ));
    }
    let usage = examples.run(TOKIO, "auth", &[], &[]);
    assert!(
        usage.expect_code(2).stderr.contains("usage: auth"),
        "{usage}"
    );
}

#[test]
fn the_examples_run_against_crossbar() {
    let examples = Examples::build();
    let mut options = CrossbarOptions::default();
    // A safety net only: the router is stopped by its pid when this test ends.
    options.max_lifetime = Duration::from_secs(600);
    let router = Crossbar::start(options).unwrap_or_else(|e| panic!("{e}"));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let started = Instant::now();
        rpc(&examples, &router);
        pubsub(&examples, &router);
        component(&examples, &router);
        authentication(&examples, &router);
        eprintln!("every example ran in {:?}", started.elapsed());
    }));
    if let Err(panic) = outcome {
        router.print_log();
        std::panic::resume_unwind(panic);
    }
}

/// README's main command: the demo starts its own router, needs nothing else, shows
/// every round trip and exits 0 in seconds.
#[test]
fn the_demo_runs_with_its_embedded_router() {
    let examples = Examples::build();
    for runtime in [TOKIO, ASYNC_STD] {
        demo_on(&examples, runtime);
    }
}

fn demo_on(examples: &Examples, runtime: Runtime) {
    let started = Instant::now();
    let demo = examples.run(runtime, "demo", &[], &[]);
    demo.expect_code(0);
    let mut rest = demo.stdout.iter();
    for wanted in [
        "router   listening on ws://127.0.0.1:",
        "component joined realm1 as session",
        "client   joined realm1 as session",
        "rpc      com.demo.add(2, 3) = 5",
        "rpc      com.demo.add(-1, 3) failed: com.demo.error.negative",
        "rpc      com.demo.countdown(3) progressed: 3, 2, 1, liftoff",
        "pubsub   published 1, 2, 3 on com.demo.tick; the component received [1, 2, 3]",
        "meta     wamp.session.count = 3",
        "done     everyone left and the router stopped",
    ] {
        assert!(
            rest.any(|line| line.starts_with(wanted)),
            "{wanted:?} missing or out of order:\n{demo}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
