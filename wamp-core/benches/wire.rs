//! Wire-layer benchmarks: wamp-proto's message encode/decode next to plain `serde` on the
//! same data as typed tuples (the baseline).
//!
//! Each group is `<message>_<payload>/<serializer>`, e.g. `call_small/json`, with:
//!
//! - `wamp_encode`: `Payload::encode` from the typed arguments, then `kind.encode` (the
//!   application's send path);
//! - `wamp_encode_fwd`: `kind.encode` of a message whose payload is already encoded in
//!   that serializer (a router forwarding a payload);
//! - `serde_encode`: the whole message as a typed tuple through `serde_json::to_vec`,
//!   `rmp_serde::to_vec_named` or `ciborium::into_writer`;
//! - `wamp_decode_lazy`: `kind.decode` alone; the payload stays encoded (the router's
//!   forwarding path);
//! - `wamp_decode_typed`: `kind.decode` plus `payload.args()`/`payload.kwargs()` into the
//!   typed Rust values (the application path);
//! - `serde_decode`: the typed tuple through `serde_json::from_slice`,
//!   `rmp_serde::from_slice` or `ciborium::from_reader`.
//!
//! Payloads: `small` (`["hello", 42, 3.5, true]`, `{"a": 1}`), `16k` (a list of records
//! with strings, integers, a float, a list and a nested map, about 16 KiB as JSON, plus
//! `{"a": 1}`) and `blob16k` (a single 16 KiB binary argument, no kwargs). In the JSON
//! baseline the blob is a plain array of numbers (what `serde_json` does with bytes), so
//! that frame is larger than WAMP's `"\0"`+base64 string; the sizes are printed at start.
//!
//! Run with `cargo bench -p wamp-proto --bench wire`, then `python3 scripts/bench-ratios.py`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use wamp_proto::message::{Call, Event};
use wamp_proto::{
    message::Message, serializer::SerializerKind, Dict, Payload, PublicationId, RequestId,
    SubscriptionId, Uri,
};

const REQUEST: u64 = 7_814_135;
const SUBSCRIPTION: u64 = 5_512_315_355;
const PUBLICATION: u64 = 4_429_313_566;
const PROCEDURE: &str = "com.example.inventory.update";
const TIMEOUT_MS: u64 = 1000;
const PUBLISHER: u64 = 3_141_592;
const TARGET_SIZE: usize = 16 * 1024;

// ----- the application's types ---------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Kw {
    a: i64,
}

type SmallArgs = (String, i64, f64, bool);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    id: u64,
    name: String,
    active: bool,
    delta: i64,
    ratio: f64,
    tags: Vec<String>,
    attrs: BTreeMap<String, i64>,
}

type BlobArgs = (ByteBuf,);

/// The options/details dict, typed for the baseline.
type Opts = BTreeMap<String, u64>;

// ----- the baseline: whole messages as typed tuples --------------------------------------

/// `[48, Request, Options, Procedure, Arguments, ArgumentsKw]`
type CallTuple<A, K> = (u64, u64, Opts, String, A, K);
/// `[48, Request, Options, Procedure, Arguments]`
type CallTupleNoKw<A> = (u64, u64, Opts, String, A);
/// `[36, Subscription, Publication, Details, Arguments, ArgumentsKw]`
type EventTuple<A, K> = (u64, u64, u64, Opts, A, K);
/// `[36, Subscription, Publication, Details, Arguments]`
type EventTupleNoKw<A> = (u64, u64, u64, Opts, A);

fn small_args() -> SmallArgs {
    ("hello".to_string(), 42, 3.5, true)
}

fn record(i: u64) -> Record {
    Record {
        id: 1_000_000 + i,
        name: format!("item-{i:05}"),
        active: i % 3 != 0,
        delta: (i as i64) * 37 - 2000,
        ratio: i as f64 / 7.0,
        tags: vec!["alpha".into(), format!("batch-{}", i % 10)],
        attrs: BTreeMap::from([
            ("width".to_string(), (i % 640) as i64),
            ("height".to_string(), (i % 480) as i64),
        ]),
    }
}

/// Records until the JSON encoding of the list reaches 16 KiB.
fn records_16k() -> Vec<Record> {
    let mut out = Vec::new();
    while serde_json::to_vec(&out).expect("records encode").len() < TARGET_SIZE {
        out.push(record(out.len() as u64));
    }
    out
}

