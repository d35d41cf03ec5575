//! Authenticators and authorizers written in Rust, for applications that embed the
//! router: [`RouterBuilder::authenticator`](super::RouterBuilder::authenticator) and
//! [`RouterBuilder::authorizer`](super::RouterBuilder::authorizer).
//!
//! A hook takes the place of a WAMP procedure: configure a realm's (or transport's)
//! authenticator or a role's authorizer with the hook's URI, as for a procedure some
//! session registers, and the router asks the hook instead of calling a callee, with the
//! same questions and the same meaning of the answers (see
//! `wamp_router::Authenticators` and `wamp_router::RoleConfig::authorizer`), within the
//! same `authenticator_timeout`.

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use wamp_proto::{Map, Uri, Value};

use crate::error::WampError;

/// What a router hook answers: a value, or a WAMP error.
pub(crate) type HookAnswer = Result<Value, WampError>;

/// A hook the router task calls with the question's arguments.
pub(crate) type Hook = Arc<dyn Fn(Vec<Value>) -> BoxFuture<'static, HookAnswer> + Send + Sync>;

fn text(map: &Map, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// What an authenticator is asked: a client wants to join `realm` as `authid` by
/// `authmethod`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthRequest {
    /// The realm the client asked for.
    pub realm: String,
    /// The authid it claimed.
    pub authid: Option<String>,
    /// `anonymous`, `ticket`, `wampcra` or `cryptosign`.
    pub authmethod: String,
    /// Everything the router passes (`authextra`, `session`, `transport`, `ticket`), as
    /// Crossbar.io passes it to its authenticators.
    pub details: Map,
}

impl AuthRequest {
    fn from_args(args: &[Value]) -> AuthRequest {
        let details = match args.get(2) {
            Some(Value::Map(m)) => m.clone(),
            _ => Map::new(),
        };
        AuthRequest {
            realm: args
                .first()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            authid: args.get(1).and_then(Value::as_str).map(str::to_owned),
            authmethod: text(&details, "authmethod").unwrap_or_default(),
            details,
        }
    }

    /// The ticket a `ticket` client sent.
    pub fn ticket(&self) -> Option<&str> {
        self.details.get("ticket").and_then(Value::as_str)
    }

    /// The public key (hex) a `cryptosign` client offered.
    pub fn pubkey(&self) -> Option<&str> {
        match self.details.get("authextra") {
            Some(Value::Map(extra)) => extra.get("pubkey").and_then(Value::as_str),
            _ => None,
        }
    }
}

/// An authenticator's yes: the role (and what else the session gets).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AuthGrant {
    /// The role the session gets.
    pub role: String,
    /// Its authid, instead of the one it claimed.
    pub authid: Option<String>,
    /// The realm it joins, instead of the one it asked for.
    pub realm: Option<String>,
    /// WELCOME's `authextra`.
    pub extra: Map,
    /// `wampcra`: the secret the client must sign with.
    pub secret: Option<String>,
    /// `wampcra`: PBKDF2 salt, iterations and key length of a derived key.
    pub salt: Option<(String, u32, u32)>,
    /// `cryptosign`: the public key (hex) the client must hold.
    pub pubkey: Option<String>,
}

impl AuthGrant {
    /// A session of `role`.
    pub fn role(role: impl Into<String>) -> AuthGrant {
        AuthGrant {
            role: role.into(),
            ..AuthGrant::default()
        }
    }

    /// Sets [`authid`](AuthGrant::authid).
    #[must_use]
    pub fn authid(mut self, authid: impl Into<String>) -> AuthGrant {
        self.authid = Some(authid.into());
        self
    }

    /// Sets [`realm`](AuthGrant::realm).
    #[must_use]
    pub fn realm(mut self, realm: impl Into<String>) -> AuthGrant {
        self.realm = Some(realm.into());
        self
    }

    /// Sets [`secret`](AuthGrant::secret) (WAMP-CRA).
    #[must_use]
    pub fn secret(mut self, secret: impl Into<String>) -> AuthGrant {
        self.secret = Some(secret.into());
        self
    }

    /// Sets [`pubkey`](AuthGrant::pubkey) (cryptosign).
    #[must_use]
    pub fn pubkey(mut self, pubkey: impl Into<String>) -> AuthGrant {
        self.pubkey = Some(pubkey.into());
        self
    }

    /// The answer as an authenticator procedure would give it.
    fn into_value(self) -> Value {
        let mut m = Map::new();
        m.insert("role".into(), Value::from(self.role.as_str()));
        let mut put = |key: &str, value: Option<String>| {
            if let Some(v) = value {
                m.insert(key.into(), Value::from(v.as_str()));
            }
        };
        put("authid", self.authid);
        put("realm", self.realm);
        put("secret", self.secret);
        put("pubkey", self.pubkey);
        if let Some((salt, iterations, keylen)) = self.salt {
            m.insert("salt".into(), Value::from(salt.as_str()));
            m.insert("iterations".into(), Value::UInt(u64::from(iterations)));
            m.insert("keylen".into(), Value::UInt(u64::from(keylen)));
        }
        if !self.extra.is_empty() {
            m.insert("extra".into(), Value::Map(self.extra));
        }
        Value::Map(m)
    }
}

