//! Interop with a real peer's serializers: Autobahn|Python (from PyPI, installed by
//! `scripts/python-env.sh`) decodes and re-encodes thousands of messages built here, and
//! builds messages of its own for us to decode, in JSON, MessagePack and CBOR.
//!
//! Direction 1 (Rust → Autobahn → Rust): every message Rust encodes must be accepted by
//! Autobahn, and what Autobahn writes back must decode here to the same message.
//! Direction 2 (Autobahn → Rust): every message Autobahn builds must decode here, and our
//! re-encoding of it must carry exactly the elements Autobahn's `marshal()` describes.
//!
//! Autobahn rebuilds Options/Details from the keys it knows (see the header of
//! `tests/interop/autobahn_serdes.py`), so the generator below only uses, per message
//! type, keys Autobahn keeps; everything else (payloads, auth extras) is arbitrary.
//!
//! The Python interpreter comes from `WAMP_INTEROP_PYTHON`, or else this test runs
//! `scripts/python-env.sh` (which creates the venv on first use).

// This test supervises a child process with a deadline; the core's ban on clocks and
// threads (wamp-core/clippy.toml) is for the library, not for its test harness.
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wamp_proto::message::*;
use wamp_proto::{
    serializer::SerializerKind, CancelMode, Dict, Id, InvokePolicy, Map, MatchPolicy, Payload, Uri,
    Value,
};

const MESSAGES_PER_SERIALIZER: usize = 3000;
const PEER_TIMEOUT: Duration = Duration::from_secs(120);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("WAMP_INTEROP_PYTHON") {
        return PathBuf::from(p);
    }
    let script = repo_root().join("scripts/python-env.sh");
    let out = run_bounded(
        Command::new("bash").arg(&script),
        b"",
        Duration::from_secs(600),
    );
    let stdout = String::from_utf8(out).expect("python-env.sh prints UTF-8");
    let last = stdout
        .lines()
        .last()
        .expect("python-env.sh printed the python path");
    PathBuf::from(last.trim())
}

/// Runs a command with `input` on stdin and returns its stdout; fails the test if it runs
/// longer than `limit` (the process is killed by its pid) or exits non-zero.
fn run_bounded(cmd: &mut Command, input: &[u8], limit: Duration) -> Vec<u8> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn peer process");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("peer process {} exceeded {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    writer.join().expect("writer thread");
    let out = reader.join().expect("reader thread");
    assert!(status.success(), "peer process failed: {status}");
    out
}

fn autobahn(py: &Path, mode: &str, kind: SerializerKind, extra: &[&str], input: &[u8]) -> String {
    let script = repo_root().join("tests/interop/autobahn_serdes.py");
    let out = run_bounded(
        Command::new(py)
            .arg(script)
            .arg(mode)
            .arg(kind.name())
            .args(extra),
        input,
        PEER_TIMEOUT,
    );
    String::from_utf8(out).expect("autobahn_serdes.py prints UTF-8")
}

// ---------------------------------------------------------------------------------------
// A generator of varied messages, within what Autobahn keeps on a round trip.

struct Gen {
    rng: StdRng,
    json: bool,
}

const WORDS: &[&str] = &[
    "com",
    "example",
    "myapp",
    "topic1",
    "add2",
    "ünïcødé",
    "日本語",
    "a_b",
    "x",
    "v2",
];
const STRINGS: &[&str] = &[
    "",
    "Hello, world!",
    "ünïcødé ✓",
    "emoji 😀🎉 (outside the BMP)",
    "quotes \" and \\ backslash",
    "control \u{1} \n \t chars",
    "\0leading nul",
    "日本語のテキスト",
];

impl Gen {
    fn id(&mut self) -> u64 {
        match self.rng.random_range(0..10) {
            0 => 1,
            1 => 1 << 53,
            2 => self.rng.random_range(1..1000),
            _ => self.rng.random_range(1..=(1u64 << 53)),
        }
    }

    fn uri(&mut self) -> Uri {
        let n = self.rng.random_range(1..5);
        let parts: Vec<&str> = (0..n)
            .map(|_| WORDS[self.rng.random_range(0..WORDS.len())])
            .collect();
        Uri::parse(&parts.join(".")).expect("generated URI is valid")
    }

