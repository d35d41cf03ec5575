//! `scram`: the earlier SCRAM draft that Autobahn|Python (`AuthScram`) and Crossbar.io
//! speak, as opposed to the spec's `wamp-scram` in [`super::scram`].
//!
//! The exchange has the same shape (client nonce in HELLO, CHALLENGE with nonce, salt and
//! KDF parameters, a proof in AUTHENTICATE, the router's signature in WELCOME), but the
//! strings and one derivation differ:
//!
//! ```text
//! method             = "scram"; the only KDF is "argon2id-13" (Argon2id v1.3, p = 1)
//! SaltedPassword     = unpadded Base64(Argon2id(UTF-8 password, UnBase64(salt), t, m))
//!                      the 43-character *text*, not the 32 raw bytes
//! ClientFirstBare    = "n=" + SASLprep(authid) + ",r=" + client nonce
//! ServerFirst        = "r=" + nonce + ",s=" + salt + ",i=" + iterations
//! ClientFinalNoProof = "c=" + ",r=" + nonce                 (no channel binding: "c=")
//! ClientKey, StoredKey, ServerKey, ClientProof, ServerSignature as in RFC 5802
//! WELCOME.Details.authextra.scram_server_signature = Base64(ServerSignature)
//! ```
//!
//! Decisions:
//! - Crossbar builds its nonce as `Base64(raw client nonce + 16 random bytes)`, so the
//!   base64 *text* need not start with the client nonce's text; the client checks that
//!   the decoded bytes extend its own.
//! - The password is used as UTF-8 without SASLprep, as Autobahn does (Crossbar only holds
//!   the derived keys, which were made that way). The authid is SASLprep-normalized and
//!   sent normalized, since Crossbar normalizes it when it builds `ClientFirstBare`.
//! - Autobahn's `pbkdf2` branch is unusable (it hands the base64 salt text to a function
//!   that only takes bytes), so `pbkdf2` is refused rather than guessed at.
//! - The KDF costs are bounded by the same [`KdfLimits`] as `wamp-scram`.
//! - A router that omits or forges `scram_server_signature` is refused: it has not shown
//!   that it knows the credential.

use std::fmt;

use base64::engine::general_purpose::{STANDARD as B64, STANDARD_NO_PAD as B64_NO_PAD};
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::dict::Dict;
use crate::message::Authenticate;
use crate::value::{Map, Value};

use super::scram::{self, Kdf, KdfLimits, Key, DEFAULT_NONCE_LEN};
use super::{check_binding_echo, req_str, req_u64, AuthError, ChannelBinding, ClientAuthenticator};

/// The authmethod on the wire.
pub const METHOD: &str = "scram";
/// The only key derivation function, as Crossbar names it.
pub const KDF: &str = "argon2id-13";

/// `SaltedPassword`: the unpadded base64 text of the 32-byte Argon2id hash.
fn salted_password(
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    memory: u32,
) -> Result<Zeroizing<String>, AuthError> {
    let hash = scram::argon2id13(METHOD, password, salt, iterations, memory)?;
    Ok(Zeroizing::new(B64_NO_PAD.encode(*hash)))
}

/// Router side: the stored credential for a password, a raw salt and the Argon2id costs
/// (the password used as is, as Autobahn derives it).
pub fn derive_credential(
    password: &str,
    salt: &[u8],
    iterations: u32,
    memory: u32,
) -> Result<scram::StoredCredential, AuthError> {
    let salted = salted_password(password.as_bytes(), salt, iterations, memory)?;
    let keys = scram::keys(salted.as_bytes());
    Ok(scram::StoredCredential {
        kdf: Kdf::Argon2id13 { iterations, memory },
        salt: salt.to_vec(),
        stored_key: *keys.stored_key,
        server_key: *keys.server_key,
    })
}

/// Router side: the `AuthMessage` of an exchange (the client's proof and the router's
/// signature are over it), from what was on the wire: HELLO's authid and nonce,
/// CHALLENGE's nonce, base64 salt and iterations.
pub fn auth_message(
    authid: &str,
    client_nonce: &str,
    nonce: &str,
    salt_b64: &str,
    iterations: u32,
) -> String {
    format!("n={authid},r={client_nonce},r={nonce},s={salt_b64},i={iterations},c=,r={nonce}")
}

/// Router side: the CHALLENGE's `nonce` for a client nonce (base64): the client's raw
/// bytes followed by 16 random ones, base64, as Crossbar.io builds it; `None` if the
/// client nonce is not base64.
pub fn server_nonce(client_nonce: &str, rng: &mut dyn rand_core::CryptoRng) -> Option<String> {
    let mut raw = B64.decode(client_nonce).ok()?;
    let mut more = [0u8; DEFAULT_NONCE_LEN];
    rng.fill_bytes(&mut more);
    raw.extend_from_slice(&more);
    Some(B64.encode(raw))
}

