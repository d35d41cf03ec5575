//! WAMP authentication: the client side of each method as a [`ClientAuthenticator`], and
//! the router side as small pure functions in each method's module.
//!
//! The exchange is `HELLO(authmethods, authid, authextra)` → `CHALLENGE(method, extra)` →
//! `AUTHENTICATE(signature, extra)` → `WELCOME(details)` or `ABORT`. An authenticator
//! takes part at three points, all sans-IO:
//!
//! 1. [`ClientAuthenticator::hello_extra`] when the session builds its HELLO (nonces come
//!    from the injected random source, never from the environment);
//! 2. [`ClientAuthenticator::authenticate`] for the CHALLENGE whose method equals
//!    [`ClientAuthenticator::method`], with the TLS channel binding data if the transport
//!    has any;
//! 3. [`ClientAuthenticator::verify_welcome`] with the WELCOME details (WAMP-SCRAM checks
//!    the router's signature there; the other methods accept).
//!
//! An `Err` at any point means the client must ABORT: every [`AuthError`] names the
//! method and, for malformed messages, the field.
//!
//! ```
//! use wamp_proto::auth::{ClientAuthenticator, WampCra};
//! use wamp_proto::Dict;
//!
//! let mut cra = WampCra::new("peter", "secret1");
//! assert_eq!(cra.method(), "wampcra");
//! let challenge = Dict::new().with("challenge", r#"{"nonce": "LHRTC9zeOIrt_9U3"}"#);
//! let answer = cra.authenticate(&challenge, None).expect("a valid challenge");
//! assert_eq!(answer.signature.len(), 44); // base64 of an HMAC-SHA256
//! ```
//!
//! | method        | client type       | router side                                  |
//! |---------------|-------------------|----------------------------------------------|
//! | `anonymous`   | [`Anonymous`]     | nothing to check                             |
//! | `ticket`      | [`Ticket`]        | compare the ticket                           |
//! | `wampcra`     | [`WampCra`]       | [`wampcra::derive_key`], [`wampcra::verify`] |
//! | `cryptosign`  | [`Cryptosign`]    | [`cryptosign::verify`]                       |
//! | `wamp-scram`  | [`Scram`]         | [`scram::derive_credential`], [`scram::verify_client_proof`], [`scram::server_signature`] |
//! | `scram`       | [`ScramAutobahn`] | not served (Autobahn's and Crossbar's draft of SCRAM; client only) |

use std::fmt;

use crate::dict::Dict;
use crate::message::Authenticate;
use crate::value::{Map, Value};

pub mod anonymous;
pub mod cryptosign;
pub mod scram;
pub mod scram_autobahn;
pub mod ticket;
pub mod tls;
pub mod wampcra;

pub use anonymous::Anonymous;
pub use cryptosign::Cryptosign;
pub use scram::{Kdf, KdfLimits, Scram};
pub use scram_autobahn::ScramAutobahn;
pub use ticket::Ticket;
pub use tls::TlsCertificate;
pub use wampcra::WampCra;

/// The kind of TLS channel binding in use (the `channel_binding` value on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelBindingKind {
    /// `tls-unique` (RFC 5929); TLS 1.2 only.
    TlsUnique,
    /// `tls-exporter` (RFC 9266); the TLS 1.3 replacement of `tls-unique`.
    TlsExporter,
}

impl ChannelBindingKind {
    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChannelBindingKind::TlsUnique => "tls-unique",
            ChannelBindingKind::TlsExporter => "tls-exporter",
        }
    }

    /// Parses the wire spelling.
    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "tls-unique" => Some(ChannelBindingKind::TlsUnique),
            "tls-exporter" => Some(ChannelBindingKind::TlsExporter),
            _ => None,
        }
    }
}

impl fmt::Display for ChannelBindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// TLS channel binding data for cryptosign and WAMP-SCRAM, supplied by the transport.
///
/// For cryptosign the 32 bytes are the "channel id" that is XORed into the challenge
/// (Autobahn uses SHA-256 of the TLS Finished message for `tls-unique`); for WAMP-SCRAM
/// they are the `cbind_data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelBinding {
    /// The binding type the data belongs to.
    pub kind: ChannelBindingKind,
    /// The channel binding data.
    pub data: [u8; 32],
}

