//! How a [`Router`](super::Router) is set up: realms, roles with per-URI permissions,
//! the principals each authentication method accepts, and the limits that keep every
//! queue and table bounded.
//!
//! Every type here is `serde::Deserialize`, so a configuration file (the command-line
//! tool reads TOML) maps onto it directly. Durations are seconds in files (`10`, `0.5`).
//!
//! ```
//! use wamp_router::{Allow, Permission, RealmConfig, RoleConfig, RouterConfig};
//!
//! let config = RouterConfig::new()
//!     // Anyone may join `realm1` and do anything there.
//!     .realm(RealmConfig::anonymous("realm1").unwrap())
//!     // `secure` wants a ticket; `user` may call and subscribe under `com.app.` only.
//!     .realm(
//!         RealmConfig::new("secure")
//!             .unwrap()
//!             .role(RoleConfig::new("user").permit(Permission::prefix(
//!                 "com.app.",
//!                 Allow { call: true, subscribe: true, ..Allow::NONE },
//!             )))
//!             .ticket("joe", "user", "secret!!!"),
//!     );
//! assert_eq!(config.realms.len(), 2);
//! ```

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use wamp_proto::auth::scram::Kdf;
use wamp_proto::{InvalidUri, Uri};

/// The whole router: its realms and limits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    /// The realms sessions may join. A HELLO for any other realm is refused with
    /// `wamp.error.no_such_realm`.
    #[serde(default)]
    pub realms: Vec<RealmConfig>,
    /// Timeouts and bounds.
    #[serde(default)]
    pub limits: Limits,
    /// Authentication by transport, for the listeners that name one (in place of the
    /// realms' own `auth`).
    #[serde(skip)]
    pub transport_auth: Vec<TransportAuth>,
    /// Authenticator and authorizer procedures the runtime answers itself
    /// ([`RouterEvent::Ask`](super::RouterEvent::Ask)) instead of a callee: the hooks of
    /// an application that embeds the router.
    #[serde(skip)]
    pub hooks: Vec<Uri>,
}

impl RouterConfig {
    /// No realms, default limits.
    pub fn new() -> Self {
        RouterConfig::default()
    }

    /// Adds a realm.
    #[must_use]
    pub fn realm(mut self, realm: RealmConfig) -> Self {
        self.realms.push(realm);
        self
    }

    /// Sets the limits.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Has the runtime answer `procedure` itself (see [`hooks`](RouterConfig::hooks)).
    #[must_use]
    pub fn hook(mut self, procedure: Uri) -> Self {
        self.hooks.push(procedure);
        self
    }

    /// Adds the authentication of a transport, for listeners that name it.
    #[must_use]
    pub fn transport_auth(mut self, name: &str, auth: AuthConfig) -> Self {
        self.transport_auth.push(TransportAuth {
            name: name.to_owned(),
            auth,
        });
        self
    }
}

