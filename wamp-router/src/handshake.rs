//! The router side of joining a realm: HELLO, the authentication method's CHALLENGE and
//! AUTHENTICATE, and the identity that goes into WELCOME, for each method a realm may
//! accept (anonymous, ticket, WAMP-CRA, cryptosign, WAMP-SCRAM).

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use zeroize::Zeroizing;

use wamp_proto::auth::scram::{self, AuthMessageParts, StoredCredential};
use wamp_proto::auth::scram_autobahn;
use wamp_proto::auth::{cryptosign, ticket, wampcra, ChannelBinding, ChannelBindingKind};
use wamp_proto::message::{Authenticate, Hello};
use wamp_proto::{Details, Dict, Map, SessionId, Uri, Value};

use super::authorizer::Authorizer;
use super::config::{AuthConfig, Authenticators, CraSalt};
use super::dynamic_auth::{Ask, Then};
use super::error::ConfigError;

/// `wamp.error.no_auth_method`: Crossbar.io's answer when no offered method is accepted
/// (the spec names `wamp.error.no_matching_auth_method`; clients treat both alike).
pub(crate) const NO_AUTH_METHOD: Uri = Uri::from_static("wamp.error.no_auth_method");

const PROVIDER: &str = "static";

/// Who a session is, once authenticated.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub authid: String,
    pub authrole: String,
    pub authmethod: &'static str,
    pub authprovider: &'static str,
    /// `WELCOME.Details.authextra` (WAMP-SCRAM's verifier).
    pub authextra: Map,
    /// The realm the principal joins, whatever the HELLO asked for.
    pub realm: Option<Uri>,
}

impl Identity {
    /// The router itself, as the caller of authenticators.
    pub fn router() -> Identity {
        Identity {
            authid: "router".into(),
            authrole: "trusted".into(),
            authmethod: "trusted",
            authprovider: "router",
            authextra: Map::new(),
            realm: None,
        }
    }
}

/// What a principal is given: its role, and for a transport's principals (or a dynamic
/// authenticator's answer) perhaps the realm it joins.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub role: String,
    pub realm: Option<Uri>,
    /// `static`, or `dynamic` when an authenticator vouched for it.
    pub provider: &'static str,
    /// WELCOME's `authextra` (from a dynamic authenticator).
    pub extra: Map,
}

impl Principal {
    pub fn fixed(role: &str, realm: Option<Uri>) -> Self {
        Principal {
            role: role.to_owned(),
            realm,
            provider: PROVIDER,
            extra: Map::new(),
        }
    }
}

/// Whose principals a [`RealmAuth`] holds.
pub(crate) enum Scope<'a> {
    /// A realm's own: roles must exist there, and principals name no other realm.
    Realm(&'a Uri, &'a Authorizer),
    /// A transport's ([`TransportAuth`](super::TransportAuth)): roles are checked on the
    /// realm joined, when it is known.
    Transport(&'a str),
}

impl Scope<'_> {
    fn label(&self) -> String {
        match self {
            Scope::Realm(name, _) => format!("realm {name}"),
            Scope::Transport(name) => format!("transport {name}"),
        }
    }
}

/// The principals of one realm or transport, prepared once (keys decoded, salted
/// secrets derived).
pub(crate) struct RealmAuth {
    anonymous: Option<Principal>,
    ticket: HashMap<String, (Principal, ticket::StoredTicket)>,
    wampcra: HashMap<String, CraEntry>,
    cryptosign: HashMap<String, (Principal, Vec<[u8; 32]>)>,
    cryptosign_keys: HashMap<[u8; 32], String>,
    scram: HashMap<String, (Principal, StoredCredential)>,
    autobahn_scram: HashMap<String, (Principal, StoredCredential)>,
    /// `tls` principals by their certificate's normalized fingerprint.
    tls: HashMap<String, (String, Principal)>,
    dynamic: Authenticators,
}

pub(crate) struct CraEntry {
    principal: Principal,
    /// The HMAC key: the secret's bytes, or the ASCII of the derived key when salted.
    key: Zeroizing<Vec<u8>>,
    salt: Option<CraSalt>,
}

