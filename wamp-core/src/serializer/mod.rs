//! The three WAMP serializers, JSON, MessagePack and CBOR, behind one trait.
//!
//! Each serializer knows its WebSocket subprotocol name and RawSocket serializer ID, how
//! to encode and decode `serde` values, and how to find the byte boundaries of the
//! elements of a top-level array without decoding them. That last ability is what lets
//! a decoded message keep its `Arguments`/`ArgumentsKw` as the original encoded bytes
//! (see [`crate::Payload`]).
//!
//! Pick one at run time with [`SerializerKind`], or statically with the [`Json`],
//! [`MsgPack`] and [`Cbor`] types and the [`Serializer`] trait.

mod cbor_scan;
mod json_binary;
mod msgpack_scan;
mod scan;

use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{DecodeError, EncodeError};
use crate::message::{decode, encode, Message};

/// What a top-level array element is, as far as payload handling needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementKind {
    /// A list.
    List,
    /// A map.
    Map,
    /// Binary data (in JSON: a `"\0"`-prefixed string).
    Binary,
    /// Null.
    Null,
    /// Anything else.
    Other,
}

/// Why a frame could not be split into the elements of one array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitFailure {
    /// What is wrong.
    pub reason: String,
    /// The index of the element that failed, when known.
    pub element: Option<usize>,
    /// The byte ranges of the elements before the failure (used to name the message type
    /// in the error).
    pub parsed: Vec<Range<usize>>,
}

mod sealed {
    pub trait Sealed {}
}

/// A WAMP serializer. Implemented by [`Json`], [`MsgPack`] and [`Cbor`]; sealed, since
/// [`SerializerKind`] enumerates the serializers at run time.
pub trait Serializer: sealed::Sealed + Copy + Send + Sync + 'static {
    /// The run-time handle of this serializer.
    const KIND: SerializerKind;

    /// Appends the encoding of `value` to `out`.
    fn encode_value<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), String>;
    /// Decodes one value that fills `input` exactly.
    fn decode_value<T: DeserializeOwned>(input: &[u8]) -> Result<T, String>;
    /// Decodes one value from a span that [`Serializer::split_array`] delimited (so it is
    /// known to hold exactly one well-formed, depth-bounded value): skips the checks
    /// `decode_value` makes on untrusted input.
    fn decode_element<T: DeserializeOwned>(element: &[u8]) -> Result<T, String> {
        Self::decode_value(element)
    }
    /// The byte ranges of the elements of the single array that fills `input`.
    fn split_array(input: &[u8]) -> Result<Vec<Range<usize>>, SplitFailure>;
    /// Appends the start of an array of `len` elements.
    fn write_array_start(out: &mut Vec<u8>, len: usize);
    /// Appends what goes between two elements.
    fn write_separator(out: &mut Vec<u8>);
    /// Appends the end of an array.
    fn write_array_end(out: &mut Vec<u8>);
    /// What the encoded value `element` is.
    fn element_kind(element: &[u8]) -> ElementKind;
    /// Whether the encoded list or map `element` has no items.
    fn is_empty_container(element: &[u8]) -> bool;
    /// The encoding of an empty list.
    const EMPTY_LIST: &'static [u8];
    /// The encoding of an empty map.
    const EMPTY_MAP: &'static [u8];
}

/// JSON (`wamp.2.json`), with the spec's binary convention (`"\0"` + base64).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;
/// MessagePack (`wamp.2.msgpack`).
#[derive(Debug, Clone, Copy, Default)]
pub struct MsgPack;
/// CBOR (`wamp.2.cbor`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Cbor;

impl sealed::Sealed for Json {}
impl sealed::Sealed for MsgPack {}
impl sealed::Sealed for Cbor {}

/// A serializer chosen at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SerializerKind {
    /// JSON.
    Json,
    /// MessagePack.
    MsgPack,
    /// CBOR.
    Cbor,
}

/// Dispatches a generic call on the serializer type matching a [`SerializerKind`].
macro_rules! with_serializer {
    ($kind:expr, $s:ident => $body:expr) => {
        match $kind {
            SerializerKind::Json => {
                type $s = Json;
                $body
            }
            SerializerKind::MsgPack => {
                type $s = MsgPack;
                $body
            }
            SerializerKind::Cbor => {
                type $s = Cbor;
                $body
            }
        }
    };
}

impl SerializerKind {
    /// All serializers, in the order a client prefers them by default.
    pub const ALL: [SerializerKind; 3] = [
        SerializerKind::Cbor,
        SerializerKind::MsgPack,
        SerializerKind::Json,
    ];