/// Timeouts and bounds. Every queue and table the router keeps has one.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// How long a new connection may take to send HELLO and finish authenticating (and
    /// how long a connection may stay open without a session after a GOODBYE). Default
    /// 10 s.
    #[serde(deserialize_with = "seconds")]
    pub handshake_timeout: Duration,
    /// How long a dynamic authenticator may take to answer; then the client gets ABORT
    /// `wamp.error.authentication_failed`. Default 5 s (within the handshake timeout).
    #[serde(deserialize_with = "seconds")]
    pub authenticator_timeout: Duration,
    /// How long the router waits for the reply to a GOODBYE it sent (kill, shutdown)
    /// before it drops the connection. Default 5 s.
    #[serde(deserialize_with = "seconds")]
    pub goodbye_timeout: Duration,
    /// Bytes of encoded messages waiting for one connection above which it is
    /// *congested*: the router stops taking input from the connections that feed it
    /// (publishers whose events it receives, callers and callees whose messages go to
    /// it; [`RouterEvent::InputPaused`](super::RouterEvent::InputPaused)) until its
    /// backlog falls to [`transmit_low_water`](Limits::transmit_low_water). Default
    /// 256 KiB.
    pub transmit_high_water: usize,
    /// Bytes waiting for a congested connection at or below which the connections that
    /// fed it may send again. Default 64 KiB.
    pub transmit_low_water: usize,
    /// The hard budget: a connection with more bytes than this waiting for it loses its
    /// session as a slow consumer ([`LeaveReason::SlowConsumer`](super::LeaveReason::SlowConsumer)).
    /// Backpressure keeps a reader that makes progress far below it; it is above the
    /// largest message a listener accepts by default (16 MiB), so one big event does not
    /// cut its subscribers. Default 64 MiB.
    pub max_transmit_bytes: usize,
    /// How long a connection whose writer is full
    /// ([`Router::pause_transmit`](super::Router::pause_transmit)) may make no progress
    /// at all before it loses its session as a slow consumer. Default 10 s.
    #[serde(deserialize_with = "seconds")]
    pub write_timeout: Duration,
    /// The most calls one session may have in flight as a caller; more are refused with
    /// `wamp.error.unavailable`. Default 4096.
    pub max_calls_per_session: usize,
    /// The most retained events per realm (one per topic); the oldest topic's event is
    /// forgotten when a new topic would exceed it. Default 10,000.
    pub max_retained_events: usize,
    /// The most testaments one session may hold (both scopes together). Default 64.
    pub max_testaments: usize,
    /// The most subscriptions one session may hold; more are refused with
    /// `wamp.error.unavailable`. Default 4096.
    pub max_subscriptions_per_session: usize,
    /// The most registrations one session may hold; more are refused with
    /// `wamp.error.unavailable`. Default 4096.
    pub max_registrations_per_session: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handshake_timeout: Duration::from_secs(10),
            authenticator_timeout: Duration::from_secs(5),
            goodbye_timeout: Duration::from_secs(5),
            transmit_high_water: 256 << 10,
            transmit_low_water: 64 << 10,
            max_transmit_bytes: 64 << 20,
            write_timeout: Duration::from_secs(10),
            max_calls_per_session: 4096,
            max_retained_events: 10_000,
            max_testaments: 64,
            max_subscriptions_per_session: 4096,
            max_registrations_per_session: 4096,
        }
    }
}

/// A realm: its roles (what sessions may do) and how sessions authenticate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealmConfig {
    /// The realm URI.
    #[serde(deserialize_with = "uri")]
    pub name: Uri,
    /// The roles and their permissions. A session whose role is not listed may do
    /// nothing.
    #[serde(default)]
    pub roles: Vec<RoleConfig>,
    /// The accepted authentication methods and principals.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Whether the session, registration, subscription and testament meta API is served
    /// (still subject to the roles' `call`/`subscribe` permissions). Default true.
    #[serde(default = "yes")]
    pub meta_api: bool,
}

fn yes() -> bool {
    true
}

impl RealmConfig {
    /// A realm with no roles and no authentication methods (nobody can join until some
    /// are added).
    pub fn new(name: &str) -> Result<Self, InvalidUri> {
        Ok(RealmConfig {
            name: Uri::parse(name)?,
            roles: Vec::new(),
            auth: AuthConfig::default(),
            meta_api: true,
        })
    }

    /// A realm anyone may join anonymously, as role `anonymous`, which may do everything.
    pub fn anonymous(name: &str) -> Result<Self, InvalidUri> {
        Ok(RealmConfig::new(name)?
            .role(RoleConfig::new("anonymous").permit(Permission::everything()))
            .allow_anonymous("anonymous"))
    }

    /// Adds a role.
    #[must_use]
    pub fn role(mut self, role: RoleConfig) -> Self {
        self.roles.push(role);
        self
    }

    /// Accepts anonymous sessions, with the given role.
    #[must_use]
    pub fn allow_anonymous(mut self, role: &str) -> Self {
        self.auth = self.auth.anonymous(role);
        self
    }

    /// Adds a `ticket` principal.
    #[must_use]
    pub fn ticket(mut self, authid: &str, role: &str, ticket: &str) -> Self {
        self.auth = self.auth.ticket(authid, role, ticket);
        self
    }