impl CraEntry {
    /// The key for `secret` (derived when salted); `Err` says what is wrong.
    pub fn new(principal: Principal, secret: &str, salt: Option<CraSalt>) -> Result<Self, String> {
        let key = match &salt {
            None => secret.as_bytes().to_vec(),
            Some(s) => {
                if s.iterations == 0 || s.keylen == 0 || s.keylen > wampcra::MAX_KEYLEN {
                    return Err(format!(
                        "iterations must be at least 1 and keylen in 1..={}",
                        wampcra::MAX_KEYLEN
                    ));
                }
                wampcra::derive_key(secret, &s.salt, s.iterations, s.keylen).into_bytes()
            }
        };
        Ok(CraEntry {
            principal,
            key: Zeroizing::new(key),
            salt,
        })
    }
}

impl std::fmt::Debug for RealmAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealmAuth")
            .field("methods", &self.methods())
            .finish_non_exhaustive()
    }
}

impl RealmAuth {
    pub fn new(
        auth: &AuthConfig,
        scope: Scope<'_>,
        rng: &mut dyn rand_core::CryptoRng,
    ) -> Result<Self, ConfigError> {
        let label = scope.label();
        let check_role = |what: String, role: &str| match &scope {
            Scope::Realm(_, authz) if !authz.has_role(role) => Err(ConfigError::UnknownRole {
                scope: label.clone(),
                what,
                role: role.to_owned(),
            }),
            _ => Ok(()),
        };
        let duplicate = |method: &'static str, authid: &str| ConfigError::DuplicatePrincipal {
            scope: label.clone(),
            method,
            authid: authid.to_owned(),
        };
        let bad = |method: &'static str, authid: &str, reason: String| ConfigError::BadCredential {
            scope: label.clone(),
            method,
            authid: authid.to_owned(),
            reason,
        };
        // A realm's principals join that realm; only a transport's may name one.
        let principal = |method: &'static str, authid: &str, role: &str, realm: &Option<Uri>| {
            check_role(format!("{method} principal {authid:?}"), role)?;
            match (&scope, realm) {
                (Scope::Realm(name, _), Some(other)) if other != *name => Err(bad(
                    method,
                    authid,
                    format!("names realm {other}: only a transport's principals may"),
                )),
                (Scope::Realm(..), _) => Ok(Principal::fixed(role, None)),
                (Scope::Transport(_), _) => Ok(Principal::fixed(role, realm.clone())),
            }
        };
        let mut out = RealmAuth {
            anonymous: None,
            ticket: HashMap::new(),
            wampcra: HashMap::new(),
            cryptosign: HashMap::new(),
            cryptosign_keys: HashMap::new(),
            scram: HashMap::new(),
            autobahn_scram: HashMap::new(),
            tls: HashMap::new(),
            dynamic: auth.authenticators.clone(),
        };
        let dynamic = &auth.authenticators;
        for (method, has_static, has_dynamic) in [
            (
                "anonymous",
                auth.anonymous.is_some(),
                dynamic.anonymous.is_some(),
            ),
            ("ticket", !auth.ticket.is_empty(), dynamic.ticket.is_some()),
            (
                "wampcra",
                !auth.wampcra.is_empty(),
                dynamic.wampcra.is_some(),
            ),
            (
                "cryptosign",
                !auth.cryptosign.is_empty(),
                dynamic.cryptosign.is_some(),
            ),
        ] {
            if has_static && has_dynamic {
                return Err(ConfigError::StaticAndDynamic {
                    scope: label.clone(),
                    method,
                });
            }
        }
        if let Some(anon) = &auth.anonymous {
            out.anonymous = Some(principal("anonymous", "", &anon.role, &anon.realm)?);
        }
        for p in &auth.ticket {
            let who = principal("ticket", &p.authid, &p.role, &p.realm)?;
            let stored = ticket::StoredTicket::parse(&p.ticket)
                .map_err(|e| bad("ticket", &p.authid, e.to_string()))?;
            let entry = (who, stored);
            if out.ticket.insert(p.authid.clone(), entry).is_some() {
                return Err(duplicate("ticket", &p.authid));
            }
        }
        for p in &auth.wampcra {
            let who = principal("wampcra", &p.authid, &p.role, &p.realm)?;
            let entry = CraEntry::new(who, &p.secret, p.salt.clone())
                .map_err(|why| bad("wampcra", &p.authid, why))?;
            if out.wampcra.insert(p.authid.clone(), entry).is_some() {
                return Err(duplicate("wampcra", &p.authid));
            }
        }
        for p in &auth.cryptosign {
            let who = principal("cryptosign", &p.authid, &p.role, &p.realm)?;
            let mut keys = Vec::new();
            for hex_key in &p.authorized_keys {
                let key = parse_key(hex_key).ok_or_else(|| {
                    bad(
                        "cryptosign",
                        &p.authid,
                        format!("authorized key {hex_key:?} is not 64 hex digits"),
                    )
                })?;
                if let Some(other) = out.cryptosign_keys.insert(key, p.authid.clone()) {
                    if other != p.authid {
                        return Err(bad(
                            "cryptosign",
                            &p.authid,
                            format!("key {hex_key} also belongs to {other:?}"),
                        ));
                    }
                }
                keys.push(key);
            }
            if out
                .cryptosign
                .insert(p.authid.clone(), (who, keys))
                .is_some()
            {
                return Err(duplicate("cryptosign", &p.authid));
            }
        }
        for p in &auth.tls {
            let who = principal("tls", &p.authid, &p.role, &p.realm)?;
            let sha1 = normalize_fingerprint(&p.certificate_sha1);
            if sha1.len() != 40 || !sha1.bytes().all(|b| b.is_ascii_hexdigit()) {
                let why = format!(
                    "certificate_sha1 {:?} is not 20 bytes of hex",
                    p.certificate_sha1
                );
                return Err(bad("tls", &p.authid, why));
            }
            if out.tls.insert(sha1, (p.authid.clone(), who)).is_some() {
                return Err(bad(
                    "tls",
                    &p.authid,
                    "another principal has that certificate".into(),
                ));
            }
        }
        // The spec's `wamp-scram`, and Autobahn's (and Crossbar.io's) older `scram`.
        for (method, principals) in [("wamp-scram", &auth.scram), ("scram", &auth.autobahn_scram)] {
            for p in principals {
                let who = principal(method, &p.authid, &p.role, &p.realm)?;
                let credential =
                    scram_credential(method, p, rng).map_err(|why| bad(method, &p.authid, why))?;
                let table = match method {
                    "scram" => &mut out.autobahn_scram,
                    _ => &mut out.scram,
                };
                if table.insert(p.authid.clone(), (who, credential)).is_some() {
                    return Err(duplicate(method, &p.authid));
                }
            }
        }
        Ok(out)
    }

    /// The methods this realm accepts, in the router's order.
    pub fn methods(&self) -> Vec<&'static str> {
        let mut methods = Vec::new();
        let dynamic = &self.dynamic;
        if self.anonymous.is_some() || dynamic.anonymous.is_some() {
            methods.push("anonymous");
        }
        for (method, present) in [
            (
                "ticket",
                !self.ticket.is_empty() || dynamic.ticket.is_some(),
            ),
            (
                "wampcra",
                !self.wampcra.is_empty() || dynamic.wampcra.is_some(),
            ),
            (
                "cryptosign",
                !self.cryptosign.is_empty() || dynamic.cryptosign.is_some(),
            ),
            ("wamp-scram", !self.scram.is_empty()),
            ("scram", !self.autobahn_scram.is_empty()),
            ("tls", !self.tls.is_empty()),
        ] {
            if present {
                methods.push(method);
            }
        }
        methods
    }

    /// Starts authenticating a HELLO: the first method the client offers (anonymous when
    /// it offers none) that this realm (or transport) accepts and has a principal for.
    pub fn hello(
        &self,
        hello: &Hello,
        session: SessionId,
        binding: Option<&ChannelBinding>,
        client_cert: Option<&str>,
        rng: &mut dyn rand_core::CryptoRng,
    ) -> Step {
        let offered = hello.details.authmethods().unwrap_or_default();
        let offered = if offered.is_empty() {
            vec!["anonymous"]
        } else {
            offered
        };
        let authid = hello.details.authid();
        let empty = Map::new();
        let extra = hello.details.authextra().unwrap_or(&empty);
        let mut refusals = Vec::new();
        for method in &offered {
            if let Some(ask) = self.ask(method, &hello.realm, authid, extra) {
                return ask;
            }
            let attempt = match *method {
                "anonymous" => self.anonymous(rng),
                "ticket" => self.ticket(authid),
                "wampcra" => self.wampcra(authid, session, rng),
                "cryptosign" => self.cryptosign(authid, extra, binding, rng),
                "wamp-scram" => self.scram(authid, extra, rng),
                "scram" => self.autobahn_scram(authid, extra, rng),
                "tls" => self.tls(client_cert),
                _ => Attempt::NotAccepted,
            };
            match attempt {
                Attempt::NotAccepted => {}
                Attempt::NoPrincipal(why) => refusals.push(format!("{method}: {why}")),
                Attempt::Go(step) => return step,
            }
        }
        if refusals.is_empty() {
            Step::Abort(
                NO_AUTH_METHOD,
                format!(
                    "none of the offered authentication methods {offered:?} is accepted here; this realm and transport accept {:?}",
                    self.methods()
                ),
            )
        } else {
            Step::Abort(Uri::NOT_AUTHORIZED, refusals.join("; "))
        }
    }

    fn anonymous(&self, rng: &mut dyn rand_core::CryptoRng) -> Attempt {
        let Some(principal) = &self.anonymous else {
            return Attempt::NotAccepted;
        };
        // Anonymous sessions cannot claim an authid: it would let them pose as a
        // principal in eligible/exclude lists. They get a random one.
        let mut raw = [0u8; 9];
        rng.fill_bytes(&mut raw);
        let authid = format!("anonymous-{}", hex::encode(raw));
        Attempt::Go(Step::Welcome(identity(
            authid,
            principal.clone(),
            "anonymous",
        )))
    }

    /// `tls`: the client's verified certificate names the principal (no CHALLENGE).
    fn tls(&self, client_cert: Option<&str>) -> Attempt {
        if self.tls.is_empty() {
            return Attempt::NotAccepted;
        }
        let Some(sha1) = client_cert else {
            return Attempt::NoPrincipal("the client sent no TLS client certificate".into());
        };
        match self.tls.get(sha1) {
            Some((authid, principal)) => Attempt::Go(Step::Welcome(identity(
                authid.clone(),
                principal.clone(),
                "tls",
            ))),
            None => Attempt::NoPrincipal(format!("no principal has the certificate {sha1}")),
        }
    }

    /// Autobahn's `scram`: CHALLENGE with a nonce extending the client's, the salt and
    /// the Argon2id costs.
    fn autobahn_scram(
        &self,
        authid: Option<&str>,
        extra: &Map,
        rng: &mut dyn rand_core::CryptoRng,
    ) -> Attempt {
        if self.autobahn_scram.is_empty() {
            return Attempt::NotAccepted;
        }
        let Some(authid) = authid else {
            return Attempt::NoPrincipal("HELLO must name an authid".into());
        };
        let Some(client_nonce) = extra.get("nonce").and_then(Value::as_str) else {
            return Attempt::NoPrincipal("HELLO must carry authextra.nonce".into());
        };
        let Some(nonce) = scram_autobahn::server_nonce(client_nonce, rng) else {
            return Attempt::NoPrincipal("authextra.nonce is not base64".into());
        };
        let Some((principal, credential)) = self.autobahn_scram.get(authid) else {
            return Attempt::NoPrincipal(format!("no principal {authid:?}"));
        };
        let (iterations, memory) = match credential.kdf {
            scram::Kdf::Argon2id13 { iterations, memory } => (iterations, memory),
            // Refused when the configuration was read.
            _ => return Attempt::NoPrincipal("scram needs an argon2id13 credential".into()),
        };
        let extra = Dict::new()
            .with("nonce", nonce.as_str())
            .with("salt", credential.salt_base64().as_str())
            .with("kdf", scram_autobahn::KDF)
            .with("iterations", iterations)
            .with("memory", memory);
        Attempt::Go(Step::Challenge {
            method: "scram",
            extra,
            pending: Box::new(Pending::AutobahnScram {
                authid: authid.to_owned(),
                principal: principal.clone(),
                credential: credential.clone(),
                client_nonce: client_nonce.to_owned(),
                nonce,
            }),
        })
    }

    /// A method with an authenticator: ask it (ticket: once the client has sent its
    /// ticket), or refuse a HELLO that lacks what it needs.
    fn ask(&self, method: &str, realm: &Uri, authid: Option<&str>, extra: &Map) -> Option<Step> {
        let dynamic = &self.dynamic;
        let ask = |authenticator: &super::Authenticator, method: &'static str, then| {
            Step::Ask(Box::new(Ask::new(
                authenticator,
                realm,
                method,
                authid,
                extra,
                then,
            )))
        };
        match method {
            "anonymous" => dynamic
                .anonymous
                .as_ref()
                .map(|a| ask(a, "anonymous", Then::Welcome)),
            "ticket" => dynamic.ticket.as_ref().map(|a| Step::Challenge {
                method: "ticket",
                extra: Dict::new(),
                pending: Box::new(Pending::DynamicTicket(Box::new(Ask::new(
                    a,
                    realm,
                    "ticket",
                    authid,
                    extra,
                    Then::Welcome,
                )))),
            }),
            "wampcra" => dynamic.wampcra.as_ref().map(|a| match authid {
                Some(_) => ask(a, "wampcra", Then::WampCra),
                None => Step::Abort(
                    Uri::NOT_AUTHORIZED,
                    "wampcra: HELLO must name an authid".into(),
                ),
            }),
            "cryptosign" => dynamic.cryptosign.as_ref().map(|a| {
                let Some(key) = extra
                    .get("pubkey")
                    .and_then(Value::as_str)
                    .and_then(parse_key)
                else {
                    return Step::Abort(
                        Uri::NOT_AUTHORIZED,
                        "cryptosign: HELLO must carry authextra.pubkey, 64 hex digits".into(),
                    );
                };
                let requested = extra
                    .get("channel_binding")
                    .and_then(Value::as_str)
                    .and_then(ChannelBindingKind::from_wire);
                ask(a, "cryptosign", Then::Cryptosign { key, requested })
            }),
            _ => None,
        }
    }

    fn ticket(&self, authid: Option<&str>) -> Attempt {
        if self.ticket.is_empty() {
            return Attempt::NotAccepted;
        }
        let Some(authid) = authid else {
            return Attempt::NoPrincipal("HELLO must name an authid".into());
        };
        let Some((principal, expected)) = self.ticket.get(authid) else {
            return Attempt::NoPrincipal(format!("no principal {authid:?}"));
        };
        Attempt::Go(Step::Challenge {
            method: "ticket",
            extra: Dict::new(),
            pending: Box::new(Pending::Ticket {
                authid: authid.to_owned(),
                principal: principal.clone(),
                expected: expected.clone(),
            }),
        })
    }

    fn wampcra(
        &self,
        authid: Option<&str>,
        session: SessionId,
        rng: &mut dyn rand_core::CryptoRng,
    ) -> Attempt {
        if self.wampcra.is_empty() {
            return Attempt::NotAccepted;
        }
        let Some(authid) = authid else {
            return Attempt::NoPrincipal("HELLO must name an authid".into());
        };
        let Some(entry) = self.wampcra.get(authid) else {
            return Attempt::NoPrincipal(format!("no principal {authid:?}"));
        };
        Attempt::Go(cra_challenge(authid, entry, session, rng))
    }

    fn cryptosign(
        &self,
        authid: Option<&str>,
        extra: &Map,
        binding: Option<&ChannelBinding>,
        rng: &mut dyn rand_core::CryptoRng,
    ) -> Attempt {
        if self.cryptosign.is_empty() {
            return Attempt::NotAccepted;
        }
        let Some(pubkey) = extra.get("pubkey").and_then(Value::as_str) else {
            return Attempt::NoPrincipal("HELLO must carry authextra.pubkey".into());
        };
        let Some(key) = parse_key(pubkey) else {
            return Attempt::NoPrincipal("authextra.pubkey must be 64 hex digits".into());
        };
        let principal = match authid {
            Some(authid) => self
                .cryptosign
                .get(authid)
                .filter(|(_, keys)| keys.contains(&key))
                .map(|(principal, _)| (authid.to_owned(), principal.clone())),
            None => self.cryptosign_keys.get(&key).and_then(|authid| {
                self.cryptosign
                    .get(authid)
                    .map(|(principal, _)| (authid.clone(), principal.clone()))
            }),
        };
        let Some((authid, principal)) = principal else {
            return Attempt::NoPrincipal(format!(
                "public key {pubkey} is not authorized{}",
                authid.map(|a| format!(" for {a:?}")).unwrap_or_default()
            ));
        };
        let requested = extra
            .get("channel_binding")
            .and_then(Value::as_str)
            .and_then(ChannelBindingKind::from_wire);
        Attempt::Go(cryptosign_challenge(
            authid, principal, key, requested, binding, rng,
        ))
    }

    fn scram(
        &self,
        authid: Option<&str>,
        extra: &Map,
        rng: &mut dyn rand_core::CryptoRng,
    ) -> Attempt {
        if self.scram.is_empty() {
            return Attempt::NotAccepted;
        }
        let Some(authid) = authid else {
            return Attempt::NoPrincipal("HELLO must name an authid".into());
        };
        let Some(client_nonce) = extra.get("nonce").and_then(Value::as_str) else {
            return Attempt::NoPrincipal("HELLO must carry authextra.nonce".into());
        };
        let requested = match extra.get("channel_binding") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_str().and_then(ChannelBindingKind::from_wire) {
                Some(kind) => Some(kind),
                None => {
                    return Attempt::NoPrincipal(format!(
                        "unsupported channel_binding {v:?} in authextra"
                    ))
                }
            },
        };
        let Some((principal, credential)) = self.scram.get(authid) else {
            return Attempt::NoPrincipal(format!("no principal {authid:?}"));
        };
        let nonce = format!("{client_nonce}{}", nonce(rng));
        Attempt::Go(Step::Challenge {
            method: "wamp-scram",
            extra: credential.challenge_extra(&nonce),
            pending: Box::new(Pending::Scram {
                authid: authid.to_owned(),
                principal: principal.clone(),
                credential: credential.clone(),
                client_nonce: client_nonce.to_owned(),
                nonce,
                requested,
            }),
        })
    }
}

