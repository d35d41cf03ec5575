//! Application payloads (`Arguments` and `ArgumentsKw`) kept as encoded bytes.
//!
//! A decoded message's payload is a slice of the received frame, tagged with the
//! serializer that produced it; nothing is decoded until the application asks. A router
//! forwarding an EVENT or INVOCATION to a peer with the same serializer copies those bytes
//! verbatim; only a peer with a different serializer costs a conversion. Applications go
//! straight between their `serde` types and the encoded bytes ([`Payload::encode`],
//! [`Payload::args`]), without a dynamic tree in between.
//!
//! ```
//! use wamp_proto::{Payload, serializer::SerializerKind};
//! #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
//! struct Opts { verbose: bool }
//!
//! let p = Payload::encode(SerializerKind::Cbor, &("add", 2, 3), &Opts { verbose: true }).unwrap();
//! let (op, a, b): (String, i64, i64) = p.args().unwrap();
//! assert_eq!((op.as_str(), a + b), ("add", 5));
//! assert_eq!(p.kwargs::<Opts>().unwrap(), Opts { verbose: true });
//! ```

use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{EncodeError, PayloadError, PayloadPart};
use crate::serializer::{ElementKind, SerializerKind};
use crate::value::{Map, Value};

/// The `Arguments`/`ArgumentsKw` of a message, or a transparent binary payload.
///
/// Two payloads are equal when they decode to equal values; an absent `Arguments` equals
/// an empty list and an absent `ArgumentsKw` an empty map, because the wire omits empty
/// tails.
#[derive(Clone, Default)]
pub struct Payload(Repr);

#[derive(Clone, Default)]
enum Repr {
    #[default]
    Empty,
    Encoded {
        format: SerializerKind,
        /// An encoded list, if present.
        args: Option<Bytes>,
        /// An encoded map, if present.
        kwargs: Option<Bytes>,
    },
    /// Payload passthru / end-to-end encrypted payload: one binary element in place of
    /// `Arguments`, opaque to the router.
    Transparent(Bytes),
}

impl Payload {
    /// The serializer that format-less constructors ([`Payload::from_args`],
    /// [`Payload::from_values`]) encode with. A message sent through another serializer
    /// is converted once, when it is encoded.
    pub const DEFAULT_FORMAT: SerializerKind = SerializerKind::MsgPack;

    /// No arguments.
    pub const fn empty() -> Payload {
        Payload(Repr::Empty)
    }

    /// Positional arguments from any `serde` value that serializes as a list (tuple,
    /// array, `Vec`), encoded with [`Payload::DEFAULT_FORMAT`]. `()` means no arguments.
    pub fn from_args<A: Serialize + ?Sized>(args: &A) -> Result<Payload, EncodeError> {
        Payload::encode_args(Payload::DEFAULT_FORMAT, args)
    }

    /// Positional arguments encoded with `format` (use the session's serializer to avoid a
    /// conversion when sending). `()` means no arguments.
    pub fn encode_args<A: Serialize + ?Sized>(
        format: SerializerKind,
        args: &A,
    ) -> Result<Payload, EncodeError> {
        let args = encode_part(format, args, PayloadPart::Args)?;
        Ok(Payload::from_parts(format, args, None))
    }

    /// Positional and keyword arguments encoded with `format`. `kwargs` must serialize as
    /// a map (a struct or map); `()` for either means none.
    pub fn encode<A, K>(
        format: SerializerKind,
        args: &A,
        kwargs: &K,
    ) -> Result<Payload, EncodeError>
    where
        A: Serialize + ?Sized,
        K: Serialize + ?Sized,
    {
        let args = encode_part(format, args, PayloadPart::Args)?;
        let kwargs = encode_part(format, kwargs, PayloadPart::Kwargs)?;
        Ok(Payload::from_parts(format, args, kwargs))
    }

    /// Arguments from dynamic values, encoded with [`Payload::DEFAULT_FORMAT`].
    pub fn from_values(args: Vec<Value>, kwargs: Map) -> Payload {
        // A list of `Value`s and a string-keyed map always encode in MessagePack.
        Payload::encode(Payload::DEFAULT_FORMAT, &args, &kwargs).unwrap_or_default()
    }

