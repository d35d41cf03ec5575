//! A WAMP router (broker and dealer) as a sans-IO state machine: realms, sessions,
//! authentication, authorization, the meta API.
//!
//! # Driving a router
//!
//! A [`Router`] never touches a socket or a clock. The code that owns it (a runtime
//! crate's listener task, a test, a fuzzer) opens a connection for every transport a
//! client opens, feeds it what arrives and drains what it produces:
//!
//! - **Input**: [`open`](Router::open) when a transport is up (with the serializer its
//!   handshake negotiated; it returns the [`ConnectionId`] that names it from then on);
//!   [`handle_bytes`](Router::handle_bytes) (or [`handle_message`](Router::handle_message))
//!   for every WAMP message received on it;
//!   [`handle_transport_closed`](Router::handle_transport_closed) when it goes away;
//!   [`handle_timeout`](Router::handle_timeout) when the deadline from
//!   [`poll_timeout`](Router::poll_timeout) passes; and commands:
//!   [`close`](Router::close) one session, [`shutdown`](Router::shutdown) all of them,
//!   [`pause_transmit`](Router::pause_transmit) /
//!   [`resume_transmit`](Router::resume_transmit) a connection whose writer is busy.
//! - **Output**, drained after *every* input, in this order:
//!   [`poll_transmit`](Router::poll_transmit) until `None` (encoded messages, each for one
//!   connection and in order per connection, in that connection's serializer),
//!   [`poll_event`](Router::poll_event) until `None` (joins, leaves, refusals, and
//!   [`RouterEvent::CloseConnection`] when a transport must be dropped, which comes after
//!   its last message), then [`poll_timeout`](Router::poll_timeout).
//!
//! Time is an argument (`now`), so tests run on a virtual clock. Session and publication
//! IDs, nonces and challenges come from the RNG given to [`Router::new`].
//!
//! ```no_run
//! use std::collections::HashMap;
//! use std::time::Instant;
//! use wamp_router::{ConnectionId, RealmConfig, Router, RouterConfig, RouterEvent};
//! use wamp_proto::serializer::SerializerKind;
//!
//! # enum Input { Opened(u64, SerializerKind), Frame(u64, bytes::Bytes), Closed(u64), Deadline }
//! # fn wait_for_input(_deadline: Option<Instant>) -> Input { Input::Deadline }
//! # fn send(_transport: u64, _bytes: &[u8]) {}
//! # fn close_transport(_transport: u64) {}
//! # use rand::SeedableRng;
//! let config = RouterConfig::new().realm(RealmConfig::anonymous("realm1")?);
//! let mut router = Router::new(config, Box::new(rand::rngs::StdRng::from_os_rng()))?;
//! // The runtime's own names for its transports, and the router's.
//! let mut conns: HashMap<u64, ConnectionId> = HashMap::new();
//! let mut transports: HashMap<ConnectionId, u64> = HashMap::new();
//! loop {
//!     // 1. Feed one input.
//!     match wait_for_input(router.poll_timeout()) {
//!         Input::Opened(t, serializer) => {
//!             let conn = router.open(Instant::now(), serializer);
//!             conns.insert(t, conn);
//!             transports.insert(conn, t);
//!         }
//!         Input::Frame(t, bytes) => router.handle_bytes(Instant::now(), conns[&t], bytes),
//!         Input::Closed(t) => {
//!             if let Some(conn) = conns.remove(&t) {
//!                 transports.remove(&conn);
//!                 router.handle_transport_closed(Instant::now(), conn);
//!             }
//!         }
//!         Input::Deadline => router.handle_timeout(Instant::now()),
//!     }
//!     // 2. Send everything queued.
//!     while let Some((conn, bytes)) = router.poll_transmit() {
//!         send(transports[&conn], &bytes);
//!     }
//!     // 3. Act on the events.
//!     while let Some(event) = router.poll_event() {
//!         match event {
//!             RouterEvent::Joined { session, realm, authid, .. } => {
//!                 println!("{session} joined {realm} as {authid}");
//!             }
//!             RouterEvent::CloseConnection { conn } => {
//!                 if let Some(t) = transports.get(&conn) {
//!                     close_transport(*t); // reported back later as Input::Closed
//!                 }
//!             }
//!             _ => {}
//!         }
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What it does
//!
//! - **Sessions**: HELLO to a configured realm, authentication by the realm's
//!   principals (anonymous, ticket, WAMP-CRA plain and salted, cryptosign with TLS channel
//!   binding, WAMP-SCRAM), WELCOME announcing the broker and dealer features; GOODBYE
//!   answered with `wamp.close.goodbye_and_out` (the transport may then carry a new
//!   HELLO); a protocol violation aborts the offending session only
//!   (`wamp.error.protocol_violation`) and drops its transport; unknown realms get
//!   `wamp.error.no_such_realm`, failed authentication `wamp.error.not_authorized`, no
//!   acceptable method `wamp.error.no_auth_method`; handshakes have a deadline.
//! - **Broker**: exact, prefix and wildcard subscriptions (one subscription per topic and
//!   policy, shared), acknowledgement, `exclude_me`, exclusion and eligibility by session,
//!   authid and authrole, publisher disclosure (asked for, or forced by the role),
//!   retained events, events in publication order.
//! - **Dealer**: exact, prefix and wildcard registrations with the spec's precedence;
//!   shared registrations (`single`, `roundrobin`, `random`, `first`, `last`); caller
//!   disclosure; progressive results and progressive call invocations; cancel (`skip`,
//!   `kill`, `killnowait`); call timeouts; a leaving callee's calls fail with
//!   `wamp.error.canceled`.
//! - **Meta API**: `wamp.session.*` (count, list, get, kill, kill_by_authid,
//!   kill_by_authrole, kill_all, add_testament, flush_testaments, on_join, on_leave),
//!   `wamp.registration.*` and `wamp.subscription.*` (procedures and events).
//! - **Authorization**: per role, per URI (exact or prefix; the most specific rule
//!   decides), for call, register, publish and subscribe; refusals are
//!   `wamp.error.not_authorized` with a message that says what was refused and why.
//! - **Payloads** are forwarded as the bytes they arrived as between sessions of one
//!   serializer, and converted once per serializer otherwise.
//! - **Bounds**: every queue and table has a limit ([`Limits`]); a connection whose
//!   outbound queue fills up loses its session ([`LeaveReason::SlowConsumer`]).
//!
//! # Backpressure
//!
//! Every connection's queue is counted in bytes ([`Limits`]). When a message leaves a
//! connection with more than `transmit_high_water` bytes waiting, the connection whose
//! input caused it (a publisher, a caller, a callee answering) is held:
//! [`RouterEvent::InputPaused`] tells the runtime to stop reading from it, and
//! [`RouterEvent::InputResumed`] comes once every connection it fed has drained to
//! `transmit_low_water` (or is gone). Nothing is dropped while readers keep up. A
//! connection is cut as a slow consumer only when its writer, paused with
//! [`pause_transmit`](Router::pause_transmit), makes no progress for `write_timeout`,
//! or when more than `max_transmit_bytes` wait for it; it gets ABORT
//! `wamp.close.slow_consumer` and the meta API's `on_leave` says so.
//!
//! Not implemented: session resumption, router-to-router links, event history, call
//! rerouting, sharded registrations, trust levels, payload passthru. The WAMP-CRA
//! challenge carries no `timestamp` (there is no wall clock here) and the meta API's
//! `created` fields are left out for the same reason.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod authorizer;
mod broker;
mod config;
mod connection;
mod dealer;
mod dynamic_auth;
mod dynamic_authz;
mod error;
mod event;
mod handshake;
mod lifecycle;
mod meta;
mod metrics;
mod patterns;
mod realm;
mod timers;

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;

