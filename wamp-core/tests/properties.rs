//! Property tests of the wire layer (proptest).
//!
//! 1. **Round trip and canonical encoding.** Arbitrary messages of all 25 types (IDs over
//!    `1..=2^53` with both edges, loose and pattern URIs with unicode and empty
//!    components, Options/Details with every well-known key at its proper type plus
//!    unknown keys with arbitrary values, payloads empty, encoded in any serializer or
//!    transparent) survive `decode(encode(m)) == m` through JSON, MessagePack and CBOR, and
//!    `encode(decode(encode(m))) == encode(m)` byte for byte. A payload encoded in one
//!    serializer and sent through another is transcoded. Wherever JSON is involved,
//!    strings never start with NUL and floats are finite; the MessagePack/CBOR property
//!    has neither restriction (NaN with any payload bits, infinities). JSON refuses
//!    exactly the messages it cannot carry (a NUL-leading string value, which its binary
//!    convention would read back as bytes; a non-finite float), and reads
//!    `"\u0000" + base64` as bytes.
//! 2. **No empty tails.** On the wire, empty `ArgumentsKw` is never sent and empty
//!    `Arguments` only before a non-empty `ArgumentsKw`; a transparent payload is one
//!    binary element.
//! 3. **The decoder never panics.** Random bytes, JSON token soup, flips, inserts,
//!    deletes, overwrites and truncations of valid encodings, and element-level edits
//!    (wrong types, IDs out of range, bad URIs, ill-typed well-known keys, wrong arity,
//!    unknown codes) decode to `Ok` or `Err`. An error has a non-empty `Display`, names
//!    its serializer, and a violation names a message type or a field. A decoded
//!    message's payload can be read without panicking, it re-encodes with its own
//!    serializer (canonically), and encoding it with any other serializer returns rather
//!    than panics.
//! 4. **Typed payloads.** A tuple `(i64, String, bytes, Option<bool>, f64)` as arguments and
//!    a derived struct as keyword arguments come back equal from `Payload::encode` with
//!    each serializer, after `to_format` into each other one, and after travelling in a
//!    CALL through each serializer.
//! 5. **IDs.** `RequestIdGenerator` counts `1, 2, 3, ...`; `Id::random` driven by a seeded
//!    `StdRng` stays in `1..=2^53`; `Id::new` accepts exactly that range.
//!
//! Plain tests marked `// BUG:` pin down failures these properties led to (nesting
//! depth: what encodes must decode, and reading a deep payload must not overflow the
//! stack). No failure persistence: nothing is written into the source tree.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::strategy::Union;
use proptest::test_runner::TestCaseError;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use wamp_proto::message::{
    self, Abort, Authenticate, Call, CallResult, Cancel, Challenge, Event, EventReceived, Goodbye,
    Hello, Interrupt, Invocation, Publish, Published, Register, Registered, Subscribe, Subscribed,
    Unregister, Unregistered, Unsubscribe, Unsubscribed, Welcome, Yield,
};
use wamp_proto::MAX_ID;
use wamp_proto::{
    message::Message, message::MessageType, serializer::SerializerKind, Dict, Id, Map, Payload,
    PublicationId, RegistrationId, RequestId, RequestIdGenerator, SessionId, SubscriptionId, Uri,
    Value,
};

// ---------------------------------------------------------------------------------------
// Configuration and helpers
// ---------------------------------------------------------------------------------------

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const ALL_FORMATS: &[SerializerKind] = &[
    SerializerKind::Json,
    SerializerKind::MsgPack,
    SerializerKind::Cbor,
];
const BINARY_FORMATS: &[SerializerKind] = &[SerializerKind::MsgPack, SerializerKind::Cbor];

/// What the generated data must respect.
#[derive(Clone, Copy, Debug)]
struct Ctx {
    /// JSON is involved (as the message's or the payload's serializer): no string starts
    /// with NUL and every float is finite.
    json: bool,
}

const JSON_SAFE: Ctx = Ctx { json: true };
const BINARY_ONLY: Ctx = Ctx { json: false };

/// The frame for a failure message: text for JSON, hex otherwise.
fn show(kind: SerializerKind, bytes: &[u8]) -> String {
    match kind {
        SerializerKind::Json => String::from_utf8_lossy(bytes).into_owned(),
        _ => hex::encode(bytes),
    }
}

fn fail(what: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(what.to_string())
}

// ---------------------------------------------------------------------------------------
// Strategies: scalars, strings, values
// ---------------------------------------------------------------------------------------

/// An ID in `1..=2^53`, with the edges and small values favoured.
fn arb_id() -> BoxedStrategy<u64> {
    prop_oneof![
        1 => Just(1u64),
        1 => Just(MAX_ID),
        1 => Just(MAX_ID - 1),
        2 => 1..=1000u64,
        5 => 1..=MAX_ID,
    ]
    .boxed()
}

fn arb_u64() -> BoxedStrategy<u64> {
    prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        Just(MAX_ID + 1),
        0..300u64,
        any::<u64>()
    ]
    .boxed()
}

/// Any string; with `ctx.json`, never one that starts with NUL.
fn arb_string(ctx: Ctx) -> BoxedStrategy<String> {
    let s = prop_oneof![
        3 => "[a-zA-Z0-9_ .:/-]{0,10}",
        3 => vec(any::<char>(), 0..10).prop_map(String::from_iter),
        1 => Just(String::new()),
        1 => vec(any::<char>(), 0..6).prop_map(|c| format!("\0{}", String::from_iter(c))),
    ];
    if ctx.json {
        s.prop_map(|s| {
            if s.starts_with('\0') {
                format!("~{s}")
            } else {
                s
            }
        })
        .boxed()
    } else {
        s.boxed()
    }
}

/// A map key: any string (JSON leaves map keys as strings, NUL or not).
fn arb_key() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[a-z_]{1,8}",
        2 => vec(any::<char>(), 0..8).prop_map(String::from_iter),
        1 => "\0[A-Za-z0-9+/=]{0,6}",
    ]
    .boxed()
}