enum State {
    /// Nothing sent yet.
    Idle,
    /// HELLO built with this client nonce (base64 text and raw bytes).
    Hello {
        client_nonce: String,
        raw_nonce: Vec<u8>,
    },
    /// AUTHENTICATE sent; the router's signature is still to be checked.
    Authenticated {
        server_key: Key,
        auth_message: String,
    },
}

/// Client authentication for Autobahn's and Crossbar's `scram` (not the spec's
/// `wamp-scram`, for which see [`super::Scram`]).
///
/// ```
/// use wamp_proto::auth::{ClientAuthenticator, ScramAutobahn};
///
/// let scram = ScramAutobahn::new("scram-user", "scram-password").expect("valid authid");
/// assert_eq!(scram.method(), "scram");
/// ```
pub struct ScramAutobahn {
    authid: String,
    password: Zeroizing<String>,
    limits: KdfLimits,
    state: State,
}

impl ScramAutobahn {
    /// Authenticates as `authid` (normalized with SASLprep; fails if it contains
    /// characters SASLprep prohibits) with `password` (used as is).
    pub fn new(authid: impl AsRef<str>, password: impl AsRef<str>) -> Result<Self, AuthError> {
        let authid = stringprep::saslprep(authid.as_ref())
            .map_err(|_| AuthError::Saslprep {
                method: METHOD,
                what: "username",
            })?
            .into_owned();
        Ok(ScramAutobahn {
            authid,
            password: Zeroizing::new(password.as_ref().to_owned()),
            limits: KdfLimits::default(),
            state: State::Idle,
        })
    }

    /// Replaces the KDF cost bounds (see [`KdfLimits`] for the defaults; only the Argon2
    /// ones apply).
    #[must_use]
    pub fn with_limits(mut self, limits: KdfLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The Argon2id costs from the CHALLENGE, refusing any other KDF.
    fn parse_kdf(extra: &Map) -> Result<(u32, u32), AuthError> {
        let name = req_str(extra, METHOD, "kdf")?;
        if name != KDF {
            return Err(AuthError::InvalidField {
                method: METHOD,
                field: "kdf",
                reason: format!("unsupported kdf {name:?} (expected {KDF:?})"),
            });
        }
        let u32_field = |field| -> Result<u32, AuthError> {
            let value = req_u64(extra, METHOD, field)?;
            u32::try_from(value).map_err(|_| AuthError::KdfCostTooHigh {
                method: METHOD,
                param: field,
                value,
                ceiling: u32::MAX.into(),
            })
        };
        Ok((u32_field("iterations")?, u32_field("memory")?))
    }
}

impl fmt::Debug for ScramAutobahn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Idle => "idle",
            State::Hello { .. } => "hello sent",
            State::Authenticated { .. } => "authenticate sent",
        };
        f.debug_struct("ScramAutobahn")
            .field("authid", &self.authid)
            .field("password", &"<redacted>")
            .field("limits", &self.limits)
            .field("state", &state)
            .finish()
    }
}

impl ClientAuthenticator for ScramAutobahn {
    fn method(&self) -> &str {
        METHOD
    }

    fn authid(&self) -> Option<&str> {
        Some(&self.authid)
    }

    /// Draws a fresh 16-byte client nonce and returns `{nonce}` (Autobahn sends nothing
    /// else).
    fn hello_extra(&mut self, rng: &mut dyn rand_core::CryptoRng) -> Map {
        let (raw_nonce, client_nonce) = scram::draw_nonce(rng, DEFAULT_NONCE_LEN);
        let mut extra = Map::new();
        extra.insert("nonce".into(), Value::String(client_nonce.clone()));
        self.state = State::Hello {
            client_nonce,
            raw_nonce,
        };
        extra
    }

