//! `wampcra`: WAMP Challenge-Response Authentication.
//!
//! The router sends a challenge string (a JSON object, signed as received, never
//! re-serialized); the client answers `base64(HMAC-SHA256(key, challenge))`. The key is
//! the secret's UTF-8 bytes, or, when the CHALLENGE carries `salt`/`iterations`/`keylen`,
//! the **ASCII of** `base64(PBKDF2-HMAC-SHA256(secret, salt, iterations, keylen))`: the
//! salt is used as its UTF-8 bytes (not base64-decoded). This is what both Autobahns do.
//!
//! Router side: [`derive_key`] once when storing a salted secret, then [`sign`] to build
//! the expected answer or [`verify`] to check one.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::dict::Dict;
use crate::message::Authenticate;
use crate::value::Map;

use super::{opt_str, opt_u64, req_str, AuthError, ChannelBinding, ClientAuthenticator};

const METHOD: &str = "wampcra";

/// The iteration count used when a salted CHALLENGE omits `iterations` (Autobahn's default).
pub const DEFAULT_ITERATIONS: u32 = 1000;
/// The key length used when a salted CHALLENGE omits `keylen` (Autobahn's default).
pub const DEFAULT_KEYLEN: usize = 32;
/// The largest `keylen` a client accepts.
pub const MAX_KEYLEN: usize = 1024;
/// The default ceiling on `iterations` a client accepts (see [`WampCra::with_max_iterations`]).
pub const DEFAULT_MAX_ITERATIONS: u32 = 10_000_000;

type HmacSha256 = Hmac<Sha256>;

/// WAMP-CRA: answers the router's challenge with an HMAC-SHA256 keyed by the secret.
#[derive(Clone)]
pub struct WampCra {
    authid: String,
    secret: Zeroizing<String>,
    max_iterations: u32,
}

impl WampCra {
    /// Authenticates as `authid` with `secret` (the password, or the already salted key
    /// if the router stores and sends no salt).
    pub fn new(authid: impl Into<String>, secret: impl Into<String>) -> Self {
        WampCra {
            authid: authid.into(),
            secret: Zeroizing::new(secret.into()),
            max_iterations: DEFAULT_MAX_ITERATIONS,
        }
    }

    /// The most PBKDF2 iterations a salted CHALLENGE may ask for (default
    /// [`DEFAULT_MAX_ITERATIONS`]), so that a router cannot make the client spin.
    #[must_use]
    pub fn with_max_iterations(mut self, max: u32) -> Self {
        self.max_iterations = max;
        self
    }
}

impl fmt::Debug for WampCra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WampCra")
            .field("authid", &self.authid)
            .field("secret", &"<redacted>")
            .field("max_iterations", &self.max_iterations)
            .finish()
    }
}

impl ClientAuthenticator for WampCra {
    fn method(&self) -> &str {
        METHOD
    }

    fn authid(&self) -> Option<&str> {
        Some(&self.authid)
    }

    fn hello_extra(&mut self, _rng: &mut dyn rand_core::CryptoRng) -> Map {
        Map::new()
    }

    fn authenticate(
        &mut self,
        challenge_extra: &Dict,
        _channel: Option<&ChannelBinding>,
    ) -> Result<Authenticate, AuthError> {
        let extra = challenge_extra.as_map();
        let challenge = req_str(extra, METHOD, "challenge")?;
        let signature = match opt_str(extra, METHOD, "salt")? {
            None => sign(self.secret.as_bytes(), challenge),
            Some(salt) => {
                let iterations = kdf_param(
                    extra,
                    "iterations",
                    DEFAULT_ITERATIONS.into(),
                    self.max_iterations.into(),
                )?;
                // Both fit: at most their maximum, a u32 and a usize.
                let iterations = u32::try_from(iterations).unwrap_or(self.max_iterations);
                let keylen = kdf_param(extra, "keylen", DEFAULT_KEYLEN as u64, MAX_KEYLEN as u64)?;
                let keylen = usize::try_from(keylen).unwrap_or(MAX_KEYLEN);
                let key = Zeroizing::new(derive_key(&self.secret, salt, iterations, keylen));
                sign(key.as_bytes(), challenge)
            }
        };
        Ok(Authenticate {
            signature,
            extra: Dict::new(),
        })
    }
}

/// An optional salted-key parameter of the CHALLENGE: `default` when absent, refused when 0
/// or above `max` (a cost ceiling against a hostile router).
fn kdf_param(extra: &Map, field: &'static str, default: u64, max: u64) -> Result<u64, AuthError> {
    match opt_u64(extra, METHOD, field)? {
        None => Ok(default),
        Some(0) => Err(AuthError::InvalidField {
            method: METHOD,
            field,
            reason: "must be at least 1".into(),
        }),
        Some(n) if n > max => Err(AuthError::KdfCostTooHigh {
            method: METHOD,
            param: field,
            value: n,
            ceiling: max,
        }),
        Some(n) => Ok(n),
    }
}

/// Derives the salted WAMP-CRA key: `base64(PBKDF2-HMAC-SHA256(secret, salt, iterations,
/// keylen))`, with the salt as its UTF-8 bytes. The ASCII bytes of the returned string are
/// the HMAC key for [`sign`] and [`verify`].
///
/// ```
/// use wamp_proto::auth::wampcra::derive_key;
/// assert_eq!(
///     derive_key("L3L1YUE8Txlw", "salt123", 1000, 32),
///     "qzcdsr9uu/L5hnss3kjNTRe490ETgA70ZBaB5rvnJ5Y="
/// );
/// ```
pub fn derive_key(secret: &str, salt: &str, iterations: u32, keylen: usize) -> String {
    let mut out = Zeroizing::new(vec![0u8; keylen]);
    pbkdf2::pbkdf2_hmac::<Sha256>(secret.as_bytes(), salt.as_bytes(), iterations, &mut out);
    B64.encode(&*out)
}

