//! A tour of the WAMP wire layer: typed arguments in, bytes in three serializers out,
//! decoding back, forwarding a payload without decoding it, and what bad input gets.
//!
//! Run with `cargo run -p wamp-proto --example wire_tour`.
#![allow(clippy::print_stdout)]

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use wamp_proto::message::{Call, Event};
use wamp_proto::{
    message::Message, serializer::SerializerKind, Dict, Payload, PublicationId, RequestId,
    SubscriptionId, Uri,
};

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Order {
    item: String,
    quantity: u32,
    #[serde(with = "serde_bytes_compat")]
    token: Vec<u8>,
}

/// Binary fields go through `serialize_bytes`, so they travel as MessagePack/CBOR binary
/// and as the spec's `"\0"`+base64 string in JSON.
mod serde_bytes_compat {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let v = wamp_proto::Value::deserialize(d)?;
        v.as_bytes()
            .map(|b| b.to_vec())
            .ok_or_else(|| serde::de::Error::custom(format!("expected binary, got {}", v.kind())))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let order = Order {
        item: "espresso".into(),
        quantity: 2,
        token: vec![0x10, 0xe3, 0xff, 0x90],
    };

    println!("1. A CALL with typed args and kwargs, in each serializer:");
    for kind in [
        SerializerKind::Json,
        SerializerKind::MsgPack,
        SerializerKind::Cbor,
    ] {
        let call = Message::Call(Call {
            request: RequestId::new(1).ok_or("id")?,
            options: Dict::new().with_receive_progress(true).with_timeout(5_000),
            procedure: Uri::parse("com.example.cafe.order")?,
            // Encoding the payload with the session's serializer means no conversion later.
            payload: Payload::encode(kind, &("table 7",), &order)?,
        });
        let bytes = kind.encode(&call)?;
        if kind.is_binary() {
            println!(
                "   {:8} {:3} bytes  {}",
                kind.name(),
                bytes.len(),
                hex(&bytes)
            );
        } else {
            println!(
                "   {:8} {:3} bytes  {}",
                kind.name(),
                bytes.len(),
                String::from_utf8_lossy(&bytes)
            );
        }
        let Message::Call(back) = kind.decode(bytes)? else {
            return Err("decoded something other than a CALL".into());
        };
        let (table,): (String,) = back.payload.args()?;
        let decoded: Order = back.payload.kwargs()?;
        assert_eq!(decoded, order);
        println!(
            "            decoded: {} → {} x{} (timeout {:?} ms)",
            table,
            decoded.item,
            decoded.quantity,
            back.options.timeout()
        );
    }

    println!("\n2. A router forwarding an EVENT: the payload stays encoded bytes.");
    let from_publisher = SerializerKind::Cbor.encode(&Message::Event(Event {
        subscription: SubscriptionId::new(5_512_315_355).ok_or("id")?,
        publication: PublicationId::new(4_429_313_566).ok_or("id")?,
        details: Dict::new(),
        payload: Payload::encode(SerializerKind::Cbor, &["Hello, world!"], &())?,
    }))?;
    let event = SerializerKind::Cbor.decode(from_publisher.clone())?;
    let raw = event
        .payload()
        .and_then(Payload::raw_args)
        .ok_or("no args")?;
    println!("   args kept as {} encoded bytes: {}", raw.len(), hex(raw));
    let same = SerializerKind::Cbor.encode(&event)?;
    println!(
        "   re-encoded for a CBOR subscriber, byte-identical: {}",
        same == from_publisher
    );
    let json = SerializerKind::Json.encode(&event)?;
    println!(
        "   converted once for a JSON subscriber: {}",
        String::from_utf8_lossy(&json)
    );

    println!("\n3. Bad input gets a typed error, never a panic:");
    for (kind, input) in [
        (SerializerKind::Json, &b"[48, 1, {}, \"com..bad\"]"[..]),
        (SerializerKind::Json, b"[16, 0, {}, \"com.example\"]"),
        (
            SerializerKind::Json,
            b"[16, 1, {\"acknowledge\": \"yes\"}, \"com.example\"]",
        ),
        (SerializerKind::Json, b"[99, 1]"),
        (SerializerKind::Json, b"{\"not\": \"a list\"}"),
        (SerializerKind::MsgPack, &[0x95, 0x30, 0x01]),
    ] {
        let err = kind
            .decode(Bytes::copy_from_slice(input))
            .err()
            .ok_or("accepted bad input")?;
        let verdict = if err.is_violation() {
            "protocol violation"
        } else {
            "not WAMP"
        };
        println!("   {verdict:18} {err}");
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