fn blob_args() -> BlobArgs {
    (ByteBuf::from(
        (0..TARGET_SIZE)
            .map(|i| (i * 31 % 251) as u8)
            .collect::<Vec<u8>>(),
    ),)
}

fn call_options() -> (Dict, Opts) {
    (
        Dict::new().with_timeout(TIMEOUT_MS),
        Opts::from([("timeout".to_string(), TIMEOUT_MS)]),
    )
}

fn event_details() -> (Dict, Opts) {
    (
        Dict::new().with("publisher", PUBLISHER),
        Opts::from([("publisher".to_string(), PUBLISHER)]),
    )
}

fn call(payload: Payload) -> Message {
    Message::Call(Call {
        request: RequestId::new(REQUEST).expect("request id"),
        options: call_options().0,
        procedure: Uri::parse(PROCEDURE).expect("procedure"),
        payload,
    })
}

fn event(payload: Payload) -> Message {
    Message::Event(Event {
        subscription: SubscriptionId::new(SUBSCRIPTION).expect("subscription id"),
        publication: PublicationId::new(PUBLICATION).expect("publication id"),
        details: event_details().0,
        payload,
    })
}

fn set_payload(message: &mut Message, payload: Payload) {
    match message {
        Message::Call(m) => m.payload = payload,
        Message::Event(m) => m.payload = payload,
        _ => unreachable!("only CALL and EVENT are benchmarked"),
    }
}

fn payload_of(message: &Message) -> &Payload {
    message.payload().expect("a message with a payload")
}

// ----- the plain serde baseline, per serializer -------------------------------------------

fn serde_encode<M: Serialize>(kind: SerializerKind, message: &M) -> Vec<u8> {
    match kind {
        SerializerKind::Json => serde_json::to_vec(message).expect("serde_json encode"),
        SerializerKind::MsgPack => rmp_serde::to_vec_named(message).expect("rmp_serde encode"),
        SerializerKind::Cbor => {
            let mut out = Vec::new();
            ciborium::into_writer(message, &mut out).expect("ciborium encode");
            out
        }
    }
}

fn serde_decode<M: DeserializeOwned>(kind: SerializerKind, bytes: &[u8]) -> M {
    match kind {
        SerializerKind::Json => serde_json::from_slice(bytes).expect("serde_json decode"),
        SerializerKind::MsgPack => rmp_serde::from_slice(bytes).expect("rmp_serde decode"),
        SerializerKind::Cbor => ciborium::from_reader(bytes).expect("ciborium decode"),
    }
}

// ----- one group ---------------------------------------------------------------------------

/// One message shape with one payload in one serializer.
struct Case<'a, M, T, E, D> {
    /// Group name without the serializer, e.g. `call_small`.
    name: &'a str,
    kind: SerializerKind,
    /// Builds the message around a payload.
    build: fn(Payload) -> Message,
    /// The application's send path: typed arguments to a payload.
    encode_payload: E,
    /// The application's receive path: a payload to typed arguments.
    decode_payload: D,
    /// The expected typed arguments.
    expected: T,
    /// The same message as a typed tuple.
    baseline: M,
}