fn mac(key: &[u8], challenge: &str) -> HmacSha256 {
    // HMAC accepts keys of any length, so this never takes the error branch.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default()));
    mac.update(challenge.as_bytes());
    mac
}

/// Computes the WAMP-CRA signature `base64(HMAC-SHA256(key, challenge))`.
///
/// `key` is the secret's UTF-8 bytes, or the ASCII bytes of [`derive_key`]'s result.
pub fn sign(key: &[u8], challenge: &str) -> String {
    B64.encode(mac(key, challenge).finalize().into_bytes())
}

/// Router side: checks a client's signature over `challenge` in constant time.
pub fn verify(key: &[u8], challenge: &str, signature: &str) -> Result<(), AuthError> {
    let received = B64
        .decode(signature)
        .map_err(|_| AuthError::SignatureMismatch { method: METHOD })?;
    mac(key, challenge)
        .verify_slice(&received)
        .map_err(|_| AuthError::SignatureMismatch { method: METHOD })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::test_support;

    const SECRET: &str = "L3L1YUE8Txlw";

    #[test]
    fn autobahn_vectors() {
        assert_eq!(
            derive_key(SECRET, "salt123", 1000, 32),
            "qzcdsr9uu/L5hnss3kjNTRe490ETgA70ZBaB5rvnJ5Y="
        );
        assert_eq!(
            sign(SECRET.as_bytes(), "[1, 2, 3]"),
            "1njQtmmeYO41N5EWEzD2kAjjEKRZ5kPZt/TzpYXOzR0="
        );
    }

    #[test]
    fn client_unsalted_and_salted() {
        let mut cra = WampCra::new("peter", SECRET);
        let plain = Dict::new().with("challenge", "[1, 2, 3]");
        let auth = cra.authenticate(&plain, None).expect("unsalted");
        assert_eq!(
            auth.signature,
            "1njQtmmeYO41N5EWEzD2kAjjEKRZ5kPZt/TzpYXOzR0="
        );
        assert_eq!(
            verify(SECRET.as_bytes(), "[1, 2, 3]", &auth.signature),
            Ok(())
        );

        let salted = plain
            .with("salt", "salt123")
            .with("iterations", 1000u32)
            .with("keylen", 32u32);
        let auth = cra.authenticate(&salted, None).expect("salted");
        assert_eq!(
            auth.signature,
            "c3pCfyceJEbMIYZ/MRvn3RbPu4aqaQ/IeiCmHKfGMx4="
        );
        let key = derive_key(SECRET, "salt123", 1000, 32);
        assert_eq!(verify(key.as_bytes(), "[1, 2, 3]", &auth.signature), Ok(()));
        assert!(verify(SECRET.as_bytes(), "[1, 2, 3]", &auth.signature).is_err());
        assert!(verify(key.as_bytes(), "[1, 2, 3]", "not base64!").is_err());
    }

    #[test]
    fn salted_defaults_follow_autobahn() {
        let mut cra = WampCra::new("peter", SECRET);
        let auth = cra
            .authenticate(
                &Dict::new()
                    .with("challenge", "[1, 2, 3]")
                    .with("salt", "salt123"),
                None,
            )
            .expect("defaults");
        assert_eq!(
            auth.signature,
            "c3pCfyceJEbMIYZ/MRvn3RbPu4aqaQ/IeiCmHKfGMx4="
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let mut cra = WampCra::new("peter", SECRET).with_max_iterations(5000);
        let err = cra.authenticate(&Dict::new(), None).expect_err("missing");
        assert_eq!(
            err,
            AuthError::MissingField {
                method: "wampcra",
                field: "challenge"
            }
        );
        let base = Dict::new().with("challenge", "c").with("salt", "s");
        for (field, value, needle) in [
            ("challenge", crate::Value::UInt(1), "`challenge`"),
            ("salt", crate::Value::Bool(true), "`salt`"),
            ("iterations", crate::Value::from("1000"), "`iterations`"),
            ("iterations", crate::Value::Int(-1), "`iterations`"),
            ("iterations", crate::Value::UInt(0), "`iterations`"),
            ("iterations", crate::Value::UInt(5001), "`iterations`"),
            ("keylen", crate::Value::UInt(0), "`keylen`"),
            ("keylen", crate::Value::UInt(1025), "`keylen`"),
        ] {
            let err = cra
                .authenticate(&base.clone().with(field, value), None)
                .expect_err(field);
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    #[test]
    fn debug_redacts_the_secret() {
        let dbg = format!("{:?}", WampCra::new("peter", SECRET));
        assert!(!dbg.contains(SECRET), "{dbg}");
    }

    #[test]
    fn garbage_extra_never_panics() {
        let mut rng = test_support::rng(11);
        let mut cra = WampCra::new("peter", SECRET).with_max_iterations(5000);
        for _ in 0..500 {
            let extra = test_support::random_extra(
                &mut rng,
                &["challenge", "salt", "iterations", "keylen"],
            );
            let _ = cra.authenticate(&Dict::from(extra), None);
        }
    }
}