    /// A transparent binary payload (payload passthru mode or end-to-end encryption): sent
    /// as a single binary element in place of `Arguments`.
    pub fn transparent(bytes: Bytes) -> Payload {
        Payload(Repr::Transparent(bytes))
    }

    /// A payload from already encoded parts: `args` must be one encoded list and `kwargs`
    /// one encoded map, in `format` (for example the raw parts of another payload).
    /// Each part is checked to be exactly one well-formed value of the right kind.
    pub fn from_encoded(
        format: SerializerKind,
        args: Option<Bytes>,
        kwargs: Option<Bytes>,
    ) -> Result<Payload, PayloadError> {
        for (part, bytes, kind) in [
            (PayloadPart::Args, &args, ElementKind::List),
            (PayloadPart::Kwargs, &kwargs, ElementKind::Map),
        ] {
            let Some(bytes) = bytes else { continue };
            let invalid = |reason: String| PayloadError::Decode {
                part,
                serializer: format,
                reason,
            };
            if format.element_kind(bytes) != kind {
                return Err(invalid(format!(
                    "not an encoded {}",
                    if kind == ElementKind::List {
                        "list"
                    } else {
                        "map"
                    }
                )));
            }
            format.check_element(bytes).map_err(invalid)?;
        }
        Ok(Payload::from_parts(format, args, kwargs))
    }

    /// Parts that a decoder delimited itself: already known to be exactly one value each.
    pub(crate) fn from_verified_parts(
        format: SerializerKind,
        args: Option<Bytes>,
        kwargs: Option<Bytes>,
    ) -> Payload {
        Payload::from_parts(format, args, kwargs)
    }

    fn from_parts(format: SerializerKind, args: Option<Bytes>, kwargs: Option<Bytes>) -> Payload {
        if args.is_none() && kwargs.is_none() {
            Payload(Repr::Empty)
        } else {
            Payload(Repr::Encoded {
                format,
                args,
                kwargs,
            })
        }
    }