/// Why an authentication step failed. The client should ABORT the session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A required field is absent (or `null`).
    #[error("{method}: missing field `{field}`")]
    MissingField {
        /// The authentication method.
        method: &'static str,
        /// The field's name.
        field: &'static str,
    },
    /// A field has the wrong type or an unusable value.
    #[error("{method}: invalid field `{field}`: {reason}")]
    InvalidField {
        /// The authentication method.
        method: &'static str,
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The router asked for a key derivation function this implementation does not know.
    #[error("wamp-scram: unsupported kdf {0:?} (expected \"argon2id13\" or \"pbkdf2\")")]
    UnsupportedKdf(String),
    /// A key derivation cost parameter is below the configured floor; a rogue router may be
    /// trying to obtain a cheaply crackable hash.
    #[error("{method}: kdf parameter `{param}` = {value} is below the floor of {floor}")]
    KdfCostTooLow {
        /// The authentication method.
        method: &'static str,
        /// The parameter (`iterations`, `memory`).
        param: &'static str,
        /// The value the router asked for.
        value: u64,
        /// The configured minimum.
        floor: u64,
    },
    /// A key derivation cost parameter is above the configured ceiling (it would cost the
    /// client too much time or memory).
    #[error("{method}: kdf parameter `{param}` = {value} is above the ceiling of {ceiling}")]
    KdfCostTooHigh {
        /// The authentication method.
        method: &'static str,
        /// The parameter (`iterations`, `memory`, `keylen`).
        param: &'static str,
        /// The value the router asked for.
        value: u64,
        /// The configured maximum.
        ceiling: u64,
    },
    /// The key derivation function itself refused its inputs.
    #[error("{method}: key derivation failed: {reason}")]
    Kdf {
        /// The authentication method.
        method: &'static str,
        /// The KDF's complaint.
        reason: String,
    },
    /// The CHALLENGE nonce does not extend the nonce the client sent in HELLO.
    #[error("SCRAM: the CHALLENGE nonce does not start with the client nonce")]
    NonceMismatch,
    /// The channel binding the router answered with is not the one the client requested.
    #[error(
        "{method}: channel binding mismatch: requested {requested}, router answered {answered}"
    )]
    ChannelBindingMismatch {
        /// The authentication method.
        method: &'static str,
        /// What the client requested (`none` or the binding type).
        requested: String,
        /// What the router's CHALLENGE said (`none` or its value).
        answered: String,
    },
    /// Channel binding is in use, but the transport supplied no data of that type.
    #[error(
        "{method}: channel binding {kind} is in use but the transport supplied no {kind} data"
    )]
    ChannelBindingUnavailable {
        /// The authentication method.
        method: &'static str,
        /// The binding type in use.
        kind: ChannelBindingKind,
    },
    /// SCRAM: the router's server signature (`wamp-scram`'s `verifier`, `scram`'s
    /// `scram_server_signature`) is not the expected one; the router does not know the
    /// user's credential.
    #[error("SCRAM: the router's verifier (server signature) does not match the expected one")]
    ServerSignatureMismatch,
    /// A signature, proof or ticket did not verify (router side).
    #[error("{method}: signature verification failed")]
    SignatureMismatch {
        /// The authentication method.
        method: &'static str,
    },
    /// A key (secret seed, public key) is malformed.
    #[error("{method}: bad key: {reason}")]
    BadKey {
        /// The authentication method.
        method: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A username or password is not allowed by SASLprep (RFC 4013).
    #[error("{method}: the {what} is not allowed by SASLprep (RFC 4013)")]
    Saslprep {
        /// The authentication method.
        method: &'static str,
        /// `username` or `password`.
        what: &'static str,
    },
    /// The router sent a CHALLENGE to a method that never expects one.
    #[error("{method}: the router sent a CHALLENGE, which this method does not expect")]
    UnexpectedChallenge {
        /// The authentication method.
        method: &'static str,
    },
    /// A step came out of order (for example a CHALLENGE before HELLO was built).
    #[error("{method}: {what}")]
    OutOfOrder {
        /// The authentication method.
        method: &'static str,
        /// What happened.
        what: &'static str,
    },
}