    fn pattern(&mut self, policy: MatchPolicy) -> Uri {
        let mut parts: Vec<&str> = (0..self.rng.random_range(2..5))
            .map(|_| WORDS[self.rng.random_range(0..WORDS.len())])
            .collect();
        if policy == MatchPolicy::Wildcard {
            let i = self.rng.random_range(0..parts.len());
            parts[i] = "";
        }
        Uri::parse_pattern(&parts.join("."), policy).expect("generated pattern is valid")
    }

    fn string(&mut self) -> String {
        let s = STRINGS[self.rng.random_range(0..STRINGS.len())];
        // In JSON a string starting with NUL is binary by the spec's convention.
        if self.json && s.starts_with('\0') {
            "nul later \0 is fine".into()
        } else {
            s.into()
        }
    }

    fn value(&mut self, depth: u32) -> Value {
        let leaf_only = depth >= 3;
        match self.rng.random_range(0..if leaf_only { 9 } else { 11 }) {
            0 => Value::Null,
            1 => Value::Bool(self.rng.random()),
            2 => Value::UInt(self.rng.random_range(0..100)),
            3 => Value::UInt(match self.rng.random_range(0..3) {
                0 => u64::MAX,
                1 => 1 << 53,
                _ => self.rng.random(),
            }),
            4 => Value::Int(match self.rng.random_range(0..3) {
                0 => i64::MIN,
                1 => -1,
                _ => self.rng.random_range(i64::MIN..0),
            }),
            5 => Value::Float(match self.rng.random_range(0..4) {
                0 => 0.5,
                1 => -1.25e-7,
                2 => 1e300,
                _ => self.rng.random_range(-1e6..1e6),
            }),
            6 | 7 => Value::String(self.string()),
            8 => {
                let len = self.rng.random_range(0..40);
                Value::Bytes(Bytes::from(
                    (0..len).map(|_| self.rng.random()).collect::<Vec<u8>>(),
                ))
            }
            9 => Value::List(
                (0..self.rng.random_range(0..5))
                    .map(|_| self.value(depth + 1))
                    .collect(),
            ),
            _ => Value::Map(self.map(depth + 1)),
        }
    }

    fn map(&mut self, depth: u32) -> Map {
        (0..self.rng.random_range(0..5))
            .map(|_| (self.string(), self.value(depth)))
            .collect()
    }

    fn payload(&mut self) -> Payload {
        let args: Vec<Value> = (0..self.rng.random_range(0..4))
            .map(|_| self.value(0))
            .collect();
        let kwargs = if self.rng.random_bool(0.4) {
            self.map(0)
        } else {
            Map::new()
        };
        // The payload's own serializer varies, so conversion on encoding is exercised too.
        // Strings starting with NUL exist only outside JSON, so their payloads are never
        // held in JSON.
        let format = match self.json {
            true => SerializerKind::ALL[self.rng.random_range(0..3)],
            false => [SerializerKind::MsgPack, SerializerKind::Cbor][self.rng.random_range(0..2)],
        };
        Payload::encode(format, &args, &kwargs).expect("payload encodes")
    }

    fn maybe(&mut self) -> bool {
        self.rng.random_bool(0.5)
    }

    fn authextra(&mut self) -> Map {
        let mut m = self.map(1);
        m.insert(
            "pubkey".into(),
            Value::from("9c194391af3bf566fc11a619e8df200ba02efb35b91bdd98b424f20f4163875e"),
        );
        m
    }

