//! Autobahn|Python peers driven from Rust: `tests/interop/ab_callee.py` and
//! `tests/interop/ab_caller.py` (their docstrings define what they do and print).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::credentials::*;
use crate::error::{Error, Result};
use crate::python::{Finished, PyProcess};
use crate::REALM;

/// How long a callee may take to join and register (Python starts in about a second).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How much longer than its own `--timeout` a peer process may live: the interpreter's
/// start and exit.
const PROCESS_SLACK: Duration = Duration::from_secs(15);

/// The WAMP serializers both sides support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Serializer {
    /// `wamp.2.json`
    Json,
    /// `wamp.2.msgpack`
    MsgPack,
    /// `wamp.2.cbor`
    Cbor,
}

impl Serializer {
    /// Every serializer.
    pub const ALL: [Serializer; 3] = [Serializer::Json, Serializer::MsgPack, Serializer::Cbor];

    /// Autobahn's (and Crossbar's) name for it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Serializer::Json => "json",
            Serializer::MsgPack => "msgpack",
            Serializer::Cbor => "cbor",
        }
    }
}

/// How a peer authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// No credentials (anonymous).
    Anonymous,
    /// WAMP-Ticket.
    Ticket {
        /// The authid.
        authid: String,
        /// The ticket.
        ticket: String,
    },
    /// WAMP-CRA (the router's CHALLENGE says whether the key is salted).
    WampCra {
        /// The authid.
        authid: String,
        /// The secret.
        secret: String,
    },
    /// WAMP-Cryptosign.
    Cryptosign {
        /// The authid.
        authid: String,
        /// The Ed25519 seed, hex.
        seed_hex: String,
    },
    /// Crossbar's (Autobahn's) `scram`.
    Scram {
        /// The authid.
        authid: String,
        /// The password.
        password: String,
    },
}

impl Auth {
    /// The router's ticket principal.
    pub fn ticket() -> Self {
        Auth::Ticket {
            authid: TICKET_AUTHID.into(),
            ticket: TICKET.into(),
        }
    }

    /// The router's unsalted WAMP-CRA user.
    pub fn wampcra() -> Self {
        Auth::WampCra {
            authid: WAMPCRA_AUTHID.into(),
            secret: WAMPCRA_SECRET.into(),
        }
    }

    /// The router's salted WAMP-CRA user.
    pub fn wampcra_salted() -> Self {
        Auth::WampCra {
            authid: WAMPCRA_SALTED_AUTHID.into(),
            secret: WAMPCRA_SALTED_SECRET.into(),
        }
    }

    /// The router's cryptosign principal.
    pub fn cryptosign() -> Self {
        Auth::Cryptosign {
            authid: CRYPTOSIGN_AUTHID.into(),
            seed_hex: CRYPTOSIGN_SEED_HEX.into(),
        }
    }

    /// The router's SCRAM principal.
    pub fn scram() -> Self {
        Auth::Scram {
            authid: SCRAM_AUTHID.into(),
            password: SCRAM_PASSWORD.into(),
        }
    }

    fn args(&self) -> Vec<String> {
        let (flag, authid, secret) = match self {
            Auth::Anonymous => return Vec::new(),
            Auth::Ticket { authid, ticket } => ("--ticket", authid, ticket),
            Auth::WampCra { authid, secret } => ("--wampcra", authid, secret),
            Auth::Cryptosign { authid, seed_hex } => ("--cryptosign", authid, seed_hex),
            Auth::Scram { authid, password } => ("--scram", authid, password),
        };
        vec![flag.to_owned(), format!("{authid}:{secret}")]
    }
}

/// Where and how an Autobahn|Python peer connects.
#[derive(Debug, Clone)]
pub struct Peer {
    /// `ws://`, `wss://`, `rs://`, `rss://` URL, or `unix:PATH`.
    pub url: String,
    /// The realm to join ([`REALM`] by default).
    pub realm: String,
    /// The serializer.
    pub serializer: Serializer,
    /// The credentials ([`Auth::Anonymous`] by default).
    pub auth: Auth,
    /// The CA to trust for `wss://` and `rss://`.
    pub ca_file: Option<PathBuf>,
}