    /// The serializer's name: `json`, `msgpack` or `cbor`.
    pub const fn name(self) -> &'static str {
        match self {
            SerializerKind::Json => "json",
            SerializerKind::MsgPack => "msgpack",
            SerializerKind::Cbor => "cbor",
        }
    }

    /// Parses a serializer name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "json" => Some(SerializerKind::Json),
            "msgpack" => Some(SerializerKind::MsgPack),
            "cbor" => Some(SerializerKind::Cbor),
            _ => None,
        }
    }

    /// The WebSocket subprotocol: `wamp.2.json`, `wamp.2.msgpack` or `wamp.2.cbor`.
    pub const fn subprotocol(self) -> &'static str {
        match self {
            SerializerKind::Json => "wamp.2.json",
            SerializerKind::MsgPack => "wamp.2.msgpack",
            SerializerKind::Cbor => "wamp.2.cbor",
        }
    }

    /// The serializer for a WebSocket subprotocol.
    pub fn from_subprotocol(protocol: &str) -> Option<Self> {
        protocol
            .strip_prefix("wamp.2.")
            .and_then(SerializerKind::from_name)
    }

    /// The RawSocket handshake serializer ID: 1, 2 or 3.
    pub const fn rawsocket_id(self) -> u8 {
        match self {
            SerializerKind::Json => 1,
            SerializerKind::MsgPack => 2,
            SerializerKind::Cbor => 3,
        }
    }

    /// The serializer for a RawSocket serializer ID.
    pub const fn from_rawsocket_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(SerializerKind::Json),
            2 => Some(SerializerKind::MsgPack),
            3 => Some(SerializerKind::Cbor),
            _ => None,
        }
    }

    /// Whether messages travel in binary WebSocket frames (`false`: text frames, JSON).
    pub const fn is_binary(self) -> bool {
        !matches!(self, SerializerKind::Json)
    }

    /// Encodes a message.
    pub fn encode(self, message: &Message) -> Result<Bytes, EncodeError> {
        let encoded = with_serializer!(self, S => encode::encode::<S>(message))?;
        // A vector with spare room becomes `Bytes` through a second allocation (its
        // shared header), which another thread frees when the message is written;
        // giving the spare room back (in place) makes it one allocation.
        Ok(Bytes::from(encoded.into_boxed_slice()))
    }

    /// Decodes a message. The payload of the result shares `frame`'s memory.
    pub fn decode(self, frame: Bytes) -> Result<Message, DecodeError> {
        with_serializer!(self, S => decode::decode::<S>(frame))
    }

    /// Encodes any `serde` value with this serializer.
    pub fn encode_value<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        with_serializer!(self, S => S::encode_value(&mut out, value)).map_err(|reason| {
            EncodeError::Serialize {
                serializer: self,
                reason,
            }
        })?;
        Ok(out)
    }

    /// Decodes any `serde` value with this serializer.
    pub fn decode_value<T: DeserializeOwned>(self, input: &[u8]) -> Result<T, String> {
        with_serializer!(self, S => S::decode_value(input))
    }

    /// Checks that `element` is one well-formed value that may stand as an element of a
    /// message: within the nesting limit the decoder applies to whole frames (the
    /// message's own array counts as one level). Run on everything the encoder did not
    /// get from a decoded frame, so that what encodes also decodes.
    pub(crate) fn check_element(self, element: &[u8]) -> Result<(), String> {
        with_serializer!(self, S => {
            let mut framed = Vec::with_capacity(element.len() + 6);
            S::write_array_start(&mut framed, 1);
            framed.extend_from_slice(element);
            S::write_array_end(&mut framed);
            match S::split_array(&framed) {
                Ok(ranges) if ranges.len() == 1 => Ok(()),
                Ok(_) => Err("not exactly one value".to_owned()),
                Err(failure) => Err(failure.reason),
            }
        })?;
        if self == SerializerKind::Json {
            // serde_json's splitter does not count depth; its recursion limit applies when
            // the element is decoded, so decode it once the way a receiver will.
            Json::decode_value::<crate::value::Value>(element)?;
        }
        Ok(())
    }

    /// Decodes a span delimited by this serializer's splitter (see
    /// [`Serializer::decode_element`]).
    pub(crate) fn decode_element<T: DeserializeOwned>(self, element: &[u8]) -> Result<T, String> {
        with_serializer!(self, S => S::decode_element(element))
    }

    pub(crate) fn element_kind(self, element: &[u8]) -> ElementKind {
        with_serializer!(self, S => S::element_kind(element))
    }

    pub(crate) fn is_empty_container(self, element: &[u8]) -> bool {
        with_serializer!(self, S => S::is_empty_container(element))
    }

    pub(crate) fn empty_list(self) -> &'static [u8] {
        with_serializer!(self, S => S::EMPTY_LIST)
    }

    pub(crate) fn empty_map(self) -> &'static [u8] {
        with_serializer!(self, S => S::EMPTY_MAP)
    }
}