pub use config::{
    Allow, AnonymousAuth, AuthConfig, Authenticator, Authenticators, CraPrincipal, CraSalt,
    CryptosignPrincipal, Disclose, Limits, Permission, PermissionMatch, RealmConfig, RoleConfig,
    RouterConfig, ScramCredential, ScramKdf, ScramPrincipal, TicketPrincipal, TlsPrincipal,
    TransportAuth,
};
pub use error::{ConfigError, RouterUsageError};
pub use event::{ConnectionId, LeaveReason, RouterEvent};

use wamp_proto::auth::ChannelBinding;
use wamp_proto::message::{Abort, Challenge, Goodbye, Hello, Message, Welcome};
use wamp_proto::serializer::SerializerKind;
use wamp_proto::{
    Details, Dict, Id, IdHashMap, Map, Payload, RequestId, RequestIdGenerator, SessionId, Uri,
};

use authorizer::Authorizer;
use connection::{Budgets, ConnState, Connection, Connections, Overflow};
use handshake::{Identity, RealmAuth, Scope, Step};
use realm::{Ctx, Kill, Realm, RouterAnswer, SessionInfo};
use timers::{Timer, Timers};

/// The broker features announced in WELCOME.
pub const BROKER_FEATURES: &[&str] = &[
    "publisher_identification",
    "publisher_exclusion",
    "subscriber_blackwhite_listing",
    "pattern_based_subscription",
    "event_retention",
];
/// The dealer features announced in WELCOME.
pub const DEALER_FEATURES: &[&str] = &[
    "caller_identification",
    "pattern_based_registration",
    "shared_registration",
    "progressive_call_results",
    "progressive_call_invocations",
    "call_canceling",
    "call_timeout",
];
/// The broker features announced in addition when the realm serves the meta API.
pub const BROKER_META_FEATURES: &[&str] = &["session_meta_api", "subscription_meta_api"];
/// The dealer features announced in addition when the realm serves the meta API.
pub const DEALER_META_FEATURES: &[&str] = &[
    "session_meta_api",
    "registration_meta_api",
    "testament_meta_api",
];