fn arb_float(ctx: Ctx) -> BoxedStrategy<f64> {
    use proptest::num::f64 as F;
    let finite = prop_oneof![
        3 => F::NORMAL | F::SUBNORMAL | F::ZERO,
        1 => select(&[
            0.0,
            -0.0,
            0.5,
            1.0,
            -1.5,
            0.1,
            1e300,
            1e16,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            9_007_199_254_740_993.0,
        ][..]),
    ];
    if ctx.json {
        finite.boxed()
    } else {
        prop_oneof![
            3 => finite,
            1 => F::ANY,
            1 => select(vec![
                f64::NAN,
                -f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::from_bits(0x7ff0_0000_0000_0001), // signalling NaN
                f64::from_bits(0xfff8_0000_0000_0abc), // negative quiet NaN with a payload
                f64::from_bits(0x7ff8_0000_2000_0000), // NaN that fits an f32 exactly
            ]),
        ]
        .boxed()
    }
}

fn arb_bytes(max: usize) -> BoxedStrategy<Bytes> {
    vec(any::<u8>(), 0..max).prop_map(Bytes::from).boxed()
}

/// An arbitrary value nested at most `depth` containers deep.
fn arb_value(ctx: Ctx, depth: u32) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (i64::MIN..0).prop_map(Value::Int),
        prop_oneof![Just(i64::MIN), Just(-1i64)].prop_map(Value::Int),
        arb_u64().prop_map(Value::UInt),
        arb_float(ctx).prop_map(Value::Float),
        arb_string(ctx).prop_map(Value::String),
        arb_bytes(24).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(depth, 24, 5, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::List),
            btree_map(arb_key(), inner, 0..5).prop_map(Value::Map),
        ]
    })
    .boxed()
}

// ---------------------------------------------------------------------------------------
// Strategies: URIs and dictionaries
// ---------------------------------------------------------------------------------------

/// One non-empty URI component by the loose rule: no `.`, `#` or whitespace.
fn uri_component() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[a-z0-9_]{1,8}",
        2 => "[A-Za-z0-9_\\-]{1,6}",
        2 => vec(
            any::<char>().prop_filter("not allowed in a URI component", |c| {
                !(*c == '.' || *c == '#' || c.is_whitespace())
            }),
            1..6,
        )
        .prop_map(String::from_iter),
        1 => select(&["ü", "日本語", "émoji😀", "ß", "\u{200b}", "wamp", "a-b"][..])
            .prop_map(String::from),
    ]
    .boxed()
}

fn json_guard(ctx: Ctx, s: String) -> String {
    if ctx.json && s.starts_with('\0') {
        format!("x{s}")
    } else {
        s
    }
}

/// A concrete URI (loose rule) as text.
fn arb_uri_text(ctx: Ctx) -> BoxedStrategy<String> {
    vec(uri_component(), 1..5)
        .prop_map(move |c| json_guard(ctx, c.join(".")))
        .boxed()
}

fn arb_uri(ctx: Ctx) -> BoxedStrategy<Uri> {
    arb_uri_text(ctx)
        .prop_map(|s| Uri::parse(&s).expect("generated URIs follow the loose rule"))
        .boxed()
}

/// A prefix/wildcard pattern URI as text: empty components allowed.
fn arb_pattern_text(ctx: Ctx) -> BoxedStrategy<String> {
    prop_oneof![
        4 => vec(prop_oneof![1 => Just(String::new()), 3 => uri_component()], 1..5).prop_map(
            move |c| {
                let s = c.join(".");
                if s.is_empty() {
                    ".".to_owned()
                } else {
                    json_guard(ctx, s)
                }
            }
        ),
        1 => select(&["com..x", ".", "..", "com.", ".com", "com..x..y", "a.b.c"][..])
            .prop_map(String::from),
    ]
    .boxed()
}

include!("../src/dict/key_rules.rs");

fn is_known_key(key: &str) -> bool {
    KEY_RULES.iter().any(|(k, _)| *k == key)
}

fn arb_small_map(ctx: Ctx) -> BoxedStrategy<Map> {
    btree_map(arb_key(), arb_value(ctx, 2), 0..4).boxed()
}

/// A value of the type `rule` demands.
fn arb_rule_value(rule: Rule, ctx: Ctx) -> BoxedStrategy<Value> {
    let id = || arb_id().prop_map(Value::UInt);
    match rule {
        Rule::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Rule::Str => arb_string(ctx).prop_map(Value::String).boxed(),
        Rule::Uint => arb_u64().prop_map(Value::UInt).boxed(),
        Rule::Id => id().boxed(),
        Rule::IdList => vec(id(), 0..4).prop_map(Value::List).boxed(),
        Rule::StrList => vec(arb_string(ctx).prop_map(Value::String), 0..4)
            .prop_map(Value::List)
            .boxed(),
        Rule::Uri => arb_uri_text(ctx).prop_map(Value::String).boxed(),
        Rule::Map => arb_small_map(ctx).prop_map(Value::Map).boxed(),
        Rule::OneOf(names) => select(names)
            .prop_map(|s| Value::String(s.to_owned()))
            .boxed(),
        Rule::OneOfOrCustom(names) => prop_oneof![
            3 => select(names).prop_map(|s| Value::String(s.to_owned())),
            1 => "x_[a-z0-9_]{0,6}".prop_map(Value::String),
        ]
        .boxed(),
        Rule::ForwardFor => {
            let hop = (
                proptest::option::of(arb_id()),
                proptest::option::of(arb_string(ctx)),
                proptest::option::of(arb_string(ctx)),
            )
                .prop_map(|(session, authid, authrole)| {
                    let mut m = Map::new();
                    if let Some(s) = session {
                        m.insert("session".into(), Value::UInt(s));
                    }
                    if let Some(s) = authid {
                        m.insert("authid".into(), Value::String(s));
                    }
                    if let Some(s) = authrole {
                        m.insert("authrole".into(), Value::String(s));
                    }
                    Value::Map(m)
                });
            vec(hop, 0..3).prop_map(Value::List).boxed()
        }
    }
}

