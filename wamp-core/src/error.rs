//! Errors of the wire layer: decoding a message, encoding one, and reading an
//! application payload.

use std::fmt;

use crate::message::MessageType;
use crate::serializer::SerializerKind;

/// Which kind of decoding failure this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecodeErrorKind {
    /// The bytes are not a WAMP message at all: not valid JSON/MessagePack/CBOR, truncated,
    /// invalid UTF-8 in JSON, not a list, an empty list, or a first element that is not an
    /// integer.
    NotWamp,
    /// A WAMP message that breaks a rule: unknown message code, wrong number of elements,
    /// a field of the wrong type, an ID out of range, an invalid URI, a well-known option
    /// of the wrong type.
    Violation,
}

/// A received frame could not be decoded into a [`crate::message::Message`].
///
/// Both kinds call for ABORT `wamp.error.protocol_violation` (the spec treats any
/// decoding error as one); the kind tells a session whether the peer speaks WAMP at all,
/// which matters for logging and for deciding whether an ABORT is worth sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Not WAMP, or a rule violation.
    pub kind: DecodeErrorKind,
    /// The serializer that was decoding.
    pub serializer: SerializerKind,
    /// The message type, when the type code could be read and is known.
    pub message_type: Option<MessageType>,
    /// The field (as the spec names it, e.g. `"Request"`, `"Options.acknowledge"`), when the
    /// failure is in one field.
    pub field: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl DecodeError {
    pub(crate) fn not_wamp(serializer: SerializerKind, reason: impl Into<String>) -> Self {
        DecodeError {
            kind: DecodeErrorKind::NotWamp,
            serializer,
            message_type: None,
            field: None,
            reason: reason.into(),
        }
    }

    pub(crate) fn violation(
        serializer: SerializerKind,
        message_type: Option<MessageType>,
        field: Option<String>,
        reason: impl Into<String>,
    ) -> Self {
        DecodeError {
            kind: DecodeErrorKind::Violation,
            serializer,
            message_type,
            field,
            reason: reason.into(),
        }
    }

    /// Whether the bytes were a WAMP message that broke a rule (as opposed to not being a
    /// WAMP message at all).
    pub fn is_violation(&self) -> bool {
        self.kind == DecodeErrorKind::Violation
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DecodeErrorKind::NotWamp => {
                write!(f, "not a WAMP message ({})", self.serializer.name())?
            }
            DecodeErrorKind::Violation => {
                write!(f, "invalid WAMP message ({})", self.serializer.name())?
            }
        }
        if let Some(t) = self.message_type {
            write!(f, ": {}", t.name())?;
        }
        if let Some(field) = &self.field {
            write!(f, " field {field}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for DecodeError {}

/// A message or payload could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Application arguments did not serialize as a list (use a tuple, array or `Vec`).
    #[error("arguments must serialize as a list (a tuple, array or Vec), got {0}")]
    ArgsNotList(&'static str),
    /// Application keyword arguments did not serialize as a map (use a struct or map).
    #[error("keyword arguments must serialize as a map (a struct or map), got {0}")]
    KwargsNotMap(&'static str),
    /// The serializer refused a value (for example a NaN in JSON, or a map with
    /// non-string keys).
    #[error("{serializer} serializer refused the value: {reason}")]
    Serialize {
        /// The serializer.
        serializer: SerializerKind,
        /// Why.
        reason: String,
    },
    /// A payload could not be converted from one serializer to another.
    #[error("cannot convert a {from} payload to {to}: {reason}")]
    Transcode {
        /// The payload's serializer.
        from: SerializerKind,
        /// The target serializer.
        to: SerializerKind,
        /// Why.
        reason: String,
    },
}

/// Which part of a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadPart {
    /// `Arguments`.
    Args,
    /// `ArgumentsKw`.
    Kwargs,
}

impl fmt::Display for PayloadPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PayloadPart::Args => "Arguments",
            PayloadPart::Kwargs => "ArgumentsKw",
        })
    }
}

/// An application payload could not be read as the requested type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The payload did not decode into the requested type.
    #[error("{part} did not decode as the requested type ({serializer}): {reason}")]
    Decode {
        /// Args or kwargs.
        part: PayloadPart,
        /// The payload's serializer.
        serializer: SerializerKind,
        /// The serde error.
        reason: String,
    },
    /// The payload is a transparent (passthru/encrypted) binary blob, not args/kwargs.
    #[error("the payload is transparent binary, not Arguments/ArgumentsKw")]
    Transparent,
}