    /// Answers the CHALLENGE; the channel binding data is not used (this draft has none).
    fn authenticate(
        &mut self,
        challenge_extra: &Dict,
        _channel: Option<&ChannelBinding>,
    ) -> Result<Authenticate, AuthError> {
        let extra = challenge_extra.as_map();
        let State::Hello {
            client_nonce,
            raw_nonce,
        } = &self.state
        else {
            return Err(scram::challenge_before_hello(METHOD));
        };
        let nonce = req_str(extra, METHOD, "nonce")?;
        let raw = B64.decode(nonce).map_err(|_| AuthError::NonceMismatch)?;
        if raw.len() <= raw_nonce.len() || !raw.starts_with(raw_nonce) {
            return Err(AuthError::NonceMismatch);
        }
        let (salt_b64, salt) = scram::challenge_salt(extra, METHOD)?;
        let (iterations, memory) = ScramAutobahn::parse_kdf(extra)?;
        self.limits
            .check_for(METHOD, &Kdf::Argon2id13 { iterations, memory })?;
        // The proof's "c=" is empty: a router asking for channel binding speaks
        // something else.
        if extra
            .get("channel_binding")
            .is_some_and(|v| !v.is_null() && v.as_str() != Some(""))
        {
            check_binding_echo(extra, METHOD, None)?;
        }

        let salted = salted_password(self.password.as_bytes(), &salt, iterations, memory)?;
        let keys = scram::keys(salted.as_bytes());
        let auth_message = auth_message(&self.authid, client_nonce, nonce, salt_b64, iterations);
        let proof = keys.client_proof(&auth_message);
        self.state = State::Authenticated {
            server_key: keys.server_key,
            auth_message,
        };
        Ok(Authenticate {
            signature: B64.encode(*proof),
            extra: Dict::new(),
        })
    }