/// One well-known key with a value of its type.
fn arb_known_entry(ctx: Ctx) -> BoxedStrategy<(String, Value)> {
    Union::new(KEY_RULES.iter().map(|&(key, rule)| {
        arb_rule_value(rule, ctx)
            .prop_map(move |v| (key.to_owned(), v))
            .boxed()
    }))
    .boxed()
}

/// Options/Details: well-known keys of the right types and unknown keys with any values.
fn arb_dict(ctx: Ctx) -> BoxedStrategy<Dict> {
    let unknown_key = arb_key().prop_filter("a well-known key", |k| !is_known_key(k));
    prop_oneof![
        1 => Just(Dict::new()),
        6 => (
            vec(arb_known_entry(ctx), 0..4),
            btree_map(unknown_key, arb_value(ctx, 3), 0..3),
        )
            .prop_map(|(known, unknown)| {
                let mut d = Dict::from(unknown);
                for (k, v) in known {
                    d.insert(k, v);
                }
                d
            }),
    ]
    .boxed()
}

/// HELLO/WELCOME `roles`: role name to `{features: {name: bool}}`.
fn arb_roles() -> BoxedStrategy<Value> {
    let role_name = prop_oneof![
        3 => select(&["caller", "callee", "publisher", "subscriber", "broker", "dealer"][..])
            .prop_map(String::from),
        1 => arb_key(),
    ];
    let features = btree_map(arb_key(), any::<bool>().prop_map(Value::Bool), 0..3).prop_map(|f| {
        let mut role = Map::new();
        if !f.is_empty() {
            role.insert("features".into(), Value::Map(f));
        }
        Value::Map(role)
    });
    btree_map(role_name, features, 0..4)
        .prop_map(Value::Map)
        .boxed()
}

// ---------------------------------------------------------------------------------------
// Strategies: payloads and messages
// ---------------------------------------------------------------------------------------

fn arb_payload(ctx: Ctx, formats: &'static [SerializerKind]) -> BoxedStrategy<Payload> {
    prop_oneof![
        1 => Just(Payload::empty()),
        6 => (
            select(formats),
            vec(arb_value(ctx, 4), 0..4),
            btree_map(arb_key(), arb_value(ctx, 4), 0..4),
        )
            .prop_map(|(format, args, kwargs)| {
                Payload::encode(format, &args, &kwargs)
                    .expect("a list of values and a string-keyed map always encode")
            }),
        1 => arb_bytes(40).prop_map(Payload::transparent),
    ]
    .boxed()
}

fn req() -> BoxedStrategy<RequestId> {
    arb_id()
        .prop_map(|n| RequestId::new(n).expect("in range"))
        .boxed()
}
fn session() -> BoxedStrategy<SessionId> {
    arb_id()
        .prop_map(|n| SessionId::new(n).expect("in range"))
        .boxed()
}
fn publication() -> BoxedStrategy<PublicationId> {
    arb_id()
        .prop_map(|n| PublicationId::new(n).expect("in range"))
        .boxed()
}
fn subscription() -> BoxedStrategy<SubscriptionId> {
    arb_id()
        .prop_map(|n| SubscriptionId::new(n).expect("in range"))
        .boxed()
}
fn registration() -> BoxedStrategy<RegistrationId> {
    arb_id()
        .prop_map(|n| RegistrationId::new(n).expect("in range"))
        .boxed()
}

/// How SUBSCRIBE/REGISTER choose their match policy: 0 = no `match` key, 1 = `"exact"`,
/// 2 = `"prefix"`, 3 = `"wildcard"`.
fn with_policy(mut options: Dict, policy: u8, concrete: String, pattern: String) -> (Dict, Uri) {
    options.remove("match");
    let text = match policy {
        0 => concrete,
        1 => {
            options.insert("match", "exact");
            concrete
        }
        2 => {
            options.insert("match", "prefix");
            pattern
        }
        _ => {
            options.insert("match", "wildcard");
            pattern
        }
    };
    let policy = options.match_policy().unwrap_or_default();
    let uri = Uri::parse_pattern(&text, policy).expect("generated patterns are valid");
    (options, uri)
}

/// The eight message types that carry a payload.
fn payload_arms(ctx: Ctx, formats: &'static [SerializerKind]) -> Vec<BoxedStrategy<Message>> {
    let d = move || arb_dict(ctx);
    let p = move || arb_payload(ctx, formats);
    let uri = move || arb_uri(ctx);
    vec![
        (d(), uri(), p())
            .prop_map(|(details, reason, payload)| {
                Message::Abort(Abort {
                    details,
                    reason,
                    payload,
                })
            })
            .boxed(),
        (
            select(message::Error::REQUEST_TYPES),
            req(),
            d(),
            uri(),
            p(),
        )
            .prop_map(|(request_type, request, details, error, payload)| {
                Message::Error(message::Error {
                    request_type,
                    request,
                    details,
                    error,
                    payload,
                })
            })
            .boxed(),
        (req(), d(), uri(), p())
            .prop_map(|(request, options, topic, payload)| {
                Message::Publish(Publish {
                    request,
                    options,
                    topic,
                    payload,
                })
            })
            .boxed(),
        (subscription(), publication(), d(), p())
            .prop_map(|(subscription, publication, details, payload)| {
                Message::Event(Event {
                    subscription,
                    publication,
                    details,
                    payload,
                })
            })
            .boxed(),
        (req(), d(), uri(), p())
            .prop_map(|(request, options, procedure, payload)| {
                Message::Call(Call {
                    request,
                    options,
                    procedure,
                    payload,
                })
            })
            .boxed(),
        (req(), d(), p())
            .prop_map(|(request, details, payload)| {
                Message::Result(CallResult {
                    request,
                    details,
                    payload,
                })
            })
            .boxed(),
        (req(), registration(), d(), p())
            .prop_map(|(request, registration, details, payload)| {
                Message::Invocation(Invocation {
                    request,
                    registration,
                    details,
                    payload,
                })
            })
            .boxed(),
        (req(), d(), p())
            .prop_map(|(request, options, payload)| {
                Message::Yield(Yield {
                    request,
                    options,
                    payload,
                })
            })
            .boxed(),
    ]
}

