//! The Autobahn interop suites, runnable against any WAMP router:
//! `tests/interop/ab_suite.py` (Autobahn|Python 26.10.2, asyncio) and
//! `tests/interop/abjs_suite.mjs` (Autobahn|JS 26.3.1 on Node.js).
//!
//! A [`SuiteTarget`] says where the router listens and which principals it knows; the
//! suites run their named checks against it and print one JSON line per check, which
//! [`run_python_suite`] and [`run_js_suite`] return as [`Check`]s for the test to judge
//! ([`failures`] compares them with a list of known failures). Nothing in a target is
//! specific to Crossbar.io: [`SuiteTarget::crossbar`] fills one in for the harness's
//! router, and the same fields describe any other router.
//!
//! # What the router must offer
//!
//! - Anonymous WebSocket and/or RawSocket transports ([`SuiteTarget::ws_urls`],
//!   [`SuiteTarget::rawsocket_urls`]) on [`SuiteTarget::realm`] whose role may call,
//!   register, publish and subscribe on every URI, may use the meta API (`wamp.session.*`,
//!   `wamp.registration.*`, `wamp.subscription.*`), and discloses callers and publishers.
//!   Most checks run once per (transport, serializer) pair.
//! - Transports where the [`principals`](SuiteTarget::principals) authenticate
//!   ([`SuiteTarget::auth_urls`]; the anonymous URLs are fine when the router mixes
//!   anonymous and authenticated sessions). Each principal's role may do everything, like
//!   the anonymous one. Each is tried with the right secret (it must join with its
//!   authmethod and authid) and a wrong one (refused with `wamp.error.not_authorized`).
//! - A [`restricted`](SuiteTarget::restricted) ticket principal whose role may only call
//!   and subscribe under [`Restricted::allowed_prefix`]; registering, publishing, and
//!   calling or subscribing elsewhere must be refused with `wamp.error.not_authorized`.
//!
//! The checks and their names are listed in the scripts' headers. Authids must not contain
//! `:` (the command lines separate method, authid and secret with it).
//!
//! ```no_run
//! use wamp_integration::suites::{
//!     failures, run_python_suite, AuthMethod, Principal, Restricted, SuiteTarget,
//! };
//!
//! # fn main() -> wamp_integration::Result<()> {
//! // Some router on 127.0.0.1 with the principals described above.
//! let mut target = SuiteTarget::new("realm1");
//! target.ws_urls = vec!["ws://127.0.0.1:8080/ws".into()];
//! target.rawsocket_urls = vec!["rs://127.0.0.1:8081".into()];
//! target.auth_urls = vec!["ws://127.0.0.1:8080/ws".into()];
//! target.principals = vec![
//!     Principal::new(AuthMethod::Ticket, "ticket-user", "secret-ticket"),
//!     Principal::new(AuthMethod::WampScram, "scram-user", "scram-password"),
//! ];
//! target.restricted = Some(Restricted {
//!     authid: "restricted-user".into(),
//!     ticket: "restricted-ticket".into(),
//!     allowed_prefix: "com.allowed.".into(),
//! });
//! let checks = run_python_suite(&target)?;
//! assert!(failures(&checks, &[]).is_empty(), "{:#?}", failures(&checks, &[]));
//! # Ok(())
//! # }
//! ```

use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::autobahn::Serializer;
use crate::credentials::*;
use crate::crossbar::Crossbar;
use crate::error::{io_error, Error, Result};
use crate::process;
use crate::python::{interop_dir, python, repo_root};
use crate::REALM;

/// The environment variable that names the Autobahn|JS `node_modules` directory (else
/// `scripts/js-env.sh` provides it).
pub const JS_MODULES_ENV_VAR: &str = "WAMP_JS_NODE_MODULES";

/// The environment variable that names the Node.js program (default `node`).
pub const NODE_ENV_VAR: &str = "WAMP_INTEROP_NODE";

/// How long `scripts/js-env.sh` may take (an install from the registry takes seconds).
const JS_ENV_LIMIT: Duration = Duration::from_secs(300);