/// A client authentication method.
///
/// One value serves one session attempt at a time; [`ClientAuthenticator::hello_extra`]
/// starts a fresh attempt (a reconnect calls it again).
pub trait ClientAuthenticator: Send {
    /// The authmethod name as on the wire: `anonymous`, `ticket`, `wampcra`,
    /// `cryptosign`, `wamp-scram`, `scram`.
    fn method(&self) -> &str;

    /// The authid to announce in HELLO, if any.
    fn authid(&self) -> Option<&str>;

    /// Entries for `HELLO.Details.authextra` (cryptosign: `pubkey`, `channel_binding`;
    /// WAMP-SCRAM: `nonce`, `channel_binding`).
    fn hello_extra(&mut self, rng: &mut dyn rand_core::CryptoRng) -> Map;

    /// Answers a CHALLENGE for this method with the AUTHENTICATE signature and extra.
    ///
    /// `channel` is the TLS channel binding data of the connection, if the transport can
    /// provide it; it is only used when the method requested channel binding.
    fn authenticate(
        &mut self,
        challenge_extra: &Dict,
        channel: Option<&ChannelBinding>,
    ) -> Result<Authenticate, AuthError>;

    /// Checks the WELCOME details once authenticated. WAMP-SCRAM verifies the router's
    /// server signature; the other methods accept.
    fn verify_welcome(&mut self, welcome_details: &Dict) -> Result<(), AuthError> {
        let _ = welcome_details;
        Ok(())
    }
}

impl<A: ClientAuthenticator + ?Sized> ClientAuthenticator for Box<A> {
    fn method(&self) -> &str {
        (**self).method()
    }
    fn authid(&self) -> Option<&str> {
        (**self).authid()
    }
    fn hello_extra(&mut self, rng: &mut dyn rand_core::CryptoRng) -> Map {
        (**self).hello_extra(rng)
    }
    fn authenticate(
        &mut self,
        challenge_extra: &Dict,
        channel: Option<&ChannelBinding>,
    ) -> Result<Authenticate, AuthError> {
        (**self).authenticate(challenge_extra, channel)
    }
    fn verify_welcome(&mut self, welcome_details: &Dict) -> Result<(), AuthError> {
        (**self).verify_welcome(welcome_details)
    }
}

// Field access for CHALLENGE extras: absent and `null` both count as missing.

fn present<'a>(extra: &'a Map, field: &str) -> Option<&'a Value> {
    extra.get(field).filter(|v| !v.is_null())
}

pub(crate) fn opt_str<'a>(
    extra: &'a Map,
    method: &'static str,
    field: &'static str,
) -> Result<Option<&'a str>, AuthError> {
    match present(extra, field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(AuthError::InvalidField {
            method,
            field,
            reason: format!("expected a string, got {}", other.kind()),
        }),
    }
}

pub(crate) fn req_str<'a>(
    extra: &'a Map,
    method: &'static str,
    field: &'static str,
) -> Result<&'a str, AuthError> {
    opt_str(extra, method, field)?.ok_or(AuthError::MissingField { method, field })
}

pub(crate) fn opt_u64(
    extra: &Map,
    method: &'static str,
    field: &'static str,
) -> Result<Option<u64>, AuthError> {
    match present(extra, field) {
        None => Ok(None),
        Some(v @ (Value::Int(_) | Value::UInt(_))) => {
            v.as_u64().map(Some).ok_or_else(|| AuthError::InvalidField {
                method,
                field,
                reason: "expected a non-negative integer".into(),
            })
        }
        Some(other) => Err(AuthError::InvalidField {
            method,
            field,
            reason: format!("expected an integer, got {}", other.kind()),
        }),
    }
}

pub(crate) fn req_u64(
    extra: &Map,
    method: &'static str,
    field: &'static str,
) -> Result<u64, AuthError> {
    opt_u64(extra, method, field)?.ok_or(AuthError::MissingField { method, field })
}

