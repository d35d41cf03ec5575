//! What to join and how to authenticate: [`JoinConfig`] and [`Auth`].

use std::fmt;
use std::time::Duration;

use wamp_proto::auth::{self, ClientAuthenticator};
use wamp_proto::session::SessionConfig;
use wamp_proto::{serializer::SerializerKind, Map, Uri, Value};

use crate::error::ConnectError;

/// An authentication method with its credentials, as configuration: cheap to clone, so a
/// reconnecting component keeps one and builds fresh authenticators for every attempt.
///
/// `Debug` never prints secrets.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// `anonymous`, optionally announcing an authid.
    Anonymous {
        /// The authid to announce, if any.
        authid: Option<String>,
    },
    /// `ticket`: a shared secret sent as is (use TLS).
    Ticket {
        /// The principal.
        authid: String,
        /// The ticket.
        ticket: String,
    },
    /// `wampcra`: HMAC-SHA256 challenge-response with a shared secret (salted keys are
    /// derived as the router asks).
    WampCra {
        /// The principal.
        authid: String,
        /// The secret.
        secret: String,
    },
    /// `cryptosign`: Ed25519 signature of the router's challenge.
    Cryptosign {
        /// The principal, if the router needs one (it may identify the key itself).
        authid: Option<String>,
        /// The 32-byte Ed25519 private key seed.
        private_key: [u8; 32],
    },
    /// `wamp-scram`: salted challenge-response that also verifies the router.
    Scram {
        /// The principal.
        authid: String,
        /// The password.
        password: String,
    },
    /// `scram`: the earlier SCRAM draft that Crossbar.io and Autobahn speak (see
    /// [`auth::ScramAutobahn`]); like `wamp-scram`, it also verifies the router.
    ScramAutobahn {
        /// The principal.
        authid: String,
        /// The password.
        password: String,
    },
    /// `tls`: the client certificate of the TLS connection names the principal
    /// (configure it with the transport's rustls client configuration).
    Tls {
        /// The authid to announce, if any.
        authid: Option<String>,
    },
}

impl Auth {
    /// `ticket` authentication.
    pub fn ticket(authid: impl Into<String>, ticket: impl Into<String>) -> Auth {
        Auth::Ticket {
            authid: authid.into(),
            ticket: ticket.into(),
        }
    }

    /// `wampcra` authentication.
    pub fn wampcra(authid: impl Into<String>, secret: impl Into<String>) -> Auth {
        Auth::WampCra {
            authid: authid.into(),
            secret: secret.into(),
        }
    }

    /// `cryptosign` authentication with the private key seed given as 64 hex digits.
    pub fn cryptosign_hex(
        authid: Option<String>,
        private_key_hex: &str,
    ) -> Result<Auth, ConnectError> {
        let bytes = hex::decode(private_key_hex.trim())
            .map_err(|e| ConnectError::Config(format!("cryptosign private key: {e}")))?;
        let private_key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            ConnectError::Config(format!(
                "cryptosign private key: expected 32 bytes, got {}",
                b.len()
            ))
        })?;
        Ok(Auth::Cryptosign {
            authid,
            private_key,
        })
    }

    /// `wamp-scram` authentication.
    pub fn scram(authid: impl Into<String>, password: impl Into<String>) -> Auth {
        Auth::Scram {
            authid: authid.into(),
            password: password.into(),
        }
    }

    /// Autobahn's and Crossbar's `scram` authentication.
    pub fn scram_autobahn(authid: impl Into<String>, password: impl Into<String>) -> Auth {
        Auth::ScramAutobahn {
            authid: authid.into(),
            password: password.into(),
        }
    }

    /// The method name as on the wire.
    pub fn method(&self) -> &'static str {
        match self {
            Auth::Anonymous { .. } => "anonymous",
            Auth::Ticket { .. } => "ticket",
            Auth::WampCra { .. } => "wampcra",
            Auth::Cryptosign { .. } => "cryptosign",
            Auth::Scram { .. } => "wamp-scram",
            Auth::ScramAutobahn { .. } => "scram",
            Auth::Tls { .. } => "tls",
        }
    }

    /// The authid this method announces.
    pub fn authid(&self) -> Option<&str> {
        match self {
            Auth::Anonymous { authid } | Auth::Cryptosign { authid, .. } | Auth::Tls { authid } => {
                authid.as_deref()
            }
            Auth::Ticket { authid, .. }
            | Auth::WampCra { authid, .. }
            | Auth::Scram { authid, .. }
            | Auth::ScramAutobahn { authid, .. } => Some(authid),
        }
    }

    /// A fresh authenticator for one session attempt.
    pub fn authenticator(&self) -> Result<Box<dyn ClientAuthenticator>, ConnectError> {
        Ok(match self {
            Auth::Anonymous { authid } => {
                let mut anonymous = auth::Anonymous::new();
                if let Some(authid) = authid {
                    anonymous = anonymous.with_authid(authid.clone());
                }
                Box::new(anonymous)
            }
            Auth::Ticket { authid, ticket } => Box::new(auth::Ticket::new(authid, ticket)),
            Auth::WampCra { authid, secret } => Box::new(auth::WampCra::new(authid, secret)),
            Auth::Cryptosign {
                authid,
                private_key,
            } => Box::new(auth::Cryptosign::new(authid.clone(), *private_key)),
            Auth::Scram { authid, password } => Box::new(
                auth::Scram::new(authid, password)
                    .map_err(|e| ConnectError::Config(e.to_string()))?,
            ),
            Auth::ScramAutobahn { authid, password } => Box::new(
                auth::ScramAutobahn::new(authid, password)
                    .map_err(|e| ConnectError::Config(e.to_string()))?,
            ),
            Auth::Tls { authid } => {
                let mut tls = auth::TlsCertificate::new();
                if let Some(authid) = authid {
                    tls = tls.with_authid(authid.clone());
                }
                Box::new(tls)
            }
        })
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("method", &self.method())
            .field("authid", &self.authid())
            .finish_non_exhaustive()
    }
}