    /// Whether there are no arguments (absent or empty) and no transparent payload.
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            Repr::Empty => true,
            Repr::Encoded {
                format,
                args,
                kwargs,
            } => {
                let empty = |part: &Option<Bytes>| {
                    part.as_ref().is_none_or(|b| format.is_empty_container(b))
                };
                empty(args) && empty(kwargs)
            }
            Repr::Transparent(_) => false,
        }
    }

    /// Bytes held by the encoded parts (what the payload adds to a message on the wire,
    /// give or take a conversion): what byte budgets count.
    pub fn encoded_len(&self) -> usize {
        match &self.0 {
            Repr::Empty => 0,
            Repr::Encoded { args, kwargs, .. } => {
                args.as_ref().map_or(0, Bytes::len) + kwargs.as_ref().map_or(0, Bytes::len)
            }
            Repr::Transparent(b) => b.len(),
        }
    }

    /// The serializer the encoded parts are in (`None` when empty or transparent).
    pub fn format(&self) -> Option<SerializerKind> {
        match &self.0 {
            Repr::Encoded { format, .. } => Some(*format),
            _ => None,
        }
    }

    /// The encoded `Arguments` list, if present.
    pub fn raw_args(&self) -> Option<&Bytes> {
        match &self.0 {
            Repr::Encoded { args, .. } => args.as_ref(),
            _ => None,
        }
    }

    /// The encoded `ArgumentsKw` map, if present.
    pub fn raw_kwargs(&self) -> Option<&Bytes> {
        match &self.0 {
            Repr::Encoded { kwargs, .. } => kwargs.as_ref(),
            _ => None,
        }
    }

    /// The transparent binary payload, if this is one.
    pub fn transparent_bytes(&self) -> Option<&Bytes> {
        match &self.0 {
            Repr::Transparent(b) => Some(b),
            _ => None,
        }
    }

    /// Decodes `Arguments` into `A` (a tuple, `Vec`, or struct deserialized from a
    /// sequence). Absent arguments decode as an empty list.
    pub fn args<A: DeserializeOwned>(&self) -> Result<A, PayloadError> {
        self.decode_part(PayloadPart::Args)
    }

    /// Decodes `ArgumentsKw` into `K` (a struct or map). Absent keyword arguments decode as
    /// an empty map.
    pub fn kwargs<K: DeserializeOwned>(&self) -> Result<K, PayloadError> {
        self.decode_part(PayloadPart::Kwargs)
    }

    /// `Arguments` as dynamic values.
    pub fn args_values(&self) -> Result<Vec<Value>, PayloadError> {
        self.args()
    }

    /// `ArgumentsKw` as dynamic values.
    pub fn kwargs_values(&self) -> Result<Map, PayloadError> {
        self.kwargs()
    }

    fn decode_part<T: DeserializeOwned>(&self, part: PayloadPart) -> Result<T, PayloadError> {
        let (format, bytes): (SerializerKind, &[u8]) = match (&self.0, part) {
            (Repr::Transparent(_), _) => return Err(PayloadError::Transparent),
            (Repr::Empty, PayloadPart::Args) => (
                Payload::DEFAULT_FORMAT,
                Payload::DEFAULT_FORMAT.empty_list(),
            ),
            (Repr::Empty, PayloadPart::Kwargs) => {
                (Payload::DEFAULT_FORMAT, Payload::DEFAULT_FORMAT.empty_map())
            }
            (Repr::Encoded { format, args, .. }, PayloadPart::Args) => {
                (*format, args.as_deref().unwrap_or(format.empty_list()))
            }
            (Repr::Encoded { format, kwargs, .. }, PayloadPart::Kwargs) => {
                (*format, kwargs.as_deref().unwrap_or(format.empty_map()))
            }
        };
        format
            .decode_element(bytes)
            .map_err(|reason| PayloadError::Decode {
                part,
                serializer: format,
                reason,
            })
    }

    /// The same payload encoded with `format`: a cheap clone when it already is, otherwise
    /// a conversion through [`Value`].
    pub fn to_format(&self, format: SerializerKind) -> Result<Payload, EncodeError> {
        let Repr::Encoded {
            format: from,
            args,
            kwargs,
        } = &self.0
        else {
            return Ok(self.clone());
        };
        if *from == format {
            return Ok(self.clone());
        }
        let convert = |part: &Option<Bytes>| -> Result<Option<Bytes>, EncodeError> {
            let Some(bytes) = part else { return Ok(None) };
            let value: Value =
                from.decode_element(bytes)
                    .map_err(|reason| EncodeError::Transcode {
                        from: *from,
                        to: format,
                        reason,
                    })?;
            let out = format
                .encode_value(&value)
                .map_err(|e| EncodeError::Transcode {
                    from: *from,
                    to: format,
                    reason: e.to_string(),
                })?;
            format
                .check_element(&out)
                .map_err(|reason| EncodeError::Transcode {
                    from: *from,
                    to: format,
                    reason,
                })?;
            Ok(Some(Bytes::from(out)))
        };
        Ok(Payload::from_parts(
            format,
            convert(args)?,
            convert(kwargs)?,
        ))
    }

    /// The parts to put on the wire for `format`, with the spec's omission rules applied:
    /// no empty `ArgumentsKw`; no empty `Arguments` unless `ArgumentsKw` follows.
    pub(crate) fn wire_tail(&self, format: SerializerKind) -> Result<WireTail, EncodeError> {
        let converted;
        let payload = match &self.0 {
            Repr::Empty => return Ok(WireTail::None),
            Repr::Transparent(b) => return Ok(WireTail::Transparent(b.clone())),
            Repr::Encoded { format: from, .. } if *from != format => {
                converted = self.to_format(format)?;
                &converted
            }
            Repr::Encoded { .. } => self,
        };
        let Repr::Encoded { args, kwargs, .. } = &payload.0 else {
            return Ok(WireTail::None);
        };
        let non_empty =
            |part: &Option<Bytes>| part.clone().filter(|b| !format.is_empty_container(b));
        Ok(match (non_empty(args), non_empty(kwargs)) {
            (None, None) => WireTail::None,
            (Some(a), None) => WireTail::Args(a),
            (a, Some(k)) => WireTail::ArgsKwargs(
                a.unwrap_or_else(|| Bytes::from_static(format.empty_list())),
                k,
            ),
        })
    }
}

/// What follows the fixed fields of a message on the wire.
pub(crate) enum WireTail {
    None,
    Args(Bytes),
    ArgsKwargs(Bytes, Bytes),
    Transparent(Bytes),
}