/// A SCRAM principal's stored credential: derived from its password (with a random salt)
/// or decoded from the one given. `method` is `wamp-scram` or Autobahn's `scram` (which
/// derives differently and knows Argon2id only).
fn scram_credential(
    method: &str,
    p: &super::ScramPrincipal,
    rng: &mut dyn rand_core::CryptoRng,
) -> Result<StoredCredential, String> {
    let kdf = p.kdf.to_kdf();
    let argon = match kdf {
        scram::Kdf::Argon2id13 { iterations, memory } => Some((iterations, memory)),
        _ => None,
    };
    if method == "scram" && argon.is_none() {
        return Err("Autobahn's scram knows only the argon2id13 kdf".into());
    }
    match (&p.password, &p.credential) {
        (Some(password), None) => {
            let mut salt = [0u8; 16];
            rng.fill_bytes(&mut salt);
            match (method, argon) {
                ("scram", Some((iterations, memory))) => {
                    scram_autobahn::derive_credential(password, &salt, iterations, memory)
                }
                _ => scram::derive_credential(password, &salt, kdf),
            }
            .map_err(|e| e.to_string())
        }
        (None, Some(c)) => {
            let decode = |what: &str, s: &str| B64.decode(s).map_err(|e| format!("{what}: {e}"));
            let key32 = |what: &str, s: &str| {
                decode(what, s)?
                    .try_into()
                    .map_err(|_| format!("{what} must be 32 bytes"))
            };
            Ok(StoredCredential {
                kdf,
                salt: decode("salt", &c.salt)?,
                stored_key: key32("stored_key", &c.stored_key)?,
                server_key: key32("server_key", &c.server_key)?,
            })
        }
        _ => Err("give either a password or a credential".into()),
    }
}