/// How much longer than its deadline plus one check a suite process may live: the
/// interpreter's start and exit.
const PROCESS_SLACK: Duration = Duration::from_secs(20);

/// How long a suite process gets to exit after SIGTERM.
const TERM_GRACE: Duration = Duration::from_secs(5);

/// An authentication method of a [`Principal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// WAMP-Ticket.
    Ticket,
    /// WAMP-CRA with the secret as the key (the CHALLENGE must carry no salt).
    WampCra,
    /// WAMP-CRA with a PBKDF2-derived key (the CHALLENGE must carry the salt).
    WampCraSalted,
    /// WAMP-Cryptosign; the secret is the 32-byte Ed25519 seed in hex.
    Cryptosign,
    /// Autobahn's older `scram` variant, which Crossbar.io speaks (Python suite only).
    AutobahnScram,
    /// The spec's `wamp-scram` (Python suite only; its client is in the suite itself).
    WampScram,
}

impl AuthMethod {
    /// The suites' name for it (`--auth NAME:AUTHID:SECRET`).
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Ticket => "ticket",
            AuthMethod::WampCra => "wampcra",
            AuthMethod::WampCraSalted => "wampcra-salted",
            AuthMethod::Cryptosign => "cryptosign",
            AuthMethod::AutobahnScram => "scram",
            AuthMethod::WampScram => "wamp-scram",
        }
    }

    /// Whether Autobahn|JS can authenticate with it (it has no SCRAM of either kind).
    pub const fn in_js(self) -> bool {
        !matches!(self, AuthMethod::AutobahnScram | AuthMethod::WampScram)
    }
}

/// A static principal of the router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// How it authenticates.
    pub method: AuthMethod,
    /// Its authid.
    pub authid: String,
    /// Its ticket, secret, seed (hex) or password.
    pub secret: String,
}

impl Principal {
    /// A principal.
    pub fn new(method: AuthMethod, authid: &str, secret: &str) -> Self {
        Self {
            method,
            authid: authid.into(),
            secret: secret.into(),
        }
    }

    fn arg(&self) -> String {
        format!("{}:{}:{}", self.method.as_str(), self.authid, self.secret)
    }
}

/// The ticket principal for authorization checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restricted {
    /// Its authid.
    pub authid: String,
    /// Its ticket.
    pub ticket: String,
    /// The only URI prefix it may call and subscribe under (nothing else is allowed).
    pub allowed_prefix: String,
}

/// A router for the suites: where it listens and who may join.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SuiteTarget {
    /// The realm.
    pub realm: String,
    /// Anonymous WebSocket URLs (`ws://HOST:PORT/PATH`).
    pub ws_urls: Vec<String>,
    /// Anonymous RawSocket URLs (`rs://HOST:PORT`). Autobahn|JS uses JSON on them whatever
    /// [`serializers`](Self::serializers) says (its RawSocket speaks nothing else).
    pub rawsocket_urls: Vec<String>,
    /// The serializers to run the per-endpoint checks with.
    pub serializers: Vec<Serializer>,
    /// Where the principals authenticate (`ws://` or `rs://`).
    pub auth_urls: Vec<String>,
    /// The principals to authenticate as, right and wrong.
    pub principals: Vec<Principal>,
    /// The principal for the authorization checks.
    pub restricted: Option<Restricted>,
    /// The bound of each awaited reply or event.
    pub wait: Duration,
    /// The bound of one check.
    pub check_timeout: Duration,
    /// Checks not started this long after the suite began fail as "not run".
    pub deadline: Duration,
    /// Only the checks whose name matches this regular expression run.
    pub only: Option<String>,
}

