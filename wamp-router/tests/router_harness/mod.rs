//! An in-memory network for router tests: one [`Router`], client [`Session`]s (and raw
//! peers that send hand-made messages), and links that carry bytes both ways, on a
//! virtual clock. After every action the harness pumps until nothing moves, like a
//! runtime that drains every `poll_*` after every input:
//!
//! ```text
//! let mut net = Net::new(realm1());
//! let alice = net.join(SerializerKind::Json);
//! let bob = net.join(SerializerKind::Cbor);
//! let reg = net.register(bob, "com.add", Dict::new());
//! let call = net.s(alice).call(uri("com.add"), args, Dict::new()).unwrap();
//! net.pump();
//! let inv = net.invocation(bob);
//! ```
//!
//! Invariants checked on every pump: everything the router sends decodes with the
//! connection's serializer, no client ever sees a protocol violation from the router
//! (unless the test allows it), and `CloseConnection` is honoured by closing both ends.

#![allow(dead_code)] // each test file uses part of the harness

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use serde::Serialize;
use wamp_proto::auth::ChannelBinding;
use wamp_proto::session::{
    CloseReason, EventDelivery, InvocationEvent, Outcome, RequestError, Session, SessionConfig,
    SessionEvent, UsageError,
};
use wamp_proto::{
    message::Message, serializer::SerializerKind, Dict, Options, Payload, RegistrationId,
    RequestId, SessionId, SubscriptionId, Uri,
};
use wamp_router::{
    Allow, ConnectionId, Disclose, Permission, RealmConfig, RoleConfig, Router, RouterConfig,
    RouterEvent,
};

pub struct Peer {
    pub conn: ConnectionId,
    pub kind: SerializerKind,
    /// `None` for a raw peer.
    pub session: Option<Session>,
    /// What a raw peer received, decoded.
    pub inbox: VecDeque<Message>,
    /// What a session peer's application saw.
    pub events: VecDeque<SessionEvent>,
    /// The transport is open.
    pub open: bool,
    /// Close the transport when the session closes (what runtimes do).
    pub close_on_leave: bool,
    /// With `Net::tap`: every message the peer sent, decoded.
    pub tx: Vec<Message>,
    /// With `Net::tap`: every message the router sent the peer, decoded.
    pub rx: Vec<Message>,
}

pub struct Net {
    pub router: Router,
    pub t0: Instant,
    pub now: Instant,
    pub peers: Vec<Peer>,
    /// Everything the router reported, in order.
    pub log: Vec<RouterEvent>,
    /// Sessions that may see the router break the protocol (tests of exactly that).
    pub allow_violations: bool,
    /// Record every message on the wire in `Peer::tx` and `Peer::rx`.
    pub tap: bool,
    /// Honour the router's backpressure: a peer whose input is paused
    /// ([`RouterEvent::InputPaused`]) keeps its output in its session until resumed.
    pub backpressure: bool,
    /// The transport authentication new connections use, as if they came through a
    /// listener that names it ([`Router::set_transport_auth`]).
    pub transport_auth: Option<String>,
    seed: u64,
}

pub fn uri(s: &str) -> Uri {
    Uri::parse(s).expect("a valid URI")
}

pub fn pattern(s: &str) -> Uri {
    Uri::parse_with(s, wamp_proto::UriRule::LoosePattern).expect("a valid pattern")
}

/// Options for a prefix subscription or registration.
pub fn by_prefix() -> Options {
    Dict::new().with_match_policy(wamp_proto::MatchPolicy::Prefix)
}

/// Options for a wildcard subscription or registration.
pub fn by_wildcard() -> Options {
    Dict::new().with_match_policy(wamp_proto::MatchPolicy::Wildcard)
}

/// A request's answer, as the client session reports it.
pub type Reply = Result<Outcome, RequestError>;

/// `s` as the URI or the pattern that the match policy in `options` asks for.
fn uri_for(s: &str, options: &Options) -> Uri {
    match options.match_policy() {
        Some(wamp_proto::MatchPolicy::Prefix | wamp_proto::MatchPolicy::Wildcard) => pattern(s),
        _ => uri(s),
    }
}