/// The seventeen message types without a payload.
fn other_arms(ctx: Ctx) -> Vec<BoxedStrategy<Message>> {
    let d = move || arb_dict(ctx);
    let uri = move || arb_uri(ctx);
    let s = move || arb_string(ctx);
    let maybe_d = move || prop_oneof![1 => Just(Dict::new()), 1 => arb_dict(ctx)];
    vec![
        (uri(), d(), arb_roles())
            .prop_map(|(realm, details, roles)| {
                Message::Hello(Hello {
                    realm,
                    details: details.with("roles", roles),
                })
            })
            .boxed(),
        (session(), d(), arb_roles())
            .prop_map(|(session, details, roles)| {
                Message::Welcome(Welcome {
                    session,
                    details: details.with("roles", roles),
                })
            })
            .boxed(),
        (s(), d())
            .prop_map(|(method, extra)| Message::Challenge(Challenge { method, extra }))
            .boxed(),
        (s(), d())
            .prop_map(|(signature, extra)| Message::Authenticate(Authenticate { signature, extra }))
            .boxed(),
        (d(), uri())
            .prop_map(|(details, reason)| Message::Goodbye(Goodbye { details, reason }))
            .boxed(),
        (req(), publication())
            .prop_map(|(request, publication)| {
                Message::Published(Published {
                    request,
                    publication,
                })
            })
            .boxed(),
        (req(), d(), 0..4u8, arb_uri_text(ctx), arb_pattern_text(ctx))
            .prop_map(|(request, options, policy, concrete, pattern)| {
                let (options, topic) = with_policy(options, policy, concrete, pattern);
                Message::Subscribe(Subscribe {
                    request,
                    options,
                    topic,
                })
            })
            .boxed(),
        (req(), subscription())
            .prop_map(|(request, subscription)| {
                Message::Subscribed(Subscribed {
                    request,
                    subscription,
                })
            })
            .boxed(),
        (req(), subscription(), maybe_d())
            .prop_map(|(request, subscription, options)| {
                Message::Unsubscribe(Unsubscribe {
                    request,
                    subscription,
                    options,
                })
            })
            .boxed(),
        prop_oneof![
            // The acknowledgement `[35, Request]`.
            req().prop_map(|r| (Some(r), Dict::new())),
            // The revocation `[35, 0, {subscription, reason}]`.
            (subscription(), s(), d()).prop_map(|(sub, reason, extra)| {
                let details = extra.with("subscription", sub.get()).with("reason", reason);
                (None, details)
            }),
        ]
        .prop_map(|(request, details)| Message::Unsubscribed(Unsubscribed { request, details }))
        .boxed(),
        publication()
            .prop_map(|publication| Message::EventReceived(EventReceived { publication }))
            .boxed(),
        (req(), d())
            .prop_map(|(request, options)| Message::Cancel(Cancel { request, options }))
            .boxed(),
        (req(), d(), 0..4u8, arb_uri_text(ctx), arb_pattern_text(ctx))
            .prop_map(|(request, options, policy, concrete, pattern)| {
                let (options, procedure) = with_policy(options, policy, concrete, pattern);
                Message::Register(Register {
                    request,
                    options,
                    procedure,
                })
            })
            .boxed(),
        (req(), registration())
            .prop_map(|(request, registration)| {
                Message::Registered(Registered {
                    request,
                    registration,
                })
            })
            .boxed(),
        (req(), registration(), maybe_d())
            .prop_map(|(request, registration, options)| {
                Message::Unregister(Unregister {
                    request,
                    registration,
                    options,
                })
            })
            .boxed(),
        prop_oneof![
            req().prop_map(|r| (Some(r), Dict::new())),
            (registration(), s(), d()).prop_map(|(reg, reason, extra)| {
                let details = extra.with("registration", reg.get()).with("reason", reason);
                (None, details)
            }),
        ]
        .prop_map(|(request, details)| Message::Unregistered(Unregistered { request, details }))
        .boxed(),
        (req(), d())
            .prop_map(|(request, options)| Message::Interrupt(Interrupt { request, options }))
            .boxed(),
    ]
}

/// Any of the 25 message types, equally likely.
fn arb_message(ctx: Ctx, formats: &'static [SerializerKind]) -> BoxedStrategy<Message> {
    let mut arms = payload_arms(ctx, formats);
    arms.extend(other_arms(ctx));
    assert_eq!(arms.len(), 25, "one arm per message type");
    Union::new(arms).boxed()
}

/// One of the eight message types with a payload.
fn arb_payload_message(ctx: Ctx, formats: &'static [SerializerKind]) -> BoxedStrategy<Message> {
    Union::new(payload_arms(ctx, formats)).boxed()
}

// ---------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------

/// `decode(encode(m)) == m` and `encode(decode(encode(m))) == encode(m)`.
fn check_round_trip(kind: SerializerKind, msg: &Message) -> Result<(), TestCaseError> {
    let bytes = kind
        .encode(msg)
        .map_err(|e| fail(format!("{kind}: encoding {msg:?} failed: {e}")))?;
    let back = kind.decode(bytes.clone()).map_err(|e| {
        fail(format!(
            "{kind}: decoding {} failed: {e}",
            show(kind, &bytes)
        ))
    })?;
    prop_assert_eq!(&back, msg, "{} round trip of {}", kind, show(kind, &bytes));
    let again = kind
        .encode(&back)
        .map_err(|e| fail(format!("{kind}: re-encoding {back:?} failed: {e}")))?;
    prop_assert_eq!(
        show(kind, &again),
        show(kind, &bytes),
        "{} encoding is not canonical",
        kind
    );
    Ok(())
}

/// The number of elements before the payload tail of a payload-carrying message.
fn fixed_elements(ty: MessageType) -> usize {
    ty.field_names()
        .iter()
        .filter(|n| !matches!(**n, "Arguments" | "ArgumentsKw"))
        .count()
}