impl SuiteTarget {
    /// A target with no transports yet: realm `realm`, every serializer, waits of 5 s,
    /// checks of at most 20 s, a deadline of 120 s.
    pub fn new(realm: &str) -> Self {
        Self {
            realm: realm.into(),
            ws_urls: Vec::new(),
            rawsocket_urls: Vec::new(),
            serializers: Serializer::ALL.to_vec(),
            auth_urls: Vec::new(),
            principals: Vec::new(),
            restricted: None,
            wait: Duration::from_secs(5),
            check_timeout: Duration::from_secs(20),
            deadline: Duration::from_secs(120),
            only: None,
        }
    }

    /// The harness's Crossbar.io router: its anonymous WebSocket and RawSocket, both
    /// principal transports, every principal of [`credentials`](crate::credentials)
    /// (SCRAM as Autobahn's `scram`, which is what Crossbar speaks) and the restricted
    /// ticket principal.
    pub fn crossbar(router: &Crossbar) -> Self {
        let mut target = Self::new(REALM);
        target.ws_urls = vec![router.ws_url()];
        target.rawsocket_urls = vec![router.rawsocket_url()];
        target.auth_urls = vec![router.ws_auth_url(), router.rawsocket_auth_url()];
        target.with_harness_principals(AuthMethod::AutobahnScram)
    }

    /// Sets [`principals`](Self::principals) and [`restricted`](Self::restricted) to
    /// those of [`credentials`](crate::credentials), the SCRAM principal speaking `scram`
    /// (Autobahn's [`AuthMethod::AutobahnScram`] or the spec's [`AuthMethod::WampScram`]).
    pub fn with_harness_principals(mut self, scram: AuthMethod) -> Self {
        self.principals = vec![
            Principal::new(AuthMethod::Ticket, TICKET_AUTHID, TICKET),
            Principal::new(AuthMethod::WampCra, WAMPCRA_AUTHID, WAMPCRA_SECRET),
            Principal::new(
                AuthMethod::WampCraSalted,
                WAMPCRA_SALTED_AUTHID,
                WAMPCRA_SALTED_SECRET,
            ),
            Principal::new(
                AuthMethod::Cryptosign,
                CRYPTOSIGN_AUTHID,
                CRYPTOSIGN_SEED_HEX,
            ),
            Principal::new(scram, SCRAM_AUTHID, SCRAM_PASSWORD),
        ];
        self.restricted = Some(Restricted {
            authid: RESTRICTED_AUTHID.into(),
            ticket: RESTRICTED_TICKET.into(),
            allowed_prefix: RESTRICTED_ALLOWED_PREFIX.into(),
        });
        self
    }

    /// The longest a suite process may run.
    pub fn process_limit(&self) -> Duration {
        self.deadline + self.check_timeout + PROCESS_SLACK
    }

    /// The command-line arguments both suites understand; principals are filtered by
    /// `keep`.
    fn args(&self, keep: impl Fn(&Principal) -> bool) -> Vec<OsString> {
        let mut args: Vec<String> = vec!["--realm".into(), self.realm.clone()];
        let mut push = |flag: &str, value: String| {
            args.push(flag.into());
            args.push(value);
        };
        for url in &self.ws_urls {
            push("--ws", url.clone());
        }
        for url in &self.rawsocket_urls {
            push("--rawsocket", url.clone());
        }
        let serializers: Vec<&str> = self.serializers.iter().map(|s| s.as_str()).collect();
        push("--serializers", serializers.join(","));
        for url in &self.auth_urls {
            push("--auth-url", url.clone());
        }
        for principal in self.principals.iter().filter(|p| keep(p)) {
            push("--auth", principal.arg());
        }
        if let Some(r) = &self.restricted {
            push("--restricted", format!("{}:{}", r.authid, r.ticket));
            push("--allowed-prefix", r.allowed_prefix.clone());
        }
        push("--wait", self.wait.as_secs_f64().to_string());
        push(
            "--check-timeout",
            self.check_timeout.as_secs_f64().to_string(),
        );
        push("--deadline", self.deadline.as_secs_f64().to_string());
        if let Some(only) = &self.only {
            push("--only", only.clone());
        }
        args.into_iter().map(OsString::from).collect()
    }
}