/// Checks the `channel_binding` a router answered with against the one requested.
pub(crate) fn check_binding_echo(
    extra: &Map,
    method: &'static str,
    requested: Option<ChannelBindingKind>,
) -> Result<(), AuthError> {
    let answered = opt_str(extra, method, "channel_binding")?;
    if answered == requested.map(ChannelBindingKind::as_str) {
        return Ok(());
    }
    Err(AuthError::ChannelBindingMismatch {
        method,
        requested: requested
            .map_or("none", ChannelBindingKind::as_str)
            .to_owned(),
        answered: answered.unwrap_or("none").to_owned(),
    })
}

/// The transport's binding data for `kind`, or the error saying it is missing.
pub(crate) fn binding_data<'a>(
    method: &'static str,
    kind: ChannelBindingKind,
    channel: Option<&'a ChannelBinding>,
) -> Result<&'a [u8; 32], AuthError> {
    match channel {
        Some(cb) if cb.kind == kind => Ok(&cb.data),
        _ => Err(AuthError::ChannelBindingUnavailable { method, kind }),
    }
}

#[cfg(test)]
pub(crate) mod fixed_rng;

#[cfg(test)]
pub(crate) mod test_support {
    //! Random garbage values for "never panics" loops.

    use rand::{Rng, SeedableRng};

    use crate::value::{Map, Value};

    pub(crate) fn rng(seed: u64) -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(seed)
    }

    pub(crate) fn random_value(rng: &mut impl Rng, depth: u32) -> Value {
        let top = if depth == 0 { 7 } else { 9 };
        match rng.random_range(0..top) {
            0 => Value::Null,
            1 => Value::Bool(rng.random()),
            2 => Value::Int([-1, i64::MIN, rng.random()][rng.random_range(0..3)]),
            3 => Value::UInt([0, 1, 2, 32, 4096, u64::MAX, rng.random()][rng.random_range(0..7)]),
            4 => Value::Float([0.0, -1.5, f64::NAN, 1e300][rng.random_range(0..4)]),
            5 => {
                let len = rng.random_range(0..100);
                let alphabet: Vec<char> = "0123456789abcdefABC=+/,é\u{0}ß ".chars().collect();
                Value::String(
                    (0..len)
                        .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                        .collect(),
                )
            }
            6 => {
                let len = rng.random_range(0..40);
                Value::Bytes(
                    (0..len)
                        .map(|_| rng.random::<u8>())
                        .collect::<Vec<u8>>()
                        .into(),
                )
            }
            7 => Value::List(
                (0..rng.random_range(0..4))
                    .map(|_| random_value(rng, depth - 1))
                    .collect(),
            ),
            _ => Value::Map(
                (0..rng.random_range(0..4))
                    .map(|i| (format!("k{i}"), random_value(rng, depth - 1)))
                    .collect(),
            ),
        }
    }

    /// A map with random values under the given keys (some keys left out).
    pub(crate) fn random_extra(rng: &mut impl Rng, keys: &[&str]) -> Map {
        let mut out = Map::new();
        for k in keys {
            if rng.random_bool(0.8) {
                out.insert((*k).to_owned(), random_value(rng, 2));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_kind_round_trips() {
        for kind in [
            ChannelBindingKind::TlsUnique,
            ChannelBindingKind::TlsExporter,
        ] {
            assert_eq!(ChannelBindingKind::from_wire(kind.as_str()), Some(kind));
        }
        assert_eq!(ChannelBindingKind::from_wire("tls-server-end-point"), None);
    }

    #[test]
    fn field_helpers_name_the_field() {
        let extra: Map = [
            ("s".to_owned(), Value::from("x")),
            ("n".to_owned(), Value::Int(-3)),
            ("z".to_owned(), Value::Null),
        ]
        .into_iter()
        .collect();
        assert_eq!(req_str(&extra, "m", "s"), Ok("x"));
        assert_eq!(
            req_str(&extra, "m", "z"),
            Err(AuthError::MissingField {
                method: "m",
                field: "z"
            })
        );
        let err = req_u64(&extra, "m", "n").expect_err("negative");
        assert!(err.to_string().contains("`n`"), "{err}");
        let err = req_u64(&extra, "m", "s").expect_err("string");
        assert!(err.to_string().contains("`s`"), "{err}");
    }
}