/// Empty tails never reach the wire.
fn check_tail(kind: SerializerKind, msg: &Message) -> Result<(), TestCaseError> {
    let Some(payload) = msg.payload() else {
        return Ok(());
    };
    let fixed = fixed_elements(msg.message_type());
    let bytes = kind.encode(msg).map_err(fail)?;
    let elems: Vec<Value> = kind.decode_value(&bytes).map_err(fail)?;
    let wire = show(kind, &bytes);
    if let Some(t) = payload.transparent_bytes() {
        prop_assert_eq!(elems.len(), fixed + 1, "{}", wire);
        prop_assert_eq!(&elems[fixed], &Value::Bytes(t.clone()), "{}", wire);
        return Ok(());
    }
    let args = payload.args_values().map_err(fail)?;
    let kwargs = payload.kwargs_values().map_err(fail)?;
    match (args.is_empty(), kwargs.is_empty()) {
        (true, true) => prop_assert_eq!(elems.len(), fixed, "no tail expected: {}", wire),
        (false, true) => {
            prop_assert_eq!(elems.len(), fixed + 1, "Arguments only: {}", wire);
            prop_assert_eq!(&elems[fixed], &Value::List(args), "{}", wire);
        }
        (_, false) => {
            prop_assert_eq!(elems.len(), fixed + 2, "Arguments + ArgumentsKw: {}", wire);
            // An empty `Arguments` is sent as an empty list, never omitted or null.
            prop_assert_eq!(&elems[fixed], &Value::List(args), "{}", wire);
            prop_assert_eq!(&elems[fixed + 1], &Value::Map(kwargs), "{}", wire);
        }
    }
    Ok(())
}

/// Decoding `bytes` returns (no panic); errors describe themselves; a decoded message is
/// readable and re-encodable.
fn check_decode_total(kind: SerializerKind, bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let wire = show(kind, &bytes);
    match kind.decode(Bytes::from(bytes)) {
        Err(e) => {
            prop_assert!(!e.to_string().is_empty());
            prop_assert!(!e.reason.is_empty(), "{:?}", e);
            prop_assert_eq!(e.serializer, kind);
            if e.is_violation() {
                prop_assert!(
                    e.message_type.is_some() || e.field.is_some(),
                    "a violation must name a message type or field: {:?} for {}",
                    e,
                    wire
                );
            }
        }
        Ok(msg) => {
            if let Some(p) = msg.payload() {
                let _ = p.args_values();
                let _ = p.kwargs_values();
                let _ = format!("{p:?}");
            }
            let again = kind
                .encode(&msg)
                .map_err(|e| fail(format!("{kind}: decoded {wire} but cannot re-encode: {e}")))?;
            let back = kind.decode(again.clone()).map_err(|e| {
                fail(format!(
                    "{kind}: re-encoding of {wire} does not decode: {e} ({})",
                    show(kind, &again)
                ))
            })?;
            let third = kind.encode(&back).map_err(fail)?;
            prop_assert_eq!(
                show(kind, &third),
                show(kind, &again),
                "re-encoding of {} is not stable",
                wire
            );
            for other in SerializerKind::ALL {
                let _ = other.encode(&msg);
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Overwrite(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    Truncate(Index),
    Duplicate(Index, Index),
}

fn interesting_byte() -> BoxedStrategy<u8> {
    prop_oneof![
        3 => any::<u8>(),
        1 => select(&[
            0x00u8, 0xff, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xc4, 0xc6, 0xcb, 0xdc, 0xdd,
            0xde, 0xdf, 0xf9, 0xfb, 0x1b, 0x5b, 0x9b, 0xdb, 0xfb, b'[', b']', b'{', b'}',
            b'"', b',', b':', b'\\', b'0', b'-', b'e',
        ][..]),
    ]
    .boxed()
}

fn arb_mutation() -> BoxedStrategy<Mutation> {
    prop_oneof![
        (any::<Index>(), 0..8u8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<Index>(), interesting_byte()).prop_map(|(i, b)| Mutation::Overwrite(i, b)),
        (any::<Index>(), interesting_byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Delete),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
    ]
    .boxed()
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if bytes.is_empty() {
            break;
        }
        let n = bytes.len();
        match m {
            Mutation::Flip(i, bit) => bytes[i.index(n)] ^= 1 << bit,
            Mutation::Overwrite(i, b) => bytes[i.index(n)] = *b,
            Mutation::Insert(i, b) => bytes.insert(i.index(n + 1), *b),
            Mutation::Delete(i) => {
                bytes.remove(i.index(n));
            }
            Mutation::Truncate(i) => bytes.truncate(i.index(n)),
            Mutation::Duplicate(a, b) => {
                let (a, b) = (a.index(n), b.index(n));
                let (lo, hi) = (a.min(b), a.max(b));
                let chunk = bytes[lo..=hi].to_vec();
                let at = hi + 1;
                bytes.splice(at..at, chunk);
            }
        }
    }
    bytes
}

/// JSON-ish token soup: mostly well-formed-looking arrays of WAMP-like values.
fn arb_json_soup() -> BoxedStrategy<Vec<u8>> {
    let token = select(
        &[
            "[",
            "]",
            "{",
            "}",
            ",",
            ":",
            " ",
            "0",
            "1",
            "-1",
            "2.5e3",
            "1e400",
            "36",
            "48",
            "8",
            "35",
            "337",
            "9007199254740992",
            "9007199254740993",
            "18446744073709551616",
            "null",
            "true",
            "false",
            "\"a\"",
            "\"com.x\"",
            "\"a..b\"",
            "\"roles\"",
            "\"match\"",
            "\"prefix\"",
            "\"acknowledge\"",
            "\"exclude\"",
            "\"\\u0000AAAA\"",
            "\"\\u0000!\"",
            "\"\\u0000\"",
            "\"\\ud800\"",
            "{}",
            "[]",
            "[1,",
            "[36,1,2,{},",
        ][..],
    );
    vec(token, 0..40)
        .prop_map(|t| t.concat().into_bytes())
        .boxed()
}

/// Random bytes, sometimes behind an array header of the serializer.
fn arb_noise(kind: SerializerKind) -> BoxedStrategy<Vec<u8>> {
    let raw = vec(any::<u8>(), 0..512);
    match kind {
        SerializerKind::Json => prop_oneof![1 => raw, 2 => arb_json_soup()].boxed(),
        SerializerKind::MsgPack => prop_oneof![
            1 => raw,
            1 => (0x91u8..=0x97, vec(any::<u8>(), 0..64)).prop_map(|(h, mut t)| {
                t.insert(0, h);
                t
            }),
        ]
        .boxed(),
        SerializerKind::Cbor => prop_oneof![
            1 => raw,
            1 => (0x81u8..=0x87, vec(any::<u8>(), 0..64)).prop_map(|(h, mut t)| {
                t.insert(0, h);
                t
            }),
        ]
        .boxed(),
    }
}

// ---------------------------------------------------------------------------------------
// 1. Round trips
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(1536))]

    /// Every message type through every serializer, with payloads encoded in any of the
    /// three (so payloads are transcoded two times out of three).
    #[test]
    fn messages_round_trip_through_every_serializer(msg in arb_message(JSON_SAFE, ALL_FORMATS)) {
        for kind in SerializerKind::ALL {
            check_round_trip(kind, &msg)?;
        }
    }
}