    /// Checks `authextra.scram_server_signature` in constant time.
    fn verify_welcome(&mut self, welcome_details: &Dict) -> Result<(), AuthError> {
        let State::Authenticated {
            server_key,
            auth_message,
        } = &self.state
        else {
            return Err(scram::welcome_before_challenge(METHOD));
        };
        let signature =
            scram::welcome_authextra_str(welcome_details, METHOD, "scram_server_signature")?;
        scram::check_server_signature(server_key, auth_message, signature)?;
        self.state = State::Idle;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::fixed_rng::FixedRng;
    use crate::auth::test_support;

    // The integration harness's Crossbar principal (tests/src/credentials.rs).
    const AUTHID: &str = "scram-user";
    const PASSWORD: &str = "scram-password";
    const SALT_HEX: &str = "77616d702d727320736372616d207361";
    const ITERATIONS: u32 = 8;
    const MEMORY: u32 = 1024;
    const STORED_KEY_HEX: &str = "b8d792104e67b1b3ded0644452b2558a3d74aa66cd880b43d27eff6b6af0072b";
    const SERVER_KEY_HEX: &str = "3d22bfef2b91792c58d5bf9a1d6e51251fad92ca664a8bdebfc941f0cc38daaa";

    // Autobahn|Python's AuthScram with client nonce bytes 0..16 and Crossbar-style nonce
    // bytes 0..32: its AuthMessage, proof and (with SERVER_KEY_HEX) server signature.
    const CLIENT_NONCE: &str = "AAECAwQFBgcICQoLDA0ODw==";
    const NONCE: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const SALT_B64: &str = "d2FtcC1ycyBzY3JhbSBzYQ==";
    const AUTH_MESSAGE: &str = "n=scram-user,r=AAECAwQFBgcICQoLDA0ODw==,\
        r=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,s=d2FtcC1ycyBzY3JhbSBzYQ==,i=8,c=,\
        r=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const PROOF: &str = "FvLNZZqRjnOtFvh94ZKLupAfWTEezDnYHkVPJemBfbg=";
    const SERVER_SIGNATURE: &str = "Jh4GUOVv0zaVWEVM00aoTnTdJP5zUPuqiMY1W5hmB8Q=";

    /// An RNG that counts 0, 1, 2, ... so the client nonce is bytes 0..16.
    fn counting_rng() -> FixedRng {
        FixedRng((0..=u8::MAX).collect())
    }

    fn challenge() -> Dict {
        Dict::new()
            .with("nonce", NONCE)
            .with("kdf", KDF)
            .with("salt", SALT_B64)
            .with("iterations", ITERATIONS)
            .with("memory", MEMORY)
    }

    fn welcome(signature: impl Into<Value>) -> Dict {
        Dict::new().with_authextra([("scram_server_signature".to_owned(), signature.into())].into())
    }

    /// A client that has answered [`challenge`].
    fn authenticated() -> ScramAutobahn {
        let mut scram = ScramAutobahn::new(AUTHID, PASSWORD).expect("authid");
        scram.hello_extra(&mut counting_rng());
        scram
            .authenticate(&challenge(), None)
            .expect("authenticate");
        scram
    }

    #[test]
    fn the_router_side_verifies_the_autobahn_vector() {
        let salt = hex::decode(SALT_HEX).expect("hex");
        let credential = derive_credential(PASSWORD, &salt, ITERATIONS, MEMORY).expect("derives");
        assert_eq!(hex::encode(credential.stored_key), STORED_KEY_HEX);
        assert_eq!(hex::encode(credential.server_key), SERVER_KEY_HEX);
        let message = auth_message(AUTHID, CLIENT_NONCE, NONCE, SALT_B64, ITERATIONS);
        assert_eq!(message, AUTH_MESSAGE);
        scram::verify_client_proof(&credential.stored_key, &message, PROOF).expect("the proof");
        assert_eq!(
            scram::server_signature(&credential.server_key, &message),
            SERVER_SIGNATURE
        );
        let nonce = server_nonce(CLIENT_NONCE, &mut counting_rng()).expect("base64");
        let raw = B64.decode(&nonce).expect("base64");
        assert!(raw.starts_with(&B64.decode(CLIENT_NONCE).expect("base64")) && raw.len() == 32);
        assert_eq!(server_nonce("not base64!", &mut counting_rng()), None);
    }

    #[test]
    fn harness_keys_derive_from_the_password() {
        let salt = hex::decode(SALT_HEX).expect("hex");
        assert_eq!(B64.encode(&salt), SALT_B64);
        let salted =
            salted_password(PASSWORD.as_bytes(), &salt, ITERATIONS, MEMORY).expect("argon2id");
        let keys = scram::keys(salted.as_bytes());
        assert_eq!(hex::encode(*keys.stored_key), STORED_KEY_HEX);
        assert_eq!(hex::encode(*keys.server_key), SERVER_KEY_HEX);
    }

    #[test]
    fn autobahn_vector() {
        let mut scram = ScramAutobahn::new(AUTHID, PASSWORD).expect("authid");
        assert_eq!(scram.method(), "scram");
        assert_eq!(scram.authid(), Some(AUTHID));
        let hello = scram.hello_extra(&mut counting_rng());
        assert_eq!(
            hello,
            [("nonce".to_owned(), Value::from(CLIENT_NONCE))].into()
        );
        let auth = scram
            .authenticate(&challenge(), None)
            .expect("authenticate");
        assert_eq!(auth.signature, PROOF);
        assert!(auth.extra.as_map().is_empty());

        // Crossbar's side of the check, with the principal's stored key.
        let stored_key: [u8; 32] = hex::decode(STORED_KEY_HEX)
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        let server_key: [u8; 32] = hex::decode(SERVER_KEY_HEX)
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        assert_eq!(
            scram::verify_client_proof(&stored_key, AUTH_MESSAGE, &auth.signature),
            Ok(())
        );
        assert_eq!(
            scram::server_signature(&server_key, AUTH_MESSAGE),
            SERVER_SIGNATURE
        );
        assert_eq!(scram.verify_welcome(&welcome(SERVER_SIGNATURE)), Ok(()));
        // The check is used up: a second WELCOME is out of order.
        assert!(matches!(
            scram.verify_welcome(&welcome(SERVER_SIGNATURE)),
            Err(AuthError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn a_wrong_password_gives_a_proof_the_router_refuses() {
        let mut scram = ScramAutobahn::new(AUTHID, "wrong").expect("authid");
        scram.hello_extra(&mut counting_rng());
        let auth = scram
            .authenticate(&challenge(), None)
            .expect("authenticate");
        let stored_key: [u8; 32] = hex::decode(STORED_KEY_HEX)
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        assert!(scram::verify_client_proof(&stored_key, AUTH_MESSAGE, &auth.signature).is_err());
        // The real router's signature does not match what this client derived either.
        assert_eq!(
            scram.verify_welcome(&welcome(SERVER_SIGNATURE)),
            Err(AuthError::ServerSignatureMismatch)
        );
    }

    #[test]
    fn bad_server_signatures_are_refused() {
        let mut forged = SERVER_SIGNATURE.to_owned();
        forged.replace_range(0..4, "AAAA");
        for bad in [
            welcome(forged.as_str()),
            welcome("not base64!"),
            welcome(""),
            welcome(&SERVER_SIGNATURE[..40]),
        ] {
            assert_eq!(
                authenticated().verify_welcome(&bad),
                Err(AuthError::ServerSignatureMismatch),
                "{bad:?}"
            );
        }
        let missing = AuthError::MissingField {
            method: METHOD,
            field: "scram_server_signature",
        };
        assert_eq!(
            authenticated().verify_welcome(&Dict::new()),
            Err(missing.clone())
        );
        assert_eq!(
            authenticated().verify_welcome(&welcome(Value::Null)),
            Err(missing)
        );
        // The spec's field name is not accepted in its place.
        let spec = Dict::new()
            .with_authextra([("verifier".to_owned(), Value::from(SERVER_SIGNATURE))].into());
        assert!(matches!(
            authenticated().verify_welcome(&spec),
            Err(AuthError::MissingField { .. })
        ));
        assert!(matches!(
            authenticated().verify_welcome(&welcome(7u32)),
            Err(AuthError::InvalidField { .. })
        ));
    }

    #[test]
    fn challenge_checks() {
        let mut scram = ScramAutobahn::new(AUTHID, PASSWORD).expect("authid");
        assert!(matches!(
            scram.authenticate(&challenge(), None),
            Err(AuthError::OutOfOrder { .. })
        ));
        assert!(matches!(
            scram.verify_welcome(&welcome(SERVER_SIGNATURE)),
            Err(AuthError::OutOfOrder { .. })
        ));
        scram.hello_extra(&mut counting_rng());
        let mut check = |d: Dict| scram.authenticate(&d, None).expect_err("refused");

        // Nonces that do not extend the client's: another prefix, no server part, not
        // base64, and the client nonce's text with something appended (the bytes differ).
        for nonce in [
            "AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            CLIENT_NONCE,
            "%%%",
            "AAECAwQFBgcICQoLDA0ODw==AAAA",
        ] {
            assert_eq!(
                check(challenge().with("nonce", nonce)),
                AuthError::NonceMismatch,
                "{nonce}"
            );
        }
        for field in ["nonce", "salt", "kdf", "iterations", "memory"] {
            let mut d = challenge();
            d.remove(field);
            assert_eq!(
                check(d),
                AuthError::MissingField {
                    method: METHOD,
                    field
                }
            );
        }
        for kdf in ["argon2id13", "pbkdf2", ""] {
            let err = check(challenge().with("kdf", kdf));
            assert!(
                matches!(err, AuthError::InvalidField { field: "kdf", .. }),
                "{err}"
            );
        }
        let err = check(challenge().with("salt", "not base64"));
        assert!(err.to_string().contains("`salt`"), "{err}");
        let err = check(challenge().with("iterations", "8"));
        assert!(err.to_string().contains("`iterations`"), "{err}");
        assert!(matches!(
            check(challenge().with("memory", 512u32)),
            AuthError::KdfCostTooLow {
                method: METHOD,
                param: "memory",
                ..
            }
        ));
        assert!(matches!(
            check(challenge().with("iterations", u64::MAX)),
            AuthError::KdfCostTooHigh {
                param: "iterations",
                ..
            }
        ));
        assert!(matches!(
            check(challenge().with("channel_binding", "tls-unique")),
            AuthError::ChannelBindingMismatch { .. }
        ));
        // What Autobahn would put into "c=" anyway when the router sends nothing.
        assert_eq!(
            scram
                .authenticate(&challenge().with("channel_binding", ""), None)
                .map(|a| a.signature),
            Ok(PROOF.to_owned())
        );
    }

    #[test]
    fn authid_and_debug() {
        assert!(matches!(
            ScramAutobahn::new("bad\u{0007}", PASSWORD),
            Err(AuthError::Saslprep {
                what: "username",
                ..
            })
        ));
        let scram = ScramAutobahn::new("I\u{00AD}X", "hunter2").expect("authid");
        assert_eq!(scram.authid(), Some("IX"));
        let dbg = format!("{scram:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }

    #[test]
    fn garbage_extra_never_panics() {
        let mut rng = test_support::rng(23);
        // Tight ceilings: random costs that pass must stay cheap.
        let limits = KdfLimits {
            max_argon2_iterations: 2,
            min_argon2_memory: 8,
            max_argon2_memory: 64,
            ..KdfLimits::default()
        };
        let mut scram = ScramAutobahn::new(AUTHID, PASSWORD)
            .expect("authid")
            .with_limits(limits);
        for i in 0..500 {
            scram.hello_extra(&mut rng);
            let mut extra = test_support::random_extra(
                &mut rng,
                &[
                    "nonce",
                    "salt",
                    "kdf",
                    "iterations",
                    "memory",
                    "channel_binding",
                ],
            );
            if let State::Hello { raw_nonce, .. } = &scram.state {
                if i % 2 == 0 {
                    // Keep the nonce valid sometimes so the later checks are reached.
                    let mut nonce = raw_nonce.clone();
                    nonce.push(1);
                    extra.insert("nonce".into(), B64.encode(nonce).into());
                }
            }
            if i % 3 == 0 {
                extra.insert("kdf".into(), KDF.into());
                extra.insert("salt".into(), SALT_B64.into());
            }
            let _ = scram.authenticate(&Dict::from(extra.clone()), None);
            let _ = scram.verify_welcome(&Dict::new().with_authextra(extra));
        }
    }
}