fn bench_case<M, T, E, D>(c: &mut Criterion, case: Case<'_, M, T, E, D>)
where
    M: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    T: PartialEq + std::fmt::Debug,
    E: Fn(SerializerKind) -> Payload,
    D: Fn(&Payload) -> T,
{
    let kind = case.kind;
    let mut message = (case.build)((case.encode_payload)(kind));
    let wamp_bytes: Bytes = kind.encode(&message).expect("wamp encode");
    let serde_bytes = serde_encode(kind, &case.baseline);

    // Both sides must carry the same data, or the comparison means nothing.
    let decoded = kind.decode(wamp_bytes.clone()).expect("wamp decode");
    assert_eq!((case.decode_payload)(payload_of(&decoded)), case.expected);
    assert_eq!(serde_decode::<M>(kind, &serde_bytes), case.baseline);
    eprintln!(
        "{}/{kind}: wamp {} bytes, serde {} bytes{}",
        case.name,
        wamp_bytes.len(),
        serde_bytes.len(),
        if wamp_bytes[..] == serde_bytes[..] {
            " (identical)"
        } else {
            " (different)"
        },
    );

    let mut group = c.benchmark_group(format!("{}/{kind}", case.name));
    // 18 groups x 6 functions: at 2 s per measurement the run would take ~5 minutes on
    // 2 cores; 1 s keeps it near 3, and these timings are stable at 30 samples.
    group
        .measurement_time(Duration::from_secs(1))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(30);

    group.bench_function("wamp_encode", |b| {
        b.iter(|| {
            set_payload(&mut message, (case.encode_payload)(kind));
            kind.encode(black_box(&message)).expect("wamp encode")
        })
    });
    group.bench_function("wamp_encode_fwd", |b| {
        b.iter(|| kind.encode(black_box(&message)).expect("wamp encode"))
    });
    group.bench_function("serde_encode", |b| {
        b.iter(|| serde_encode(kind, black_box(&case.baseline)))
    });
    group.bench_function("wamp_decode_lazy", |b| {
        b.iter(|| {
            kind.decode(black_box(wamp_bytes.clone()))
                .expect("wamp decode")
        })
    });
    group.bench_function("wamp_decode_typed", |b| {
        b.iter(|| {
            let message = kind
                .decode(black_box(wamp_bytes.clone()))
                .expect("wamp decode");
            (case.decode_payload)(payload_of(&message))
        })
    });
    group.bench_function("serde_decode", |b| {
        b.iter(|| serde_decode::<M>(kind, black_box(&serde_bytes)))
    });
    group.finish();
}

fn wire(c: &mut Criterion) {
    let small = small_args();
    let records = records_16k();
    let blob = blob_args();
    let kw = Kw { a: 1 };

    for kind in [
        SerializerKind::Json,
        SerializerKind::MsgPack,
        SerializerKind::Cbor,
    ] {
        let typed_small = |p: &Payload| {
            (
                p.args::<SmallArgs>().expect("small args"),
                p.kwargs::<Kw>().expect("kwargs"),
            )
        };
        let typed_records = |p: &Payload| {
            (
                p.args::<Vec<Record>>().expect("record args"),
                p.kwargs::<Kw>().expect("kwargs"),
            )
        };
        let typed_blob = |p: &Payload| p.args::<BlobArgs>().expect("blob args");

        // One message kind with one payload: `$head` is the typed baseline's four leading
        // fields, `$tail` the payload fields that follow them.
        macro_rules! case {
            ($name:expr, $build:expr, $head:expr, $args:expr, $kw:expr, $decode:expr,
             $expected:expr, ($($tail:expr),+) as $baseline:ty) => {{
                let (h0, h1, h2, h3) = $head;
                let encode_payload = |k| Payload::encode(k, $args, $kw).expect("payload");
                let baseline = (h0, h1, h2, h3, $($tail),+) as $baseline;
                bench_case(
                    c,
                    Case {
                        name: $name,
                        kind,
                        build: $build,
                        encode_payload,
                        decode_payload: $decode,
                        expected: $expected,
                        baseline,
                    },
                );
            }};
        }
        // Each message kind with each payload (small, 16 KiB of records, a 16 KiB blob).
        macro_rules! payload_cases {
            ($prefix:literal, $build:expr, $head:expr, $tuple:ident, $tuple_no_kw:ident) => {
                case!(
                    concat!($prefix, "_small"),
                    $build,
                    $head,
                    &small,
                    &kw,
                    typed_small,
                    (small.clone(), kw.clone()),
                    (small.clone(), kw.clone()) as $tuple<SmallArgs, Kw>
                );
                case!(
                    concat!($prefix, "_16k"),
                    $build,
                    $head,
                    &records,
                    &kw,
                    typed_records,
                    (records.clone(), kw.clone()),
                    (records.clone(), kw.clone()) as $tuple<Vec<Record>, Kw>
                );
                case!(
                    concat!($prefix, "_blob16k"),
                    $build,
                    $head,
                    &blob,
                    &(),
                    typed_blob,
                    blob.clone(),
                    (blob.clone()) as $tuple_no_kw<BlobArgs>
                );
            };
        }

        let (_, opts) = call_options();
        payload_cases!(
            "call",
            call,
            (48u64, REQUEST, opts.clone(), PROCEDURE.to_string()),
            CallTuple,
            CallTupleNoKw
        );
        let (_, details) = event_details();
        payload_cases!(
            "event",
            event,
            (36u64, SUBSCRIPTION, PUBLICATION, details.clone()),
            EventTuple,
            EventTupleNoKw
        );
    }
}

criterion_group!(benches, wire);
criterion_main!(benches);