    /// Adds a `wampcra` principal with a plain secret.
    #[must_use]
    pub fn wampcra(mut self, authid: &str, role: &str, secret: &str) -> Self {
        self.auth = self.auth.wampcra(authid, role, secret);
        self
    }

    /// Adds a `wampcra` principal whose key is derived from the secret with PBKDF2
    /// (the client is told `salt`, `iterations` and `keylen` in the CHALLENGE).
    #[must_use]
    pub fn wampcra_salted(mut self, authid: &str, role: &str, secret: &str, salt: CraSalt) -> Self {
        self.auth = self.auth.wampcra_salted(authid, role, secret, salt);
        self
    }

    /// Adds a `cryptosign` principal with its authorized Ed25519 public keys (hex).
    #[must_use]
    pub fn cryptosign(mut self, authid: &str, role: &str, authorized_keys: &[&str]) -> Self {
        self.auth = self.auth.cryptosign(authid, role, authorized_keys);
        self
    }

    /// Adds a `wamp-scram` principal; its credential is derived from `password` with
    /// `kdf` (and a random salt) when the router starts.
    #[must_use]
    pub fn scram(mut self, authid: &str, role: &str, password: &str, kdf: ScramKdf) -> Self {
        self.auth = self.auth.scram(authid, role, password, kdf);
        self
    }
}

/// A role and what it may do.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// The role name (the `authrole` of its sessions).
    pub name: String,
    /// Per-URI permissions. For a URI, one permission decides, by Crossbar.io's rule
    /// (see [`PermissionMatch::Wildcard`]): roughly, the longest that begins the URI,
    /// and a covering wildcard over a prefix. No match means nothing is allowed.
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// A procedure that decides instead of `permissions` (dynamic authorization,
    /// Crossbar.io's role `authorizer`): for each call, registration, publication and
    /// subscription of the role's sessions the router calls it on the realm with
    /// `(session, uri, action, options)` (`session` as `wamp.session.get` describes it,
    /// `action` one of `call`, `register`, `publish`, `subscribe`, `options` the
    /// message's) and it answers `true`/`false` or `{"allow": .., "disclose": ..,
    /// "cache": ..}`. `cache` keeps the answer for that session, URI and action; without
    /// it the next such request asks again. While the answer is awaited, the session's
    /// later messages wait behind that one (the transport's input is held). An ERROR,
    /// no registration or no answer within [`Limits::authenticator_timeout`] denies with
    /// `wamp.error.not_authorized` saying why. Testaments of such sessions are refused.
    /// Unlike Crossbar.io, which routes a session's later messages while it waits, the
    /// router keeps the session's order: its answers to invocations wait too, so an
    /// authorizer must not depend on a procedure of a session it is deciding for. A
    /// pattern subscription or registration is always asked about (a cached decision
    /// about the exact URI does not stand for it).
    #[serde(default, deserialize_with = "opt_uri")]
    pub authorizer: Option<Uri>,
}

impl RoleConfig {
    /// A role whose every request `authorizer` decides (see
    /// [`authorizer`](RoleConfig::authorizer)).
    pub fn dynamic(name: &str, authorizer: Uri) -> Self {
        RoleConfig {
            authorizer: Some(authorizer),
            ..RoleConfig::new(name)
        }
    }

    /// A role with no permissions.
    pub fn new(name: &str) -> Self {
        RoleConfig {
            name: name.to_owned(),
            permissions: Vec::new(),
            authorizer: None,
        }
    }

    /// Adds a permission.
    #[must_use]
    pub fn permit(mut self, permission: Permission) -> Self {
        self.permissions.push(permission);
        self
    }
}

/// What a role may do on the URIs a permission covers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    /// The URI, or the prefix for `match = "prefix"` (`""` covers every URI).
    pub uri: String,
    /// How `uri` is matched. Default exact.
    #[serde(default, rename = "match")]
    pub match_policy: PermissionMatch,
    /// The allowed actions. Default none.
    #[serde(default)]
    pub allow: Allow,
    /// Whether the router discloses this role's sessions as callers and publishers on
    /// these URIs even when they do not ask (`disclose_me`). Default no.
    #[serde(default)]
    pub disclose: Disclose,
}