impl WireTail {
    pub(crate) fn len(&self) -> usize {
        match self {
            WireTail::None => 0,
            WireTail::Args(_) | WireTail::Transparent(_) => 1,
            WireTail::ArgsKwargs(..) => 2,
        }
    }
}

fn encode_part<T: Serialize + ?Sized>(
    format: SerializerKind,
    value: &T,
    part: PayloadPart,
) -> Result<Option<Bytes>, EncodeError> {
    let bytes = format.encode_value(value)?;
    format
        .check_element(&bytes)
        .map_err(|reason| EncodeError::Serialize {
            serializer: format,
            reason: format!("{part} cannot be sent: {reason}"),
        })?;
    match (format.element_kind(&bytes), part) {
        (ElementKind::Null, _) => Ok(None),
        (ElementKind::List, PayloadPart::Args) | (ElementKind::Map, PayloadPart::Kwargs) => {
            Ok(Some(Bytes::from(bytes)))
        }
        (_, PayloadPart::Args) => Err(EncodeError::ArgsNotList(describe(format, &bytes))),
        (_, PayloadPart::Kwargs) => Err(EncodeError::KwargsNotMap(describe(format, &bytes))),
    }
}

fn describe(format: SerializerKind, bytes: &[u8]) -> &'static str {
    format
        .decode_value::<Value>(bytes)
        .map(|v| v.kind())
        .unwrap_or("an undecodable value")
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        match (&self.0, &other.0) {
            (Repr::Transparent(a), Repr::Transparent(b)) => a == b,
            (Repr::Transparent(_), _) | (_, Repr::Transparent(_)) => false,
            _ => match (
                self.args_values(),
                other.args_values(),
                self.kwargs_values(),
                other.kwargs_values(),
            ) {
                (Ok(a1), Ok(a2), Ok(k1), Ok(k2)) => a1 == a2 && k1 == k2,
                // Undecodable payloads are equal only if their bytes are.
                _ => {
                    self.format() == other.format()
                        && self.raw_args() == other.raw_args()
                        && self.raw_kwargs() == other.raw_kwargs()
                }
            },
        }
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Empty => f.write_str("Payload(empty)"),
            Repr::Transparent(b) => write!(f, "Payload(transparent {} bytes)", b.len()),
            Repr::Encoded { format, .. } => {
                let mut t = f.debug_struct("Payload");
                t.field("format", format);
                match self.args_values() {
                    Ok(a) => t.field("args", &a),
                    Err(e) => t.field("args", &e),
                };
                match self.kwargs_values() {
                    Ok(k) => t.field("kwargs", &k),
                    Err(e) => t.field("kwargs", &e),
                };
                t.finish()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_tails_are_normalized() {
        for format in SerializerKind::ALL {
            let p = Payload::encode(format, &Vec::<u8>::new(), &Map::new()).unwrap_or_default();
            assert!(p.is_empty());
            assert!(matches!(p.wire_tail(format), Ok(WireTail::None)));
            assert_eq!(p, Payload::empty());
            let p = Payload::encode(
                format,
                &(),
                &Map::from([("k".to_string(), Value::from(1u8))]),
            )
            .unwrap_or_default();
            match p.wire_tail(format) {
                Ok(WireTail::ArgsKwargs(a, _)) => assert_eq!(&a[..], format.empty_list()),
                _ => panic!("kwargs without args must send an empty args list"),
            }
        }
    }

    #[test]
    fn non_list_args_are_refused() {
        assert_eq!(
            Payload::from_args(&5u8).err(),
            Some(EncodeError::ArgsNotList("integer"))
        );
        assert_eq!(
            Payload::encode(SerializerKind::Json, &[1], &[2]).err(),
            Some(EncodeError::KwargsNotMap("list"))
        );
    }

    #[test]
    fn conversion_between_formats_keeps_values() {
        let p = Payload::encode(
            SerializerKind::Json,
            &(
                1u64,
                -2i64,
                "x",
                Value::Bytes(Bytes::from_static(b"\x00\xff")),
            ),
            &Map::from([("big".to_string(), Value::UInt(u64::MAX))]),
        )
        .unwrap_or_default();
        for to in SerializerKind::ALL {
            let q = p.to_format(to).unwrap_or_default();
            assert_eq!(q.format(), Some(to));
            assert_eq!(p, q);
        }
    }
}