/// One check's outcome as a suite reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The check's name, e.g. `rpc.args_kwargs@ws/json` (see the scripts' headers).
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was seen (why it failed, or what passed).
    pub detail: String,
}

/// A check expected to fail on a particular router, and why.
#[derive(Debug, Clone, Copy)]
pub struct KnownFailure {
    /// The check's name without its `@endpoint` tag (it applies on every endpoint).
    pub check: &'static str,
    /// Why it fails there (for the record: a deviation of the router, not of the suite).
    pub reason: &'static str,
}

/// The complaints about a suite's results: checks that failed without being known to,
/// known failures that passed (the list is stale), and a suite that did not finish.
/// Empty when everything is as expected.
pub fn failures(checks: &[Check], known: &[KnownFailure]) -> Vec<String> {
    let base = |name: &str| name.split('@').next().unwrap_or(name).to_owned();
    let mut complaints = Vec::new();
    for check in checks {
        let expected = known.iter().find(|k| k.check == base(&check.name));
        match (check.ok, expected) {
            (true, None) | (false, Some(_)) => {}
            (false, None) => complaints.push(format!("FAILED {}: {}", check.name, check.detail)),
            (true, Some(k)) => complaints.push(format!(
                "PASSED but listed as a known failure ({}): {}: {}",
                k.reason, check.name, check.detail
            )),
        }
    }
    match checks.last() {
        Some(last) if last.name == "suite.done" => {
            let ran = checks.len() - 1;
            if !last.detail.starts_with(&format!("{ran} checks,")) {
                complaints.push(format!(
                    "suite.done says {:?} but {ran} checks were read",
                    last.detail
                ));
            }
        }
        _ => complaints.push("the suite did not report suite.done (it ended early)".into()),
    }
    complaints
}

/// One suite's `run` (begun at `started`), for a test to judge: when it ran, reports it on
/// stderr (how many checks passed, in how long, and each failed one) and adds to
/// `complaints` each failure not in `known` (see [`failures`]), and returns the checks;
/// when it did not run, adds why.
pub fn tally(
    suite: &str,
    run: Result<Vec<Check>>,
    started: Instant,
    known: &[KnownFailure],
    complaints: &mut Vec<String>,
) -> Option<Vec<Check>> {
    match run {
        Ok(checks) => {
            report(suite, &checks, started);
            complaints.extend(
                failures(&checks, known)
                    .into_iter()
                    .map(|c| format!("{suite}: {c}")),
            );
            Some(checks)
        }
        Err(e) => {
            complaints.push(format!("{suite} did not run: {e}"));
            None
        }
    }
}

fn report(suite: &str, checks: &[Check], started: Instant) {
    let passed = checks.iter().filter(|c| c.ok).count();
    eprintln!(
        "{suite}: {} checks, {passed} passed, in {:?}",
        checks.len(),
        started.elapsed()
    );
    for check in checks.iter().filter(|c| !c.ok) {
        eprintln!("  not ok {}: {}", check.name, check.detail);
    }
}

/// Runs `tests/interop/ab_suite.py` against `target` with the interop venv's Python.
pub fn run_python_suite(target: &SuiteTarget) -> Result<Vec<Check>> {
    let mut command = Command::new(python()?);
    command
        .arg(interop_dir().join("ab_suite.py"))
        .args(target.args(|_| true))
        .env("PYTHONUNBUFFERED", "1");
    run_suite("ab_suite.py", command, target.process_limit())
}

/// Runs `tests/interop/abjs_suite.mjs` against `target` with Node.js (with
/// `--experimental-websocket` below Node 22) and the Autobahn|JS of
/// `scripts/js-env.sh`. Principals Autobahn|JS cannot speak ([`AuthMethod::in_js`]) are
/// left out.
pub fn run_js_suite(target: &SuiteTarget) -> Result<Vec<Check>> {
    let modules = node_modules()?;
    let node = node_program();
    let mut command = Command::new(&node);
    if node_major(&node)? < 22 {
        // Node 20 has its WebSocket client (which Autobahn|JS uses) only behind this flag.
        command.arg("--experimental-websocket");
    }
    command
        .arg(interop_dir().join("abjs_suite.mjs"))
        .arg("--node-modules")
        .arg(&modules)
        .args(target.args(|p| p.method.in_js()));
    run_suite("abjs_suite.mjs", command, target.process_limit())
}