impl Permission {
    /// A permission for exactly `uri`.
    pub fn exact(uri: &str, allow: Allow) -> Self {
        Permission {
            uri: uri.to_owned(),
            match_policy: PermissionMatch::Exact,
            allow,
            disclose: Disclose::default(),
        }
    }

    /// A permission for every URI that starts with `prefix` (a plain string prefix, as
    /// for prefix subscriptions).
    pub fn prefix(prefix: &str, allow: Allow) -> Self {
        Permission {
            uri: prefix.to_owned(),
            match_policy: PermissionMatch::Prefix,
            allow,
            disclose: Disclose::default(),
        }
    }

    /// Every action on every URI.
    pub fn everything() -> Self {
        Permission::prefix("", Allow::ALL)
    }

    /// Sets the forced disclosure.
    #[must_use]
    pub fn disclose(mut self, disclose: Disclose) -> Self {
        self.disclose = disclose;
        self
    }
}

/// How a [`Permission`]'s URI is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PermissionMatch {
    /// The URI must equal the permission's URI.
    #[default]
    Exact,
    /// The URI must start with the permission's URI.
    Prefix,
    /// The URI must have as many components as the permission's URI and equal it in
    /// every component that is not empty there (`com..update` covers `com.a.update`;
    /// only URIs with an empty component inside, `..`, act as wildcards).
    ///
    /// Which permission decides is Crossbar.io's rule: of the exact and prefix ones,
    /// the one with the longest URI that begins `uri` (an exact one that is not `uri`
    /// itself then allows nothing: it shadows shorter prefixes); unless that was an
    /// exact match, the wildcard whose part before `..` is the longest beginning of
    /// `uri` decides instead if it covers `uri`.
    Wildcard,
}

/// The four actions a permission may allow. For pattern subscriptions and
/// registrations, the pattern itself is the URI that is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Allow {
    /// CALL (meta procedures included).
    pub call: bool,
    /// REGISTER.
    pub register: bool,
    /// PUBLISH (and testaments).
    pub publish: bool,
    /// SUBSCRIBE (meta events included).
    pub subscribe: bool,
}

impl Allow {
    /// Nothing.
    pub const NONE: Allow = Allow {
        call: false,
        register: false,
        publish: false,
        subscribe: false,
    };
    /// Everything.
    pub const ALL: Allow = Allow {
        call: true,
        register: true,
        publish: true,
        subscribe: true,
    };
}

/// Forced disclosure of a role's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Disclose {
    /// Disclose callers to callees.
    pub caller: bool,
    /// Disclose publishers to subscribers.
    pub publisher: bool,
}

/// The authentication methods a realm accepts and their principals. A method with no
/// principals (or, for anonymous, `None`) is not offered.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `anonymous`: anyone, with this role.
    pub anonymous: Option<AnonymousAuth>,
    /// `ticket` principals.
    pub ticket: Vec<TicketPrincipal>,
    /// `wampcra` principals.
    pub wampcra: Vec<CraPrincipal>,
    /// `cryptosign` principals.
    pub cryptosign: Vec<CryptosignPrincipal>,
    /// `wamp-scram` principals.
    pub scram: Vec<ScramPrincipal>,
    /// `scram` principals: Autobahn's and Crossbar.io's earlier SCRAM draft (not the
    /// spec's `wamp-scram`), which Autobahn|Python's `AuthScram` speaks. Argon2id only;
    /// a stored credential is Crossbar.io's `salt`, `stored-key` and `server-key`
    /// (base64 here).
    pub autobahn_scram: Vec<ScramPrincipal>,
    /// `tls` principals: clients known by the TLS certificate they presented (the
    /// listener must ask for client certificates: `ServerTls::client_certificates`).
    pub tls: Vec<TlsPrincipal>,
    /// Methods whose principals a procedure decides (dynamic authentication), in place
    /// of static ones.
    pub authenticators: Authenticators,
}