/// The WAMP-CRA CHALLENGE for `authid` with `entry`'s key.
pub(crate) fn cra_challenge(
    authid: &str,
    entry: &CraEntry,
    session: SessionId,
    rng: &mut dyn rand_core::CryptoRng,
) -> Step {
    // The challenge is a JSON string the client signs as is. The spec also lists a
    // `timestamp`; the core has no wall clock, and the handshake deadline is what
    // bounds "in due time", so it is left out (clients do not read it).
    let challenge = serde_json::json!({
        "authid": authid,
        "authrole": entry.principal.role,
        "authmethod": "wampcra",
        "authprovider": entry.principal.provider,
        "nonce": nonce(rng),
        "session": session.get(),
    })
    .to_string();
    let mut extra = Dict::new().with("challenge", challenge.as_str());
    if let Some(salt) = &entry.salt {
        extra = extra
            .with("salt", salt.salt.as_str())
            .with("iterations", salt.iterations)
            .with("keylen", salt.keylen as u64);
    }
    Step::Challenge {
        method: "wampcra",
        extra,
        pending: Box::new(Pending::WampCra {
            authid: authid.to_owned(),
            principal: entry.principal.clone(),
            key: entry.key.clone(),
            challenge,
        }),
    }
}

/// The cryptosign CHALLENGE for `authid`, whose key is `key`, bound to the channel when
/// the client asked for binding data the transport has.
pub(crate) fn cryptosign_challenge(
    authid: String,
    principal: Principal,
    key: [u8; 32],
    requested: Option<ChannelBindingKind>,
    binding: Option<&ChannelBinding>,
    rng: &mut dyn rand_core::CryptoRng,
) -> Step {
    // Bind only when the transport has data of the requested kind; otherwise the
    // CHALLENGE says `null` and a client that insists on binding gives up.
    let binding = binding.filter(|b| Some(b.kind) == requested).cloned();
    let mut challenge = [0u8; 32];
    rng.fill_bytes(&mut challenge);
    let extra = Dict::new().with("challenge", hex::encode(challenge)).with(
        "channel_binding",
        binding
            .as_ref()
            .map_or(Value::Null, |b| Value::from(b.kind.as_str())),
    );
    Step::Challenge {
        method: "cryptosign",
        extra,
        pending: Box::new(Pending::Cryptosign {
            authid,
            principal,
            pubkey: key,
            challenge,
            binding,
        }),
    }
}

