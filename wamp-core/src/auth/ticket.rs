//! `ticket`: the client sends a shared secret (the ticket) verbatim.
//!
//! Only use it over TLS: the ticket crosses the wire in the clear. The spec requires an
//! authid in HELLO, so [`Ticket::new`] takes one. The router side keeps a
//! [`StoredTicket`]: the ticket itself, compared in constant time ([`verify`]), or an
//! Argon2id hash of it in the PHC string format ([`hash`] makes one), so that a leaked
//! configuration file does not leak the tickets.

use std::fmt;

use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine as _;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::dict::Dict;
use crate::message::Authenticate;
use crate::value::Map;

use super::{AuthError, ChannelBinding, ClientAuthenticator};

const METHOD: &str = "ticket";

/// Ticket authentication: answers the CHALLENGE with the ticket itself.
#[derive(Clone)]
pub struct Ticket {
    authid: String,
    ticket: Zeroizing<String>,
}

impl Ticket {
    /// Authenticates as `authid` with `ticket`.
    pub fn new(authid: impl Into<String>, ticket: impl Into<String>) -> Self {
        Ticket {
            authid: authid.into(),
            ticket: Zeroizing::new(ticket.into()),
        }
    }
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("authid", &self.authid)
            .field("ticket", &"<redacted>")
            .finish()
    }
}

impl ClientAuthenticator for Ticket {
    fn method(&self) -> &str {
        METHOD
    }

    fn authid(&self) -> Option<&str> {
        Some(&self.authid)
    }

    fn hello_extra(&mut self, _rng: &mut dyn rand_core::CryptoRng) -> Map {
        Map::new()
    }

    /// The ticket CHALLENGE carries nothing the client needs; its extra is ignored.
    fn authenticate(
        &mut self,
        _challenge_extra: &Dict,
        _channel: Option<&ChannelBinding>,
    ) -> Result<Authenticate, AuthError> {
        Ok(Authenticate {
            signature: self.ticket.as_str().to_owned(),
            extra: Dict::new(),
        })
    }
}

/// Router side: checks a received ticket against the expected one in constant time. The
/// SHA-256 digests are compared, not the texts, so the time does not tell the length
/// either.
pub fn verify(expected: &str, received: &str) -> Result<(), AuthError> {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(expected), Sha256::digest(received));
    if bool::from(a.as_slice().ct_eq(b.as_slice())) {
        Ok(())
    } else {
        Err(AuthError::SignatureMismatch { method: METHOD })
    }
}

/// The prefix of an Argon2id PHC string (`$argon2id$v=19$m=..,t=..,p=..$SALT$HASH`).
pub const ARGON2ID_PREFIX: &str = "$argon2id$";

/// The Argon2id cost [`hash`] uses: 19 MiB, 2 passes, 1 lane (the OWASP baseline).
pub const HASH_COST: (u32, u32, u32) = (2, 19 * 1024, 1);

/// The most memory (KiB) and passes a stored hash may ask for: a configuration typo
/// must not make every authentication take gigabytes or minutes.
const MAX_MEMORY_KIB: u32 = 1 << 20;
const MAX_ITERATIONS: u32 = 64;
const MAX_LANES: u32 = 16;

/// What a router keeps for a ticket principal.
#[derive(Clone)]
pub enum StoredTicket {
    /// The ticket itself.
    Plain(Zeroizing<String>),
    /// An Argon2id hash of it.
    Argon2id {
        /// (iterations, memory in KiB, lanes).
        cost: (u32, u32, u32),
        /// The salt.
        salt: Vec<u8>,
        /// The hash (16 to 64 bytes).
        hash: Zeroizing<Vec<u8>>,
    },
}

impl fmt::Debug for StoredTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoredTicket::Plain(_) => f.write_str("Plain(<redacted>)"),
            StoredTicket::Argon2id { cost, .. } => f
                .debug_struct("Argon2id")
                .field("cost", cost)
                .finish_non_exhaustive(),
        }
    }
}