/// The Autobahn|JS `node_modules` directory: [`JS_MODULES_ENV_VAR`] when set, else the
/// last line of `scripts/js-env.sh` (which installs it on first use), once per process.
pub fn node_modules() -> Result<PathBuf> {
    static MODULES: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    let script = repo_root().join("scripts/js-env.sh");
    MODULES
        .get_or_init(|| locate_modules(&script))
        .clone()
        .map_err(|reason| Error::JsEnv { script, reason })
}

fn locate_modules(script: &std::path::Path) -> std::result::Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(JS_MODULES_ENV_VAR) {
        let dir = PathBuf::from(dir);
        return if dir.join("autobahn").is_dir() {
            Ok(dir)
        } else {
            Err(format!(
                "{JS_MODULES_ENV_VAR}={} has no autobahn package",
                dir.display()
            ))
        };
    }
    let mut command = Command::new("bash");
    command.arg(script);
    let finished =
        run_bounded(command, JS_ENV_LIMIT, Stderr::Inherit).map_err(|e| e.to_string())?;
    if !finished.status.success() {
        return Err(format!(
            "exited with {} (its log is above)",
            finished.status
        ));
    }
    let dir = finished
        .stdout
        .last()
        .map(|line| PathBuf::from(line.trim()))
        .ok_or("printed no node_modules path")?;
    if dir.join("autobahn").is_dir() {
        Ok(dir)
    } else {
        Err(format!("printed {}, which has no autobahn", dir.display()))
    }
}

fn node_program() -> OsString {
    std::env::var_os(NODE_ENV_VAR).unwrap_or_else(|| "node".into())
}

/// The major version of `node` (`v20.20.2` → 20).
fn node_major(node: &OsString) -> Result<u32> {
    let mut command = Command::new(node);
    command.arg("--version");
    let finished = run_bounded(command, Duration::from_secs(30), Stderr::Capture)?;
    let line = finished.stdout.first().cloned().unwrap_or_default();
    line.trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .ok_or(Error::Output {
            what: format!("{} --version", node.to_string_lossy()),
            line,
        })
}

/// Runs a suite and parses its JSON lines; a suite that does not exit 0 is an error that
/// carries its output.
fn run_suite(what: &str, command: Command, limit: Duration) -> Result<Vec<Check>> {
    let finished = run_bounded(command, limit, Stderr::Capture)?;
    let output = || {
        format!(
            "--- stdout ---\n{}\n--- stderr (tail) ---\n{}",
            finished.stdout.join("\n"),
            tail(&finished.stderr, 8000)
        )
    };
    if !finished.status.success() {
        return Err(Error::Exited {
            what: what.into(),
            status: finished.status,
            output: output(),
        });
    }
    let mut checks = Vec::new();
    for line in &finished.stdout {
        match parse_check(line) {
            Some(check) => checks.push(check),
            None => {
                return Err(Error::Output {
                    what: format!("{what}\n{}", output()),
                    line: line.clone(),
                })
            }
        }
    }
    Ok(checks)
}

/// One `{"check": NAME, "ok": BOOL, "detail": TEXT}` line.
fn parse_check(line: &str) -> Option<Check> {
    let value: Value = serde_json::from_str(line).ok()?;
    Some(Check {
        name: value.get("check")?.as_str()?.to_owned(),
        ok: value.get("ok")?.as_bool()?,
        detail: value.get("detail")?.as_str()?.to_owned(),
    })
}

fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// How a bounded process ended.
struct Finished {
    status: ExitStatus,
    stdout: Vec<String>,
    stderr: String,
}