/// Dynamic authentication: for each method, the procedure that decides who may join,
/// called as Crossbar.io calls it. A method has static principals or an authenticator,
/// not both.
///
/// The router calls `procedure(realm, authid, details)`: `realm` the realm the client
/// asked for, `authid` its authid (or null), `details` a dictionary with `authmethod`,
/// `authextra` (the HELLO's), `session` (the ID the session will have), `transport`
/// (as the session meta API reports it) and, for `ticket`, `ticket`. The answer is the
/// role as a string, or a dictionary with `role` and optionally `authid` (the session's
/// instead of the one it claimed), `realm` (the realm it joins instead) and `extra`
/// (WELCOME's `authextra`); for `wampcra` also `secret` (and `salt`, `iterations`,
/// `keylen` for a derived key), for `cryptosign` also `pubkey` (the key HELLO must have
/// offered). When the procedure answers with an ERROR, the client gets ABORT with that
/// error's URI and first argument; when no callee has registered it or it does not
/// answer within [`Limits::authenticator_timeout`], ABORT
/// `wamp.error.authentication_failed` saying so.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Authenticators {
    /// Decides anonymous sessions' role (called with a null authid).
    pub anonymous: Option<Authenticator>,
    /// Checks tickets.
    pub ticket: Option<Authenticator>,
    /// Gives WAMP-CRA secrets.
    pub wampcra: Option<Authenticator>,
    /// Gives cryptosign public keys.
    pub cryptosign: Option<Authenticator>,
}

/// A procedure that authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authenticator {
    /// Its URI.
    #[serde(deserialize_with = "uri")]
    pub procedure: Uri,
    /// The realm it is registered on (Crossbar.io's `authenticator-realm`). Default: the
    /// realm the client asks for.
    #[serde(default, deserialize_with = "opt_uri")]
    pub realm: Option<Uri>,
}

impl Authenticator {
    /// The procedure `procedure` on the realm the client asks for.
    pub fn new(procedure: &str) -> Result<Self, InvalidUri> {
        Ok(Authenticator {
            procedure: Uri::parse(procedure)?,
            realm: None,
        })
    }

    /// The procedure registered on `realm` (whatever realm the client asks for).
    pub fn on_realm(mut self, realm: &str) -> Result<Self, InvalidUri> {
        self.realm = Some(Uri::parse(realm)?);
        Ok(self)
    }
}

impl AuthConfig {
    /// No method accepted.
    pub fn new() -> Self {
        AuthConfig::default()
    }

    /// Accepts anonymous sessions, with the given role.
    #[must_use]
    pub fn anonymous(mut self, role: &str) -> Self {
        self.anonymous = Some(AnonymousAuth {
            role: role.to_owned(),
            realm: None,
        });
        self
    }

    /// Adds a `ticket` principal.
    #[must_use]
    pub fn ticket(mut self, authid: &str, role: &str, ticket: &str) -> Self {
        self.ticket.push(TicketPrincipal {
            authid: authid.to_owned(),
            role: role.to_owned(),
            ticket: ticket.to_owned(),
            realm: None,
        });
        self
    }

    /// Adds a `wampcra` principal with a plain secret.
    #[must_use]
    pub fn wampcra(mut self, authid: &str, role: &str, secret: &str) -> Self {
        self.wampcra.push(CraPrincipal {
            authid: authid.to_owned(),
            role: role.to_owned(),
            secret: secret.to_owned(),
            salt: None,
            realm: None,
        });
        self
    }

    /// Adds a `wampcra` principal whose key is derived from the secret with PBKDF2
    /// (the client is told `salt`, `iterations` and `keylen` in the CHALLENGE).
    #[must_use]
    pub fn wampcra_salted(mut self, authid: &str, role: &str, secret: &str, salt: CraSalt) -> Self {
        self.wampcra.push(CraPrincipal {
            authid: authid.to_owned(),
            role: role.to_owned(),
            secret: secret.to_owned(),
            salt: Some(salt),
            realm: None,
        });
        self
    }

    /// Adds a `cryptosign` principal with its authorized Ed25519 public keys (hex).
    #[must_use]
    pub fn cryptosign(mut self, authid: &str, role: &str, authorized_keys: &[&str]) -> Self {
        self.cryptosign.push(CryptosignPrincipal {
            authid: authid.to_owned(),
            role: role.to_owned(),
            authorized_keys: authorized_keys.iter().map(|k| (*k).to_owned()).collect(),
            realm: None,
        });
        self
    }

