//! `cryptosign`: WAMP-Cryptosign, Ed25519 signatures over a router challenge.
//!
//! The client announces its public key in `HELLO.Details.authextra.pubkey`; the router
//! sends 32 random bytes as hex in `CHALLENGE.Extra.challenge`; the client signs them
//! (XORed with the 32-byte TLS channel id when channel binding is in use) and answers with
//! `hex(signature(64) || signed message(32))`, 192 hex digits.
//!
//! With [`Cryptosign::with_channel_binding`] the client requests binding in HELLO and
//! insists that the CHALLENGE echoes the same binding: a router that drops it (which the
//! spec permits) is refused, since silently continuing unbound would defeat the purpose.
//!
//! Router authentication, trustroots/certificates and remote attestation (optional parts
//! of the spec) are not implemented.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use zeroize::{Zeroize, Zeroizing};

use crate::dict::Dict;
use crate::message::Authenticate;
use crate::value::{Map, Value};

use super::{
    binding_data, check_binding_echo, req_str, AuthError, ChannelBinding, ChannelBindingKind,
    ClientAuthenticator,
};

const METHOD: &str = "cryptosign";

/// WAMP-Cryptosign client authentication with an Ed25519 key.
#[derive(Clone)]
pub struct Cryptosign {
    authid: Option<String>,
    key: SigningKey,
    binding: Option<ChannelBindingKind>,
}

impl Cryptosign {
    /// Authenticates with the Ed25519 key whose 32-byte seed (the "private key" in
    /// Autobahn and the spec's test vectors) is `secret_key_seed`. Without an `authid`
    /// the router assigns one (often the hex public key).
    pub fn new(authid: Option<String>, secret_key_seed: [u8; 32]) -> Self {
        let mut seed = secret_key_seed;
        let key = SigningKey::from_bytes(&seed);
        seed.zeroize();
        Cryptosign {
            authid,
            key,
            binding: None,
        }
    }

    /// Like [`Cryptosign::new`], with the seed as 64 hex digits.
    pub fn from_hex(authid: Option<String>, secret_key_seed_hex: &str) -> Result<Self, AuthError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(secret_key_seed_hex.trim(), &mut *seed).map_err(|_| {
            AuthError::BadKey {
                method: METHOD,
                reason: "expected a 32-byte Ed25519 seed as 64 hex digits",
            }
        })?;
        Ok(Cryptosign::new(authid, *seed))
    }

    /// Requests TLS channel binding of type `kind`: it is announced in HELLO, the
    /// CHALLENGE must echo it, and [`ClientAuthenticator::authenticate`] then needs the
    /// connection's [`ChannelBinding`] data.
    #[must_use]
    pub fn with_channel_binding(mut self, kind: ChannelBindingKind) -> Self {
        self.binding = Some(kind);
        self
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The Ed25519 public key as 64 hex digits (as sent in `authextra.pubkey`).
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public_key())
    }

    /// Signs a 32-byte challenge (XORed with `channel`'s data if given) and returns the
    /// AUTHENTICATE signature string, `hex(signature || signed message)`.
    pub fn sign_challenge(&self, challenge: &[u8; 32], channel: Option<&ChannelBinding>) -> String {
        let message = signed_message(challenge, channel);
        let signature = self.key.sign(&message);
        let mut out = Vec::with_capacity(96);
        out.extend_from_slice(&signature.to_bytes());
        out.extend_from_slice(&message);
        hex::encode(out)
    }
}

impl fmt::Debug for Cryptosign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cryptosign")
            .field("authid", &self.authid)
            .field("pubkey", &self.public_key_hex())
            .field("secret_key", &"<redacted>")
            .field("channel_binding", &self.binding)
            .finish()
    }
}

impl ClientAuthenticator for Cryptosign {
    fn method(&self) -> &str {
        METHOD
    }

    fn authid(&self) -> Option<&str> {
        self.authid.as_deref()
    }

    fn hello_extra(&mut self, _rng: &mut dyn rand_core::CryptoRng) -> Map {
        let mut extra = Map::new();
        extra.insert("pubkey".into(), Value::String(self.public_key_hex()));
        if let Some(kind) = self.binding {
            extra.insert("channel_binding".into(), kind.as_str().into());
        }
        extra
    }