impl StoredTicket {
    /// Reads a configured ticket: an Argon2id PHC string (it starts with
    /// [`ARGON2ID_PREFIX`]) is a hash, anything else the ticket itself. A malformed hash,
    /// or one of another Argon2 variant, is an error (it would otherwise be taken as a
    /// plain ticket nobody can type).
    pub fn parse(configured: &str) -> Result<StoredTicket, AuthError> {
        let bad = |why: &str| {
            AuthError::Kdf {
            method: METHOD,
            reason: format!("not an Argon2id PHC string ({why}): expected $argon2id$v=19$m=KIB,t=PASSES,p=LANES$SALT$HASH"),
        }
        };
        let Some(rest) = configured.strip_prefix(ARGON2ID_PREFIX) else {
            if configured.starts_with("$argon2") {
                return Err(bad("only Argon2id hashes are supported"));
            }
            return Ok(StoredTicket::Plain(Zeroizing::new(configured.to_owned())));
        };
        let parts: Vec<&str> = rest.split('$').collect();
        let [version, params, salt, hash] = parts[..] else {
            return Err(bad("wrong number of fields"));
        };
        if version != "v=19" {
            return Err(bad("only version 19 (1.3) is supported"));
        }
        let (mut m, mut t, mut p) = (None, None, None);
        for param in params.split(',') {
            let (key, value) = param
                .split_once('=')
                .ok_or_else(|| bad("a parameter without ="))?;
            let value: u32 = value
                .parse()
                .map_err(|_| bad("a parameter that is not a number"))?;
            match key {
                "m" => m = Some(value),
                "t" => t = Some(value),
                "p" => p = Some(value),
                _ => return Err(bad("an unknown parameter")),
            }
        }
        let (Some(m), Some(t), Some(p)) = (m, t, p) else {
            return Err(bad("m, t and p are all required"));
        };
        if m > MAX_MEMORY_KIB || t > MAX_ITERATIONS || p > MAX_LANES {
            return Err(bad("the cost is beyond 1 GiB, 64 passes or 16 lanes"));
        }
        let salt = B64
            .decode(salt)
            .map_err(|_| bad("the salt is not base64"))?;
        let hash = Zeroizing::new(
            B64.decode(hash)
                .map_err(|_| bad("the hash is not base64"))?,
        );
        if salt.len() < 8 || !(16..=64).contains(&hash.len()) {
            return Err(bad("the salt or the hash is too short"));
        }
        // The parameters must be ones Argon2 accepts, or every login would fail later.
        argon2::Params::new(m, t, p, Some(hash.len())).map_err(|e| bad(&e.to_string()))?;
        Ok(StoredTicket::Argon2id {
            cost: (t, m, p),
            salt,
            hash,
        })
    }

    /// Checks a received ticket, in constant time for the comparison itself (a hash
    /// costs one Argon2id evaluation).
    pub fn verify(&self, received: &str) -> Result<(), AuthError> {
        match self {
            StoredTicket::Plain(expected) => verify(expected, received),
            StoredTicket::Argon2id { cost, salt, hash } => {
                let mut out = Zeroizing::new(vec![0u8; hash.len()]);
                super::scram::argon2id_into(METHOD, received.as_bytes(), salt, *cost, &mut out)?;
                if bool::from(out.ct_eq(hash)) {
                    Ok(())
                } else {
                    Err(AuthError::SignatureMismatch { method: METHOD })
                }
            }
        }
    }
}