    /// Adds a `wamp-scram` principal; its credential is derived from `password` with
    /// `kdf` (and a random salt) when the router starts.
    #[must_use]
    pub fn scram(mut self, authid: &str, role: &str, password: &str, kdf: ScramKdf) -> Self {
        self.scram.push(ScramPrincipal {
            authid: authid.to_owned(),
            role: role.to_owned(),
            password: Some(password.to_owned()),
            credential: None,
            kdf,
            realm: None,
        });
        self
    }

    /// Whether no method is accepted.
    pub fn is_empty(&self) -> bool {
        let dynamic = &self.authenticators;
        self.anonymous.is_none()
            && self.ticket.is_empty()
            && self.wampcra.is_empty()
            && self.cryptosign.is_empty()
            && self.scram.is_empty()
            && self.autobahn_scram.is_empty()
            && self.tls.is_empty()
            && dynamic.anonymous.is_none()
            && dynamic.ticket.is_none()
            && dynamic.wampcra.is_none()
            && dynamic.cryptosign.is_none()
    }
}

/// Authentication for the connections of one transport (a listener), in place of the
/// realms' own: Crossbar.io's per-transport `auth`. Its principals (and anonymous
/// access) apply to whichever realm the client asks for, unless a principal names its
/// `realm`, which the session then joins. A principal's role must exist on the realm it
/// joins, or the join is refused.
///
/// A connection uses it when the runtime says so
/// ([`Router::set_transport_auth`](super::Router::set_transport_auth)); the runtime's
/// listeners name it (`ListenerConfig::auth`).
#[derive(Debug, Clone)]
pub struct TransportAuth {
    /// The name listeners use for it.
    pub name: String,
    /// The methods and principals.
    pub auth: AuthConfig,
}

/// Anonymous access.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnonymousAuth {
    /// The role anonymous sessions get. Their authid is random.
    pub role: String,
    /// The realm they join, whatever their HELLO asked for (as a principal's `realm`;
    /// only in a [`TransportAuth`]).
    #[serde(default, deserialize_with = "opt_uri")]
    pub realm: Option<Uri>,
}

/// A `tls` principal: the client whose verified TLS certificate has this fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsPrincipal {
    /// The authid.
    pub authid: String,
    /// The role it gets.
    pub role: String,
    /// The certificate's SHA-1 fingerprint, hex (`AB:CD:...` or `abcd...`).
    pub certificate_sha1: String,
    /// The realm it joins (only in a [`TransportAuth`]).
    #[serde(default, deserialize_with = "opt_uri")]
    pub realm: Option<Uri>,
}

/// A `ticket` principal.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketPrincipal {
    /// The authid.
    pub authid: String,
    /// The role it gets.
    pub role: String,
    /// The expected ticket, or better an Argon2id hash of it in the PHC string format
    /// (`$argon2id$v=19$m=..,t=..,p=..$SALT$HASH`, as `wamp hash-ticket` prints it), so
    /// that the configuration does not hold the ticket itself. Checking a hash costs
    /// one Argon2id evaluation (about 20 to 40 ms at the default cost) per login.
    pub ticket: String,
    /// The realm the session joins, whatever realm its HELLO asked for (Crossbar.io's
    /// principal `realm`). Only in a [`TransportAuth`]; a realm's own principals leave it
    /// unset.
    #[serde(default, deserialize_with = "opt_uri")]
    pub realm: Option<Uri>,
}

/// A `wampcra` principal.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CraPrincipal {
    /// The authid.
    pub authid: String,
    /// The role it gets.
    pub role: String,
    /// The shared secret.
    pub secret: String,
    /// PBKDF2 salting of the secret; `None` signs with the secret itself.
    #[serde(default)]
    pub salt: Option<CraSalt>,
    /// The realm the session joins, whatever realm its HELLO asked for (Crossbar.io's
    /// principal `realm`). Only in a [`TransportAuth`]; a realm's own principals leave it
    /// unset.
    #[serde(default, deserialize_with = "opt_uri")]
    pub realm: Option<Uri>,
}