const AGENT: &str = concat!("wamp-rs-router/", env!("CARGO_PKG_VERSION"));

/// A WAMP router. See the [module documentation](self) for how to drive it.
pub struct Router {
    realms: Vec<Realm>,
    realm_index: HashMap<Uri, usize>,
    /// The transports' own authentication, by name.
    transport_auth: Vec<(String, RealmAuth)>,
    conns: Connections,
    timers: Timers,
    rng: Box<dyn rand_core::CryptoRng + Send>,
    limits: Limits,
    events: VecDeque<RouterEvent>,
    next_conn: u64,
    /// Router-scope IDs (subscriptions, registrations).
    next_id: u64,
    /// Every session ID in use, joined or reserved by a handshake, and its connection.
    sessions: IdHashMap<SessionId, ConnectionId>,
    /// Sessions the meta API asked to close, done after the input that asked.
    kills: VecDeque<Kill>,
    shutting_down: bool,
    /// The session the router calls authenticators as.
    router_session: SessionId,
    /// The router's calls to authenticators in flight: the connection each is for.
    auth_calls: HashMap<RequestId, ConnectionId>,
    auth_requests: RequestIdGenerator,
    /// Answers to those calls, acted on after the input that brought them.
    answers: VecDeque<(RequestId, RouterAnswer)>,
    /// Requests waiting for a dynamic authorizer, by the router's call.
    authz_waits: HashMap<RequestId, dynamic_authz::AuthzWait>,
    /// The connections whose input those hold, and the call each waits for.
    authz_held: HashMap<ConnectionId, RequestId>,
    /// Messages to route again, in order, after the current input: one an authorizer
    /// just decided (`true`), then those that waited behind it.
    redo: VecDeque<(ConnectionId, Message, bool)>,
    /// Routing those (they were counted when they arrived).
    redo_in_progress: bool,
    /// Routing the one just decided (its decision is used even for a pattern).
    redo_decided: bool,
    /// Procedures the runtime answers itself.
    hooks: std::collections::HashSet<Uri>,
    /// Its questions not yet answered.
    asked: std::collections::HashSet<RequestId>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field(
                "realms",
                &self.realms.iter().map(|r| &r.name).collect::<Vec<_>>(),
            )
            .field("connections", &self.conns.len())
            .field("sessions", &self.sessions.len())
            .field("shutting_down", &self.shutting_down)
            .finish_non_exhaustive()
    }
}

impl Router {
    /// A router for `config`; `rng` supplies session and publication IDs, nonces and
    /// challenges (and the salts of WAMP-SCRAM credentials derived from passwords), so
    /// it must be a cryptographic generator (the type says so: `CryptoRng`), e.g.
    /// `rand::rngs::StdRng::from_os_rng()` or the operating system's own.
    ///
    /// Fails if the configuration cannot work: a realm or role defined twice, a principal
    /// with an unknown role, a key or credential that does not parse.
    pub fn new(
        config: RouterConfig,
        mut rng: Box<dyn rand_core::CryptoRng + Send>,
    ) -> Result<Router, ConfigError> {
        let mut realms = Vec::new();
        let mut realm_index = HashMap::new();
        for rc in &config.realms {
            if realm_index.contains_key(&rc.name) {
                return Err(ConfigError::DuplicateRealm(rc.name.to_string()));
            }
            let mut seen = std::collections::HashSet::new();
            for role in &rc.roles {
                if !seen.insert(role.name.as_str()) {
                    return Err(ConfigError::DuplicateRole {
                        realm: rc.name.to_string(),
                        role: role.name.clone(),
                    });
                }
            }
            if let Some(role) = rc
                .roles
                .iter()
                .find(|r| r.authorizer.is_some() && !r.permissions.is_empty())
            {
                return Err(ConfigError::PermissionsAndAuthorizer {
                    realm: rc.name.to_string(),
                    role: role.name.clone(),
                });
            }
            let authz = Authorizer::new(&rc.roles);
            let auth = RealmAuth::new(&rc.auth, Scope::Realm(&rc.name, &authz), &mut *rng)?;
            realm_index.insert(rc.name.clone(), realms.len());
            realms.push(Realm::new(rc, auth, authz));
        }
        let mut transport_auth: Vec<(String, RealmAuth)> = Vec::new();
        for t in &config.transport_auth {
            if transport_auth.iter().any(|(name, _)| *name == t.name) {
                return Err(ConfigError::DuplicateTransportAuth(t.name.clone()));
            }
            let auth = RealmAuth::new(&t.auth, Scope::Transport(&t.name), &mut *rng)?;
            transport_auth.push((t.name.clone(), auth));
        }
        let mut router = Router {
            realms,
            realm_index,
            transport_auth,
            conns: Connections::new(Budgets {
                high_water: config.limits.transmit_high_water,
                low_water: config
                    .limits
                    .transmit_low_water
                    .min(config.limits.transmit_high_water),
                max_bytes: config.limits.max_transmit_bytes,
            }),
            timers: Timers::default(),
            rng,
            limits: config.limits,
            events: VecDeque::new(),
            next_conn: 0,
            next_id: 0,
            sessions: IdHashMap::default(),
            kills: VecDeque::new(),
            shutting_down: false,
            router_session: SessionId(Id::MIN),
            auth_calls: HashMap::new(),
            auth_requests: RequestIdGenerator::default(),
            answers: VecDeque::new(),
            authz_waits: HashMap::new(),
            authz_held: HashMap::new(),
            redo: VecDeque::new(),
            redo_in_progress: false,
            redo_decided: false,
            hooks: config.hooks.iter().cloned().collect(),
            asked: std::collections::HashSet::new(),
        };
        // Reserved, so that no client gets it.
        router.router_session = router.new_session_id(ConnectionId::ROUTER);
        Ok(router)
    }

