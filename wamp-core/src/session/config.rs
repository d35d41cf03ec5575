//! How a client session is set up.

use std::fmt;
use std::time::Duration;

use crate::auth::ClientAuthenticator;
use crate::serializer::SerializerKind;
use crate::uri::Uri;
use crate::value::Map;

/// The client roles a session announces in HELLO. All four by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Calls procedures.
    pub caller: bool,
    /// Registers procedures.
    pub callee: bool,
    /// Publishes events.
    pub publisher: bool,
    /// Subscribes to topics.
    pub subscriber: bool,
}

impl Default for Roles {
    fn default() -> Self {
        Roles {
            caller: true,
            callee: true,
            publisher: true,
            subscriber: true,
        }
    }
}

/// The advanced-profile features this implementation supports, per client role; announced
/// in HELLO for each enabled role.
pub const CALLER_FEATURES: &[&str] = &[
    "caller_identification",
    "progressive_call_results",
    "progressive_call_invocations",
    "call_canceling",
    "call_timeout",
];
/// See [`CALLER_FEATURES`].
pub const CALLEE_FEATURES: &[&str] = &[
    "caller_identification",
    "pattern_based_registration",
    "shared_registration",
    "progressive_call_results",
    "progressive_call_invocations",
    "registration_revocation",
    "call_canceling",
    "call_timeout",
];
/// See [`CALLER_FEATURES`].
pub const PUBLISHER_FEATURES: &[&str] = &[
    "publisher_identification",
    "subscriber_blackwhite_listing",
    "publisher_exclusion",
];
/// See [`CALLER_FEATURES`].
pub const SUBSCRIBER_FEATURES: &[&str] = &[
    "publisher_identification",
    "pattern_based_subscription",
    "subscription_revocation",
];

/// Configuration of a [`Session`](super::Session).
pub struct SessionConfig {
    /// The realm to join.
    pub realm: Uri,
    /// The serializer of the transport (payloads are converted to it when needed).
    pub serializer: SerializerKind,
    /// The roles to announce.
    pub roles: Roles,
    /// Authentication methods, in order of preference. Empty means no `authmethods` in
    /// HELLO (the router decides, usually anonymous).
    pub authenticators: Vec<Box<dyn ClientAuthenticator>>,
    /// The authid to announce when no authenticator names one.
    pub authid: Option<String>,
    /// The authrole to request (Autobahn sends it; routers may ignore it).
    pub authrole: Option<String>,
    /// Extra `authextra` entries for HELLO.
    pub authextra: Map,
    /// The `agent` string announced in HELLO.
    pub agent: String,
    /// How long to wait for WELCOME (or ABORT) after HELLO.
    pub handshake_timeout: Duration,
    /// How long a leave waits for the invocations still running to be answered before
    /// it sends GOODBYE anyway, and then how long it waits for the router's GOODBYE.
    pub goodbye_timeout: Duration,
    /// The most requests in flight at once; more is [`UsageError::TooManyPending`](super::UsageError::TooManyPending).
    pub max_pending: usize,
    /// The most encoded messages waiting in the transmit queue; more is
    /// [`UsageError::QueueFull`](super::UsageError::QueueFull) (backpressure).
    pub max_transmit_queue: usize,
    /// How many invocations this callee runs at once. Past it, the session answers an
    /// INVOCATION itself with ERROR `wamp.error.unavailable` and does not hand it out.
    /// Default: no limit.
    pub max_concurrent_invocations: usize,
    /// Whether the application takes progressive call invocations (INVOCATION parts
    /// with `progress`, handed out as continuations). If not, the session answers the
    /// first part with ERROR `wamp.error.feature_not_supported` and drops the rest.
    /// Default: yes.
    pub progressive_invocations: bool,
    /// Whether the session answers an INTERRUPT (the caller canceled with `kill` or
    /// `killnowait`) itself with ERROR `wamp.error.canceled`, at once, before it hands
    /// the interrupt to the application. If not, the application must answer the
    /// invocation. Default: yes.
    pub answer_interrupts: bool,
    /// A keepalive at the WAMP level, `(interval, timeout)`: after `interval` without a
    /// message from the router the session sends a probe (a CALL any router answers at
    /// once, see [`PROBE_PROCEDURE`](super::PROBE_PROCEDURE)) and, if nothing arrives
    /// within `timeout`, closes with [`CloseReason::Unresponsive`](super::CloseReason).
    /// For transports whose own keepalive the owner cannot run (a browser's WebSocket).
    /// Default: off.
    pub liveness_probe: Option<(Duration, Duration)>,
}

impl SessionConfig {
    /// A configuration with defaults: all roles, no authentication methods, JSON, a 10 s
    /// handshake timeout, a 5 s GOODBYE timeout.
    pub fn new(realm: Uri) -> Self {
        SessionConfig {
            realm,
            serializer: SerializerKind::Json,
            roles: Roles::default(),
            authenticators: Vec::new(),
            authid: None,
            authrole: None,
            authextra: Map::new(),
            agent: concat!("wamp-rs/", env!("CARGO_PKG_VERSION")).to_owned(),
            handshake_timeout: Duration::from_secs(10),
            goodbye_timeout: Duration::from_secs(5),
            max_pending: 65_536,
            max_transmit_queue: 4_096,
            max_concurrent_invocations: usize::MAX,
            progressive_invocations: true,
            answer_interrupts: true,
            liveness_probe: None,
        }
    }

    /// Sets the serializer.
    #[must_use]
    pub fn serializer(mut self, serializer: SerializerKind) -> Self {
        self.serializer = serializer;
        self
    }

    /// Adds an authentication method (tried in the order added).
    #[must_use]
    pub fn authenticator(mut self, auth: impl ClientAuthenticator + 'static) -> Self {
        self.authenticators.push(Box::new(auth));
        self
    }

    /// Sets the roles.
    #[must_use]
    pub fn roles(mut self, roles: Roles) -> Self {
        self.roles = roles;
        self
    }

    /// Sets the handshake timeout.
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Turns on the WAMP-level keepalive: see
    /// [`liveness_probe`](SessionConfig::liveness_probe).
    #[must_use]
    pub fn liveness_probe(mut self, interval: Duration, timeout: Duration) -> Self {
        self.liveness_probe = Some((interval, timeout));
        self
    }

    /// Sets the GOODBYE timeout.
    #[must_use]
    pub fn goodbye_timeout(mut self, timeout: Duration) -> Self {
        self.goodbye_timeout = timeout;
        self
    }
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("realm", &self.realm)
            .field("serializer", &self.serializer)
            .field("roles", &self.roles)
            .field(
                "authenticators",
                &self
                    .authenticators
                    .iter()
                    .map(|a| a.method().to_owned())
                    .collect::<Vec<_>>(),
            )
            .field("authid", &self.authid)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("goodbye_timeout", &self.goodbye_timeout)
            .finish_non_exhaustive()
    }
}