enum Attempt {
    /// The realm does not accept this method.
    NotAccepted,
    /// It does, but not for this client (and why).
    NoPrincipal(String),
    Go(Step),
}

/// What to do with a HELLO.
pub(crate) enum Step {
    /// Join at once.
    Welcome(Identity),
    /// Send CHALLENGE and wait for AUTHENTICATE.
    Challenge {
        method: &'static str,
        extra: Dict,
        pending: Box<Pending>,
    },
    /// Ask a dynamic authenticator, then go on as its answer says.
    Ask(Box<Ask>),
    /// Refuse with ABORT.
    Abort(Uri, String),
}

/// What an AUTHENTICATE leads to.
pub(crate) enum Verdict {
    /// Join.
    Welcome(Identity),
    /// Ask a dynamic authenticator first (ticket).
    Ask(Box<Ask>),
}

/// A CHALLENGE waiting for its AUTHENTICATE.
pub(crate) enum Pending {
    /// No CHALLENGE yet: the router waits for the authenticator's answer to its call
    /// `request`.
    Asking {
        request: wamp_proto::RequestId,
        ask: Box<Ask>,
    },
    /// A ticket for a dynamic authenticator to judge.
    DynamicTicket(Box<Ask>),
    Ticket {
        authid: String,
        principal: Principal,
        expected: ticket::StoredTicket,
    },
    WampCra {
        authid: String,
        principal: Principal,
        key: Zeroizing<Vec<u8>>,
        challenge: String,
    },
    Cryptosign {
        authid: String,
        principal: Principal,
        pubkey: [u8; 32],
        challenge: [u8; 32],
        binding: Option<ChannelBinding>,
    },
    AutobahnScram {
        authid: String,
        principal: Principal,
        credential: StoredCredential,
        client_nonce: String,
        nonce: String,
    },
    Scram {
        authid: String,
        principal: Principal,
        credential: StoredCredential,
        client_nonce: String,
        nonce: String,
        requested: Option<ChannelBindingKind>,
    },
}

