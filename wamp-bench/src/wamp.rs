//! WAMP messages as plain arrays, encoded and decoded without the project's session code:
//! a small builder that writes JSON or MessagePack arrays (with pre-encoded elements, so
//! a 16 KiB payload is encoded once per run), and a decoder that keeps only what the bench
//! looks at (message code, integer fields, the URI, the positional arguments).

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::{BenchError, Result};

/// Message codes the bench uses.
pub mod code {
    /// `[1, realm, details]`
    pub const HELLO: u64 = 1;
    /// `[2, session, details]`
    pub const WELCOME: u64 = 2;
    /// `[3, details, reason]`
    pub const ABORT: u64 = 3;
    /// `[6, details, reason]`
    pub const GOODBYE: u64 = 6;
    /// `[8, type, request, details, error, args?]`
    pub const ERROR: u64 = 8;
    /// `[16, request, options, topic, args]`
    pub const PUBLISH: u64 = 16;
    /// `[32, request, options, topic]`
    pub const SUBSCRIBE: u64 = 32;
    /// `[33, request, subscription]`
    pub const SUBSCRIBED: u64 = 33;
    /// `[36, subscription, publication, details, args]`
    pub const EVENT: u64 = 36;
    /// `[48, request, options, procedure, args]`
    pub const CALL: u64 = 48;
    /// `[50, request, details, args]`
    pub const RESULT: u64 = 50;
    /// `[64, request, options, procedure]`
    pub const REGISTER: u64 = 64;
    /// `[65, request, registration]`
    pub const REGISTERED: u64 = 65;
    /// `[68, request, registration, details, args]`
    pub const INVOCATION: u64 = 68;
    /// `[70, request, options, args]`
    pub const YIELD: u64 = 70;
}

/// The serializers the bench speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ser {
    /// `wamp.2.json`, RawSocket serializer 1.
    Json,
    /// `wamp.2.msgpack`, RawSocket serializer 2.
    Msgpack,
}

impl Ser {
    /// The WebSocket subprotocol.
    pub fn subprotocol(self) -> &'static str {
        match self {
            Ser::Json => "wamp.2.json",
            Ser::Msgpack => "wamp.2.msgpack",
        }
    }

    /// The RawSocket serializer ID.
    pub fn rawsocket_id(self) -> u8 {
        match self {
            Ser::Json => 1,
            Ser::Msgpack => 2,
        }
    }

    /// Whether WebSocket messages are text frames.
    pub fn is_text(self) -> bool {
        self == Ser::Json
    }

    /// The short name (`json`, `msgpack`).
    pub fn name(self) -> &'static str {
        match self {
            Ser::Json => "json",
            Ser::Msgpack => "msgpack",
        }
    }

    /// Encodes any serde value.
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<u8>> {
        match self {
            Ser::Json => serde_json::to_vec(value)
                .map_err(|e| BenchError::Protocol(format!("encode json: {e}"))),
            Ser::Msgpack => rmp_serde::to_vec(value)
                .map_err(|e| BenchError::Protocol(format!("encode msgpack: {e}"))),
        }
    }

    /// Decodes one message.
    pub fn decode(self, bytes: &[u8]) -> Result<Msg> {
        match self {
            Ser::Json => serde_json::from_slice(bytes)
                .map_err(|e| BenchError::Protocol(format!("decode json: {e}"))),
            Ser::Msgpack => rmp_serde::from_slice(bytes)
                .map_err(|e| BenchError::Protocol(format!("decode msgpack: {e}"))),
        }
    }
}

/// One positional argument, as far as the bench cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// An integer (sequence numbers).
    Int(u64),
    /// A string (the JSON payload).
    Str(String),
    /// Binary (the MessagePack payload).
    Bin(Vec<u8>),
    /// Anything else (sent back as null).
    Other,
}

impl Serialize for Arg {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Arg::Int(n) => s.serialize_u64(*n),
            Arg::Str(text) => s.serialize_str(text),
            Arg::Bin(bytes) => s.serialize_bytes(bytes),
            Arg::Other => s.serialize_unit(),
        }
    }
}

struct ArgVisitor;