proptest! {
    #![proptest_config(config(1536))]

    /// MessagePack and CBOR carry what JSON cannot: NUL-leading strings, NaN (bit for
    /// bit) and infinities.
    #[test]
    fn messages_round_trip_through_binary_serializers(
        msg in arb_message(BINARY_ONLY, BINARY_FORMATS),
    ) {
        for kind in BINARY_FORMATS {
            check_round_trip(*kind, &msg)?;
        }
    }
}

/// Whether JSON cannot carry `v`: a string value (not a map key) that starts with NUL, or
/// a non-finite float, anywhere inside.
fn json_cannot_carry(v: &Value) -> bool {
    match v {
        Value::String(s) => s.starts_with('\0'),
        Value::Float(f) => !f.is_finite(),
        Value::List(l) => l.iter().any(json_cannot_carry),
        Value::Map(m) => m.values().any(json_cannot_carry),
        _ => false,
    }
}

proptest! {
    #![proptest_config(config(1024))]

    /// JSON refuses exactly what it cannot carry (a NUL-leading string would read back as
    /// binary; NaN and infinities have no JSON spelling) with an error rather than a
    /// panic or a silent corruption, and round-trips everything else. The message's
    /// elements are inspected through its MessagePack encoding, read as plain values.
    #[test]
    fn json_refuses_exactly_what_it_cannot_carry(
        msg in arb_message(BINARY_ONLY, BINARY_FORMATS),
    ) {
        let packed = SerializerKind::MsgPack.encode(&msg).map_err(fail)?;
        let elements: Vec<Value> = SerializerKind::MsgPack.decode_value(&packed).map_err(fail)?;
        let unsendable = elements.iter().any(json_cannot_carry);
        match SerializerKind::Json.encode(&msg) {
            Ok(bytes) => {
                prop_assert!(!unsendable, "JSON accepted {}", show(SerializerKind::Json, &bytes));
                check_round_trip(SerializerKind::Json, &msg)?;
            }
            Err(e) => prop_assert!(unsendable, "JSON refused {:?}: {}", msg, e),
        }
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// JSON's binary convention on the way in: `"\u0000" + base64(b)` is the bytes `b`,
    /// in a payload and in a dict; map keys stay strings.
    #[test]
    fn nul_prefixed_json_strings_decode_as_bytes(raw in vec(any::<u8>(), 0..40)) {
        let b64 = STANDARD.encode(&raw);
        let frame = format!(
            r#"[70,1,{{"\u0000key":"\u0000{b64}"}},["\u0000{b64}"],{{"k":["\u0000{b64}"]}}]"#
        );
        let msg = SerializerKind::Json.decode(Bytes::from(frame.clone())).map_err(fail)?;
        let Message::Yield(y) = msg else {
            return Err(fail(format!("not a YIELD: {frame}")));
        };
        let bytes = Value::Bytes(Bytes::from(raw));
        prop_assert_eq!(y.options.get("\0key"), Some(&bytes));
        prop_assert_eq!(y.payload.args_values().map_err(fail)?, vec![bytes.clone()]);
        let kwargs = y.payload.kwargs_values().map_err(fail)?;
        prop_assert_eq!(kwargs.get("k"), Some(&Value::List(vec![bytes])));
    }
}

// ---------------------------------------------------------------------------------------
// 2. No empty tails on the wire
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn empty_payload_tails_are_never_sent(
        msg in arb_payload_message(JSON_SAFE, ALL_FORMATS),
    ) {
        for kind in SerializerKind::ALL {
            check_tail(kind, &msg)?;
        }
    }
}

// ---------------------------------------------------------------------------------------
// 3. The decoder is total
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn random_bytes_never_panic_the_decoder(
        (kind, bytes) in select(ALL_FORMATS).prop_flat_map(|k| (Just(k), arb_noise(k))),
    ) {
        check_decode_total(kind, bytes)?;
    }
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn mutated_messages_never_panic_the_decoder(
        kind in select(ALL_FORMATS),
        msg in arb_message(JSON_SAFE, ALL_FORMATS),
        mutations in vec(arb_mutation(), 1..4),
    ) {
        let bytes = kind.encode(&msg).map_err(fail)?;
        check_decode_total(kind, mutate(bytes.to_vec(), &mutations))?;
    }
}

/// An edit of a message at the level of its elements, to reach the rule checks (wrong
/// types, IDs out of range, invalid URIs, ill-typed well-known keys, wrong arity, unknown
/// codes) rather than the parsers.
#[derive(Debug, Clone)]
enum Edit {
    Replace(Index, Value),
    Remove(Index),
    Push(Value),
    /// Set a key in one of the dict elements (if there is one).
    SetKey(Index, String, Value),
    Code(u64),
}