    fn message(&mut self, i: usize) -> Message {
        let request = |g: &mut Gen| RequestIdFrom(g.id()).get();
        match i % 25 {
            0 => {
                let mut details = Dict::new()
                    .with_role(
                        "caller",
                        [
                            "caller_identification",
                            "progressive_call_results",
                            "call_canceling",
                        ],
                    )
                    .with_role(
                        "subscriber",
                        ["publisher_identification", "pattern_based_subscription"],
                    );
                if self.maybe() {
                    details = details
                        .with_role(
                            "publisher",
                            ["publisher_exclusion", "subscriber_blackwhite_listing"],
                        )
                        .with_role(
                            "callee",
                            ["pattern_based_registration", "shared_registration"],
                        )
                        .with_authmethods(["cryptosign", "ticket"])
                        .with_authid(self.string())
                        .with_authextra(self.authextra());
                }
                Message::Hello(Hello {
                    realm: self.uri(),
                    details,
                })
            }
            1 => {
                let mut details = Dict::new()
                    .with_role(
                        "broker",
                        ["publisher_identification", "pattern_based_subscription"],
                    )
                    .with_role(
                        "dealer",
                        [
                            "progressive_call_results",
                            "call_canceling",
                            "shared_registration",
                        ],
                    );
                if self.maybe() {
                    details = details
                        .with_authid("joe")
                        .with_authrole("user")
                        .with_authmethod("ticket")
                        .with_authprovider("static");
                }
                Message::Welcome(Welcome {
                    session: Id::new(self.id()).expect("id").into(),
                    details,
                })
            }
            2 => Message::Abort(Abort {
                details: if self.maybe() {
                    Dict::new().with_message("The realm does not exist.")
                } else {
                    Dict::new()
                },
                reason: Uri::NO_SUCH_REALM,
                payload: Payload::empty(),
            }),
            3 => Message::Challenge(Challenge {
                method: ["ticket", "wampcra", "cryptosign"][self.rng.random_range(0..3)].into(),
                extra: Dict::from(self.map(1)),
            }),
            4 => Message::Authenticate(Authenticate {
                signature: self.string(),
                extra: Dict::from(self.map(1)),
            }),
            5 => Message::Goodbye(Goodbye {
                details: if self.maybe() {
                    Dict::new().with_message("bye now")
                } else {
                    Dict::new()
                },
                reason: if self.maybe() {
                    Uri::CLOSE_SYSTEM_SHUTDOWN
                } else {
                    Uri::GOODBYE_AND_OUT
                },
            }),
            6 => Message::Error(wamp_proto::message::Error {
                request_type: Error::REQUEST_TYPES
                    [self.rng.random_range(0..Error::REQUEST_TYPES.len())],
                request: request(self),
                details: Dict::new(),
                error: self.uri(),
                payload: self.payload(),
            }),
            7 => {
                let mut options = Dict::new();
                if self.maybe() {
                    options = options
                        .with_acknowledge(self.maybe())
                        .with_exclude_me(self.maybe())
                        .with_exclude([Id::new(self.id()).expect("id").into()])
                        .with_eligible_authrole(["admin", "user"])
                        .with_retain(true);
                }
                let encrypted = self.rng.random_bool(0.1);
                if encrypted {
                    options = options
                        .with("enc_algo", "cryptobox")
                        .with("enc_serializer", "cbor");
                }
                Message::Publish(Publish {
                    request: request(self),
                    options,
                    topic: self.uri(),
                    payload: if encrypted {
                        Payload::transparent(Bytes::from_static(b"\xa1fnotice\x01\x00\xff"))
                    } else {
                        self.payload()
                    },
                })
            }
            8 => Message::Published(Published {
                request: request(self),
                publication: Id::new(self.id()).expect("id").into(),
            }),
            9 => {
                let policy = [
                    MatchPolicy::Exact,
                    MatchPolicy::Prefix,
                    MatchPolicy::Wildcard,
                ][self.rng.random_range(0..3)];
                Message::Subscribe(Subscribe {
                    request: request(self),
                    options: Dict::new()
                        .with_match_policy(policy)
                        .with_get_retained(self.maybe()),
                    topic: self.pattern(policy),
                })
            }
            10 => Message::Subscribed(Subscribed {
                request: request(self),
                subscription: Id::new(self.id()).expect("id").into(),
            }),
            11 => Message::Unsubscribe(Unsubscribe {
                request: request(self),
                subscription: Id::new(self.id()).expect("id").into(),
                options: Dict::new(),
            }),
            12 => {
                if self.maybe() {
                    Message::Unsubscribed(Unsubscribed {
                        request: Some(request(self)),
                        details: Dict::new(),
                    })
                } else {
                    Message::Unsubscribed(Unsubscribed {
                        request: None,
                        details: Dict::new()
                            .with("subscription", self.id())
                            .with_reason("wamp.error.revoked"),
                    })
                }
            }
            13 => {
                let mut details = Dict::new();
                if self.maybe() {
                    details = details
                        .with_publisher(Id::new(self.id()).expect("id").into())
                        .with_publisher_authid("alice")
                        .with_publisher_authrole("user")
                        .with_topic(self.uri().as_str())
                        .with_retained(self.maybe());
                }
                Message::Event(Event {
                    subscription: Id::new(self.id()).expect("id").into(),
                    publication: Id::new(self.id()).expect("id").into(),
                    details,
                    payload: self.payload(),
                })
            }
            14 => Message::EventReceived(EventReceived {
                publication: Id::new(self.id()).expect("id").into(),
            }),
            15 => {
                let mut options = Dict::new();
                if self.maybe() {
                    options = options
                        .with_timeout(self.rng.random_range(0..100_000))
                        .with_receive_progress(true);
                }
                Message::Call(Call {
                    request: request(self),
                    options,
                    procedure: self.uri(),
                    payload: self.payload(),
                })
            }
            16 => Message::Cancel(Cancel {
                request: request(self),
                options: Dict::new().with_mode(
                    [CancelMode::Skip, CancelMode::Kill, CancelMode::KillNoWait]
                        [self.rng.random_range(0..3)],
                ),
            }),
            17 => Message::Result(CallResult {
                request: request(self),
                details: if self.maybe() {
                    Dict::new().with_progress(true)
                } else {
                    Dict::new()
                },
                payload: self.payload(),
            }),
            18 => {
                let policy = [
                    MatchPolicy::Exact,
                    MatchPolicy::Prefix,
                    MatchPolicy::Wildcard,
                ][self.rng.random_range(0..3)];
                let mut options = Dict::new().with_match_policy(policy);
                if self.maybe() {
                    options = options.with_invoke(
                        [
                            InvokePolicy::RoundRobin,
                            InvokePolicy::Random,
                            InvokePolicy::First,
                            InvokePolicy::Last,
                        ][self.rng.random_range(0..4)],
                    );
                }
                Message::Register(Register {
                    request: request(self),
                    options,
                    procedure: self.pattern(policy),
                })
            }
            19 => Message::Registered(Registered {
                request: request(self),
                registration: Id::new(self.id()).expect("id").into(),
            }),
            20 => Message::Unregister(Unregister {
                request: request(self),
                registration: Id::new(self.id()).expect("id").into(),
                options: Dict::new(),
            }),
            21 => {
                if self.maybe() {
                    Message::Unregistered(Unregistered {
                        request: Some(request(self)),
                        details: Dict::new(),
                    })
                } else {
                    Message::Unregistered(Unregistered {
                        request: None,
                        details: Dict::new()
                            .with("registration", self.id())
                            .with_reason("wamp.error.revoked"),
                    })
                }
            }
            22 => {
                let mut details = Dict::new();
                if self.maybe() {
                    details = details
                        .with_caller(Id::new(self.id()).expect("id").into())
                        .with_caller_authid("bob")
                        .with_caller_authrole("admin")
                        .with_procedure(self.uri().as_str())
                        .with_receive_progress(true)
                        .with_timeout(self.rng.random_range(1..60_000));
                }
                Message::Invocation(Invocation {
                    request: request(self),
                    registration: Id::new(self.id()).expect("id").into(),
                    details,
                    payload: self.payload(),
                })
            }
            23 => Message::Interrupt(Interrupt {
                request: request(self),
                options: Dict::new().with_mode(if self.maybe() {
                    CancelMode::Kill
                } else {
                    CancelMode::KillNoWait
                }),
            }),
            _ => Message::Yield(Yield {
                request: request(self),
                options: if self.maybe() {
                    Dict::new().with_progress(true)
                } else {
                    Dict::new()
                },
                payload: self.payload(),
            }),
        }
    }
}