impl<'de> Visitor<'de> for ArgVisitor {
    type Value = Arg;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a WAMP argument")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Arg, E> {
        Ok(Arg::Int(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Arg, E> {
        Ok(u64::try_from(v).map_or(Arg::Other, Arg::Int))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<Arg, E> {
        Ok(Arg::Other)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Arg, E> {
        Ok(Arg::Other)
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<Arg, E> {
        Ok(Arg::Other)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Arg, E> {
        Ok(Arg::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Arg, E> {
        Ok(Arg::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> std::result::Result<Arg, E> {
        Ok(Arg::Bin(v.to_vec()))
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> std::result::Result<Arg, E> {
        Ok(Arg::Bin(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Arg, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Arg::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Arg, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Arg::Other)
    }
}

impl<'de> Deserialize<'de> for Arg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(ArgVisitor)
    }
}

/// One element of a message after its code.
enum Field {
    Int(u64),
    Str(String),
    Dict,
    List(Vec<Arg>),
    Other,
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a WAMP message element")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Field, E> {
        Ok(Field::Int(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Field, E> {
        Ok(u64::try_from(v).map_or(Field::Other, Field::Int))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<Field, E> {
        Ok(Field::Other)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Field, E> {
        Ok(Field::Other)
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<Field, E> {
        Ok(Field::Other)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Field, E> {
        Ok(Field::Str(v.to_owned()))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> std::result::Result<Field, E> {
        Ok(Field::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Field, A::Error> {
        let mut args = Vec::with_capacity(seq.size_hint().unwrap_or(2).min(16));
        while let Some(arg) = seq.next_element::<Arg>()? {
            args.push(arg);
        }
        Ok(Field::List(args))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Field, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Dict)
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

/// A decoded message: its code, its integer fields in order (IDs), its URI if it has
/// one, and its positional arguments (empty when absent).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Msg {
    /// The message type code.
    pub code: u64,
    /// The integer elements in order (request, session, subscription, ... IDs).
    pub ints: Vec<u64>,
    /// The first string element (realm, URI, reason).
    pub uri: Option<String>,
    /// The positional arguments.
    pub args: Vec<Arg>,
}

impl Msg {
    /// The `i`-th integer field (0 when absent, which no valid ID is).
    pub fn int(&self, i: usize) -> u64 {
        self.ints.get(i).copied().unwrap_or(0)
    }

    /// The first argument as a sequence number.
    pub fn seq(&self) -> Option<u64> {
        match self.args.first() {
            Some(Arg::Int(n)) => Some(*n),
            _ => None,
        }
    }
}

struct MsgVisitor;

impl<'de> Visitor<'de> for MsgVisitor {
    type Value = Msg;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a WAMP message (an array starting with its code)")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Msg, A::Error> {
        let code: u64 = seq
            .next_element()?
            .ok_or_else(|| de::Error::custom("empty message"))?;
        let mut msg = Msg {
            code,
            ..Msg::default()
        };
        let mut lists = 0;
        while let Some(field) = seq.next_element::<Field>()? {
            match field {
                Field::Int(n) => msg.ints.push(n),
                Field::Str(s) if msg.uri.is_none() => msg.uri = Some(s),
                Field::List(args) if lists == 0 => {
                    lists += 1;
                    msg.args = args;
                }
                _ => {}
            }
        }
        Ok(msg)
    }
}

impl<'de> Deserialize<'de> for Msg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_seq(MsgVisitor)
    }
}

/// Writes one array (a message, or an argument list) element by element.
#[derive(Debug)]
pub struct Builder {
    ser: Ser,
    buf: Vec<u8>,
    first: bool,
}

impl Builder {
    /// Starts an array of `len` elements (at most 15: MessagePack fixarray).
    pub fn new(ser: Ser, len: u8, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity + 32);
        match ser {
            Ser::Json => buf.push(b'['),
            Ser::Msgpack => buf.push(0x90 | (len & 0x0F)),
        }
        Self {
            ser,
            buf,
            first: true,
        }
    }

    fn sep(&mut self) {
        if self.ser == Ser::Json && !std::mem::replace(&mut self.first, false) {
            self.buf.push(b',');
        }
    }

    /// An unsigned integer.
    pub fn int(mut self, n: u64) -> Self {
        self.sep();
        match self.ser {
            Ser::Json => self.buf.extend_from_slice(n.to_string().as_bytes()),
            Ser::Msgpack => {
                if n < 128 {
                    self.buf.push(n as u8);
                } else if let Ok(b) = u8::try_from(n) {
                    self.buf.extend_from_slice(&[0xCC, b]);
                } else if let Ok(s) = u16::try_from(n) {
                    self.buf.push(0xCD);
                    self.buf.extend_from_slice(&s.to_be_bytes());
                } else if let Ok(w) = u32::try_from(n) {
                    self.buf.push(0xCE);
                    self.buf.extend_from_slice(&w.to_be_bytes());
                } else {
                    self.buf.push(0xCF);
                    self.buf.extend_from_slice(&n.to_be_bytes());
                }
            }
        }
        self
    }

    /// A string.
    pub fn str(mut self, s: &str) -> Self {
        self.sep();
        match self.ser {
            Ser::Json => {
                // Writing into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut self.buf, s);
            }
            Ser::Msgpack => {
                let len = s.len();
                if len < 32 {
                    self.buf.push(0xA0 | len as u8);
                } else if let Ok(b) = u8::try_from(len) {
                    self.buf.extend_from_slice(&[0xD9, b]);
                } else if let Ok(w) = u16::try_from(len) {
                    self.buf.push(0xDA);
                    self.buf.extend_from_slice(&w.to_be_bytes());
                } else {
                    self.buf.push(0xDB);
                    self.buf.extend_from_slice(&(len as u32).to_be_bytes());
                }
                self.buf.extend_from_slice(s.as_bytes());
            }
        }
        self
    }

    /// An empty dictionary (options, details).
    pub fn empty_dict(mut self) -> Self {
        self.sep();
        match self.ser {
            Ser::Json => self.buf.extend_from_slice(b"{}"),
            Ser::Msgpack => self.buf.push(0x80),
        }
        self
    }

    /// An element already encoded with the same serializer.
    pub fn raw(mut self, encoded: &[u8]) -> Self {
        self.sep();
        self.buf.extend_from_slice(encoded);
        self
    }

    /// The encoded array.
    pub fn finish(mut self) -> Vec<u8> {
        if self.ser == Ser::Json {
            self.buf.push(b']');
        }
        self.buf
    }
}

/// The payload element of a given size: a string for JSON, binary for MessagePack,
/// encoded once.
pub fn blob(ser: Ser, size: usize) -> Result<Vec<u8>> {
    match ser {
        Ser::Json => ser.encode(&Arg::Str("x".repeat(size))),
        Ser::Msgpack => ser.encode(&Arg::Bin(vec![0x5A; size])),
    }
}

/// `[seq, blob]`: the arguments of every CALL, PUBLISH and YIELD the bench sends.
pub fn args(ser: Ser, seq: u64, blob: &[u8]) -> Vec<u8> {
    Builder::new(ser, 2, blob.len() + 10)
        .int(seq)
        .raw(blob)
        .finish()
}

/// `[1, realm, {"roles": ...}]`
pub fn hello(ser: Ser, realm: &str) -> Result<Vec<u8>> {
    let details = ser.encode(&serde_json::json!({
        "roles": {"caller": {}, "callee": {}, "publisher": {}, "subscriber": {}}
    }))?;
    Ok(Builder::new(ser, 3, 64)
        .int(code::HELLO)
        .str(realm)
        .raw(&details)
        .finish())
}

/// `[64, request, {}, procedure]` or `[32, request, {}, topic]`.
pub fn register_or_subscribe(ser: Ser, code: u64, request: u64, uri: &str) -> Vec<u8> {
    Builder::new(ser, 4, 32 + uri.len())
        .int(code)
        .int(request)
        .empty_dict()
        .str(uri)
        .finish()
}

/// `[48, request, {}, procedure, args]` or `[16, request, {}, topic, args]`.
pub fn call_or_publish(ser: Ser, code: u64, request: u64, uri: &str, args: &[u8]) -> Vec<u8> {
    Builder::new(ser, 5, 32 + uri.len() + args.len())
        .int(code)
        .int(request)
        .empty_dict()
        .str(uri)
        .raw(args)
        .finish()
}

/// `[code, seq, {}, uri, [seq, blob]]`: a CALL or PUBLISH whose request ID is also its
/// first argument, so the reply or event tells which one it answers.
pub fn numbered_call_or_publish(ser: Ser, code: u64, seq: u64, uri: &str, blob: &[u8]) -> Vec<u8> {
    call_or_publish(ser, code, seq, uri, &args(ser, seq, blob))
}

/// `[70, request, {}, args]`
pub fn yield_(ser: Ser, request: u64, args: &[u8]) -> Vec<u8> {
    Builder::new(ser, 4, 32 + args.len())
        .int(code::YIELD)
        .int(request)
        .empty_dict()
        .raw(args)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_messages_decode_back() -> Result<()> {
        for ser in [Ser::Json, Ser::Msgpack] {
            for n in [0u64, 127, 128, 255, 256, 65_535, 65_536, 1 << 40] {
                let blob = blob(ser, 40)?;
                let bytes = call_or_publish(ser, code::CALL, n, "bench.echo", &args(ser, n, &blob));
                let msg = ser.decode(&bytes)?;
                assert_eq!(msg.code, code::CALL);
                assert_eq!(msg.ints, vec![n]);
                assert_eq!(msg.uri.as_deref(), Some("bench.echo"));
                assert_eq!(msg.seq(), Some(n));
                let again = ser.encode(&msg.args)?;
                assert_eq!(again, args(ser, n, &blob));
            }
            let hello = ser.decode(&hello(ser, "realm1")?)?;
            assert_eq!(
                (hello.code, hello.uri.as_deref()),
                (code::HELLO, Some("realm1"))
            );
        }
        Ok(())
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for ser in [Ser::Json, Ser::Msgpack] {
            for bytes in [&b""[..], b"[", b"{}", b"\xff\xff", b"[\"x\"]"] {
                assert!(ser.decode(bytes).is_err());
            }
        }
    }
}