/// Values that break the rules of some field.
fn arb_nasty_value() -> BoxedStrategy<Value> {
    prop_oneof![
        2 => arb_value(JSON_SAFE, 2),
        1 => select(vec![
            Value::UInt(0),
            Value::UInt(MAX_ID + 1),
            Value::UInt(u64::MAX),
            Value::Int(-1),
            Value::Float(1.0),
            Value::String(String::new()),
            Value::String("a..b".into()),
            Value::String("a b".into()),
            Value::String("a.#".into()),
            Value::String("x_custom".into()),
            Value::String("prefix".into()),
            Value::List(vec![Value::UInt(0)]),
            Value::List(vec![Value::String("x".into())]),
            Value::Map(Map::new()),
            Value::List(vec![]),
            Value::Null,
            Value::Bytes(Bytes::from_static(b"\x00\xff")),
        ]),
    ]
    .boxed()
}

fn arb_edit() -> BoxedStrategy<Edit> {
    let key = prop_oneof![
        3 => select(KEY_RULES.iter().map(|(k, _)| *k).collect::<Vec<_>>()).prop_map(String::from),
        1 => arb_key(),
    ];
    let code = prop_oneof![
        3 => select(MessageType::ALL.iter().map(|t| t.code()).collect::<Vec<_>>()),
        1 => 0..400u64,
        1 => any::<u64>(),
    ];
    prop_oneof![
        3 => (any::<Index>(), arb_nasty_value()).prop_map(|(i, v)| Edit::Replace(i, v)),
        1 => any::<Index>().prop_map(Edit::Remove),
        1 => arb_nasty_value().prop_map(Edit::Push),
        3 => (any::<Index>(), key, arb_nasty_value()).prop_map(|(i, k, v)| Edit::SetKey(i, k, v)),
        1 => code.prop_map(Edit::Code),
    ]
    .boxed()
}