impl fmt::Display for SerializerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for SerializerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SerializerKind::from_name(s)
            .ok_or_else(|| format!("unknown serializer {s:?} (expected json, msgpack or cbor)"))
    }
}

impl Serializer for Json {
    const KIND: SerializerKind = SerializerKind::Json;
    const EMPTY_LIST: &'static [u8] = b"[]";
    const EMPTY_MAP: &'static [u8] = b"{}";

    fn encode_value<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), String> {
        json_binary::to_writer(out, value).map_err(|e| e.to_string())
    }

    fn decode_value<T: DeserializeOwned>(input: &[u8]) -> Result<T, String> {
        json_binary::from_slice(input).map_err(|e| e.to_string())
    }

    fn split_array(input: &[u8]) -> Result<Vec<Range<usize>>, SplitFailure> {
        let raw: Vec<&serde_json::value::RawValue> =
            serde_json::from_slice(input).map_err(|e| SplitFailure {
                reason: e.to_string(),
                element: None,
                parsed: json_leading_integer(input).into_iter().collect(),
            })?;
        let base = input.as_ptr() as usize;
        Ok(raw
            .iter()
            .map(|r| {
                // RawValue borrows from `input`, so the offset is in bounds.
                let start = r.get().as_ptr() as usize - base;
                start..start + r.get().len()
            })
            .collect())
    }

    fn write_array_start(out: &mut Vec<u8>, _len: usize) {
        out.push(b'[');
    }
    fn write_separator(out: &mut Vec<u8>) {
        out.push(b',');
    }
    fn write_array_end(out: &mut Vec<u8>) {
        out.push(b']');
    }

    fn element_kind(element: &[u8]) -> ElementKind {
        match element.first() {
            Some(b'[') => ElementKind::List,
            Some(b'{') => ElementKind::Map,
            Some(b'n') => ElementKind::Null,
            Some(b'"') if element.starts_with(b"\"\\u0000") => ElementKind::Binary,
            _ => ElementKind::Other,
        }
    }

    fn is_empty_container(element: &[u8]) -> bool {
        let inner = element
            .get(1..element.len().saturating_sub(1))
            .unwrap_or_default();
        element.len() >= 2 && inner.iter().all(u8::is_ascii_whitespace)
    }
}

/// For error reporting when a JSON frame does not parse: the range of a leading
/// `[<integer>` so the message type can still be named.
fn json_leading_integer(input: &[u8]) -> Option<Range<usize>> {
    let open = input.iter().position(|b| !b.is_ascii_whitespace())?;
    if input.get(open) != Some(&b'[') {
        return None;
    }
    let start = open
        + 1
        + input
            .get(open + 1..)?
            .iter()
            .position(|b| !b.is_ascii_whitespace())?;
    let len = input
        .get(start..)?
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    (len > 0).then_some(start..start + len)
}

/// How a binary scanner's failure to split a message is reported.
fn scan_failure(e: scan::SplitError) -> SplitFailure {
    use scan::SplitError as E;
    match e {
        E::NotAnArray => SplitFailure {
            reason: "not an array".into(),
            element: None,
            parsed: vec![],
        },
        E::Header(err) => SplitFailure {
            reason: format!("array header: {err:?}"),
            element: None,
            parsed: vec![],
        },
        E::Element {
            index,
            error,
            parsed,
        } => SplitFailure {
            reason: format!("{error:?}"),
            element: Some(index),
            parsed,
        },
        E::TrailingBytes { at, parsed } => SplitFailure {
            reason: format!("trailing bytes after the message at offset {at}"),
            element: None,
            parsed,
        },
    }
}

/// Decodes `input` with `S` once its scanner has measured it (`scanned`): a scan error or
/// bytes after the value fail before the serde decoder runs.
fn decode_scanned<S: Serializer, T: DeserializeOwned>(
    input: &[u8],
    scanned: Result<usize, scan::ScanError>,
) -> Result<T, String> {
    match scanned {
        Ok(n) if n == input.len() => S::decode_element(input),
        Ok(n) => Err(format!("trailing bytes after the value at offset {n}")),
        Err(e) => Err(format!("{e:?}")),
    }
}

impl Serializer for MsgPack {
    const KIND: SerializerKind = SerializerKind::MsgPack;
    const EMPTY_LIST: &'static [u8] = &[0x90];
    const EMPTY_MAP: &'static [u8] = &[0x80];