/// WAMP-CRA key derivation parameters (sent to the client in the CHALLENGE).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CraSalt {
    /// The salt, used as its UTF-8 bytes.
    pub salt: String,
    /// PBKDF2 iterations. Default 1000.
    #[serde(default = "cra_iterations")]
    pub iterations: u32,
    /// Derived key length in bytes. Default 32.
    #[serde(default = "cra_keylen")]
    pub keylen: usize,
}

fn cra_iterations() -> u32 {
    wamp_proto::auth::wampcra::DEFAULT_ITERATIONS
}

fn cra_keylen() -> usize {
    wamp_proto::auth::wampcra::DEFAULT_KEYLEN
}

impl CraSalt {
    /// A salt with the default iterations (1000) and key length (32).
    pub fn new(salt: &str) -> Self {
        CraSalt {
            salt: salt.to_owned(),
            iterations: cra_iterations(),
            keylen: cra_keylen(),
        }
    }
}

/// A `cryptosign` principal.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CryptosignPrincipal {
    /// The authid. A client that announces no authid is identified by its key.
    pub authid: String,
    /// The role it gets.
    pub role: String,
    /// The Ed25519 public keys (64 hex digits each) that may authenticate as this
    /// principal.
    pub authorized_keys: Vec<String>,
    /// The realm the session joins, whatever realm its HELLO asked for (Crossbar.io's
    /// principal `realm`). Only in a [`TransportAuth`]; a realm's own principals leave it
    /// unset.
    #[serde(default, deserialize_with = "opt_uri")]
    pub realm: Option<Uri>,
}

/// A `wamp-scram` principal: give `password` (the credential is derived with a random
/// salt when the router starts) or `credential` (derived beforehand, so the router never
/// sees the password).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScramPrincipal {
    /// The authid (the SCRAM username, SASLprep-normalized as clients send it).
    pub authid: String,
    /// The role it gets.
    pub role: String,
    /// The password.
    #[serde(default)]
    pub password: Option<String>,
    /// A stored credential.
    #[serde(default)]
    pub credential: Option<ScramCredential>,
    /// The key derivation function and its cost (for a stored credential: the ones it
    /// was derived with).
    #[serde(default)]
    pub kdf: ScramKdf,
    /// The realm the session joins, whatever realm its HELLO asked for (Crossbar.io's
    /// principal `realm`). Only in a [`TransportAuth`]; a realm's own principals leave it
    /// unset.
    #[serde(default, deserialize_with = "opt_uri")]
    pub realm: Option<Uri>,
}

/// A WAMP-SCRAM credential derived beforehand, base64 fields.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScramCredential {
    /// The salt.
    pub salt: String,
    /// `StoredKey` (32 bytes).
    pub stored_key: String,
    /// `ServerKey` (32 bytes).
    pub server_key: String,
}

/// The WAMP-SCRAM key derivation function and its cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase", deny_unknown_fields)]
pub enum ScramKdf {
    /// Argon2id 1.3.
    #[serde(rename = "argon2id13")]
    Argon2id13 {
        /// Time cost.
        iterations: u32,
        /// Memory in KiB.
        memory: u32,
    },
    /// PBKDF2-HMAC-SHA256.
    Pbkdf2 {
        /// Iterations (clients refuse fewer than 4096 by default).
        iterations: u32,
    },
}

impl Default for ScramKdf {
    /// Argon2id with 2 passes over 19 MiB (the OWASP baseline).
    fn default() -> Self {
        ScramKdf::Argon2id13 {
            iterations: 2,
            memory: 19 * 1024,
        }
    }
}

impl ScramKdf {
    pub(crate) fn to_kdf(self) -> Kdf {
        match self {
            ScramKdf::Argon2id13 { iterations, memory } => Kdf::Argon2id13 { iterations, memory },
            ScramKdf::Pbkdf2 { iterations } => Kdf::Pbkdf2 { iterations },
        }
    }
}

// Secrets stay out of logs.

impl fmt::Debug for TicketPrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketPrincipal")
            .field("authid", &self.authid)
            .field("role", &self.role)
            .field("ticket", &"<redacted>")
            .field("realm", &self.realm)
            .finish()
    }
}

