//! The wamp-proto conformance vectors (`tests/data/wamp-testsuite`, copied from the
//! wamp-proto testsuite): every serialization sample for JSON, MessagePack and CBOR must
//! decode to the expected attributes and survive encode → decode unchanged; every
//! validation sample must be accepted or refused (naming the field) as it says.
//!
//! UBJSON and FlatBuffers samples are not ours to check: the project does not implement
//! those serializers.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde_json::Value as Json;
use wamp_proto::{message::Message, serializer::SerializerKind, Payload, Value};

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/wamp-testsuite/singlemessage")
}

fn vector_files() -> Vec<PathBuf> {
    let mut files = vec![];
    for profile in ["basic", "advanced"] {
        let dir = suite_dir().join(profile);
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// A JSON value from the vector file as a WAMP value.
fn to_value(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else {
                Value::Float(n.as_f64().expect("number"))
            }
        }
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::List(a.iter().map(to_value).collect()),
        Json::Object(o) => Value::Map(o.iter().map(|(k, v)| (k.clone(), to_value(v))).collect()),
    }
}

/// The attributes of a decoded message, named as the vectors name them.
fn attributes(msg: &Message) -> Vec<(&'static str, Value)> {
    use Message::*;
    let id = |v: u64| Value::UInt(v);
    let dict = |d: &wamp_proto::Dict| Value::Map(d.as_map().clone());
    let mut a = vec![("message_type", id(msg.message_type().code()))];
    match msg {
        Hello(m) => {
            a.push(("realm", Value::from(m.realm.as_str())));
            a.push(("roles", m.details.get("roles").cloned().unwrap_or_default()));
        }
        Welcome(m) => {
            a.push(("session_id", id(m.session.get())));
            a.push(("roles", m.details.get("roles").cloned().unwrap_or_default()));
        }
        Abort(m) => {
            a.push(("details", dict(&m.details)));
            a.push(("reason", Value::from(m.reason.as_str())));
        }
        Goodbye(m) => {
            a.push(("details", dict(&m.details)));
            a.push(("reason", Value::from(m.reason.as_str())));
        }
        Challenge(m) => {
            a.push(("method", Value::from(m.method.as_str())));
            a.push(("extra", dict(&m.extra)));
        }
        Authenticate(m) => {
            a.push(("signature", Value::from(m.signature.as_str())));
            a.push(("extra", dict(&m.extra)));
        }
        Error(m) => {
            a.push(("request_type", id(m.request_type.code())));
            a.push(("request_id", id(m.request.get())));
            a.push(("details", dict(&m.details)));
            a.push(("error", Value::from(m.error.as_str())));
        }
        Publish(m) => {
            a.push(("request_id", id(m.request.get())));
            a.push(("options", dict(&m.options)));
            a.push(("topic", Value::from(m.topic.as_str())));
        }
        Published(m) => {
            a.push(("request_id", id(m.request.get())));
            a.push(("publication_id", id(m.publication.get())));
        }
        Subscribe(m) => {
            a.push(("request_id", id(m.request.get())));
            a.push(("options", dict(&m.options)));
            a.push(("topic", Value::from(m.topic.as_str())));
        }
        Subscribed(m) => {
            a.push(("request_id", id(m.request.get())));
            a.push(("subscription_id", id(m.subscription.get())));
        }
        Unsubscribe(m) => {
            a.push(("request_id", id(m.request.get())));
            a.push(("subscription_id", id(m.subscription.get())));
        }
        Unsubscribed(m) => a.push(("request_id", id(m.request.map_or(0, |r| r.get())))),
        Event(m) => {
            a.push(("subscription", id(m.subscription.get())));
            a.push(("publication", id(m.publication.get())));
            a.push(("details", dict(&m.details)));
        }
        EventReceived(m) => a.push(("publication_id", id(m.publication.get()))),
        Call(m) => {
            a.push(("request_id", id(m.request.get())));
            a.push(("options", dict(&m.options)));
            a.push(("procedure", Value::from(m.procedure.as_str())));
        }
        Cancel(m) => {
            a.push(("request_id", id(m.request.get())));
            a.push(("options", dict(&m.options)));
        }
        Result(m) => {
            a.push(("request_id", id(m.request.get())));
            a.push(("details", dict(&m.details)));
        }
        Register(m) => {
            a.push(("request_id", id(m.request.get())));
            a.push(("options", dict(&m.options)));
            a.push(("procedure", Value::from(m.procedure.as_str())));
        }
        Registered(m) => {
            a.push(("request_id", id(m.request.get())));
            a.push(("registration_id", id(m.registration.get())));
        }
        Unregister(m) => {
            a.push(("request_id", id(m.request.get())));
            a.push(("registration_id", id(m.registration.get())));
        }
        Unregistered(m) => a.push(("request_id", id(m.request.map_or(0, |r| r.get())))),
        Invocation(m) => {
            a.push(("request_id", id(m.request.get())));
            a.push(("registration_id", id(m.registration.get())));
            a.push(("details", dict(&m.details)));
        }
        Interrupt(m) => {
            a.push(("request_id", id(m.request.get())));
            a.push(("options", dict(&m.options)));
        }
        Yield(m) => {
            a.push(("request_id", id(m.request.get())));
            a.push(("options", dict(&m.options)));
        }
    }
    if let Some(p) = msg.payload() {
        payload_attributes(p, &mut a);
    }
    a
}