/// A request ID from a generated integer.
struct RequestIdFrom(u64);
impl RequestIdFrom {
    fn get(self) -> wamp_proto::RequestId {
        wamp_proto::RequestId::new(self.0).expect("generated IDs are in range")
    }
}

#[test]
fn autobahn_decodes_and_reencodes_what_rust_encodes() {
    let py = python();
    for kind in [
        SerializerKind::Json,
        SerializerKind::MsgPack,
        SerializerKind::Cbor,
    ] {
        let mut gen = Gen {
            rng: StdRng::seed_from_u64(0x5741_4d50 + kind.rawsocket_id() as u64),
            json: kind == SerializerKind::Json,
        };
        let messages: Vec<Message> = (0..MESSAGES_PER_SERIALIZER)
            .map(|i| gen.message(i))
            .collect();
        let mut input = String::new();
        for m in &messages {
            let bytes = kind
                .encode(m)
                .unwrap_or_else(|e| panic!("encode {m:?}: {e}"));
            input.push_str(&hex::encode(&bytes));
            input.push('\n');
        }
        let output = autobahn(&py, "roundtrip", kind, &[], input.as_bytes());
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(
            lines.len(),
            messages.len(),
            "{kind}: one answer per message"
        );
        for (i, (line, original)) in lines.iter().zip(&messages).enumerate() {
            assert!(
                !line.starts_with("ERR"),
                "{kind} #{i}: Autobahn refused {original:?}: {line}"
            );
            let bytes = hex::decode(line).expect("hex from Autobahn");
            let back = kind.decode(Bytes::from(bytes)).unwrap_or_else(|e| {
                panic!("{kind} #{i}: Autobahn's re-encoding does not decode: {e}\n{line}")
            });
            assert_eq!(
                &back, original,
                "{kind} #{i}: changed by the round trip through Autobahn"
            );
        }
        eprintln!(
            "{kind}: {} messages round-tripped through Autobahn|Python",
            messages.len()
        );
    }
}

