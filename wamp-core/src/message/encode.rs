//! Message to bytes, generic over the serializer.

use serde::Serialize;

use super::Message;
use crate::error::EncodeError;
use crate::payload::{Payload, WireTail};
use crate::serializer::{ElementKind, Serializer, SerializerKind};

/// Writes the elements of one top-level array.
struct ArrayWriter<S: Serializer> {
    out: Vec<u8>,
    first: bool,
    _s: std::marker::PhantomData<S>,
}

impl<S: Serializer> ArrayWriter<S> {
    /// `len` elements; `payload` bytes of arguments expected besides the fixed fields.
    fn new(len: usize, payload: usize) -> Self {
        // Fixed fields (a code, IDs, a URI, a small dict) fit in about a hundred bytes:
        // room for them and the payload, so a message is written without regrowing.
        let mut out = Vec::with_capacity(96 + payload);
        S::write_array_start(&mut out, len);
        ArrayWriter {
            out,
            first: true,
            _s: std::marker::PhantomData,
        }
    }

    fn sep(&mut self) {
        if !self.first {
            S::write_separator(&mut self.out);
        }
        self.first = false;
    }

    fn elem<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<&mut Self, EncodeError> {
        self.sep();
        let start = self.out.len();
        let err = |reason| EncodeError::Serialize {
            serializer: S::KIND,
            reason,
        };
        S::encode_value(&mut self.out, value).map_err(err)?;
        // Fixed fields are small (IDs, URIs, dicts); checking them keeps a deeply nested
        // dict from producing a frame the decoder refuses. Only depth can be wrong in what
        // the serializer itself wrote, so the (copying) check runs only where it can be.
        let element = &self.out[start..];
        if !Self::surely_shallow(element) {
            S::KIND.check_element(element).map_err(err)?;
        }
        Ok(self)
    }

    /// Whether `element`, as written by `S`, cannot nest as deep as any decoder's limit
    /// (99 levels below the message's array for MessagePack and CBOR, more for JSON):
    /// a scalar, or fewer bytes than levels (every level costs at least one byte).
    fn surely_shallow(element: &[u8]) -> bool {
        const SHALLOW_BYTES: usize = 64;
        if element.len() < SHALLOW_BYTES {
            return true;
        }
        match S::element_kind(element) {
            ElementKind::List | ElementKind::Map => false,
            ElementKind::Null | ElementKind::Binary => true,
            // A CBOR tag is "other" and may wrap a container.
            ElementKind::Other => S::KIND != SerializerKind::Cbor,
        }
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.sep();
        self.out.extend_from_slice(bytes);
    }

    fn tail(&mut self, tail: WireTail) -> Result<(), EncodeError> {
        match tail {
            WireTail::None => {}
            WireTail::Args(a) => self.raw(&a),
            WireTail::ArgsKwargs(a, k) => {
                self.raw(&a);
                self.raw(&k);
            }
            WireTail::Transparent(b) => {
                self.elem(&BytesRef(&b))?;
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Vec<u8> {
        S::write_array_end(&mut self.out);
        self.out
    }
}

/// Serializes as binary (`serialize_bytes`) without a serde_bytes dependency.
struct BytesRef<'a>(&'a [u8]);

impl Serialize for BytesRef<'_> {
    fn serialize<Ser: serde::Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Encodes fixed fields followed by a payload tail.
macro_rules! with_payload {
    ($payload:expr, [$($field:expr),*]) => {{
        let payload_len = $payload.encoded_len();
        let tail = $payload.wire_tail(S::KIND)?;
        let fixed = [$(stringify!($field)),*].len();
        let mut w = ArrayWriter::<S>::new(fixed + tail.len(), payload_len);
        $( w.elem(&$field)?; )*
        w.tail(tail)?;
        Ok(w.finish())
    }};
}

/// Encodes a message without payload.
macro_rules! fixed {
    ([$($field:expr),*]) => {{
        with_payload!(Payload::empty(), [$($field),*])
    }};
}

/// An ID on the wire: a plain integer.
fn id(v: impl Into<crate::id::Id>) -> u64 {
    v.into().get()
}

pub(crate) fn encode<S: Serializer>(msg: &Message) -> Result<Vec<u8>, EncodeError> {
    let code = msg.message_type().code();
    match msg {
        Message::Hello(m) => fixed!([code, m.realm, m.details]),
        Message::Welcome(m) => fixed!([code, id(m.session), m.details]),
        Message::Abort(m) => with_payload!(m.payload, [code, m.details, m.reason]),
        Message::Challenge(m) => fixed!([code, m.method, m.extra]),
        Message::Authenticate(m) => fixed!([code, m.signature, m.extra]),
        Message::Goodbye(m) => fixed!([code, m.details, m.reason]),
        Message::Error(m) => with_payload!(
            m.payload,
            [
                code,
                m.request_type.code(),
                id(m.request),
                m.details,
                m.error
            ]
        ),
        Message::Publish(m) => with_payload!(m.payload, [code, id(m.request), m.options, m.topic]),
        Message::Published(m) => fixed!([code, id(m.request), id(m.publication)]),
        Message::Subscribe(m) => fixed!([code, id(m.request), m.options, m.topic]),
        Message::Subscribed(m) => fixed!([code, id(m.request), id(m.subscription)]),
        Message::Unsubscribe(m) if m.options.is_empty() => {
            fixed!([code, id(m.request), id(m.subscription)])
        }
        Message::Unsubscribe(m) => fixed!([code, id(m.request), id(m.subscription), m.options]),
        Message::Unsubscribed(m) => {
            let request = m.request.map_or(0, |r| r.get());
            if m.request.is_none() || !m.details.is_empty() {
                fixed!([code, request, m.details])
            } else {
                fixed!([code, request])
            }
        }
        Message::Event(m) => with_payload!(
            m.payload,
            [code, id(m.subscription), id(m.publication), m.details]
        ),
        Message::EventReceived(m) => fixed!([code, id(m.publication)]),
        Message::Call(m) => with_payload!(m.payload, [code, id(m.request), m.options, m.procedure]),
        Message::Cancel(m) => fixed!([code, id(m.request), m.options]),
        Message::Result(m) => with_payload!(m.payload, [code, id(m.request), m.details]),
        Message::Register(m) => fixed!([code, id(m.request), m.options, m.procedure]),
        Message::Registered(m) => fixed!([code, id(m.request), id(m.registration)]),
        Message::Unregister(m) if m.options.is_empty() => {
            fixed!([code, id(m.request), id(m.registration)])
        }
        Message::Unregister(m) => fixed!([code, id(m.request), id(m.registration), m.options]),
        Message::Unregistered(m) => {
            let request = m.request.map_or(0, |r| r.get());
            if m.request.is_none() || !m.details.is_empty() {
                fixed!([code, request, m.details])
            } else {
                fixed!([code, request])
            }
        }
        Message::Invocation(m) => with_payload!(
            m.payload,
            [code, id(m.request), id(m.registration), m.details]
        ),
        Message::Interrupt(m) => fixed!([code, id(m.request), m.options]),
        Message::Yield(m) => with_payload!(m.payload, [code, id(m.request), m.options]),
    }
}