/// Decides who may join: an authenticator written in Rust. Refuse with an error (the
/// client gets ABORT with its URI and first argument, say `wamp.error.not_authorized`).
///
/// A closure `Fn(AuthRequest) -> impl Future<Output = Result<AuthGrant, WampError>>`
/// is one.
pub trait Authenticate: Send + Sync + 'static {
    /// Answers one client.
    fn authenticate(
        &self,
        request: AuthRequest,
    ) -> BoxFuture<'static, Result<AuthGrant, WampError>>;
}

impl<F, Fut> Authenticate for F
where
    F: Fn(AuthRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<AuthGrant, WampError>> + Send + 'static,
{
    fn authenticate(
        &self,
        request: AuthRequest,
    ) -> BoxFuture<'static, Result<AuthGrant, WampError>> {
        self(request).boxed()
    }
}

/// What an authorizer is asked: may this session do `action` on `uri`?
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthzRequest {
    /// The session, as `wamp.session.get` describes it (`session`, `authid`,
    /// `authrole`, `authmethod`, `transport`, ...).
    pub session: Map,
    /// The procedure or topic (for a pattern subscription or registration, the
    /// pattern).
    pub uri: String,
    /// `call`, `register`, `publish` or `subscribe`.
    pub action: String,
    /// The request's options.
    pub options: Map,
}

impl AuthzRequest {
    fn from_args(args: &[Value]) -> AuthzRequest {
        let map = |i: usize| match args.get(i) {
            Some(Value::Map(m)) => m.clone(),
            _ => Map::new(),
        };
        let text = |i: usize| {
            args.get(i)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        AuthzRequest {
            session: map(0),
            uri: text(1),
            action: text(2),
            options: map(3),
        }
    }

    /// The session's authid.
    pub fn authid(&self) -> Option<&str> {
        self.session.get("authid").and_then(Value::as_str)
    }

    /// The session's role.
    pub fn authrole(&self) -> Option<&str> {
        self.session.get("authrole").and_then(Value::as_str)
    }
}

/// An authorizer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthzDecision {
    /// Whether the request may go on.
    pub allow: bool,
    /// Disclose the caller or publisher to the callee or subscribers.
    pub disclose: bool,
    /// Keep the decision for this session, URI and action (otherwise asked again).
    pub cache: bool,
}

impl AuthzDecision {
    /// Allowed.
    pub fn allow() -> AuthzDecision {
        AuthzDecision {
            allow: true,
            disclose: false,
            cache: false,
        }
    }

    /// Denied.
    pub fn deny() -> AuthzDecision {
        AuthzDecision {
            allow: false,
            ..AuthzDecision::allow()
        }
    }

    /// Also discloses the caller or publisher.
    #[must_use]
    pub fn disclose(mut self) -> AuthzDecision {
        self.disclose = true;
        self
    }

    /// Also keeps the decision for the session's later requests alike.
    #[must_use]
    pub fn cache(mut self) -> AuthzDecision {
        self.cache = true;
        self
    }

    fn into_value(self) -> Value {
        let mut m = Map::new();
        m.insert("allow".into(), Value::Bool(self.allow));
        m.insert("disclose".into(), Value::Bool(self.disclose));
        m.insert("cache".into(), Value::Bool(self.cache));
        Value::Map(m)
    }
}

/// Decides what a role's sessions may do: an authorizer written in Rust. An error
/// denies (with `wamp.error.not_authorized` and the error in the reason).
///
/// A closure `Fn(AuthzRequest) -> impl Future<Output = Result<AuthzDecision, WampError>>`
/// is one.
pub trait Authorize: Send + Sync + 'static {
    /// Decides one request.
    fn authorize(
        &self,
        request: AuthzRequest,
    ) -> BoxFuture<'static, Result<AuthzDecision, WampError>>;
}

impl<F, Fut> Authorize for F
where
    F: Fn(AuthzRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<AuthzDecision, WampError>> + Send + 'static,
{
    fn authorize(
        &self,
        request: AuthzRequest,
    ) -> BoxFuture<'static, Result<AuthzDecision, WampError>> {
        self(request).boxed()
    }
}

/// The hook for an authenticator.
pub(crate) fn authenticator(hook: impl Authenticate) -> Hook {
    Arc::new(move |args: Vec<Value>| {
        hook.authenticate(AuthRequest::from_args(&args))
            .map(|answer| answer.map(AuthGrant::into_value))
            .boxed()
    })
}

/// The hook for an authorizer.
pub(crate) fn authorizer(hook: impl Authorize) -> Hook {
    Arc::new(move |args: Vec<Value>| {
        hook.authorize(AuthzRequest::from_args(&args))
            .map(|answer| answer.map(AuthzDecision::into_value))
            .boxed()
    })
}

/// A WAMP error as the router takes it: its URI, and its first argument as the message.
pub(crate) fn error_parts(error: &WampError) -> (Uri, String) {
    let why = match error
        .args::<Vec<Value>>()
        .ok()
        .and_then(|a| a.into_iter().next())
    {
        Some(Value::String(s)) => s,
        Some(other) => format!("{other:?}"),
        None => String::new(),
    };
    (error.uri().clone(), why)
}