    fn authenticate(
        &mut self,
        challenge_extra: &Dict,
        channel: Option<&ChannelBinding>,
    ) -> Result<Authenticate, AuthError> {
        let extra = challenge_extra.as_map();
        let challenge = parse_challenge(req_str(extra, METHOD, "challenge")?)?;
        check_binding_echo(extra, METHOD, self.binding)?;
        let channel = match self.binding {
            None => None,
            Some(kind) => {
                let data = binding_data(METHOD, kind, channel)?;
                Some(ChannelBinding { kind, data: *data })
            }
        };
        Ok(Authenticate {
            signature: self.sign_challenge(&challenge, channel.as_ref()),
            extra: Dict::new(),
        })
    }
}

fn parse_challenge(hex_str: &str) -> Result<[u8; 32], AuthError> {
    let mut challenge = [0u8; 32];
    hex::decode_to_slice(hex_str, &mut challenge).map_err(|_| AuthError::InvalidField {
        method: METHOD,
        field: "challenge",
        reason: "expected 32 bytes as 64 hex digits".into(),
    })?;
    Ok(challenge)
}

fn signed_message(challenge: &[u8; 32], channel: Option<&ChannelBinding>) -> [u8; 32] {
    let mut message = *challenge;
    if let Some(cb) = channel {
        for (m, c) in message.iter_mut().zip(cb.data.iter()) {
            *m ^= c;
        }
    }
    message
}