/// How [`run_bounded`] treats the child's stderr.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stderr {
    /// Read it (for error messages).
    Capture,
    /// Let it through to the test's stderr (an installer's progress log).
    Inherit,
}

/// Runs `command` to completion within `limit` (stopped by its pid after that), reading
/// all of stdout (and stderr, if captured).
fn run_bounded(mut command: Command, limit: Duration, stderr_mode: Stderr) -> Result<Finished> {
    let what = format!("{command:?}");
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(match stderr_mode {
            Stderr::Capture => Stdio::piped(),
            Stderr::Inherit => Stdio::inherit(),
        });
    let mut child = command.spawn().map_err(io_error(format!("spawn {what}")))?;
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let status =
        process::wait_timeout(&mut child, limit).map_err(io_error(format!("wait for {what}")))?;
    let Some(status) = status else {
        let _ = process::terminate(&mut child, TERM_GRACE);
        return Err(Error::Timeout {
            what,
            limit,
            output: format!(
                "--- stdout ---\n{}\n--- stderr (tail) ---\n{}",
                collect(&stdout),
                tail(&collect(&stderr), 8000)
            ),
        });
    };
    Ok(Finished {
        status,
        stdout: collect(&stdout).lines().map(str::to_owned).collect(),
        stderr: collect(&stderr),
    })
}