impl fmt::Debug for CraPrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CraPrincipal")
            .field("authid", &self.authid)
            .field("role", &self.role)
            .field("secret", &"<redacted>")
            .field("salt", &self.salt)
            .field("realm", &self.realm)
            .finish()
    }
}

impl fmt::Debug for ScramPrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramPrincipal")
            .field("authid", &self.authid)
            .field("role", &self.role)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("credential", &self.credential)
            .field("kdf", &self.kdf)
            .field("realm", &self.realm)
            .finish()
    }
}

impl fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramCredential")
            .field("salt", &self.salt)
            .field("stored_key", &"<redacted>")
            .field("server_key", &"<redacted>")
            .finish()
    }
}

fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let secs = f64::deserialize(d)?;
    Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
}

fn uri<'de, D: Deserializer<'de>>(d: D) -> Result<Uri, D::Error> {
    let s = String::deserialize(d)?;
    Uri::parse(&s).map_err(serde::de::Error::custom)
}

fn opt_uri<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Uri>, D::Error> {
    uri(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserializes_from_a_document() {
        let json = r#"{
            "limits": {"handshake_timeout": 2.5, "max_transmit_bytes": 10000, "write_timeout": 0.5},
            "realms": [{
                "name": "realm1",
                "roles": [{"name": "user", "permissions": [
                    {"uri": "com.app.", "match": "prefix", "allow": {"call": true}},
                    {"uri": "com.app.secret", "disclose": {"caller": true}}
                ]}],
                "auth": {
                    "anonymous": {"role": "user"},
                    "ticket": [{"authid": "joe", "role": "user", "ticket": "tkt-secret"}],
                    "wampcra": [{"authid": "peter", "role": "user", "secret": "cra-secret",
                                 "salt": {"salt": "salt123"}}],
                    "cryptosign": [{"authid": "c", "role": "user", "authorized_keys": ["00"]}],
                    "scram": [
                        {"authid": "s", "role": "user", "password": "scram-secret",
                         "kdf": {"name": "pbkdf2", "iterations": 4096}},
                        {"authid": "t", "role": "user", "credential": {"salt": "c2FsdA==",
                         "stored_key": "a", "server_key": "b"}}
                    ]
                }
            }]
        }"#;
        let config: RouterConfig = serde_json::from_str(json).expect("a valid document");
        assert_eq!(config.limits.handshake_timeout, Duration::from_millis(2500));
        assert_eq!(config.limits.max_transmit_bytes, 10_000);
        assert_eq!(config.limits.write_timeout, Duration::from_millis(500));
        assert_eq!(config.limits.goodbye_timeout, Duration::from_secs(5));
        let realm = &config.realms[0];
        assert_eq!(realm.name, "realm1");
        assert!(realm.meta_api);
        let perms = &realm.roles[0].permissions;
        assert_eq!(perms[0].match_policy, PermissionMatch::Prefix);
        assert!(perms[0].allow.call && !perms[0].allow.register);
        assert!(perms[1].disclose.caller);
        assert_eq!(
            realm.auth.wampcra[0].salt.as_ref().map(|s| s.iterations),
            Some(1000)
        );
        assert_eq!(
            realm.auth.scram[0].kdf,
            ScramKdf::Pbkdf2 { iterations: 4096 }
        );
        assert!(realm.auth.scram[1].credential.is_some());
        let dbg = format!("{config:?}");
        assert!(
            !dbg.contains("-secret") && dbg.contains("redacted"),
            "{dbg}"
        );
    }

    #[test]
    fn bad_documents_are_refused() {
        for bad in [
            r#"{"realms": [{"name": "a..b"}]}"#,
            r#"{"realms": [{"name": "r", "bogus": 1}]}"#,
            r#"{"limits": {"handshake_timeout": -1}}"#,
            r#"{"realms": [{"name": "r", "roles": [{"name": "x", "permissions": [{"uri": "a", "match": "regex"}]}]}]}"#,
        ] {
            assert!(serde_json::from_str::<RouterConfig>(bad).is_err(), "{bad}");
        }
    }
}