impl Peer {
    /// An anonymous peer of [`REALM`] at `url`.
    pub fn new(url: impl Into<String>, serializer: Serializer) -> Self {
        Self {
            url: url.into(),
            realm: REALM.into(),
            serializer,
            auth: Auth::Anonymous,
            ca_file: None,
        }
    }

    /// An anonymous peer of [`REALM`] on RawSocket over the Unix socket at `path`.
    pub fn unix(path: &Path, serializer: Serializer) -> Self {
        Self::new(format!("unix:{}", path.display()), serializer)
    }

    /// Authenticates with `auth`.
    pub fn with_auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Trusts the CA in `ca_file` (PEM).
    pub fn with_ca_file(mut self, ca_file: &Path) -> Self {
        self.ca_file = Some(ca_file.to_path_buf());
        self
    }

    /// Joins `realm` instead of [`REALM`].
    pub fn with_realm(mut self, realm: &str) -> Self {
        realm.clone_into(&mut self.realm);
        self
    }

    /// The command-line arguments the peer scripts take (`URL REALM SERIALIZER` and
    /// the options of `ab_common.py`), for a script of a test's own.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            self.url.clone().into(),
            self.realm.clone().into(),
            self.serializer.as_str().into(),
        ];
        args.extend(self.auth.args().into_iter().map(OsString::from));
        if let Some(ca) = &self.ca_file {
            args.push("--ca".into());
            args.push(ca.clone().into());
        }
        args
    }
}

/// An invocation as the Autobahn callee received it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedCall {
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Map<String, Value>,
}

/// A running `ab_callee.py`: registered and serving (see its docstring for the results
/// it gives). Stopped by pid when dropped.
#[derive(Debug)]
pub struct Callee {
    process: PyProcess,
}

impl Callee {
    /// Starts a callee for `procedure`; returns once it printed READY (the registration is
    /// confirmed). With `max_calls` it leaves after serving that many calls.
    pub fn start(peer: &Peer, procedure: &str, max_calls: Option<u32>) -> Result<Self> {
        let mut args = peer.args();
        args.push(procedure.into());
        if let Some(n) = max_calls {
            args.push("--calls".into());
            args.push(n.to_string().into());
        }
        let mut process = PyProcess::spawn("ab_callee.py", args)?;
        process.wait_for_line("READY", READY_TIMEOUT)?;
        Ok(Self { process })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The next invocation the callee received, within `limit`.
    pub fn next_call(&mut self, limit: Duration) -> Result<ReceivedCall> {
        let what = format!("ab_callee.py (pid {})", self.pid());
        let Some(line) = self.process.next_line(limit)? else {
            return Err(Error::Output {
                what,
                line: "(end of output before a CALL line)".into(),
            });
        };
        let parsed = line
            .strip_prefix("CALL ")
            .and_then(|json| serde_json::from_str::<Value>(json).ok())
            .and_then(|value| {
                let Value::Object(mut map) = value else {
                    return None;
                };
                let Some(Value::Array(args)) = map.remove("args") else {
                    return None;
                };
                let Some(Value::Object(kwargs)) = map.remove("kwargs") else {
                    return None;
                };
                Some(ReceivedCall { args, kwargs })
            });
        parsed.ok_or(Error::Output { what, line })
    }

    /// Waits up to `limit` for the callee to exit on its own (after `max_calls`).
    pub fn finish(self, limit: Duration) -> Result<Finished> {
        self.process.finish(limit)
    }

    /// Stops the callee (SIGTERM: it leaves the realm and exits).
    pub fn stop(self) -> Result<Finished> {
        self.process.stop()
    }
}

/// A running `ab_authenticator.py`: a dynamic authenticator registered on the router
/// (see its docstring for how it answers). Stopped by pid when dropped.
#[derive(Debug)]
pub struct DynamicAuthenticator {
    process: PyProcess,
}

impl DynamicAuthenticator {
    /// Registers `procedure`, answering from `principals` (the script's table); returns
    /// once the registration is confirmed.
    pub fn start(peer: &Peer, procedure: &str, principals: &Value) -> Result<Self> {
        Self::start_with(peer, procedure, principals, &[])
    }