fn payload_attributes(p: &Payload, a: &mut Vec<(&'static str, Value)>) {
    if let Some(b) = p.transparent_bytes() {
        a.push(("payload", Value::from(hex::encode(b))));
        a.push(("args", Value::Null));
        a.push(("kwargs", Value::Null));
        return;
    }
    a.push(("payload", Value::Null));
    let args = p.args_values().expect("args decode");
    let kwargs = p.kwargs_values().expect("kwargs decode");
    // The vectors write an absent Arguments/ArgumentsKw as null.
    a.push((
        "args",
        if p.raw_args().is_none() {
            Value::Null
        } else {
            Value::List(args)
        },
    ));
    a.push((
        "kwargs",
        if p.raw_kwargs().is_none() {
            Value::Null
        } else {
            Value::Map(kwargs)
        },
    ));
}

fn check_expected(msg: &Message, expected: &serde_json::Map<String, Json>, ctx: &str) {
    let got = attributes(msg);
    for (key, want) in expected {
        let Some((_, have)) = got.iter().find(|(k, _)| k == key) else {
            panic!("{ctx}: attribute {key} is not produced by the test's attribute mapping");
        };
        assert_eq!(have, &to_value(want), "{ctx}: attribute {key}");
    }
}

#[test]
fn serialization_samples_decode_and_round_trip() {
    let mut checked = [0usize; 3];
    for file in vector_files() {
        let doc: Json =
            serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("vector json");
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_owned();
        for (i, sample) in doc["samples"]
            .as_array()
            .expect("samples")
            .iter()
            .enumerate()
        {
            let Some(serializers) = sample.get("serializers") else {
                continue;
            };
            let expected = sample["expected_attributes"]
                .as_object()
                .expect("expected_attributes");
            for (slot, kind) in [
                SerializerKind::Json,
                SerializerKind::MsgPack,
                SerializerKind::Cbor,
            ]
            .into_iter()
            .enumerate()
            {
                for variant in serializers[kind.name()].as_array().into_iter().flatten() {
                    let ctx = format!(
                        "{name} sample {i} ({}) {}",
                        sample["description"],
                        kind.name()
                    );
                    let bytes = hex::decode(variant["bytes_hex"].as_str().expect("bytes_hex"))
                        .expect("hex");
                    let msg = kind
                        .decode(Bytes::from(bytes))
                        .unwrap_or_else(|e| panic!("{ctx}: decode failed: {e}"));
                    check_expected(&msg, expected, &ctx);
                    // Encode and decode again: the same message, through every serializer.
                    for out in SerializerKind::ALL {
                        let encoded = out
                            .encode(&msg)
                            .unwrap_or_else(|e| panic!("{ctx}: encode as {out}: {e}"));
                        let again = out
                            .decode(encoded)
                            .unwrap_or_else(|e| panic!("{ctx}: re-decode as {out}: {e}"));
                        assert_eq!(again, msg, "{ctx}: round trip through {out}");
                        check_expected(&again, expected, &ctx);
                    }
                    checked[slot] += 1;
                }
            }
        }
    }
    // Every file has JSON, MessagePack and CBOR bytes for each serialization sample.
    assert!(
        checked.iter().all(|&n| n >= 30),
        "too few samples checked: {checked:?}"
    );
    eprintln!("checked json/msgpack/cbor samples: {checked:?}");
}

/// The byte-for-byte output for the vectors' compact forms. Dicts are written with sorted
/// keys, so only samples whose dicts have at most one key can match byte for byte; the
/// others are covered structurally above.
#[test]
fn compact_encodings_match_the_vectors_byte_for_byte() {
    let mut identical = 0;
    for file in vector_files() {
        let doc: Json =
            serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("vector json");
        for sample in doc["samples"].as_array().expect("samples") {
            let Some(serializers) = sample.get("serializers") else {
                continue;
            };
            let expected = sample["expected_attributes"].as_object().expect("expected");
            let simple = expected.values().all(at_most_one_key_per_map);
            if !simple {
                continue;
            }
            for kind in [
                SerializerKind::Json,
                SerializerKind::MsgPack,
                SerializerKind::Cbor,
            ] {
                // The last JSON variant is the compact one produced by Autobahn.
                let Some(variant) = serializers[kind.name()].as_array().and_then(|v| v.last())
                else {
                    continue;
                };
                let bytes = hex::decode(variant["bytes_hex"].as_str().expect("hex")).expect("hex");
                let msg = kind.decode(Bytes::from(bytes.clone())).expect("decode");
                let out = kind.encode(&msg).expect("encode");
                assert_eq!(
                    hex::encode(&out),
                    hex::encode(&bytes),
                    "{} {}: {}",
                    file.display(),
                    kind.name(),
                    sample["description"]
                );
                identical += 1;
            }
        }
    }
    assert!(
        identical >= 60,
        "only {identical} byte-identical checks ran"
    );
}

fn at_most_one_key_per_map(v: &Json) -> bool {
    match v {
        Json::Object(o) => o.len() <= 1 && o.values().all(at_most_one_key_per_map),
        Json::Array(a) => a.iter().all(at_most_one_key_per_map),
        _ => true,
    }
}

/// Validation samples: a raw message (given as JSON) that must be accepted, or refused as
/// a protocol violation whose error names the field. Fed through all three serializers.
#[test]
fn validation_samples_accept_or_refuse_as_specified() {
    let mut count = 0;
    for file in vector_files() {
        let doc: Json =
            serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("vector json");
        for sample in doc["samples"].as_array().expect("samples") {
            let Some(wmsg) = sample.get("wmsg") else {
                continue;
            };
            let mut value = to_value(wmsg);
            // The vectors write transparent (binary) payloads as hex strings, because wmsg
            // is JSON; on the wire they are binary, so feed them as binary.
            if let Value::List(items) = &mut value {
                if let Some(last) = items.last_mut() {
                    if let Some(bytes) = last.as_str().and_then(|s| hex::decode(s).ok()) {
                        *last = Value::Bytes(Bytes::from(bytes));
                    }
                }
            }
            for kind in SerializerKind::ALL {
                let ctx = format!(
                    "{} ({}) {}",
                    file.display(),
                    sample["description"],
                    kind.name()
                );
                let bytes = kind.encode_value(&value).expect("encode wmsg");
                let result = kind.decode(Bytes::from(bytes));
                match sample.get("expected_error") {
                    None => {
                        result.unwrap_or_else(|e| panic!("{ctx}: should be accepted: {e}"));
                    }
                    Some(err) => {
                        let e = result
                            .err()
                            .unwrap_or_else(|| panic!("{ctx}: should be refused"));
                        assert_eq!(err["type"], "protocol_violation", "{ctx}");
                        assert!(e.is_violation(), "{ctx}: {e}");
                        let needle = err["contains"].as_str().expect("contains");
                        assert!(
                            e.to_string().contains(needle),
                            "{ctx}: error {e} should name {needle}"
                        );
                    }
                }
                count += 1;
            }
        }
    }
    assert!(count >= 150, "only {count} validation checks ran");
}
