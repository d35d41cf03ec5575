//! The Crossbar.io node configuration the harness runs: one router worker, realm
//! [`REALM`](crate::REALM), and the transports of [`Ports`].
//!
//! Facts about Crossbar 26.10.1 this relies on (checked in its `checkconfig.py` and
//! `router/auth/*.py`):
//! - a `web` transport with only a `ws` path serves the WebSocket at `/ws`; nothing may be
//!   put at `/` (a `nodeinfo` there would answer the upgrade with HTTP 200);
//! - static principals accept only the keys used below (unknown keys fail the config);
//!   ticket, WAMP-CRA and SCRAM principals take the realm the client asks for;
//! - WAMP-CRA users with `salt`, `iterations` and `keylen` get a PBKDF2-derived key, and
//!   the CHALLENGE tells the client the parameters;
//! - SCRAM principals carry precomputed `stored-key` / `server-key` (see
//!   [`credentials`](crate::credentials));
//! - TLS listening endpoints take `key` and `certificate` PEM paths and speak TLS 1.3 only.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::credentials::*;
use crate::REALM;

/// The TCP ports of a router's transports (all on 127.0.0.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ports {
    /// WebSocket at `/ws`, anonymous.
    pub ws: u16,
    /// RawSocket, anonymous.
    pub rawsocket: u16,
    /// WebSocket at `/ws`, static principals only (no anonymous).
    pub ws_auth: u16,
    /// RawSocket, static principals only (no anonymous).
    pub rawsocket_auth: u16,
    /// WebSocket over TLS at `/ws`, anonymous and static principals (with TLS enabled).
    pub wss: Option<u16>,
    /// RawSocket over TLS, anonymous and static principals (with TLS enabled).
    pub rss: Option<u16>,
}

impl Ports {
    /// Every port, in a fixed order.
    pub fn all(&self) -> Vec<u16> {
        [self.ws, self.rawsocket, self.ws_auth, self.rawsocket_auth]
            .into_iter()
            .chain(self.wss)
            .chain(self.rss)
            .collect()
    }
}

/// The files of the TLS transports.
#[derive(Debug, Clone)]
pub(crate) struct TlsFiles {
    pub key: PathBuf,
    pub certificate: PathBuf,
}

/// Which transports to configure where.
#[derive(Debug, Clone)]
pub(crate) struct NodeSpec {
    pub ports: Ports,
    /// The Unix domain socket of the anonymous RawSocket transport on it.
    pub unix_path: PathBuf,
    /// Present when the TLS transports are enabled.
    pub tls: Option<TlsFiles>,
    /// When set, the principal transports' ticket, WAMP-CRA and cryptosign are decided
    /// by this procedure (`type: dynamic`); SCRAM stays static.
    pub authenticator: Option<String>,
    /// When set, the restricted role has this `authorizer` instead of permissions.
    pub authorizer: Option<String>,
    /// More transports, as they are.
    pub transports: Vec<Value>,
}

/// The serializers every transport offers.
const SERIALIZERS: [&str; 3] = ["json", "msgpack", "cbor"];

/// Builds the node configuration (Crossbar's config format version 2).
pub(crate) fn node_config(spec: &NodeSpec) -> Value {
    let mut transports = vec![
        websocket(tcp(spec.ports.ws, None), anonymous_auth()),
        rawsocket(tcp(spec.ports.rawsocket, None), anonymous_auth()),
        rawsocket(
            json!({"type": "unix", "path": spec.unix_path.to_string_lossy()}),
            anonymous_auth(),
        ),
        websocket(tcp(spec.ports.ws_auth, None), principal_auth(spec)),
        rawsocket(tcp(spec.ports.rawsocket_auth, None), principal_auth(spec)),
    ];
    if let Some(tls) = &spec.tls {
        let mut both = principal_auth(spec);
        if let (Some(map), Value::Object(anon)) = (both.as_object_mut(), anonymous_auth()) {
            map.extend(anon);
        }
        if let Some(port) = spec.ports.wss {
            transports.push(websocket(tcp(port, Some(tls)), both.clone()));
        }
        if let Some(port) = spec.ports.rss {
            transports.push(rawsocket(tcp(port, Some(tls)), both));
        }
    }
    transports.extend(spec.transports.iter().cloned());
    json!({
        "version": 2,
        "controller": {},
        "workers": [{
            "type": "router",
            "realms": [{
                "name": REALM,
                "roles": [role(ANONYMOUS_ROLE), role(AUTHENTICATED_ROLE), restricted_role(spec)],
            }],
            "transports": transports,
        }],
    })
}

/// A role allowed everything on the realm, with callers and publishers disclosed.
fn role(name: &str) -> Value {
    json!({
        "name": name,
        "permissions": [{
            "uri": "",
            "match": "prefix",
            "allow": {"call": true, "register": true, "publish": true, "subscribe": true},
            "disclose": {"caller": true, "publisher": true},
            "cache": true,
        }],
    })
}