impl Pending {
    /// Checks the AUTHENTICATE; `Err` is the message for ABORT `wamp.error.not_authorized`.
    pub fn authenticate(
        self,
        answer: &Authenticate,
        binding: Option<&ChannelBinding>,
    ) -> Result<Verdict, String> {
        match self {
            Pending::Asking { .. } => {
                Err("AUTHENTICATE before any CHALLENGE (the authenticator has not answered)".into())
            }
            Pending::AutobahnScram {
                authid,
                principal,
                credential,
                client_nonce,
                nonce,
            } => {
                let auth_message = scram_autobahn::auth_message(
                    &authid,
                    &client_nonce,
                    &nonce,
                    &credential.salt_base64(),
                    credential.kdf.iterations(),
                );
                scram::verify_client_proof(
                    &credential.stored_key,
                    &auth_message,
                    &answer.signature,
                )
                .map_err(|_| format!("scram: wrong proof for {authid:?}"))?;
                let mut id = identity(authid, principal, "scram");
                id.authextra.insert(
                    "scram_server_signature".into(),
                    Value::String(scram::server_signature(
                        &credential.server_key,
                        &auth_message,
                    )),
                );
                Ok(Verdict::Welcome(id))
            }
            Pending::DynamicTicket(mut ask) => {
                ask.details
                    .insert("ticket".into(), Value::from(answer.signature.as_str()));
                Ok(Verdict::Ask(ask))
            }
            Pending::Ticket {
                authid,
                principal,
                expected,
            } => {
                expected
                    .verify(&answer.signature)
                    .map_err(|_| format!("wrong ticket for {authid:?}"))?;
                Ok(Verdict::Welcome(identity(authid, principal, "ticket")))
            }
            Pending::WampCra {
                authid,
                principal,
                key,
                challenge,
            } => {
                wampcra::verify(&key, &challenge, &answer.signature)
                    .map_err(|_| format!("wrong WAMP-CRA signature for {authid:?}"))?;
                Ok(Verdict::Welcome(identity(authid, principal, "wampcra")))
            }
            Pending::Cryptosign {
                authid,
                principal,
                pubkey,
                challenge,
                binding,
            } => {
                cryptosign::verify(pubkey, &challenge, binding.as_ref(), &answer.signature)
                    .map_err(|e| format!("cryptosign signature for {authid:?} rejected: {e}"))?;
                Ok(Verdict::Welcome(identity(authid, principal, "cryptosign")))
            }
            Pending::Scram {
                authid,
                principal,
                credential,
                client_nonce,
                nonce,
                requested,
            } => {
                let extra = &answer.extra;
                if extra.get_str("nonce") != Some(nonce.as_str()) {
                    return Err(
                        "wamp-scram: AUTHENTICATE does not carry the CHALLENGE nonce".into(),
                    );
                }
                let answered = match extra.get("channel_binding") {
                    None | Some(Value::Null) => None,
                    Some(v) => v.as_str().and_then(ChannelBindingKind::from_wire),
                };
                if answered != requested {
                    return Err("wamp-scram: the channel binding differs from HELLO's".into());
                }
                let cbind = match requested {
                    None => None,
                    Some(kind) => {
                        // The proof must cover this connection's own binding data, not
                        // whatever the client claims.
                        let ours = binding.filter(|b| b.kind == kind).ok_or_else(|| {
                            format!("wamp-scram: the transport has no {kind} channel binding")
                        })?;
                        let claimed = extra.get_str("cbind_data").and_then(|s| B64.decode(s).ok());
                        if claimed.as_deref() != Some(&ours.data[..]) {
                            return Err("wamp-scram: cbind_data does not match the channel".into());
                        }
                        Some((kind, ours.data))
                    }
                };
                let auth_message = AuthMessageParts {
                    authid: &authid,
                    client_nonce: &client_nonce,
                    nonce: &nonce,
                    salt: &credential.salt_base64(),
                    iterations: credential.kdf.iterations(),
                    channel_binding: cbind.as_ref().map(|(k, d)| (*k, &d[..])),
                }
                .auth_message();
                scram::verify_client_proof(
                    &credential.stored_key,
                    &auth_message,
                    &answer.signature,
                )
                .map_err(|_| format!("wamp-scram: wrong proof for {authid:?}"))?;
                let mut id = identity(authid, principal, "wamp-scram");
                id.authextra.insert(
                    "verifier".into(),
                    Value::String(scram::server_signature(
                        &credential.server_key,
                        &auth_message,
                    )),
                );
                Ok(Verdict::Welcome(id))
            }
        }
    }
}

