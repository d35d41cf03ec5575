//! Dynamic authentication: what the router asks a realm's authenticator procedure
//! ([`Authenticators`](super::Authenticators)), and how its answer becomes a WELCOME, a
//! CHALLENGE or an ABORT.
//!
//! The router is the caller: [`Router`](super::Router) sends the CALL through the
//! realm's dealer as its own session (which roles do not restrict) and resumes the
//! handshake when the YIELD or ERROR comes back, or the call fails or times out.

use wamp_proto::auth::{ChannelBinding, ChannelBindingKind};
use wamp_proto::{Map, SessionId, Uri, Value};

use super::config::{Authenticator, CraSalt};
use super::handshake::{
    cra_challenge, cryptosign_challenge, identity, parse_key, CraEntry, Principal, Step,
};

/// A question for an authenticator, and what to do with its answer.
#[derive(Debug)]
pub(crate) struct Ask {
    pub authenticator: Authenticator,
    /// The realm the client asked for (the call's first argument).
    pub realm: Uri,
    /// The authid the client claimed.
    pub authid: Option<String>,
    /// `details` for the call: `authmethod`, `authextra` and, for ticket, `ticket`; the
    /// router adds `session` and `transport`.
    pub details: Map,
    pub method: &'static str,
    pub then: Then,
}

/// What the answer leads to.
#[derive(Debug)]
pub(crate) enum Then {
    /// WELCOME (anonymous, ticket).
    Welcome,
    /// A WAMP-CRA CHALLENGE with the secret the answer gives.
    WampCra,
    /// A cryptosign CHALLENGE, if the answer's key is the one HELLO offered.
    Cryptosign {
        key: [u8; 32],
        requested: Option<ChannelBindingKind>,
    },
}

impl Ask {
    pub fn new(
        authenticator: &Authenticator,
        realm: &Uri,
        method: &'static str,
        authid: Option<&str>,
        authextra: &Map,
        then: Then,
    ) -> Self {
        let mut details = Map::new();
        details.insert("authmethod".into(), Value::from(method));
        details.insert("authextra".into(), Value::Map(authextra.clone()));
        Ask {
            authenticator: authenticator.clone(),
            realm: realm.clone(),
            authid: authid.map(str::to_owned),
            details,
            method,
            then,
        }
    }

    /// The handshake's next step once the authenticator answered `args` (its YIELD's
    /// positional arguments).
    pub fn answered(
        self,
        args: &[Value],
        session: SessionId,
        binding: Option<&ChannelBinding>,
        rng: &mut dyn rand_core::CryptoRng,
    ) -> Step {
        let refuse = |why: String| {
            Step::Abort(
                Uri::AUTHENTICATION_FAILED,
                format!(
                    "the authenticator {} answered {why}",
                    self.authenticator.procedure
                ),
            )
        };
        let answer = match args.first() {
            Some(Value::String(role)) => {
                let mut m = Map::new();
                m.insert("role".into(), Value::from(role.as_str()));
                m
            }
            Some(Value::Map(m)) => m.clone(),
            Some(other) => return refuse(format!("{other:?}, not a role or a dictionary")),
            None => return refuse("nothing".into()),
        };
        let text = |key: &str| answer.get(key).and_then(Value::as_str);
        let Some(role) = text("role") else {
            return refuse("no role".into());
        };
        let realm = match text("realm").map(Uri::parse) {
            None => None,
            Some(Ok(realm)) => Some(realm),
            Some(Err(e)) => return refuse(format!("an invalid realm: {e}")),
        };
        let extra = match answer.get("extra") {
            Some(Value::Map(m)) => m.clone(),
            _ => Map::new(),
        };
        let principal = Principal {
            role: role.to_owned(),
            realm,
            provider: "dynamic",
            extra,
        };
        let authid = match (text("authid"), self.authid) {
            (Some(assigned), _) => assigned.to_owned(),
            (None, Some(claimed)) if self.method != "anonymous" => claimed,
            // Anonymous sessions get a random authid, as with static anonymous access.
            (None, _) => {
                let mut raw = [0u8; 9];
                rng.fill_bytes(&mut raw);
                format!("anonymous-{}", hex::encode(raw))
            }
        };
        match self.then {
            Then::Welcome => Step::Welcome(identity(authid, principal, self.method)),
            Then::WampCra => {
                let Some(secret) = text("secret") else {
                    return refuse("no secret".into());
                };
                let salt = text("salt").map(|salt| {
                    let mut s = CraSalt::new(salt);
                    let number = |key: &str| answer.get(key).and_then(Value::as_u64);
                    if let Some(n) = number("iterations") {
                        s.iterations = u32::try_from(n).unwrap_or(0);
                    }
                    if let Some(n) = number("keylen") {
                        s.keylen = usize::try_from(n).unwrap_or(0);
                    }
                    s
                });
                match CraEntry::new(principal, secret, salt) {
                    Ok(entry) => cra_challenge(&authid, &entry, session, rng),
                    Err(why) => refuse(format!("an unusable secret: {why}")),
                }
            }
            Then::Cryptosign { key, requested } => match text("pubkey").and_then(parse_key) {
                Some(allowed) if allowed == key => {
                    cryptosign_challenge(authid, principal, key, requested, binding, rng)
                }
                Some(_) => Step::Abort(
                    Uri::NOT_AUTHORIZED,
                    format!(
                        "public key {} is not authorized for {authid:?}",
                        hex::encode(key)
                    ),
                ),
                None => refuse("no pubkey (64 hex digits)".into()),
            },
        }
    }
}