/// An Argon2id PHC string of `ticket` with a 16-byte `salt` (draw it from a CSPRNG) at
/// [`HASH_COST`], for a router's configuration in place of the ticket itself.
pub fn hash(ticket: &str, salt: &[u8; 16]) -> Result<String, AuthError> {
    let (t, m, p) = HASH_COST;
    let mut out = Zeroizing::new([0u8; 32]);
    super::scram::argon2id_into(METHOD, ticket.as_bytes(), salt, HASH_COST, &mut *out)?;
    Ok(format!(
        "{ARGON2ID_PREFIX}v=19$m={m},t={t},p={p}${}${}",
        B64.encode(salt),
        B64.encode(*out)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::test_support;

    #[test]
    fn a_hashed_ticket_verifies_only_the_ticket() {
        let phc = hash("s3cret-ticket", &[7; 16]).expect("hashes");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("s3cret"));
        let stored = StoredTicket::parse(&phc).expect("parses");
        assert_eq!(stored.verify("s3cret-ticket"), Ok(()));
        assert!(stored.verify("s3cret-ticke").is_err());
        assert!(stored.verify("").is_err());
        assert!(!format!("{stored:?}").contains(&phc[30..]), "{stored:?}");
        // A different salt, a different string.
        assert_ne!(phc, hash("s3cret-ticket", &[8; 16]).expect("hashes"));
    }

    #[test]
    fn hashes_made_by_argon2_cffi_verify() {
        // argon2-cffi 23 (the reference C library): hash_secret(b"password", b"somesalt",
        // time_cost, memory_cost, parallelism, hash_len, Type.ID).
        for (phc, cost) in [
            (
                "$argon2id$v=19$m=64,t=3,p=1$c29tZXNhbHQ$ueO/2lj7lfHh5HmvTgG/reWg26NNQAolT3cEYmdBaeY",
                (3, 64, 1),
            ),
            (
                "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$5cmjPIOJnS9cibudqE+DN3oCkFOfh2Mv",
                (2, 256, 2),
            ),
        ] {
            let stored = StoredTicket::parse(phc).expect("parses");
            assert!(matches!(stored, StoredTicket::Argon2id { cost: c, .. } if c == cost));
            assert_eq!(stored.verify("password"), Ok(()), "{phc}");
            assert!(stored.verify("Password").is_err(), "{phc}");
        }
    }

    #[test]
    fn plain_and_malformed_configured_tickets() {
        let plain = StoredTicket::parse("just-a-ticket").expect("plain");
        assert_eq!(plain.verify("just-a-ticket"), Ok(()));
        assert!(plain.verify("just-a-tickeT").is_err());
        assert_eq!(format!("{plain:?}"), "Plain(<redacted>)");
        for bad in [
            "$argon2id$",
            "$argon2id$v=16$m=64,t=3,p=1$c29tZXNhbHQ$UVP8QXsnJ2e5VUEg0Eg1Kf6NqXsRpGqDP2pLv7kBTl0",
            "$argon2id$v=19$m=64,t=3$c29tZXNhbHQ$UVP8QXsnJ2e5VUEg0Eg1Kf6NqXsRpGqDP2pLv7kBTl0",
            "$argon2id$v=19$m=9999999,t=3,p=1$c29tZXNhbHQ$UVP8QXsnJ2e5VUEg0Eg1Kf6NqXsRpGqDP2pLv7kBTl0",
            "$argon2id$v=19$m=64,t=3,p=1$c29t$UVP8QXsnJ2e5VUEg0Eg1Kf6NqXsRpGqDP2pLv7kBTl0",
            "$argon2id$v=19$m=64,t=3,p=1$c29tZXNhbHQ$!!",
            "$argon2i$v=19$m=64,t=3,p=1$c29tZXNhbHQ$ueO/2lj7lfHh5HmvTgG/reWg26NNQAolT3cEYmdBaeY",
            "$argon2id$v=19$m=1,t=3,p=1$c29tZXNhbHQ$UVP8QXsnJ2e5VUEg0Eg1Kf6NqXsRpGqDP2pLv7kBTl0",
        ] {
            assert!(StoredTicket::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sends_the_ticket_verbatim() {
        let mut t = Ticket::new("joe", "secret!!!");
        assert_eq!(t.method(), "ticket");
        assert_eq!(t.authid(), Some("joe"));
        let auth = t.authenticate(&Dict::new(), None).expect("ticket");
        assert_eq!(auth.signature, "secret!!!");
        assert!(auth.extra.is_empty());
        assert_eq!(verify("secret!!!", &auth.signature), Ok(()));
        assert!(verify("secret!!!", "secret!!").is_err());
    }

    #[test]
    fn debug_redacts_the_ticket() {
        let dbg = format!("{:?}", Ticket::new("joe", "secret!!!"));
        assert!(!dbg.contains("secret"), "{dbg}");
    }

    #[test]
    fn garbage_extra_never_panics() {
        let mut rng = test_support::rng(7);
        let mut t = Ticket::new("joe", "x");
        for _ in 0..200 {
            let extra = test_support::random_extra(&mut rng, &["challenge", "x"]);
            assert!(t.authenticate(&Dict::from(extra), None).is_ok());
        }
    }
}