pub(crate) fn identity(authid: String, principal: Principal, method: &'static str) -> Identity {
    Identity {
        authid,
        authrole: principal.role,
        authmethod: method,
        authprovider: principal.provider,
        authextra: principal.extra,
        realm: principal.realm,
    }
}

/// 16 random bytes, base64.
fn nonce(rng: &mut dyn rand_core::CryptoRng) -> String {
    let mut raw = [0u8; 16];
    rng.fill_bytes(&mut raw);
    B64.encode(raw)
}

pub(crate) fn parse_key(hex_key: &str) -> Option<[u8; 32]> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(hex_key.trim(), &mut key).ok()?;
    Some(key)
}

/// A certificate fingerprint as compared: hex digits only, upper case.
pub(crate) fn normalize_fingerprint(sha1: &str) -> String {
    sha1.chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A method's name as the metrics label it (`other` for methods the router does not
/// know, so a client cannot add labels).
pub(crate) fn method_name(method: &str) -> &'static str {
    match method {
        "anonymous" => "anonymous",
        "ticket" => "ticket",
        "wampcra" => "wampcra",
        "cryptosign" => "cryptosign",
        "wamp-scram" => "wamp-scram",
        "scram" => "scram",
        "tls" => "tls",
        _ => "other",
    }
}

/// The roles a client announced, as a `Details` with only `roles` (for feature checks).
pub(crate) fn client_roles(hello: &Details) -> Details {
    match hello.roles() {
        Some(roles) => Dict::new().with("roles", roles.clone()),
        None => Dict::new(),
    }
}