/// The realm to join, how to authenticate, and the session's limits.
///
/// ```
/// use std::time::Duration;
/// use wamp_runtime::{Auth, JoinConfig};
///
/// let join = JoinConfig::new("realm1")
///     .auth(Auth::ticket("joe", "secret!!!"))
///     .authrole("user")
///     .handshake_timeout(Duration::from_secs(5));
/// assert_eq!(join.realm, "realm1");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JoinConfig {
    /// The realm.
    pub realm: String,
    /// The authentication methods to offer, in order of preference. Empty: no
    /// `authmethods` in HELLO (the router decides, usually anonymous).
    pub auth: Vec<Auth>,
    /// The authid to announce when no method names one.
    pub authid: Option<String>,
    /// The authrole to request (routers may ignore it).
    pub authrole: Option<String>,
    /// Extra `authextra` entries for HELLO.
    pub authextra: Map,
    /// How long to wait for WELCOME after HELLO. Default: 10 s.
    pub handshake_timeout: Duration,
    /// How long `leave` waits for the router's GOODBYE. Default: 5 s.
    pub goodbye_timeout: Duration,
    /// Commands from session handles wait in a channel of this size before the
    /// connection loop takes them; a full channel makes callers wait (backpressure).
    /// Default: 128.
    pub command_buffer: usize,
    /// The bytes of payload (and URIs) that requests waiting for the connection loop may
    /// hold together; a call or publish that finds them spent waits until the loop has
    /// taken enough (backpressure in bytes: a thousand small publishes and one big one
    /// are not the same load). A request larger than this goes alone. Default: 1 MiB.
    pub command_bytes: usize,
    /// The default number of items a [`Subscription`](crate::Subscription) or a
    /// progressive call's stream holds before the oldest unread items are reported as
    /// lost ([`Error::Lagged`](crate::Error::Lagged)). Default: 1024.
    pub stream_buffer: usize,
    /// The most invocations running at once. Beyond it an invocation is answered at once
    /// with `wamp.error.unavailable`. Default: 1024.
    pub max_concurrent_invocations: usize,
}

impl JoinConfig {
    /// Joins `realm` with defaults and no authentication methods.
    pub fn new(realm: impl Into<String>) -> JoinConfig {
        JoinConfig {
            realm: realm.into(),
            auth: Vec::new(),
            authid: None,
            authrole: None,
            authextra: Map::new(),
            handshake_timeout: Duration::from_secs(10),
            goodbye_timeout: Duration::from_secs(5),
            command_buffer: 128,
            command_bytes: 1 << 20,
            stream_buffer: 1024,
            max_concurrent_invocations: 1024,
        }
    }