    /// [`start`](Self::start) with the script's further options (`--authorizer URI
    /// --allow-prefix PREFIX --allow-actions call,subscribe`).
    pub fn start_with(
        peer: &Peer,
        procedure: &str,
        principals: &Value,
        options: &[&str],
    ) -> Result<Self> {
        let mut args = peer.args();
        args.push(procedure.into());
        args.push(principals.to_string().into());
        args.extend(options.iter().map(OsString::from));
        let mut process = PyProcess::spawn("ab_authenticator.py", args)?;
        process.wait_for_line("READY", READY_TIMEOUT)?;
        Ok(Self { process })
    }

    /// Stops it (SIGTERM: it leaves the realm and exits); returns what it printed.
    pub fn stop(self) -> Result<Finished> {
        self.process.stop()
    }
}

/// What a call through `ab_caller.py` came back with.
#[derive(Debug, Clone, PartialEq)]
pub enum CallOutcome {
    /// A RESULT.
    Result {
        /// Positional results.
        args: Vec<Value>,
        /// Keyword results.
        kwargs: Map<String, Value>,
    },
    /// An ERROR, or the reason the session was refused (an ABORT) or never established.
    Error {
        /// The error URI.
        uri: String,
        /// Positional arguments of the error.
        args: Vec<Value>,
        /// Keyword arguments of the error.
        kwargs: Map<String, Value>,
    },
}

/// Calls `procedure` once through `ab_caller.py` as `peer`, with `args` (a JSON array)
/// and `kwargs` (a JSON object); the whole run is bounded by `limit` (plus the
/// interpreter's start).
pub fn call(
    peer: &Peer,
    procedure: &str,
    args: &Value,
    kwargs: &Value,
    limit: Duration,
) -> Result<CallOutcome> {
    let mut argv = peer.args();
    argv.push(procedure.into());
    argv.push(args.to_string().into());
    argv.push(kwargs.to_string().into());
    argv.push("--timeout".into());
    argv.push(limit.as_secs_f64().to_string().into());
    let process = PyProcess::spawn("ab_caller.py", argv)?;
    let what = format!("ab_caller.py (pid {}) calling {procedure}", process.pid());
    let finished = process.finish(limit + PROCESS_SLACK)?;
    let code = finished.status.code();
    let outcome = finished
        .stdout
        .last()
        .and_then(|line| serde_json::from_str::<Value>(line).ok())
        .and_then(|value| parse_outcome(value, code));
    outcome.ok_or_else(|| Error::Exited {
        what,
        status: finished.status,
        output: format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            finished.stdout.join("\n"),
            finished.stderr
        ),
    })
}

/// The caller's JSON line, checked against its exit code (0 result, 1 error).
fn parse_outcome(value: Value, code: Option<i32>) -> Option<CallOutcome> {
    let Value::Object(mut map) = value else {
        return None;
    };
    let args = match map.remove("args") {
        Some(Value::Array(args)) => args,
        _ => return None,
    };
    let kwargs = match map.remove("kwargs") {
        Some(Value::Object(kwargs)) => kwargs,
        _ => return None,
    };
    match (map.remove("error"), code) {
        (None, Some(0)) => Some(CallOutcome::Result { args, kwargs }),
        (Some(Value::String(uri)), Some(1)) => Some(CallOutcome::Error { uri, args, kwargs }),
        _ => None,
    }
}