/// Reads `pipe` to its end on a thread; the text arrives on the returned channel.
fn read_all(pipe: Option<impl Read + Send + 'static>) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}

/// What a [`read_all`] thread read. The pipe closes when the process exits, unless a
/// grandchild still holds it: then, after a short wait, whatever is missing is left out.
fn collect(text: &Receiver<String>) -> String {
    text.recv_timeout(Duration::from_secs(2))
        .unwrap_or_else(|_| "(not collected: the pipe stayed open)".into())
}

/// The permissions of the suites' anonymous and authenticated roles: everything, with
/// callers and publishers disclosed.
pub const ALLOW_EVERYTHING: &str = concat!(
    r#"[{ uri = "", match = "prefix", "#,
    r#"allow = { call = true, register = true, publish = true, subscribe = true }, "#,
    r#"disclose = { caller = true, publisher = true } }]"#
);

/// The config file of the suites' router: one realm, [`REALM`], that mixes anonymous
/// sessions with every principal of [`credentials`](crate::credentials)
/// (WAMP-SCRAM as the spec's `wamp-scram`) and the restricted ticket principal, on one
/// WebSocket and one RawSocket listener. Our router picks the method from the client's
/// HELLO, so anonymous and authenticated sessions share the listeners, and a wrong
/// secret is refused rather than taken for anonymous.
pub fn wamp_router_config(ws_port: u16, rs_port: u16) -> String {
    format!(
        r#"
[listen]
ws = "127.0.0.1:{ws_port}"
ws_path = "/ws"
rawsocket = "127.0.0.1:{rs_port}"

[[realms]]
name = "{REALM}"

[[realms.roles]]
name = "{ANONYMOUS_ROLE}"
permissions = {ALLOW_EVERYTHING}

[[realms.roles]]
name = "{AUTHENTICATED_ROLE}"
permissions = {ALLOW_EVERYTHING}

[[realms.roles]]
name = "{RESTRICTED_ROLE}"
permissions = [{{ uri = "{RESTRICTED_ALLOWED_PREFIX}", match = "prefix", allow = {{ call = true, subscribe = true }} }}]

[realms.auth.anonymous]
role = "{ANONYMOUS_ROLE}"

[[realms.auth.ticket]]
authid = "{TICKET_AUTHID}"
role = "{AUTHENTICATED_ROLE}"
ticket = "{TICKET}"

[[realms.auth.ticket]]
authid = "{RESTRICTED_AUTHID}"
role = "{RESTRICTED_ROLE}"
ticket = "{RESTRICTED_TICKET}"

[[realms.auth.wampcra]]
authid = "{WAMPCRA_AUTHID}"
role = "{AUTHENTICATED_ROLE}"
secret = "{WAMPCRA_SECRET}"

[[realms.auth.wampcra]]
authid = "{WAMPCRA_SALTED_AUTHID}"
role = "{AUTHENTICATED_ROLE}"
secret = "{WAMPCRA_SALTED_SECRET}"
salt = {{ salt = "{WAMPCRA_SALT}", iterations = {WAMPCRA_ITERATIONS}, keylen = {WAMPCRA_KEYLEN} }}

[[realms.auth.cryptosign]]
authid = "{CRYPTOSIGN_AUTHID}"
role = "{AUTHENTICATED_ROLE}"
authorized_keys = ["{CRYPTOSIGN_PUBLIC_KEY_HEX}"]

[[realms.auth.scram]]
authid = "{SCRAM_AUTHID}"
role = "{AUTHENTICATED_ROLE}"
password = "{SCRAM_PASSWORD}"
# Cheap on purpose: the suites derive the key on every attempt.
kdf = {{ name = "argon2id13", iterations = {SCRAM_ITERATIONS}, memory = {SCRAM_MEMORY} }}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, ok: bool) -> Check {
        Check {
            name: name.into(),
            ok,
            detail: "d".into(),
        }
    }

    #[test]
    fn check_lines_parse_and_junk_does_not() {
        assert_eq!(
            parse_check(r#"{"check": "rpc.error@ws/json", "ok": false, "detail": "why"}"#),
            Some(Check {
                name: "rpc.error@ws/json".into(),
                ok: false,
                detail: "why".into()
            })
        );
        assert_eq!(parse_check("Traceback (most recent call last):"), None);
        assert_eq!(
            parse_check(r#"{"check": "x", "ok": "yes", "detail": ""}"#),
            None
        );
    }

    #[test]
    fn failures_name_unexpected_failures_stale_known_ones_and_a_missing_end() {
        let known = [KnownFailure {
            check: "rpc.cancel.skip",
            reason: "router deviation",
        }];
        let done = Check {
            name: "suite.done".into(),
            ok: true,
            detail: "3 checks, 2 passed, 1 failed".into(),
        };
        let good = vec![
            check("rpc.args_kwargs@ws/json", true),
            check("rpc.cancel.skip@ws/json", false),
            check("rpc.cancel.skip@rs/cbor", false),
            done.clone(),
        ];
        assert!(
            failures(&good, &known).is_empty(),
            "{:?}",
            failures(&good, &known)
        );

        let bad = vec![
            check("rpc.args_kwargs@ws/json", false),
            check("rpc.cancel.skip@ws/json", true),
            check("meta.session.count", true),
            done,
        ];
        let complaints = failures(&bad, &known);
        assert_eq!(complaints.len(), 2, "{complaints:?}");
        assert!(complaints[0].starts_with("FAILED rpc.args_kwargs@ws/json"));
        assert!(complaints[1].starts_with("PASSED but listed"));

        let cut = vec![check("rpc.args_kwargs@ws/json", true)];
        assert_eq!(failures(&cut, &[]).len(), 1);
    }

    #[test]
    fn crossbar_like_targets_give_both_suites_their_arguments() {
        let mut target = SuiteTarget::new("realm9");
        target.ws_urls = vec!["ws://127.0.0.1:1/ws".into()];
        target.principals = vec![
            Principal::new(AuthMethod::Ticket, "t", "tk"),
            Principal::new(AuthMethod::WampScram, "s", "pw:with:colons"),
        ];
        let all: Vec<String> = target
            .args(|_| true)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = all.join(" ");
        assert!(joined.starts_with("--realm realm9 --ws ws://127.0.0.1:1/ws"));
        assert!(joined.contains("--serializers json,msgpack,cbor"));
        assert!(joined.contains("--auth ticket:t:tk --auth wamp-scram:s:pw:with:colons"));
        let js: Vec<OsString> = target.args(|p| p.method.in_js());
        assert!(!js
            .iter()
            .any(|a| a.to_string_lossy().contains("wamp-scram")));
    }
}