    /// Adds an authentication method.
    #[must_use]
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth.push(auth);
        self
    }

    /// Sets the authid to announce when no method names one.
    #[must_use]
    pub fn authid(mut self, authid: impl Into<String>) -> Self {
        self.authid = Some(authid.into());
        self
    }

    /// Sets the authrole to request.
    #[must_use]
    pub fn authrole(mut self, authrole: impl Into<String>) -> Self {
        self.authrole = Some(authrole.into());
        self
    }

    /// Adds an `authextra` entry.
    #[must_use]
    pub fn authextra(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.authextra.insert(key.into(), value.into());
        self
    }

    /// Sets the handshake timeout.
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets the GOODBYE timeout.
    #[must_use]
    pub fn goodbye_timeout(mut self, timeout: Duration) -> Self {
        self.goodbye_timeout = timeout;
        self
    }

    /// Sets the byte budget of requests waiting for the connection loop
    /// ([`command_bytes`](Self::command_bytes)).
    #[must_use]
    pub fn command_bytes(mut self, bytes: usize) -> Self {
        self.command_bytes = bytes;
        self
    }

    /// Sets the default stream buffer of subscriptions and progressive calls.
    #[must_use]
    pub fn stream_buffer(mut self, items: usize) -> Self {
        self.stream_buffer = items;
        self
    }

    /// Sets the most invocations running at once.
    #[must_use]
    pub fn max_concurrent_invocations(mut self, max: usize) -> Self {
        self.max_concurrent_invocations = max;
        self
    }

    /// The core session configuration for one attempt with `serializer`.
    pub(crate) fn session_config(
        &self,
        serializer: SerializerKind,
    ) -> Result<SessionConfig, ConnectError> {
        let realm = Uri::parse(&self.realm)
            .map_err(|e| ConnectError::Config(format!("realm {:?}: {e}", self.realm)))?;
        if self.command_buffer == 0 || self.stream_buffer == 0 {
            return Err(ConnectError::Config(
                "command_buffer and stream_buffer must be positive".into(),
            ));
        }
        let mut config = SessionConfig::new(realm)
            .serializer(serializer)
            .handshake_timeout(self.handshake_timeout)
            .goodbye_timeout(self.goodbye_timeout);
        for auth in &self.auth {
            config.authenticators.push(auth.authenticator()?);
        }
        config.authid = self.authid.clone();
        config.authrole = self.authrole.clone();
        config.authextra = self.authextra.clone();
        config.max_concurrent_invocations = self.max_concurrent_invocations;
        // Handlers take their arguments whole.
        config.progressive_invocations = false;
        Ok(config)
    }
}

impl From<&str> for JoinConfig {
    fn from(realm: &str) -> Self {
        JoinConfig::new(realm)
    }
}

impl From<&JoinConfig> for JoinConfig {
    fn from(config: &JoinConfig) -> Self {
        config.clone()
    }
}

impl From<String> for JoinConfig {
    fn from(realm: String) -> Self {
        JoinConfig::new(realm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_builds_each_authenticator() {
        let key = "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510";
        let methods = [
            Auth::Anonymous { authid: None },
            Auth::ticket("a", "t"),
            Auth::wampcra("a", "s"),
            Auth::cryptosign_hex(Some("a".into()), key).expect("valid key"),
            Auth::scram("a", "p"),
            Auth::scram_autobahn("a", "p"),
        ];
        for auth in &methods {
            let built = auth.authenticator().expect("builds");
            assert_eq!(built.method(), auth.method());
        }
        assert_eq!(methods[1].authid(), Some("a"));
        assert_eq!(methods[5].method(), "scram");
        assert_eq!(methods[5].authid(), Some("a"));
        let text = format!("{:?}", methods[5]);
        assert!(!text.contains("\"p\""), "{text}");
    }

    #[test]
    fn debug_hides_secrets() {
        let text = format!("{:?}", Auth::ticket("joe", "hunter2"));
        assert!(text.contains("joe") && !text.contains("hunter2"), "{text}");
        // Every method and the configuration that holds it (the authenticators' own
        // Debug is checked in wamp-proto): the secret appears in no form (text, hex,
        // bytes as numbers).
        let key = [0xa7u8; 32];
        let key_hex = hex::encode(key);
        for auth in [
            Auth::ticket("joe", "tkt-hunter2"),
            Auth::wampcra("joe", "cra-hunter2"),
            Auth::cryptosign_hex(Some("joe".into()), &key_hex).expect("valid key"),
            Auth::scram("joe", "scram-hunter2"),
            Auth::scram_autobahn("joe", "sa-hunter2"),
        ] {
            let alone = format!("{auth:?}");
            let config = JoinConfig::new("realm1").auth(auth);
            for text in [format!("{config:?}"), alone] {
                assert!(text.contains("joe"), "{text}");
                for secret in ["hunter2", &key_hex, "167, 167", "0xa7", "a7a7"] {
                    assert!(!text.contains(secret), "{secret} in {text}");
                }
            }
        }
    }

    #[test]
    fn bad_keys_and_realms_are_config_errors() {
        assert!(matches!(
            Auth::cryptosign_hex(None, "abcd"),
            Err(ConnectError::Config(_))
        ));
        assert!(matches!(
            Auth::cryptosign_hex(None, "zz"),
            Err(ConnectError::Config(_))
        ));
        let err = JoinConfig::new("bad realm")
            .session_config(SerializerKind::Json)
            .expect_err("spaces");
        assert!(matches!(err, ConnectError::Config(_)), "{err}");
    }

    #[test]
    fn session_config_carries_the_settings() {
        let config = JoinConfig::new("realm1")
            .auth(Auth::ticket("joe", "t"))
            .authrole("user")
            .authextra("k", "v")
            .handshake_timeout(Duration::from_secs(3))
            .session_config(SerializerKind::Cbor)
            .expect("valid");
        assert_eq!(config.serializer, SerializerKind::Cbor);
        assert_eq!(config.authenticators.len(), 1);
        assert_eq!(config.authrole.as_deref(), Some("user"));
        assert_eq!(config.handshake_timeout, Duration::from_secs(3));
        assert_eq!(config.authextra.get("k"), Some(&Value::from("v")));
    }
}