fn apply_edits(elements: &mut Vec<Value>, edits: &[Edit]) {
    for edit in edits {
        let n = elements.len();
        match edit {
            Edit::Replace(i, v) if n > 0 => elements[i.index(n)] = v.clone(),
            Edit::Remove(i) if n > 0 => {
                elements.remove(i.index(n));
            }
            Edit::Push(v) => elements.push(v.clone()),
            Edit::SetKey(i, k, v) => {
                let mut dicts: Vec<&mut Map> = elements
                    .iter_mut()
                    .filter_map(|e| match e {
                        Value::Map(m) => Some(m),
                        _ => None,
                    })
                    .collect();
                if !dicts.is_empty() {
                    let at = i.index(dicts.len());
                    dicts[at].insert(k.clone(), v.clone());
                }
            }
            Edit::Code(c) if n > 0 => elements[0] = Value::UInt(*c),
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn edited_messages_are_decoded_or_refused_with_a_named_field(
        kind in select(ALL_FORMATS),
        msg in arb_message(JSON_SAFE, ALL_FORMATS),
        edits in vec(arb_edit(), 1..3),
    ) {
        let bytes = kind.encode(&msg).map_err(fail)?;
        let mut elements: Vec<Value> = kind.decode_value(&bytes).map_err(fail)?;
        apply_edits(&mut elements, &edits);
        let edited = kind.encode_value(&elements).map_err(fail)?;
        check_decode_total(kind, edited)?;
    }
}

/// `1` nested in `depth` lists.
fn nested_list(depth: usize) -> Value {
    (0..depth).fold(Value::UInt(1), |v, _| Value::List(vec![v]))
}

/// `1` nested in `depth` single-key maps.
fn nested_map(depth: usize) -> Value {
    (0..depth).fold(Value::UInt(1), |v, _| {
        Value::Map(Map::from([("k".to_owned(), v)]))
    })
}

// Regression: the encoders used to have no nesting limit while the decoders had one, so a
// message nested one level deeper than the decoder's limit encoded fine and then could not
// be decoded. Now every element is checked against the decoder's limit when it is made
// (`SerializerKind::check_element`): what encodes also decodes, and what would not decode
// is refused with an `EncodeError`.
#[test]
fn what_encodes_also_decodes_at_the_nesting_limit() {
    let yield_with_depth = |depth: usize| {
        // The frame's array, the Options dict, then `depth - 2` nested maps: `depth` levels.
        Message::Yield(Yield {
            request: RequestId::new(1).expect("in range"),
            options: Dict::from(Map::from([("k".to_owned(), nested_map(depth - 2))])),
            payload: Payload::empty(),
        })
    };
    let mut failures = vec![];
    for (kind, limit) in [
        (SerializerKind::MsgPack, 100),
        (SerializerKind::Cbor, 100),
        (SerializerKind::Json, 128),
    ] {
        let at_limit = yield_with_depth(limit);
        let bytes = kind.encode(&at_limit).expect("encodes");
        assert_eq!(
            kind.decode(bytes).ok(),
            Some(at_limit),
            "{kind}: depth {limit} decodes"
        );

        let msg = yield_with_depth(limit + 1);
        match kind.encode(&msg) {
            // Refused up front, with a clear error: fine.
            Err(_) => {}
            Ok(bytes) => match kind.decode(bytes) {
                Ok(back) => assert_eq!(back, msg, "{kind}"),
                Err(e) => failures.push(format!("{kind}: depth {} encodes but: {e}", limit + 1)),
            },
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Converting a payload either fails or gives a payload that reads back: a JSON payload
/// whose Arguments nest 101 levels (the list itself plus 100) is readable in JSON, so its
/// MessagePack/CBOR conversion must be readable too (or the conversion must fail).
#[test]
fn deep_payloads_keep_their_depth_limit_consistent_across_formats() {
    let p = Payload::encode(SerializerKind::Json, &vec![nested_list(100)], &Map::new())
        .expect("encodes");
    assert!(p.args_values().is_ok(), "readable in JSON");
    let mut failures = vec![];
    for to in BINARY_FORMATS {
        // Converting must either fail, or give a payload that reads back.
        if let Ok(q) = p.to_format(*to) {
            if let Err(e) = q.args_values() {
                failures.push(format!("{to}: converted without error, then: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Set in the child process that runs [`deep_local_msgpack_payload_child`].
const CHILD_ENV: &str = "WAMP_PROPERTIES_DEEP_PAYLOAD_CHILD";

/// The body of [`deep_local_msgpack_payloads_do_not_overflow_the_stack`]; does nothing
/// unless run as its child process (a stack overflow aborts the whole test binary, so
/// it must not happen in the binary that reports the results).
#[test]
fn deep_local_msgpack_payload_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    // 600 nested lists: serializing takes this in its stride (it overflows only past ~1400
    // levels in a debug build). Payload::encode must refuse it, or reading it must not
    // overflow the stack.
    let Ok(p) = Payload::encode(
        SerializerKind::MsgPack,
        &vec![nested_list(600)],
        &Map::new(),
    ) else {
        return;
    };
    let _ = p.args_values();
    let _ = p.to_format(SerializerKind::Json);
}

// Regression: reading a locally built MessagePack payload nested 600 levels deep used to
// overflow the stack (SIGABRT) in a debug build: payload parts made by `Payload::encode`
// were decoded without the depth bound that `split_array` gives received frames. Now
// `Payload::encode` checks the depth of what it makes. The body runs in a child process,
// because a stack overflow would abort the whole test binary.
#[test]
fn deep_local_msgpack_payloads_do_not_overflow_the_stack() {
    let exe = std::env::current_exe().expect("the test binary");
    let out = std::process::Command::new(exe)
        .args([
            "deep_local_msgpack_payload_child",
            "--exact",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .env("RUST_MIN_STACK", "2097152")
        .output()
        .expect("the child runs");
    assert!(
        out.status.success(),
        "reading a 600-deep MessagePack payload crashed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------
// 4. Typed payloads
// ---------------------------------------------------------------------------------------

type Args = (i64, String, ByteBuf, Option<bool>, f64);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Kwargs {
    name: String,
    count: u64,
    delta: i32,
    flag: bool,
    tags: Vec<String>,
    blob: ByteBuf,
    ratio: Option<f64>,
    nested: BTreeMap<String, i64>,
    inner: Option<Inner>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inner {
    label: String,
    values: Vec<u64>,
}

fn arb_finite() -> BoxedStrategy<f64> {
    arb_float(JSON_SAFE)
}

fn arb_args() -> BoxedStrategy<Args> {
    (
        any::<i64>(),
        arb_string(JSON_SAFE),
        vec(any::<u8>(), 0..32).prop_map(ByteBuf::from),
        proptest::option::of(any::<bool>()),
        arb_finite(),
    )
        .boxed()
}

fn arb_kwargs() -> BoxedStrategy<Kwargs> {
    let inner = (arb_string(JSON_SAFE), vec(any::<u64>(), 0..4))
        .prop_map(|(label, values)| Inner { label, values });
    (
        (
            arb_string(JSON_SAFE),
            any::<u64>(),
            any::<i32>(),
            any::<bool>(),
        ),
        (
            vec(arb_string(JSON_SAFE), 0..4),
            vec(any::<u8>(), 0..32).prop_map(ByteBuf::from),
            proptest::option::of(arb_finite()),
            btree_map(arb_key(), any::<i64>(), 0..4),
            proptest::option::of(inner),
        ),
    )
        .prop_map(
            |((name, count, delta, flag), (tags, blob, ratio, nested, inner))| Kwargs {
                name,
                count,
                delta,
                flag,
                tags,
                blob,
                ratio,
                nested,
                inner,
            },
        )
        .boxed()
}

fn check_typed(p: &Payload, args: &Args, kwargs: &Kwargs, ctx: &str) -> Result<(), TestCaseError> {
    let a: Args = p.args().map_err(|e| fail(format!("{ctx}: args: {e}")))?;
    let k: Kwargs = p
        .kwargs()
        .map_err(|e| fail(format!("{ctx}: kwargs: {e}")))?;
    prop_assert_eq!(&a, args, "{}", ctx);
    prop_assert_eq!(&k, kwargs, "{}", ctx);
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn typed_payloads_round_trip(args in arb_args(), kwargs in arb_kwargs()) {
        for kind in SerializerKind::ALL {
            let p = Payload::encode(kind, &args, &kwargs).map_err(fail)?;
            prop_assert_eq!(p.format(), Some(kind));
            check_typed(&p, &args, &kwargs, kind.name())?;
            for other in SerializerKind::ALL {
                let ctx = format!("{kind} -> {other}");
                let q = p.to_format(other).map_err(fail)?;
                prop_assert_eq!(q.format(), Some(other));
                check_typed(&q, &args, &kwargs, &ctx)?;
                // And on the wire: a CALL carrying the payload, sent through `other`.
                let call = Message::Call(Call {
                    request: RequestId::new(7).expect("in range"),
                    options: Dict::new(),
                    procedure: Uri::parse("com.example.typed").expect("valid"),
                    payload: p.clone(),
                });
                let bytes = other.encode(&call).map_err(fail)?;
                let Message::Call(back) = other.decode(bytes).map_err(fail)? else {
                    return Err(fail("not a CALL"));
                };
                check_typed(&back.payload, &args, &kwargs, &format!("{ctx} (CALL)"))?;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// 5. IDs
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn request_ids_count_up_from_one(n in 1..3000u64) {
        let mut generator = RequestIdGenerator::new();
        prop_assert_eq!(generator.last(), None);
        for expected in 1..=n {
            let id = generator.next();
            prop_assert_eq!(id.get(), expected);
            prop_assert_eq!(generator.last(), Some(id));
        }
    }

    #[test]
    fn random_ids_stay_in_range(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..256 {
            let id = Id::random(&mut rng);
            prop_assert!((1..=MAX_ID).contains(&id.get()), "{}", id);
            prop_assert_eq!(Id::new(id.get()), Some(id));
        }
    }

    #[test]
    fn id_new_accepts_exactly_one_to_two_pow_53(n in arb_u64()) {
        let valid = (1..=MAX_ID).contains(&n);
        prop_assert_eq!(Id::new(n).is_some(), valid);
        prop_assert_eq!(Id::try_from(n).is_ok(), valid);
        prop_assert_eq!(RequestId::new(n).map(RequestId::get), valid.then_some(n));
    }
}