/// The role of [`RESTRICTED_AUTHID`]: call and subscribe under
/// [`RESTRICTED_ALLOWED_PREFIX`], nothing else (no meta API either).
fn restricted_role(spec: &NodeSpec) -> Value {
    if let Some(procedure) = &spec.authorizer {
        return json!({"name": RESTRICTED_ROLE, "authorizer": procedure});
    }
    json!({
        "name": RESTRICTED_ROLE,
        "permissions": [{
            "uri": RESTRICTED_ALLOWED_PREFIX,
            "match": "prefix",
            "allow": {"call": true, "register": false, "publish": false, "subscribe": true},
            "disclose": {"caller": true, "publisher": true},
            "cache": true,
        }],
    })
}

fn tcp(port: u16, tls: Option<&TlsFiles>) -> Value {
    let mut endpoint = json!({"type": "tcp", "interface": "127.0.0.1", "port": port});
    if let (Some(tls), Some(map)) = (tls, endpoint.as_object_mut()) {
        map.insert(
            "tls".into(),
            json!({
                "key": tls.key.to_string_lossy(),
                "certificate": tls.certificate.to_string_lossy(),
            }),
        );
    }
    endpoint
}

fn websocket(endpoint: Value, auth: Value) -> Value {
    json!({
        "type": "web",
        "endpoint": endpoint,
        "paths": {
            "ws": {"type": "websocket", "serializers": SERIALIZERS, "auth": auth},
        },
    })
}

fn rawsocket(endpoint: Value, auth: Value) -> Value {
    json!({
        "type": "rawsocket",
        "endpoint": endpoint,
        "serializers": SERIALIZERS,
        "auth": auth,
    })
}

fn anonymous_auth() -> Value {
    json!({"anonymous": {"type": "static", "role": ANONYMOUS_ROLE}})
}

/// The principal transports' `auth`: static principals, or with an authenticator,
/// dynamic ticket, WAMP-CRA and cryptosign beside the static SCRAM principal.
fn principal_auth(spec: &NodeSpec) -> Value {
    let mut auth = static_principal_auth();
    if let (Some(procedure), Some(map)) = (&spec.authenticator, auth.as_object_mut()) {
        for method in ["ticket", "wampcra", "cryptosign"] {
            map.insert(
                method.into(),
                json!({"type": "dynamic", "authenticator": procedure}),
            );
        }
    }
    auth
}

/// What a dynamic authenticator must answer for the static principals of
/// [`credentials`](crate::credentials), in `ab_authenticator.py`'s table format.
pub fn authenticator_principals() -> Value {
    json!({
        "ticket": {
            TICKET_AUTHID: {"ticket": TICKET, "role": AUTHENTICATED_ROLE},
            RESTRICTED_AUTHID: {"ticket": RESTRICTED_TICKET, "role": RESTRICTED_ROLE},
        },
        "wampcra": {
            WAMPCRA_AUTHID: {"secret": WAMPCRA_SECRET, "role": AUTHENTICATED_ROLE},
            WAMPCRA_SALTED_AUTHID: {
                "secret": WAMPCRA_SALTED_SECRET,
                "role": AUTHENTICATED_ROLE,
                "salt": WAMPCRA_SALT,
                "iterations": WAMPCRA_ITERATIONS,
                "keylen": WAMPCRA_KEYLEN,
            },
        },
        "cryptosign": {
            CRYPTOSIGN_AUTHID: {"pubkey": CRYPTOSIGN_PUBLIC_KEY_HEX, "role": AUTHENTICATED_ROLE},
        },
    })
}

fn static_principal_auth() -> Value {
    // The ticket and WAMP-CRA tables are the authenticator's, as Crossbar.io's static
    // configuration takes them.
    let table = authenticator_principals();
    json!({
        "ticket": {"type": "static", "principals": table["ticket"]},
        "wampcra": {"type": "static", "users": table["wampcra"]},
        "cryptosign": {
            "type": "static",
            "principals": {
                CRYPTOSIGN_AUTHID: {
                    "realm": REALM,
                    "role": AUTHENTICATED_ROLE,
                    "authorized_keys": [CRYPTOSIGN_PUBLIC_KEY_HEX],
                },
            },
        },
        "scram": {
            "type": "static",
            "principals": {
                SCRAM_AUTHID: {
                    "kdf": SCRAM_KDF,
                    "iterations": SCRAM_ITERATIONS,
                    "memory": SCRAM_MEMORY,
                    "salt": SCRAM_SALT_HEX,
                    "stored-key": SCRAM_STORED_KEY_HEX,
                    "server-key": SCRAM_SERVER_KEY_HEX,
                    "role": AUTHENTICATED_ROLE,
                },
            },
        },
    })
}
