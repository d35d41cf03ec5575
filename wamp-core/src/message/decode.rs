//! Bytes to message, generic over the serializer.
//!
//! The frame is first split into the byte ranges of its top-level elements (a structural
//! scan, no decoding), then each fixed field is decoded and checked, and the payload
//! elements are kept as slices of the frame.

use std::ops::Range;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::*;
use crate::error::DecodeError;
use crate::id::Id;
use crate::serializer::{ElementKind, Serializer};
use crate::uri::{MatchPolicy, UriRule};
use crate::value::Value;

pub(crate) fn decode<S: Serializer>(frame: Bytes) -> std::result::Result<Message, DecodeError> {
    let ranges = match S::split_array(&frame) {
        Ok(ranges) => ranges,
        Err(failure) => {
            let mut err = DecodeError::not_wamp(S::KIND, failure.reason);
            // Name the message type (and field) if the type code was readable.
            if let Some(ty) = failure
                .parsed
                .first()
                .and_then(|r| frame.get(r.clone()))
                .and_then(|b| S::decode_element::<u64>(b).ok())
                .and_then(MessageType::from_code)
            {
                err.message_type = Some(ty);
                err.field = failure
                    .element
                    .and_then(|i| ty.field_names().get(i))
                    .map(|f| f.to_string());
            }
            return Err(err);
        }
    };
    let Some(first) = ranges.first() else {
        return Err(DecodeError::not_wamp(S::KIND, "empty list"));
    };
    let code: u64 = S::decode_element(&frame[first.clone()]).map_err(|_| {
        DecodeError::not_wamp(S::KIND, "the first element is not a message type code")
    })?;
    let Some(ty) = MessageType::from_code(code) else {
        return Err(DecodeError::violation(
            S::KIND,
            None,
            Some("MessageType".into()),
            format!("unknown message type code {code}"),
        ));
    };
    let r = Reader::<S> {
        frame: &frame,
        ranges: &ranges,
        ty,
        _s: std::marker::PhantomData,
    };
    r.check_arity()?;
    Ok(match ty {
        MessageType::Hello => {
            let details = r.dict(2)?;
            if details.roles().is_none() {
                return Err(r.err(
                    2,
                    "Details.roles is required (a dict of the client's roles)",
                ));
            }
            Message::Hello(Hello {
                realm: r.uri(1, UriRule::Loose)?,
                details,
            })
        }
        MessageType::Welcome => {
            let details = r.dict(2)?;
            if details.roles().is_none() {
                return Err(r.err(
                    2,
                    "Details.roles is required (a dict of the router's roles)",
                ));
            }
            Message::Welcome(Welcome {
                session: r.id(1)?.into(),
                details,
            })
        }
        MessageType::Abort => Message::Abort(Abort {
            details: r.dict(1)?,
            reason: r.uri(2, UriRule::Loose)?,
            payload: r.payload(3)?,
        }),
        MessageType::Challenge => Message::Challenge(Challenge {
            method: r.value(1, "a string")?,
            extra: r.dict(2)?,
        }),
        MessageType::Authenticate => Message::Authenticate(Authenticate {
            signature: r.value(1, "a string")?,
            extra: r.dict(2)?,
        }),
        MessageType::Goodbye => Message::Goodbye(Goodbye {
            details: r.dict(1)?,
            reason: r.uri(2, UriRule::Loose)?,
        }),
        MessageType::Error => {
            let code: u64 = r.value(1, "a message type code")?;
            let request_type = MessageType::from_code(code)
                .filter(|t| Error::REQUEST_TYPES.contains(t))
                .ok_or_else(|| {
                    r.err(
                        1,
                        format!("{code} is not a request type an ERROR can answer"),
                    )
                })?;
            Message::Error(Error {
                request_type,
                request: r.id(2)?.into(),
                details: r.dict(3)?,
                error: r.uri(4, UriRule::Loose)?,
                payload: r.payload(5)?,
            })
        }
        MessageType::Publish => Message::Publish(Publish {
            request: r.id(1)?.into(),
            options: r.dict(2)?,
            topic: r.uri(3, UriRule::Loose)?,
            payload: r.payload(4)?,
        }),
        MessageType::Published => Message::Published(Published {
            request: r.id(1)?.into(),
            publication: r.id(2)?.into(),
        }),
        MessageType::Subscribe => {
            let options = r.dict(2)?;
            let topic = r.uri(3, pattern_rule(&options))?;
            Message::Subscribe(Subscribe {
                request: r.id(1)?.into(),
                options,
                topic,
            })
        }
        MessageType::Subscribed => Message::Subscribed(Subscribed {
            request: r.id(1)?.into(),
            subscription: r.id(2)?.into(),
        }),
        MessageType::Unsubscribe => Message::Unsubscribe(Unsubscribe {
            request: r.id(1)?.into(),
            subscription: r.id(2)?.into(),
            options: r.optional_dict(3)?,
        }),
        MessageType::Unsubscribed => {
            let (request, details) = r.ack_or_revocation()?;
            Message::Unsubscribed(Unsubscribed { request, details })
        }
        MessageType::Event => Message::Event(Event {
            subscription: r.id(1)?.into(),
            publication: r.id(2)?.into(),
            details: r.dict(3)?,
            payload: r.payload(4)?,
        }),
        MessageType::EventReceived => Message::EventReceived(EventReceived {
            publication: r.id(1)?.into(),
        }),
        MessageType::Call => Message::Call(Call {
            request: r.id(1)?.into(),
            options: r.dict(2)?,
            procedure: r.uri(3, UriRule::Loose)?,
            payload: r.payload(4)?,
        }),
        MessageType::Cancel => Message::Cancel(Cancel {
            request: r.id(1)?.into(),
            options: r.dict(2)?,
        }),
        MessageType::Result => Message::Result(CallResult {
            request: r.id(1)?.into(),
            details: r.dict(2)?,
            payload: r.payload(3)?,
        }),
        MessageType::Register => {
            let options = r.dict(2)?;
            let procedure = r.uri(3, pattern_rule(&options))?;
            Message::Register(Register {
                request: r.id(1)?.into(),
                options,
                procedure,
            })
        }
        MessageType::Registered => Message::Registered(Registered {
            request: r.id(1)?.into(),
            registration: r.id(2)?.into(),
        }),
        MessageType::Unregister => Message::Unregister(Unregister {
            request: r.id(1)?.into(),
            registration: r.id(2)?.into(),
            options: r.optional_dict(3)?,
        }),
        MessageType::Unregistered => {
            let (request, details) = r.ack_or_revocation()?;
            Message::Unregistered(Unregistered { request, details })
        }
        MessageType::Invocation => Message::Invocation(Invocation {
            request: r.id(1)?.into(),
            registration: r.id(2)?.into(),
            details: r.dict(3)?,
            payload: r.payload(4)?,
        }),
        MessageType::Interrupt => Message::Interrupt(Interrupt {
            request: r.id(1)?.into(),
            options: r.dict(2)?,
        }),
        MessageType::Yield => Message::Yield(Yield {
            request: r.id(1)?.into(),
            options: r.dict(2)?,
            payload: r.payload(3)?,
        }),
    })
}