/// The JSON description Autobahn prints beside each generated message, as a WAMP value
/// (`{"$bytes": hex}` stands for binary).
fn described(j: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => n
            .as_u64()
            .map(Value::UInt)
            .or_else(|| n.as_i64().map(Value::Int))
            .unwrap_or_else(|| Value::Float(n.as_f64().expect("number"))),
        J::String(s) => Value::String(s.clone()),
        J::Array(a) => Value::List(a.iter().map(described).collect()),
        J::Object(o) => match (o.len(), o.get("$bytes").and_then(J::as_str)) {
            (1, Some(h)) => Value::Bytes(Bytes::from(hex::decode(h).expect("$bytes hex"))),
            _ => Value::Map(o.iter().map(|(k, v)| (k.clone(), described(v))).collect()),
        },
    }
}

/// Autobahn's `marshal()` writes `null` Arguments before ArgumentsKw; on our wire that is
/// an empty list.
fn normalize_tail(mut elements: Vec<Value>, ty: MessageType) -> Vec<Value> {
    let names = ty.field_names();
    if let Some(args_at) = names.iter().position(|n| *n == "Arguments") {
        if elements.get(args_at).is_some_and(Value::is_null) {
            elements[args_at] = Value::List(vec![]);
        }
    }
    elements
}

#[test]
fn rust_decodes_what_autobahn_builds() {
    let py = python();
    for kind in [
        SerializerKind::Json,
        SerializerKind::MsgPack,
        SerializerKind::Cbor,
    ] {
        let output = autobahn(
            &py,
            "generate",
            kind,
            &["--count", "3000", "--seed", "11"],
            b"",
        );
        let mut seen = std::collections::BTreeSet::new();
        let mut count = 0;
        for (i, line) in output.lines().enumerate() {
            let (hex_part, description) = line.split_once('\t').expect("hex TAB description");
            let description: serde_json::Value =
                serde_json::from_str(description).expect("description JSON");
            let bytes = hex::decode(hex_part).expect("hex");
            let msg = kind.decode(Bytes::from(bytes)).unwrap_or_else(|e| {
                panic!("{kind} #{i}: cannot decode Autobahn's message: {e}\n{line}")
            });
            let code = description["type"].as_u64().expect("type");
            assert_eq!(msg.message_type().code(), code, "{kind} #{i}");
            seen.insert(code);
            // Our encoding of what we decoded carries exactly Autobahn's elements.
            let ours = kind
                .encode(&msg)
                .unwrap_or_else(|e| panic!("{kind} #{i}: re-encode: {e}"));
            let ours: Vec<Value> = kind
                .decode_value(&ours)
                .expect("generic decode of our bytes");
            let mut theirs = vec![Value::UInt(code)];
            theirs.extend(
                description["fields"]
                    .as_array()
                    .expect("fields")
                    .iter()
                    .map(described),
            );
            let theirs = normalize_tail(theirs, msg.message_type());
            assert_eq!(ours, theirs, "{kind} #{i}: {line}");
            count += 1;
        }
        assert_eq!(count, 3000, "{kind}: Autobahn generated too few messages");
        assert_eq!(
            seen.len(),
            25,
            "{kind}: every message type must be covered, saw {seen:?}"
        );
        eprintln!("{kind}: {count} Autobahn-built messages decoded");
    }
}