/// Router side: checks a client's AUTHENTICATE signature string (`hex(sig64 || msg32)`)
/// against its public key, the challenge the router sent and the channel binding in use.
///
/// Signatures are checked with Ed25519 `verify_strict` (no malleable or small-order
/// inputs), which accepts everything libsodium and the spec's test vectors produce.
pub fn verify(
    pubkey: [u8; 32],
    challenge: &[u8; 32],
    channel: Option<&ChannelBinding>,
    signature_hex: &str,
) -> Result<(), AuthError> {
    let mismatch = AuthError::SignatureMismatch { method: METHOD };
    let mut raw = [0u8; 96];
    hex::decode_to_slice(signature_hex, &mut raw).map_err(|_| mismatch.clone())?;
    let (sig, message) = raw.split_at(64);
    if message != signed_message(challenge, channel) {
        return Err(mismatch);
    }
    let key = VerifyingKey::from_bytes(&pubkey).map_err(|_| AuthError::BadKey {
        method: METHOD,
        reason: "not a valid Ed25519 public key",
    })?;
    let sig = Signature::from_slice(sig).map_err(|_| mismatch.clone())?;
    key.verify_strict(message, &sig).map_err(|_| mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::test_support;

    const KEY: &str = "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510";
    const CHANNEL_ID: &str = "62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff";

    fn channel() -> ChannelBinding {
        let mut data = [0u8; 32];
        hex::decode_to_slice(CHANNEL_ID, &mut data).expect("hex");
        ChannelBinding {
            kind: ChannelBindingKind::TlsUnique,
            data,
        }
    }

    #[test]
    fn spec_vector_unbound() {
        let mut cs = Cryptosign::from_hex(None, KEY).expect("key");
        let extra = Dict::new()
            .with("challenge", "ff".repeat(32))
            .with("channel_binding", Value::Null);
        let auth = cs.authenticate(&extra, None).expect("sign");
        assert_eq!(
            auth.signature,
            "b32675b221f08593213737bef8240e7c15228b07028e19595294678c90d11c0cae80a357331bfc5c\
             c9fb71081464e6e75013517c2cf067ad566a6b7b728e5d03\
             ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
        );
        assert_eq!(
            verify(cs.public_key(), &[0xff; 32], None, &auth.signature),
            Ok(())
        );
    }

    #[test]
    fn spec_vector_bound() {
        let mut cs = Cryptosign::from_hex(Some("client01".into()), KEY)
            .expect("key")
            .with_channel_binding(ChannelBindingKind::TlsUnique);
        let hello = cs.hello_extra(&mut test_support::rng(0));
        assert_eq!(
            hello.get("channel_binding"),
            Some(&Value::from("tls-unique"))
        );
        assert_eq!(hello.get("pubkey"), Some(&Value::from(cs.public_key_hex())));
        let extra = Dict::new()
            .with("challenge", "ff".repeat(32))
            .with("channel_binding", "tls-unique");
        let cb = channel();
        let auth = cs.authenticate(&extra, Some(&cb)).expect("sign");
        assert_eq!(
            auth.signature,
            "9b6f41540c9b95b4b7b281c3042fa9c54cef43c842d62ea3fd6030fcb66e70b3e80d49d44c29d163\
             5da9348d02ec93f3ed1ef227dfb59a07b580095c2b82f80f\
             9d16ca518aa0c2b707f2b2a609edeca73bca8dd59817a633f35574ac6fd80d00"
        );
        assert_eq!(
            verify(cs.public_key(), &[0xff; 32], Some(&cb), &auth.signature),
            Ok(())
        );
        // The same signature does not verify unbound, nor with another challenge.
        assert!(verify(cs.public_key(), &[0xff; 32], None, &auth.signature).is_err());
        assert!(verify(cs.public_key(), &[0xfe; 32], Some(&cb), &auth.signature).is_err());
    }

    #[test]
    fn channel_binding_must_be_echoed() {
        let mut bound =
            Cryptosign::new(None, [7; 32]).with_channel_binding(ChannelBindingKind::TlsUnique);
        let cb = channel();
        let base = Dict::new().with("challenge", "00".repeat(32));
        for answered in [
            Value::Null,
            Value::from("tls-exporter"),
            Value::from("bogus"),
        ] {
            let err = bound
                .authenticate(&base.clone().with("channel_binding", answered), Some(&cb))
                .expect_err("mismatch");
            assert!(
                matches!(err, AuthError::ChannelBindingMismatch { .. }),
                "{err}"
            );
        }
        // Echoed, but the transport has no data of that kind.
        let echoed = base.clone().with("channel_binding", "tls-unique");
        let err = bound.authenticate(&echoed, None).expect_err("no data");
        assert!(
            matches!(err, AuthError::ChannelBindingUnavailable { .. }),
            "{err}"
        );
        let exporter = ChannelBinding {
            kind: ChannelBindingKind::TlsExporter,
            data: [1; 32],
        };
        assert!(bound.authenticate(&echoed, Some(&exporter)).is_err());

        // Unbound client, router claims binding.
        let mut unbound = Cryptosign::new(None, [7; 32]);
        let err = unbound
            .authenticate(&echoed, Some(&cb))
            .expect_err("unrequested");
        assert!(err.to_string().contains("requested none"), "{err}");
        // Unbound client ignores transport data it did not ask to use.
        let auth = unbound.authenticate(&base, Some(&cb)).expect("unbound");
        assert_eq!(
            verify(unbound.public_key(), &[0; 32], None, &auth.signature),
            Ok(())
        );
    }

    #[test]
    fn bad_fields_and_keys() {
        let mut cs = Cryptosign::new(None, [1; 32]);
        assert_eq!(
            cs.authenticate(&Dict::new(), None),
            Err(AuthError::MissingField {
                method: "cryptosign",
                field: "challenge"
            })
        );
        for bad in ["ff", &"zz".repeat(32), &"ff".repeat(33)] {
            let err = cs
                .authenticate(&Dict::new().with("challenge", bad), None)
                .expect_err("bad hex");
            assert!(err.to_string().contains("`challenge`"), "{err}");
        }
        assert!(Cryptosign::from_hex(None, "abcd").is_err());
        assert!(Cryptosign::from_hex(None, &"xy".repeat(32)).is_err());
        assert!(verify([1; 32], &[0; 32], None, "00").is_err());
    }

    #[test]
    fn debug_redacts_the_key() {
        let cs = Cryptosign::from_hex(None, KEY).expect("key");
        let dbg = format!("{cs:?}");
        assert!(
            !dbg.contains(KEY) && dbg.contains(&cs.public_key_hex()),
            "{dbg}"
        );
    }

    #[test]
    fn garbage_extra_never_panics() {
        let mut rng = test_support::rng(13);
        let cb = channel();
        let mut a = Cryptosign::new(None, [3; 32]);
        let mut b =
            Cryptosign::new(None, [3; 32]).with_channel_binding(ChannelBindingKind::TlsUnique);
        for _ in 0..500 {
            let extra = Dict::from(test_support::random_extra(
                &mut rng,
                &["challenge", "channel_binding"],
            ));
            let _ = a.authenticate(&extra, Some(&cb));
            let _ = b.authenticate(&extra, None);
        }
    }
}