/// Subscription and registration URIs may have empty components when matched by prefix
/// or wildcard.
fn pattern_rule(options: &Dict) -> UriRule {
    match options.match_policy() {
        Some(MatchPolicy::Prefix | MatchPolicy::Wildcard) => UriRule::LoosePattern,
        _ => UriRule::Loose,
    }
}

/// Whether element `index` of `ty` is optional (the payload tail, and the Details of the
/// revocation forms).
fn is_optional(ty: MessageType, name: &str) -> bool {
    matches!(name, "Arguments" | "ArgumentsKw")
        || (name == "Details"
            && matches!(ty, MessageType::Unsubscribed | MessageType::Unregistered))
        || (name == "Options" && matches!(ty, MessageType::Unsubscribe | MessageType::Unregister))
}

struct Reader<'a, S> {
    frame: &'a Bytes,
    ranges: &'a [Range<usize>],
    ty: MessageType,
    _s: std::marker::PhantomData<S>,
}

impl<S: Serializer> Reader<'_, S> {
    fn err(&self, index: usize, reason: impl Into<String>) -> DecodeError {
        let field = self.ty.field_names().get(index).map(|f| f.to_string());
        DecodeError::violation(S::KIND, Some(self.ty), field, reason)
    }

    fn bytes(&self, index: usize) -> &[u8] {
        // Indices are checked against the arity before any field is read.
        self.ranges
            .get(index)
            .and_then(|r| self.frame.get(r.clone()))
            .unwrap_or_default()
    }

    fn check_arity(&self) -> std::result::Result<(), DecodeError> {
        let names = self.ty.field_names();
        let min = names.iter().filter(|n| !is_optional(self.ty, n)).count();
        let n = self.ranges.len();
        if n < min || n > names.len() {
            let expected = if min == names.len() {
                format!("{min}")
            } else {
                format!("{min} to {}", names.len())
            };
            return Err(DecodeError::violation(
                S::KIND,
                Some(self.ty),
                None,
                format!("expected {expected} elements, got {n}"),
            ));
        }
        Ok(())
    }

    fn value<T: DeserializeOwned>(
        &self,
        index: usize,
        what: &str,
    ) -> std::result::Result<T, DecodeError> {
        S::decode_element(self.bytes(index))
            .map_err(|e| self.err(index, format!("must be {what}: {e}")))
    }

    fn id(&self, index: usize) -> std::result::Result<Id, DecodeError> {
        let n: u64 = self.value(index, "an ID")?;
        Id::new(n).ok_or_else(|| self.err(index, format!("{n} is not an ID in 1..=2^53")))
    }

    fn uri(&self, index: usize, rule: UriRule) -> std::result::Result<Uri, DecodeError> {
        let s: String = self.value(index, "a URI string")?;
        Uri::parse_with(&s, rule).map_err(|e| self.err(index, e.to_string()))
    }

    fn dict(&self, index: usize) -> std::result::Result<Dict, DecodeError> {
        let dict: Dict = self.value(index, "a dict")?;
        dict.check_known_keys().map_err(|(key, why)| {
            let field = self
                .ty
                .field_names()
                .get(index)
                .copied()
                .unwrap_or("Details");
            DecodeError::violation(S::KIND, Some(self.ty), Some(format!("{field}.{key}")), why)
        })?;
        Ok(dict)
    }

    /// A trailing dict that may be absent (then empty).
    fn optional_dict(&self, index: usize) -> std::result::Result<Dict, DecodeError> {
        if index < self.ranges.len() {
            self.dict(index)
        } else {
            Ok(Dict::new())
        }
    }

    /// The acknowledgement form `[T, Request]` or the revocation form `[T, 0, Details]`.
    fn ack_or_revocation(&self) -> std::result::Result<(Option<RequestId>, Dict), DecodeError> {
        let n: u64 = self.value(1, "an ID")?;
        if self.ranges.len() == 2 {
            let id =
                Id::new(n).ok_or_else(|| self.err(1, format!("{n} is not an ID in 1..=2^53")))?;
            return Ok((Some(id.into()), Dict::new()));
        }
        let details = self.dict(2)?;
        let request = match n {
            0 => None,
            n => Some(
                Id::new(n)
                    .ok_or_else(|| {
                        self.err(
                            1,
                            format!("{n} is not an ID in 1..=2^53 (or 0 for a revocation)"),
                        )
                    })?
                    .into(),
            ),
        };
        Ok((request, details))
    }

    fn payload(&self, args_index: usize) -> std::result::Result<Payload, DecodeError> {
        let slice = |i: usize| self.ranges.get(i).map(|r| self.frame.slice(r.clone()));
        let (Some(args), kwargs) = (slice(args_index), slice(args_index + 1)) else {
            return Ok(Payload::empty());
        };
        let mut args = Some(args);
        match S::element_kind(args.as_deref().unwrap_or_default()) {
            ElementKind::List => {}
            // Autobahn writes `null` Arguments before ArgumentsKw when it has no args;
            // read it as absent rather than refuse the message.
            ElementKind::Null => args = None,
            ElementKind::Binary if kwargs.is_none() => {
                // Payload passthru / E2E encryption: one opaque binary element.
                return match S::decode_element::<Value>(args.as_deref().unwrap_or_default()) {
                    Ok(Value::Bytes(b)) => Ok(Payload::transparent(b)),
                    Ok(other) => Err(self.err(
                        args_index,
                        format!("must be a list or binary, got {}", other.kind()),
                    )),
                    Err(e) => Err(self.err(args_index, format!("invalid binary payload: {e}"))),
                };
            }
            ElementKind::Binary => {
                return Err(self.err(
                    args_index,
                    "a transparent (binary) payload cannot have ArgumentsKw",
                ));
            }
            _ => return Err(self.err(args_index, "must be a list")),
        }
        if let Some(k) = &kwargs {
            if S::element_kind(k) != ElementKind::Map {
                return Err(self.err(args_index + 1, "must be a dict"));
            }
        }
        Ok(Payload::from_verified_parts(S::KIND, args, kwargs))
    }
}