    fn encode_value<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), String> {
        // Structs become maps (not rmp-serde's default tuples), as every other WAMP peer
        // expects for keyword arguments.
        let mut ser = rmp_serde::Serializer::new(out).with_struct_map();
        value.serialize(&mut ser).map_err(|e| e.to_string())
    }

    fn decode_value<T: DeserializeOwned>(input: &[u8]) -> Result<T, String> {
        // Trailing bytes are checked first with the scanner, which rmp-serde does not do.
        decode_scanned::<Self, T>(input, msgpack_scan::value_len(input))
    }

    fn decode_element<T: DeserializeOwned>(element: &[u8]) -> Result<T, String> {
        rmp_serde::from_slice(element).map_err(|e| e.to_string())
    }

    fn split_array(input: &[u8]) -> Result<Vec<Range<usize>>, SplitFailure> {
        msgpack_scan::split_array(input).map_err(scan_failure)
    }

    fn write_array_start(out: &mut Vec<u8>, len: usize) {
        if len < 16 {
            out.push(0x90 | len as u8);
        } else if let Ok(len) = u16::try_from(len) {
            out.push(0xdc);
            out.extend_from_slice(&len.to_be_bytes());
        } else {
            out.push(0xdd);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
    fn write_separator(_out: &mut Vec<u8>) {}
    fn write_array_end(_out: &mut Vec<u8>) {}

    fn element_kind(element: &[u8]) -> ElementKind {
        match element.first() {
            Some(0x90..=0x9f | 0xdc | 0xdd) => ElementKind::List,
            Some(0x80..=0x8f | 0xde | 0xdf) => ElementKind::Map,
            Some(0xc4..=0xc6) => ElementKind::Binary,
            Some(0xc0) => ElementKind::Null,
            _ => ElementKind::Other,
        }
    }

    fn is_empty_container(element: &[u8]) -> bool {
        msgpack_scan::array_len(element) == Some(0) || msgpack_scan::map_len(element) == Some(0)
    }
}

impl Serializer for Cbor {
    const KIND: SerializerKind = SerializerKind::Cbor;
    const EMPTY_LIST: &'static [u8] = &[0x80];
    const EMPTY_MAP: &'static [u8] = &[0xa0];

    fn encode_value<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), String> {
        ciborium::into_writer(value, out).map_err(|e| e.to_string())
    }

    fn decode_value<T: DeserializeOwned>(input: &[u8]) -> Result<T, String> {
        // The scanner bounds the nesting depth and finds trailing bytes before ciborium runs.
        decode_scanned::<Self, T>(input, cbor_scan::value_len(input))
    }

    fn decode_element<T: DeserializeOwned>(element: &[u8]) -> Result<T, String> {
        // ciborium's `from_reader` zero-fills a 4 KiB scratch buffer on every call; strings
        // longer than the scratch are read in chunks, so a small one serves and is cheap.
        let mut scratch = [0u8; 256];
        ciborium::de::from_reader_with_buffer(element, &mut scratch).map_err(|e| e.to_string())
    }

    fn split_array(input: &[u8]) -> Result<Vec<Range<usize>>, SplitFailure> {
        cbor_scan::split_array(input).map_err(scan_failure)
    }

    fn write_array_start(out: &mut Vec<u8>, len: usize) {
        let len = len as u64;
        if len < 24 {
            out.push(0x80 | len as u8);
        } else if let Ok(len) = u8::try_from(len) {
            out.extend_from_slice(&[0x98, len]);
        } else if let Ok(len) = u16::try_from(len) {
            out.push(0x99);
            out.extend_from_slice(&len.to_be_bytes());
        } else if let Ok(len) = u32::try_from(len) {
            out.push(0x9a);
            out.extend_from_slice(&len.to_be_bytes());
        } else {
            out.push(0x9b);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    fn write_separator(_out: &mut Vec<u8>) {}
    fn write_array_end(_out: &mut Vec<u8>) {}

    fn element_kind(element: &[u8]) -> ElementKind {
        match element.first().map(|b| (b >> 5, b & 0x1f)) {
            Some((4, _)) => ElementKind::List,
            Some((5, _)) => ElementKind::Map,
            Some((2, _)) => ElementKind::Binary,
            Some((7, 22)) => ElementKind::Null,
            _ => ElementKind::Other,
        }
    }

    fn is_empty_container(element: &[u8]) -> bool {
        cbor_scan::array_len(element) == Some(0) || cbor_scan::map_len(element) == Some(0)
    }
}