pub fn args<A: Serialize>(kind: SerializerKind, a: &A) -> Payload {
    Payload::encode_args(kind, a).expect("encodable args")
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// `realm1`, anonymous, everything allowed.
pub fn realm1() -> RouterConfig {
    RouterConfig::new().realm(RealmConfig::anonymous("realm1").expect("valid realm"))
}

/// `realm1` with these roles, each allowed everything.
pub fn permissive_realm1(roles: &[&str]) -> RealmConfig {
    let realm = RealmConfig::new("realm1").expect("a valid value");
    roles.iter().fold(realm, |realm, role| {
        realm.role(RoleConfig::new(role).permit(Permission::everything()))
    })
}

/// Callers are disclosed to callees (for [`disclosing_realm1`]).
pub const DISCLOSE_CALLER: Disclose = Disclose {
    caller: true,
    publisher: false,
};

/// Publishers are disclosed to subscribers (for [`disclosing_realm1`]).
pub const DISCLOSE_PUBLISHER: Disclose = Disclose {
    caller: false,
    publisher: true,
};

/// `realm1` where `anonymous` may do everything, and what it does under `prefix` is
/// disclosed as `disclose` says.
pub fn disclosing_realm1(prefix: &str, disclose: Disclose) -> RouterConfig {
    RouterConfig::new().realm(
        RealmConfig::new("realm1")
            .expect("a valid value")
            .role(
                RoleConfig::new("anonymous")
                    .permit(Permission::everything())
                    .permit(Permission::prefix(prefix, Allow::ALL).disclose(disclose)),
            )
            .allow_anonymous("anonymous"),
    )
}

impl Net {
    pub fn new(config: RouterConfig) -> Net {
        Net::with_seed(config, 1)
    }

    /// A network on [`realm1`] with a session joined per serializer in `kinds`, in
    /// that order.
    pub fn joined<const N: usize>(kinds: [SerializerKind; N]) -> (Net, [usize; N]) {
        Net::with_peers(realm1(), kinds)
    }

    /// A network on `config` with a session joined (to `realm1`) per serializer
    /// in `kinds`, in that order.
    pub fn with_peers<const N: usize>(
        config: RouterConfig,
        kinds: [SerializerKind; N],
    ) -> (Net, [usize; N]) {
        let mut net = Net::new(config);
        let peers = kinds.map(|kind| net.join(kind));
        (net, peers)
    }

    pub fn with_seed(config: RouterConfig, seed: u64) -> Net {
        let router = Router::new(config, Box::new(rand::rngs::StdRng::seed_from_u64(seed)))
            .expect("a valid router configuration");
        let t0 = Instant::now();
        Net {
            router,
            t0,
            now: t0,
            peers: Vec::new(),
            log: Vec::new(),
            allow_violations: false,
            tap: false,
            backpressure: false,
            transport_auth: None,
            seed,
        }
    }

    /// Opens a transport and starts a session with `config` (not necessarily joined:
    /// see [`Net::joined`]).
    pub fn connect(&mut self, config: SessionConfig) -> usize {
        self.connect_bound(config, None, None)
    }

    /// Like [`Net::connect`], with TLS channel binding data on the router's end and the
    /// client's end of the transport.
    pub fn connect_bound(
        &mut self,
        config: SessionConfig,
        router_binding: Option<ChannelBinding>,
        client_binding: Option<ChannelBinding>,
    ) -> usize {
        let kind = config.serializer;
        self.seed = self.seed.wrapping_add(1);
        let mut session = Session::new(
            config,
            Box::new(rand::rngs::StdRng::seed_from_u64(
                self.seed.wrapping_mul(7919),
            )),
        );
        let conn = self.router.open(self.now, kind);
        if let Some(name) = &self.transport_auth {
            self.router
                .set_transport_auth(conn, name)
                .expect("a known name");
        }
        if let Some(b) = router_binding {
            self.router.set_channel_binding(conn, b).expect("open");
        }
        if let Some(b) = client_binding {
            session.set_channel_binding(b);
        }
        session.connect(self.now).expect("connect");
        self.peers.push(Peer {
            conn,
            kind,
            session: Some(session),
            inbox: VecDeque::new(),
            events: VecDeque::new(),
            open: true,
            close_on_leave: true,
            tx: Vec::new(),
            rx: Vec::new(),
        });
        self.pump();
        self.peers.len() - 1
    }

    /// Joins `realm1` anonymously with `kind`. The session answers INTERRUPT only when
    /// the test does, so the router's side of a cancel is seen step by step (any
    /// callee, say one in another language, may answer late or not at all).
    pub fn join(&mut self, kind: SerializerKind) -> usize {
        let mut config = SessionConfig::new(uri("realm1")).serializer(kind);
        config.answer_interrupts = false;
        self.join_with(config)
    }

    /// Joins with `config`; panics if the session does not join.
    pub fn join_with(&mut self, config: SessionConfig) -> usize {
        let id = self.connect(config);
        match self.peers[id].events.pop_front() {
            Some(SessionEvent::Joined(_)) => id,
            other => panic!("expected the session to join, got {other:?}"),
        }
    }

    /// Opens a transport for a raw peer (nothing is sent yet).
    pub fn open_raw(&mut self, kind: SerializerKind) -> usize {
        let conn = self.router.open(self.now, kind);
        self.peers.push(Peer {
            conn,
            kind,
            session: None,
            inbox: VecDeque::new(),
            events: VecDeque::new(),
            open: true,
            close_on_leave: false,
            tx: Vec::new(),
            rx: Vec::new(),
        });
        self.peers.len() - 1
    }

    /// Opens a raw peer that says HELLO to `realm1` with `details`.
    pub fn raw_hello(&mut self, kind: SerializerKind, details: Dict) -> usize {
        let raw = self.open_raw(kind);
        self.send_raw(
            raw,
            wamp_proto::message::Hello {
                realm: uri("realm1"),
                details,
            },
        );
        raw
    }

    /// A raw peer sends a message.
    pub fn send_raw(&mut self, id: usize, message: impl Into<Message>) {
        let bytes = self.peers[id]
            .kind
            .encode(&message.into())
            .expect("the test's message encodes");
        self.send_bytes(id, bytes);
    }

    /// A peer sends raw bytes.
    pub fn send_bytes(&mut self, id: usize, bytes: Bytes) {
        let conn = self.peers[id].conn;
        self.router.handle_bytes(self.now, conn, bytes);
        self.pump();
    }

    /// What a raw peer received since the last call.
    pub fn recv_raw(&mut self, id: usize) -> Vec<Message> {
        self.peers[id].inbox.drain(..).collect()
    }

    /// The session of peer `id`.
    pub fn s(&mut self, id: usize) -> &mut Session {
        self.peers[id].session.as_mut().expect("a session peer")
    }

    pub fn session_id(&mut self, id: usize) -> SessionId {
        self.s(id).session_id().expect("joined")
    }

    /// Moves every message until nothing moves.
    pub fn pump(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..self.peers.len() {
                let now = self.now;
                let peer = &mut self.peers[i];
                let Some(session) = peer.session.as_mut() else {
                    continue;
                };
                loop {
                    if self.backpressure && self.router.is_input_paused(peer.conn) {
                        break;
                    }
                    let Some(bytes) = session.poll_transmit() else {
                        break;
                    };
                    moved = true;
                    if self.tap {
                        let m = peer
                            .kind
                            .decode(bytes.clone())
                            .expect("the client's output decodes");
                        peer.tx.push(m);
                    }
                    if peer.open {
                        self.router.handle_bytes(now, peer.conn, bytes);
                    }
                }
                while let Some(event) = session.poll_event() {
                    moved = true;
                    if let SessionEvent::Closed(CloseReason::ProtocolViolation(why)) = &event {
                        assert!(
                            self.allow_violations,
                            "the router broke the protocol (peer {i}): {why}"
                        );
                    }
                    let closed = matches!(event, SessionEvent::Closed(_));
                    peer.events.push_back(event);
                    if closed && peer.close_on_leave && peer.open {
                        peer.open = false;
                        self.router.handle_transport_closed(now, peer.conn);
                    }
                }
            }
            while let Some((conn, bytes)) = self.router.poll_transmit() {
                moved = true;
                let now = self.now;
                let Some(peer) = self.peers.iter_mut().find(|p| p.conn == conn) else {
                    panic!("router sent to unknown {conn}");
                };
                assert!(peer.open, "router sent to closed {conn}");
                let message = peer
                    .kind
                    .decode(bytes.clone())
                    .unwrap_or_else(|e| panic!("router output does not decode: {e}"));
                if self.tap {
                    peer.rx.push(message.clone());
                }
                match peer.session.as_mut() {
                    Some(s) => s.handle_bytes(now, bytes),
                    None => peer.inbox.push_back(message),
                }
            }
            while let Some(event) = self.router.poll_event() {
                moved = true;
                if let RouterEvent::CloseConnection { conn } = &event {
                    let now = self.now;
                    if let Some(peer) = self.peers.iter_mut().find(|p| p.conn == *conn) {
                        if peer.open {
                            peer.open = false;
                            if let Some(s) = peer.session.as_mut() {
                                s.handle_transport_closed(now);
                            }
                            self.router.handle_transport_closed(now, *conn);
                        }
                    }
                }
                self.log.push(event);
            }
            if !moved {
                break;
            }
        }
    }

    /// Moves the clock forward by `d`, firing every deadline on the way in order.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let mut next: Option<Instant> = self.router.poll_timeout();
            for p in &self.peers {
                if let Some(t) = p.session.as_ref().and_then(Session::poll_timeout) {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
            }
            let Some(at) = next.filter(|t| *t <= end) else {
                break;
            };
            self.now = self.now.max(at);
            let now = self.now;
            self.router.handle_timeout(now);
            if let Some(t) = self.router.poll_timeout() {
                assert!(t > now, "a deadline at or before now after handle_timeout");
            }
            for p in &mut self.peers {
                if let Some(s) = p.session.as_mut() {
                    s.handle_timeout(now);
                }
            }
            self.pump();
        }
        self.now = end;
        self.pump();
    }

    /// The peer's transport goes away (both ends learn it).
    pub fn drop_transport(&mut self, id: usize) {
        let now = self.now;
        let peer = &mut self.peers[id];
        if !peer.open {
            return;
        }
        peer.open = false;
        if let Some(s) = peer.session.as_mut() {
            s.handle_transport_closed(now);
        }
        let conn = peer.conn;
        self.router.handle_transport_closed(now, conn);
        self.pump();
    }

    /// Drains the application events of a session peer.
    pub fn events(&mut self, id: usize) -> Vec<SessionEvent> {
        self.peers[id].events.drain(..).collect()
    }

    /// Drains the router's log.
    pub fn router_events(&mut self) -> Vec<RouterEvent> {
        std::mem::take(&mut self.log)
    }

    /// The reply to `request` among the peer's events (removed); panics if absent.
    pub fn reply(&mut self, id: usize, request: RequestId) -> Result<Outcome, RequestError> {
        let events = &mut self.peers[id].events;
        let at = events
            .iter()
            .position(|e| matches!(e, SessionEvent::Reply(r) if r.request == request))
            .unwrap_or_else(|| panic!("no reply to {request} for peer {id}: {events:?}"));
        match events.remove(at) {
            Some(SessionEvent::Reply(r)) => r.outcome,
            _ => unreachable!(),
        }
    }

    /// Whether the request has been answered (without taking the answer).
    pub fn answered(&self, id: usize, request: RequestId) -> bool {
        self.peers[id]
            .events
            .iter()
            .any(|e| matches!(e, SessionEvent::Reply(r) if r.request == request))
    }

    /// Calls and waits for the final answer (the callee must answer within the pump).
    pub fn call(
        &mut self,
        id: usize,
        procedure: &str,
        payload: Payload,
        options: Options,
    ) -> Result<Outcome, RequestError> {
        let request = self
            .s(id)
            .call(uri(procedure), payload, options)
            .expect("call");
        self.settled(id, request)
    }

    /// Sends a CALL and pumps, without waiting for the answer.
    pub fn start_call(
        &mut self,
        id: usize,
        procedure: &str,
        payload: Payload,
        options: Options,
    ) -> RequestId {
        let request = self
            .s(id)
            .call(uri(procedure), payload, options)
            .expect("the call is accepted");
        self.pump();
        request
    }

    /// A callee yields for `invocation`, and the network pumps.
    pub fn yield_now(
        &mut self,
        id: usize,
        invocation: RequestId,
        options: Options,
        payload: Payload,
    ) {
        self.s(id)
            .yield_(invocation, options, payload)
            .expect("the yield is accepted");
        self.pump();
    }

    /// A raw peer's only message is an ABORT with `reason`.
    pub fn expect_abort(&mut self, raw: usize, reason: Uri) {
        match &self.recv_raw(raw)[..] {
            [Message::Abort(a)] => assert_eq!(a.reason, reason),
            other => panic!("{other:?}"),
        }
    }

    /// Has a session peer send a request, and takes its answer, whatever it is.
    pub fn try_request(
        &mut self,
        id: usize,
        send: impl FnOnce(&mut Session) -> Result<RequestId, UsageError>,
    ) -> Result<Outcome, RequestError> {
        let request = send(self.s(id)).expect("the request is accepted");
        self.settled(id, request)
    }

    /// Sends a REGISTER and takes its answer, whatever it is.
    pub fn try_register(&mut self, id: usize, procedure: Uri, options: Options) -> Reply {
        self.try_request(id, |s| s.register(procedure, options))
    }

    /// Sends a SUBSCRIBE and takes its answer, whatever it is.
    pub fn try_subscribe(&mut self, id: usize, topic: Uri, options: Options) -> Reply {
        self.try_request(id, |s| s.subscribe(topic, options))
    }

    /// Sends a PUBLISH without arguments that asks for an acknowledgement (no pump).
    pub fn publish_acknowledged(&mut self, id: usize, topic: &str) -> RequestId {
        self.s(id)
            .publish(
                uri(topic),
                Payload::empty(),
                Dict::new().with_acknowledge(true),
            )
            .expect("the publish is accepted")
    }

    /// The authid the router gave a session peer in WELCOME.
    pub fn authid(&mut self, id: usize) -> String {
        self.s(id)
            .router_details()
            .authid()
            .expect("WELCOME names an authid")
            .to_owned()
    }

    /// Pumps, then takes the reply to `request`.
    pub fn settled(&mut self, id: usize, request: RequestId) -> Result<Outcome, RequestError> {
        self.pump();
        self.reply(id, request)
    }

    /// Calls a meta procedure and decodes its first result argument.
    pub fn meta<T: serde::de::DeserializeOwned>(
        &mut self,
        id: usize,
        procedure: &str,
        payload: Payload,
    ) -> Result<T, RequestError> {
        match self.call(id, procedure, payload, Dict::new())? {
            Outcome::Result { payload, .. } => {
                let (v,): (T,) = payload.args().expect("one result argument");
                Ok(v)
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    pub fn register(&mut self, id: usize, procedure: &str, options: Options) -> RegistrationId {
        let request = self.s(id).register(uri_for(procedure, &options), options);
        match self.settled(id, request.expect("register")) {
            Ok(Outcome::Registered(r)) => r,
            other => panic!("REGISTER {procedure} failed: {other:?}"),
        }
    }

    pub fn publish(&mut self, id: usize, topic: &str, payload: Payload, options: Options) {
        self.s(id)
            .publish(uri(topic), payload, options)
            .expect("publish");
        self.pump();
    }

    pub fn subscribe(&mut self, id: usize, topic: &str, options: Options) -> SubscriptionId {
        let request = self.s(id).subscribe(uri_for(topic, &options), options);
        match self.settled(id, request.expect("subscribe")) {
            Ok(Outcome::Subscribed(s)) => s,
            other => panic!("SUBSCRIBE {topic} failed: {other:?}"),
        }
    }

    /// The events of a session peer that `pick` selects (removed from its events).
    fn take<T>(&mut self, id: usize, pick: impl Fn(&SessionEvent) -> Option<T>) -> Vec<T> {
        let mut out = Vec::new();
        self.peers[id].events.retain(|e| match pick(e) {
            Some(picked) => {
                out.push(picked);
                false
            }
            None => true,
        });
        out
    }

    /// The invocations a callee received (removed from its events).
    pub fn invocations(&mut self, id: usize) -> Vec<InvocationEvent> {
        self.take(id, |e| match e {
            SessionEvent::Invocation(inv) => Some(inv.clone()),
            _ => None,
        })
    }

    /// The one invocation a callee received.
    pub fn invocation(&mut self, id: usize) -> InvocationEvent {
        let mut all = self.invocations(id);
        assert_eq!(all.len(), 1, "expected one invocation, got {all:?}");
        all.remove(0)
    }

    /// The events a subscriber received (removed from its events).
    pub fn deliveries(&mut self, id: usize) -> Vec<EventDelivery> {
        self.take(id, |e| match e {
            SessionEvent::Event(ev) => Some(ev.clone()),
            _ => None,
        })
    }

    /// The close reason of a session peer, if it closed.
    pub fn closed(&self, id: usize) -> Option<CloseReason> {
        self.peers[id].events.iter().find_map(|e| match e {
            SessionEvent::Closed(r) => Some(r.clone()),
            _ => None,
        })
    }
}

/// The `wamp.error...` URI of a failed request.
pub fn error_uri(outcome: &Result<Outcome, RequestError>) -> String {
    match outcome {
        Err(e) => e.uri().to_string(),
        Ok(o) => panic!("expected an error, got {o:?}"),
    }
}

/// The error's message (first argument), for checking it says something useful.
pub fn error_message(outcome: &Result<Outcome, RequestError>) -> String {
    match outcome {
        Err(RequestError::Wamp { payload, .. }) => payload
            .args::<(String,)>()
            .map(|(m,)| m)
            .unwrap_or_default(),
        other => panic!("expected a WAMP error, got {other:?}"),
    }
}

/// The positional arguments of a successful call.
pub fn result_args<T: serde::de::DeserializeOwned>(outcome: Result<Outcome, RequestError>) -> T {
    match outcome {
        Ok(Outcome::Result { payload, .. }) => payload.args().expect("decodable result"),
        other => panic!("expected a result, got {other:?}"),
    }
}