    // ---- output ------------------------------------------------------------------

    /// The next encoded message to send, and the connection to send it on. Messages for
    /// one connection come in order; connections take turns.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(ConnectionId, Bytes)> {
        self.conns.pop()
    }

    /// The next event for the runtime.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<RouterEvent> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        // Holds change as messages are queued and taken, so these come last.
        self.conns.poll_flow().map(|(conn, held)| match held {
            true => RouterEvent::InputPaused { conn },
            false => RouterEvent::InputResumed { conn },
        })
    }

    /// When [`handle_timeout`](Router::handle_timeout) must be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ---- introspection -----------------------------------------------------------

    /// Open connections (with or without a session).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Joined sessions, over all realms.
    pub fn session_count(&self) -> usize {
        self.realms.iter().map(|r| r.sessions.len()).sum()
    }

    /// The session joined on `conn`, if any.
    pub fn session_of(&self, conn: ConnectionId) -> Option<SessionId> {
        match self.conns.get(conn)?.state {
            ConnState::Established { session, .. } => Some(session),
            _ => None,
        }
    }

    /// Messages queued for `conn` and not yet taken by `poll_transmit`.
    pub fn queued(&self, conn: ConnectionId) -> usize {
        self.conns.queued(conn)
    }

    /// Bytes queued for `conn` and not yet taken by `poll_transmit`.
    pub fn queued_bytes(&self, conn: ConnectionId) -> usize {
        self.conns.queued_bytes(conn)
    }

    /// Bytes queued for all connections together (what the router holds for writers
    /// that are full).
    pub fn total_queued_bytes(&self) -> usize {
        self.conns.total_bytes()
    }

    /// The bytes queued for the connection with the most (a scan of every connection:
    /// for statistics, not for every message).
    pub fn largest_queued_bytes(&self) -> usize {
        self.conns.largest_queue()
    }

    /// Whether backpressure holds `conn`'s input (between
    /// [`RouterEvent::InputPaused`] and [`RouterEvent::InputResumed`]).
    pub fn is_input_paused(&self, conn: ConnectionId) -> bool {
        self.conns.is_input_held(conn)
    }

    /// Whether [`shutdown`](Router::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }

    // ---- input: connections ------------------------------------------------------

    /// A transport connection opened, speaking `serializer` (from the WebSocket
    /// subprotocol or the RawSocket handshake). It must send HELLO within the handshake
    /// timeout.
    pub fn open(&mut self, now: Instant, serializer: SerializerKind) -> ConnectionId {
        self.next_conn += 1;
        let id = ConnectionId(self.next_conn);
        self.conns.insert(id, serializer);
        self.timers
            .set_after(Timer::Handshake(id), now, self.limits.handshake_timeout);
        id
    }

    /// Sets the TLS channel binding data of a connection, for cryptosign and WAMP-SCRAM
    /// sessions that bind to the channel. Call before its HELLO arrives.
    pub fn set_channel_binding(
        &mut self,
        conn: ConnectionId,
        binding: ChannelBinding,
    ) -> Result<(), RouterUsageError> {
        self.known_conn(conn)?.channel_binding = Some(binding);
        Ok(())
    }

    /// Authenticates the connection's sessions with the transport authentication
    /// `name` ([`RouterConfig::transport_auth`]) instead of their realm's own. Call
    /// before its HELLO arrives.
    pub fn set_transport_auth(
        &mut self,
        conn: ConnectionId,
        name: &str,
    ) -> Result<(), RouterUsageError> {
        let index = self
            .transport_auth
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| RouterUsageError::UnknownTransportAuth(name.to_owned()))?;
        self.known_conn(conn)?.transport_auth = Some(index);
        Ok(())
    }

    /// The runtime's answer to [`RouterEvent::Ask`] `request`: the value a callee would
    /// have returned (its first positional result), or the error (URI and message) it
    /// would have raised. An answer to a question not pending (late, or never asked) is
    /// ignored.
    pub fn answer(
        &mut self,
        now: Instant,
        request: RequestId,
        answer: Result<wamp_proto::Value, (Uri, String)>,
    ) {
        if !self.asked.remove(&request) {
            return;
        }
        self.timers.cancel(Timer::Hook(request));
        let answer = match answer {
            Ok(value) => RouterAnswer::Result(vec![value]),
            Err((error, why)) => RouterAnswer::Error(error, why),
        };
        self.answers.push_back((request, answer));
        self.settle(now);
        self.route_decided(now);
    }

    /// Counts `bytes` of received frames, for a runtime that decodes frames itself
    /// (with [`handle_message`](Router::handle_message)); see [`metrics`](Router::metrics).
    pub fn count_received_bytes(&mut self, bytes: usize) {
        self.conns.counters.bytes_received += bytes as u64;
    }

    /// The router's metrics in the Prometheus text exposition format: sessions per
    /// realm, connections, queued bytes, messages and bytes in and out (by message
    /// type), joins, slow-consumer disconnects, refused joins by authentication method,
    /// and a histogram of the time from a call to its final answer.
    pub fn metrics(&self) -> String {
        let gauges = metrics::Gauges {
            sessions: self
                .realms
                .iter()
                .map(|r| (r.name.as_str(), r.sessions.len()))
                .collect(),
            connections: self.conns.len(),
            queued_bytes: self.conns.total_bytes(),
            largest_queue: self.conns.largest_queue(),
        };
        metrics::render(&self.conns.counters, &gauges)
    }

    /// Sets the SHA-1 fingerprint (hex, with or without `:`) of the client certificate
    /// the connection's TLS verified, for the `tls` authentication method. Call before
    /// its HELLO arrives.
    pub fn set_client_certificate(
        &mut self,
        conn: ConnectionId,
        sha1: &str,
    ) -> Result<(), RouterUsageError> {
        self.known_conn(conn)?.client_cert = Some(handshake::normalize_fingerprint(sha1));
        Ok(())
    }

    /// Whether the configuration has a transport authentication of this name.
    pub fn has_transport_auth(&self, name: &str) -> bool {
        self.transport_auth.iter().any(|(n, _)| n == name)
    }

    /// Sets the transport details the session meta API reports for a connection's
    /// sessions (`wamp.session.get`, `on_join`): peer address, transport type, ...
    pub fn set_transport_details(
        &mut self,
        conn: ConnectionId,
        details: Map,
    ) -> Result<(), RouterUsageError> {
        self.known_conn(conn)?.transport = details;
        Ok(())
    }

    /// A connection the application names, which must exist.
    fn known_conn(&mut self, conn: ConnectionId) -> Result<&mut Connection, RouterUsageError> {
        self.conns
            .get_mut(conn)
            .ok_or(RouterUsageError::UnknownConnection(conn))
    }

    /// The connection's writer is full: keep its messages queued (within the byte
    /// budgets of [`Limits`]) until [`resume_transmit`](Router::resume_transmit). If it
    /// stays paused for [`Limits::write_timeout`] without a break, the client is a slow
    /// consumer and loses its session.
    pub fn pause_transmit(
        &mut self,
        now: Instant,
        conn: ConnectionId,
    ) -> Result<(), RouterUsageError> {
        match self.conns.set_paused(conn, true, now) {
            None => Err(RouterUsageError::UnknownConnection(conn)),
            Some(started) => {
                if started && !self.timers.is_set(Timer::WriteStall(conn)) {
                    self.timers
                        .set_after(Timer::WriteStall(conn), now, self.limits.write_timeout);
                }
                Ok(())
            }
        }
    }

    /// The connection's writer made progress and can take messages again. (The write
    /// deadline's timer is left to fire and find the connection moving, so a writer
    /// that fills and drains all the time costs no timer updates.)
    pub fn resume_transmit(
        &mut self,
        now: Instant,
        conn: ConnectionId,
    ) -> Result<(), RouterUsageError> {
        self.conns
            .set_paused(conn, false, now)
            .map(|_| ())
            .ok_or(RouterUsageError::UnknownConnection(conn))
    }

    /// One received message, still encoded. A frame that does not decode is a protocol
    /// violation. Frames for unknown or closed connections are ignored.
    pub fn handle_bytes(&mut self, now: Instant, conn: ConnectionId, frame: Bytes) {
        let Some(c) = self.conns.get(conn) else {
            return;
        };
        if matches!(c.state, ConnState::Closed) {
            return;
        }
        let serializer = c.serializer;
        self.conns.counters.bytes_received += frame.len() as u64;
        match serializer.decode(frame) {
            Ok(message) => self.handle_message(now, conn, message),
            Err(e) => self.handle_undecodable(now, conn, e.to_string()),
        }
    }

    /// A received frame that did not decode (`why`), for a runtime that decodes frames
    /// itself (beside the router, on another core): the same protocol violation
    /// [`handle_bytes`](Router::handle_bytes) would find.
    pub fn handle_undecodable(&mut self, now: Instant, conn: ConnectionId, why: String) {
        if self
            .conns
            .get(conn)
            .is_none_or(|c| matches!(c.state, ConnState::Closed))
        {
            return;
        }
        self.protocol_violation(now, conn, why);
        self.settle(now);
        self.route_decided(now);
    }

    /// One received message.
    pub fn handle_message(&mut self, now: Instant, conn: ConnectionId, message: Message) {
        // What this message makes the router send is fed by `conn`: a congested
        // recipient holds its input.
        self.conns.begin_input(conn);
        self.handle_message_from(now, conn, message);
        self.conns.end_input();
        self.route_decided(now);
    }

    fn handle_message_from(&mut self, now: Instant, conn: ConnectionId, message: Message) {
        if !self.redo_in_progress {
            self.conns.counters.received(message.message_type());
        }
        let Some(c) = self.conns.get(conn) else {
            return;
        };
        // Messages built in memory skip the decoder's checks of the well-known options.
        if let Err((key, why)) = check_dicts(&message) {
            let why = format!("{}: {key} {why}", message.message_type());
            self.protocol_violation(now, conn, why);
            self.settle(now);
            return;
        }
        match &c.state {
            ConnState::Closed => {}
            ConnState::Closing => {
                // The reply to our GOODBYE ends it; anything else crossed it and is
                // ignored (the spec's transition 14).
                if matches!(message, Message::Goodbye(_) | Message::Abort(_)) {
                    self.timers.cancel(Timer::Goodbye(conn));
                    self.close_connection(conn);
                }
            }
            ConnState::AwaitingHello => match message {
                Message::Hello(hello) => self.on_hello(now, conn, hello),
                Message::Abort(_) => self.close_connection(conn),
                other => self.protocol_violation(
                    now,
                    conn,
                    format!("received {} before HELLO", other.message_type()),
                ),
            },
            ConnState::Authenticating { .. } => match message {
                Message::Authenticate(answer) => self.on_authenticate(now, conn, answer),
                Message::Abort(_) => {
                    self.release_handshake(conn);
                    self.close_connection(conn);
                }
                other => self.protocol_violation(
                    now,
                    conn,
                    format!("received {} while authenticating", other.message_type()),
                ),
            },
            &ConnState::Established { realm, session } => match message {
                Message::Goodbye(goodbye) => {
                    self.conns.send_final(
                        conn,
                        &Message::Goodbye(Goodbye {
                            details: Dict::new(),
                            reason: Uri::GOODBYE_AND_OUT,
                        }),
                    );
                    self.leave(
                        now,
                        conn,
                        realm,
                        session,
                        LeaveReason::Goodbye(goodbye.reason),
                    );
                    // The transport may carry a new session; until it does, it is held to
                    // the handshake deadline.
                    if let Some(c) = self.conns.get_mut(conn) {
                        c.state = ConnState::AwaitingHello;
                    }
                    self.timers.set_after(
                        Timer::Handshake(conn),
                        now,
                        self.limits.handshake_timeout,
                    );
                }
                Message::Abort(abort) => {
                    self.leave(
                        now,
                        conn,
                        realm,
                        session,
                        LeaveReason::AbortedByClient(abort.reason),
                    );
                    self.close_connection(conn);
                }
                Message::Hello(_) | Message::Authenticate(_) => self.protocol_violation(
                    now,
                    conn,
                    format!(
                        "received {} in an established session",
                        message.message_type()
                    ),
                ),
                other => self.route(now, conn, realm, session, other),
            },
        }
        self.settle(now);
    }

    /// The transport closed: the connection and its session (if any) are gone.
    pub fn handle_transport_closed(&mut self, now: Instant, conn: ConnectionId) {
        let Some(c) = self.conns.get(conn) else {
            return;
        };
        match c.state {
            ConnState::Established { realm, session } => {
                self.leave(now, conn, realm, session, LeaveReason::TransportClosed);
            }
            ConnState::Authenticating { .. } => self.release_handshake(conn),
            _ => {}
        }
        self.timers.cancel(Timer::Handshake(conn));
        self.timers.cancel(Timer::Goodbye(conn));
        self.timers.cancel(Timer::WriteStall(conn));
        self.conns.remove(conn);
        self.settle(now);
        self.route_decided(now);
    }

    /// Advances time: acts on every expired deadline. Afterwards `poll_timeout` is
    /// `None` or later than `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_expired(now) {
            match timer {
                Timer::Handshake(conn) => match self.conns.get(conn).map(|c| &c.state) {
                    Some(ConnState::AwaitingHello) => self.close_connection(conn),
                    Some(ConnState::Authenticating { .. }) => {
                        let why = format!(
                            "authentication did not finish within {:?}",
                            self.limits.handshake_timeout
                        );
                        self.abort(now, conn, Uri::TIMEOUT, why);
                    }
                    _ => {}
                },
                Timer::Goodbye(conn) => {
                    if matches!(
                        self.conns.get(conn).map(|c| &c.state),
                        Some(ConnState::Closing)
                    ) {
                        self.close_connection(conn);
                    }
                }
                Timer::Hook(request) => {
                    if self.asked.remove(&request) {
                        let why = format!(
                            "the runtime did not answer within {:?}",
                            self.limits.authenticator_timeout
                        );
                        self.answers.push_back((request, RouterAnswer::Failed(why)));
                    }
                }
                Timer::Call(realm, key) => {
                    self.in_realm(realm, now, |r, ctx| r.dealer.timeout(&r.sessions, key, ctx));
                }
                Timer::WriteStall(conn) => {
                    // Paused since `since` without a break? (A resume clears it; a new
                    // pause starts over, so the deadline moves.)
                    if let Some(since) = self.conns.stalled_since(conn) {
                        match since.checked_add(self.limits.write_timeout) {
                            Some(at) if at > now => self.timers.set(Timer::WriteStall(conn), at),
                            _ => self.conns.stall(conn),
                        }
                    }
                }
            }
            self.settle(now);
        }
        self.route_decided(now);
    }

    // ---- input: commands ---------------------------------------------------------

    /// Closes the session on `conn` with GOODBYE (`reason`, e.g.
    /// `wamp.close.close_realm`, and an optional message). The session leaves at once;
    /// the transport is dropped when the client answers or the GOODBYE timeout passes.
    pub fn close(
        &mut self,
        now: Instant,
        conn: ConnectionId,
        reason: Uri,
        message: Option<&str>,
    ) -> Result<(), RouterUsageError> {
        let Some(c) = self.conns.get(conn) else {
            return Err(RouterUsageError::UnknownConnection(conn));
        };
        let ConnState::Established { realm, session } = c.state else {
            return Err(RouterUsageError::NotEstablished(conn));
        };
        self.goodbye(
            now,
            conn,
            realm,
            session,
            reason.clone(),
            message,
            LeaveReason::Closed(reason),
        );
        self.settle(now);
        self.route_decided(now);
        Ok(())
    }

    /// Shuts down: every session gets GOODBYE `wamp.close.system_shutdown`, handshakes
    /// are aborted, connections without a session are closed, and new HELLOs are refused.
    /// The router is done when [`connection_count`](Router::connection_count) is zero.
    pub fn shutdown(&mut self, now: Instant) {
        self.shutting_down = true;
        // Nobody waits for an authorizer any more: held inputs are released (so the
        // replies to GOODBYE come in), and the runtime's hooks are not waited for.
        for (conn, _) in std::mem::take(&mut self.authz_held) {
            self.conns.release_input(conn);
        }
        for request in std::mem::take(&mut self.asked) {
            self.timers.cancel(Timer::Hook(request));
            let why = "the router is shutting down".to_owned();
            self.answers.push_back((request, RouterAnswer::Failed(why)));
        }
        // Everyone leaves at once: no meta events or testaments for sessions that are
        // all going away.
        let mut leaving = Vec::new();
        for index in 0..self.realms.len() {
            let gone = self.in_realm(index, now, |r, ctx| r.clear(ctx));
            let name = self.realms[index].name.clone();
            leaving.extend(gone.into_iter().map(|s| (s, name.clone())));
        }
        for (info, realm) in leaving {
            self.sessions.remove(&info.id);
            self.send_goodbye(
                now,
                info.conn,
                Uri::CLOSE_SYSTEM_SHUTDOWN,
                Some("the router is shutting down"),
            );
            self.events.push_back(RouterEvent::Left {
                conn: info.conn,
                session: info.id,
                realm,
                reason: LeaveReason::Shutdown,
            });
        }
        for conn in self.conns.ids() {
            match self.conns.get(conn).map(|c| &c.state) {
                Some(ConnState::AwaitingHello) => self.close_connection(conn),
                Some(ConnState::Authenticating { .. }) => self.abort(
                    now,
                    conn,
                    Uri::CLOSE_SYSTEM_SHUTDOWN,
                    "the router is shutting down".into(),
                ),
                _ => {}
            }
        }
        self.settle(now);
        self.route_decided(now);
    }

    /// Runs `f` on a realm with the router's context, then queues the sessions it asked
    /// to kill.
    fn in_realm<R>(
        &mut self,
        realm: usize,
        now: Instant,
        f: impl FnOnce(&mut Realm, &mut Ctx<'_>) -> R,
    ) -> R {
        let Router {
            realms,
            conns,
            timers,
            rng,
            limits,
            next_id,
            kills,
            router_session,
            answers,
            ..
        } = self;
        let mut ctx = Ctx {
            now,
            rng: &mut **rng,
            out: conns,
            timers,
            ids: next_id,
            limits,
            realm,
            kills: Vec::new(),
            meta: Vec::new(),
            router_session: *router_session,
            answers: Vec::new(),
        };
        let r = f(&mut realms[realm], &mut ctx);
        kills.extend(ctx.kills);
        answers.extend(ctx.answers);
        r
    }

    /// Finishes an input: closes the sessions the meta API killed and the connections
    /// whose queues overflowed, until nothing is left to do (each step removes a
    /// session, so this ends).
    fn settle(&mut self, now: Instant) {
        loop {
            if let Some((request, answer)) = self.answers.pop_front() {
                self.on_router_answer(now, request, answer);
                continue;
            }
            if let Some(overflow) = self.conns.take_overflowed() {
                self.drop_slow(now, overflow);
                continue;
            }
            if let Some(kill) = self.kills.pop_front() {
                let Some(&conn) = self.sessions.get(&kill.session) else {
                    continue;
                };
                if let Some(&ConnState::Established { realm, session }) =
                    self.conns.get(conn).map(|c| &c.state)
                {
                    if session == kill.session {
                        let why = LeaveReason::Closed(kill.reason.clone());
                        self.goodbye(
                            now,
                            conn,
                            realm,
                            session,
                            kill.reason,
                            kill.message.as_deref(),
                            why,
                        );
                    }
                }
                continue;
            }
            break;
        }
    }

    /// A slow consumer: its connection's backlog passed the byte budget, or its writer
    /// made no progress for the write timeout. What waited for it is already discarded
    /// (it could not take it); its session ends, it is told why with ABORT
    /// `wamp.close.slow_consumer` (which a client that reads at all will see), and its
    /// transport is dropped.
    fn drop_slow(&mut self, now: Instant, overflow: Overflow) {
        let Overflow {
            conn,
            queued_bytes,
            stalled_since,
        } = overflow;
        let reason = LeaveReason::SlowConsumer {
            queued_bytes,
            stalled_for: stalled_since.map(|since| now.saturating_duration_since(since)),
        };
        self.conns.counters.slow_consumers += 1;
        let message = reason.to_string();
        let session = match self.conns.get(conn).map(|c| &c.state) {
            Some(&ConnState::Established { realm, session }) => {
                self.leave(now, conn, realm, session, reason);
                Some(session)
            }
            Some(ConnState::Authenticating { .. }) => {
                self.release_handshake(conn);
                None
            }
            Some(ConnState::Closed) | None => return,
            _ => None,
        };
        self.conns.send_final(
            conn,
            &Message::Abort(Abort {
                details: Dict::new().with_message(message.as_str()),
                reason: Uri::CLOSE_SLOW_CONSUMER,
                payload: Payload::empty(),
            }),
        );
        self.events.push_back(RouterEvent::Aborted {
            conn,
            session,
            reason: Uri::CLOSE_SLOW_CONSUMER,
            message,
        });
        self.close_connection(conn);
    }
}

/// Checks the well-known keys of a message's dictionaries (the decoder does this for
/// received bytes).
fn check_dicts(message: &Message) -> Result<(), (&'static str, String)> {
    let dict = match message {
        Message::Hello(m) => &m.details,
        Message::Authenticate(m) => &m.extra,
        Message::Goodbye(m) => &m.details,
        Message::Abort(m) => &m.details,
        Message::Error(m) => &m.details,
        Message::Publish(m) => &m.options,
        Message::Subscribe(m) => &m.options,
        Message::Unsubscribe(m) => &m.options,
        Message::Call(m) => &m.options,
        Message::Cancel(m) => &m.options,
        Message::Register(m) => &m.options,
        Message::Unregister(m) => &m.options,
        Message::Yield(m) => &m.options,
        _ => return Ok(()),
    };
    dict.check_known_keys()
}
