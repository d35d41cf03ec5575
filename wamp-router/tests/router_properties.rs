//! A property test of the router: arbitrary operations by several client sessions
//! (different serializers) and a rogue raw peer, interleaved with time steps, transport
//! losses and router commands, on a virtual clock.
//!
//! Whatever happens:
//! - nothing panics, everything the router sends decodes, and no client ever sees a
//!   protocol violation by the router (the harness checks these on every pump);
//! - `poll_timeout()` after `handle_timeout(now)` is `None` or later than `now`;
//! - the router answers every CALL at most once (one final RESULT or ERROR per request
//!   ID on the wire), and once everyone has answered their invocations and every timeout
//!   has passed, every CALL of a session that is still joined has exactly one answer;
//! - the router's session count is its number of joined connections, and a client with
//!   nothing in flight to it agrees with the router on whether (and as whom) it is joined.

#![allow(clippy::disallowed_methods)]

mod router_harness;

use std::collections::HashMap;

use bytes::Bytes;
use proptest::prelude::*;
use router_harness::*;
use wamp_proto::message::Hello;
use wamp_proto::session::{Outcome, SessionConfig, SessionEvent};
use wamp_proto::{
    message::Message, message::MessageType, serializer::SerializerKind, CancelMode, Dict,
    InvokePolicy, MatchPolicy, Payload, RequestId, Uri,
};
use wamp_router::Limits;

const SLOTS: usize = 4;
const PROCEDURES: [&str; 3] = ["p.a", "p.b", "p.x.c"];
const TOPICS: [&str; 3] = ["t.a", "t.b", "t.x.c"];

#[derive(Debug, Clone)]
enum Op {
    Call {
        slot: usize,
        procedure: usize,
        receive_progress: bool,
        timeout: Option<u64>,
        parts: bool,
    },
    CallPart {
        slot: usize,
        last: bool,
    },
    Cancel {
        slot: usize,
        mode: CancelMode,
    },
    Register {
        slot: usize,
        procedure: usize,
        policy: MatchPolicy,
        invoke: InvokePolicy,
    },
    Unregister {
        slot: usize,
    },
    Answer {
        slot: usize,
        progress: bool,
        error: bool,
    },
    Publish {
        slot: usize,
        topic: usize,
        acknowledge: bool,
        exclude_me: bool,
        retain: bool,
    },
    Subscribe {
        slot: usize,
        topic: usize,
        policy: MatchPolicy,
        get_retained: bool,
    },
    Unsubscribe {
        slot: usize,
    },
    Meta {
        slot: usize,
        which: usize,
        target: usize,
    },
    Leave {
        slot: usize,
    },
    DropTransport {
        slot: usize,
    },
    Rejoin {
        slot: usize,
    },
    Advance {
        millis: u64,
    },
    RouterClose {
        slot: usize,
    },
    Pause {
        slot: usize,
        paused: bool,
    },
    Rogue {
        kind: usize,
        bytes: Vec<u8>,
    },
    /// A joined raw peer sends a well-formed message with arbitrary IDs and options.
    RogueMessage {
        which: u8,
        id: u64,
        flag: bool,
    },
}

fn policy() -> impl Strategy<Value = MatchPolicy> {
    prop_oneof![
        4 => Just(MatchPolicy::Exact),
        1 => Just(MatchPolicy::Prefix),
        1 => Just(MatchPolicy::Wildcard),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0..SLOTS;
    prop_oneof![
        8 => (slot.clone(), 0..3usize, any::<bool>(), prop::option::weighted(0.3, 1..3000u64), prop::bool::weighted(0.15))
            .prop_map(|(slot, procedure, receive_progress, timeout, parts)| Op::Call { slot, procedure, receive_progress, timeout, parts }),
        2 => (slot.clone(), any::<bool>()).prop_map(|(slot, last)| Op::CallPart { slot, last }),
        2 => (slot.clone(), prop_oneof![Just(CancelMode::Skip), Just(CancelMode::Kill), Just(CancelMode::KillNoWait)])
            .prop_map(|(slot, mode)| Op::Cancel { slot, mode }),
        4 => (slot.clone(), 0..3usize, policy(), prop_oneof![
                3 => Just(InvokePolicy::Single),
                1 => Just(InvokePolicy::RoundRobin),
                1 => Just(InvokePolicy::Random),
                1 => Just(InvokePolicy::First),
                1 => Just(InvokePolicy::Last),
            ])
            .prop_map(|(slot, procedure, policy, invoke)| Op::Register { slot, procedure, policy, invoke }),
        1 => slot.clone().prop_map(|slot| Op::Unregister { slot }),
        8 => (slot.clone(), prop::bool::weighted(0.3), prop::bool::weighted(0.2))
            .prop_map(|(slot, progress, error)| Op::Answer { slot, progress, error }),
        4 => (slot.clone(), 0..3usize, any::<bool>(), prop::bool::weighted(0.8), prop::bool::weighted(0.2))
            .prop_map(|(slot, topic, acknowledge, exclude_me, retain)| Op::Publish { slot, topic, acknowledge, exclude_me, retain }),
        3 => (slot.clone(), 0..3usize, policy(), any::<bool>())
            .prop_map(|(slot, topic, policy, get_retained)| Op::Subscribe { slot, topic, policy, get_retained }),
        1 => slot.clone().prop_map(|slot| Op::Unsubscribe { slot }),
        2 => (slot.clone(), 0..12usize, 0..SLOTS).prop_map(|(slot, which, target)| Op::Meta { slot, which, target }),
        1 => slot.clone().prop_map(|slot| Op::Leave { slot }),
        1 => slot.clone().prop_map(|slot| Op::DropTransport { slot }),
        2 => slot.clone().prop_map(|slot| Op::Rejoin { slot }),
        3 => (0..2500u64).prop_map(|millis| Op::Advance { millis }),
        1 => slot.clone().prop_map(|slot| Op::RouterClose { slot }),
        1 => (slot.clone(), any::<bool>()).prop_map(|(slot, paused)| Op::Pause { slot, paused }),
        1 => (0..3usize, prop::collection::vec(any::<u8>(), 0..24)).prop_map(|(kind, bytes)| Op::Rogue { kind, bytes }),
        3 => (0..14u8, prop_oneof![1..8u64, Just(1u64 << 53)], any::<bool>())
            .prop_map(|(which, id, flag)| Op::RogueMessage { which, id, flag }),
    ]
}

/// The model: which harness peer each slot is, and what each client holds.
struct Model {
    net: Net,
    slots: [usize; SLOTS],
    regs: HashMap<usize, Vec<wamp_proto::RegistrationId>>,
    subs: HashMap<usize, Vec<wamp_proto::SubscriptionId>>,
    /// Calls a peer may still send parts for.
    parts: HashMap<usize, Vec<RequestId>>,
    /// Calls a peer has pending (for cancel).
    calls: HashMap<usize, Vec<RequestId>>,
    /// Invocations a peer must answer: (request, receive_progress, more parts coming).
    invocations: HashMap<usize, Vec<(RequestId, bool, bool)>>,
    /// The raw peer that sends arbitrary well-formed messages.
    rogue: Option<usize>,
}

const KINDS: [SerializerKind; 3] = [
    SerializerKind::Json,
    SerializerKind::MsgPack,
    SerializerKind::Cbor,
];

impl Model {
    fn new(seed: u64) -> Model {
        let mut net = Net::with_seed(
            realm1().limits(Limits {
                transmit_high_water: 2 << 10,
                transmit_low_water: 512,
                max_transmit_bytes: 8 << 10,
                max_calls_per_session: 16,
                max_retained_events: 4,
                ..Limits::default()
            }),
            seed,
        );
        net.tap = true;
        let mut slots = [0; SLOTS];
        for (i, s) in slots.iter_mut().enumerate() {
            *s = net.join(KINDS[i % 3]);
        }
        Model {
            net,
            slots,
            regs: HashMap::new(),
            subs: HashMap::new(),
            parts: HashMap::new(),
            calls: HashMap::new(),
            invocations: HashMap::new(),
            rogue: None,
        }
    }

    fn kind(&self, p: usize) -> SerializerKind {
        self.net.peers[p].kind
    }

    /// Reads the application events of every peer into the model.
    fn observe(&mut self) {
        for p in 0..self.net.peers.len() {
            if self.net.peers[p].session.is_none() {
                continue;
            }
            for e in self.net.events(p) {
                match e {
                    SessionEvent::Reply(r) => {
                        self.calls.entry(p).or_default().retain(|c| *c != r.request);
                        self.parts.entry(p).or_default().retain(|c| *c != r.request);
                        match r.outcome {
                            Ok(Outcome::Registered(id)) => self.regs.entry(p).or_default().push(id),
                            Ok(Outcome::Subscribed(id)) => self.subs.entry(p).or_default().push(id),
                            _ => {}
                        }
                    }
                    SessionEvent::Invocation(inv) => {
                        let list = self.invocations.entry(p).or_default();
                        if inv.continuation {
                            if let Some(e) = list.iter_mut().find(|e| e.0 == inv.request) {
                                e.2 = inv.more_parts();
                            }
                        } else {
                            list.push((inv.request, inv.receive_progress(), inv.more_parts()));
                        }
                    }
                    SessionEvent::RegistrationRevoked { registration, .. } => {
                        self.regs
                            .entry(p)
                            .or_default()
                            .retain(|r| *r != registration);
                    }
                    SessionEvent::SubscriptionRevoked { subscription, .. } => {
                        self.subs
                            .entry(p)
                            .or_default()
                            .retain(|s| *s != subscription);
                    }
                    SessionEvent::Closed(_) => {
                        self.regs.remove(&p);
                        self.subs.remove(&p);
                        self.parts.remove(&p);
                        self.calls.remove(&p);
                        self.invocations.remove(&p);
                    }
                    _ => {}
                }
            }
        }
    }

    fn apply(&mut self, op: &Op) {
        let now = self.net.now;
        match op.clone() {
            Op::Call {
                slot,
                procedure,
                receive_progress,
                timeout,
                parts,
            } => {
                let p = self.slots[slot];
                let kind = self.kind(p);
                let mut options = Dict::new();
                if receive_progress {
                    options = options.with_receive_progress(true);
                }
                if let Some(t) = timeout {
                    options = options.with_timeout(t);
                }
                if parts {
                    options = options.with_progress(true);
                }
                let payload =
                    Payload::encode_args(kind, &(procedure, "x")).expect("encodable arguments");
                if let Ok(r) = self
                    .net
                    .s(p)
                    .call(uri(PROCEDURES[procedure]), payload, options)
                {
                    self.calls.entry(p).or_default().push(r);
                    if parts {
                        self.parts.entry(p).or_default().push(r);
                    }
                }
            }
            Op::CallPart { slot, last } => {
                let p = self.slots[slot];
                if let Some(&r) = self.parts.get(&p).and_then(|l| l.first()) {
                    let kind = self.kind(p);
                    let _ = self.net.s(p).call_part(
                        r,
                        Payload::encode_args(kind, &(1,)).expect("encodable arguments"),
                        last,
                    );
                    if last {
                        self.parts.entry(p).or_default().retain(|c| *c != r);
                    }
                }
            }
            Op::Cancel { slot, mode } => {
                let p = self.slots[slot];
                if let Some(&r) = self.calls.get(&p).and_then(|l| l.last()) {
                    let _ = self.net.s(p).cancel(r, mode);
                }
            }
            Op::Register {
                slot,
                procedure,
                policy,
                invoke,
            } => {
                let p = self.slots[slot];
                let (procedure, uri) = match policy {
                    MatchPolicy::Exact => (PROCEDURES[procedure], uri(PROCEDURES[procedure])),
                    MatchPolicy::Prefix => ("p.", pattern("p.")),
                    MatchPolicy::Wildcard => ("p..c", pattern("p..c")),
                };
                let _ = procedure;
                let _ = self.net.s(p).register(
                    uri,
                    Dict::new().with_match_policy(policy).with_invoke(invoke),
                );
            }
            Op::Unregister { slot } => {
                let p = self.slots[slot];
                if let Some(r) = self.regs.get_mut(&p).and_then(Vec::pop) {
                    let _ = self.net.s(p).unregister(r);
                }
            }
            Op::Answer {
                slot,
                progress,
                error,
            } => {
                let p = self.slots[slot];
                let kind = self.kind(p);
                let Some(&(request, receive_progress, _)) =
                    self.invocations.get(&p).and_then(|l| l.first())
                else {
                    return;
                };
                if progress && receive_progress {
                    let _ = self.net.s(p).yield_(
                        request,
                        Dict::new().with_progress(true),
                        Payload::encode_args(kind, &(0,)).expect("encodable arguments"),
                    );
                    return;
                }
                if error {
                    let _ = self.net.s(p).invocation_error(
                        request,
                        uri("app.error"),
                        Dict::new(),
                        Payload::empty(),
                    );
                } else {
                    let _ = self.net.s(p).yield_(
                        request,
                        Dict::new(),
                        Payload::encode_args(kind, &("ok",)).expect("encodable arguments"),
                    );
                }
                self.invocations
                    .entry(p)
                    .or_default()
                    .retain(|e| e.0 != request);
            }
            Op::Publish {
                slot,
                topic,
                acknowledge,
                exclude_me,
                retain,
            } => {
                let p = self.slots[slot];
                let kind = self.kind(p);
                let options = Dict::new()
                    .with_acknowledge(acknowledge)
                    .with_exclude_me(exclude_me)
                    .with_retain(retain);
                let _ = self.net.s(p).publish(
                    uri(TOPICS[topic]),
                    Payload::encode_args(kind, &(topic,)).expect("encodable arguments"),
                    options,
                );
            }
            Op::Subscribe {
                slot,
                topic,
                policy,
                get_retained,
            } => {
                let p = self.slots[slot];
                let uri = match policy {
                    MatchPolicy::Exact => uri(TOPICS[topic]),
                    MatchPolicy::Prefix => pattern("t."),
                    MatchPolicy::Wildcard => pattern("t..c"),
                };
                let _ = self.net.s(p).subscribe(
                    uri,
                    Dict::new()
                        .with_match_policy(policy)
                        .with_get_retained(get_retained),
                );
            }
            Op::Unsubscribe { slot } => {
                let p = self.slots[slot];
                if let Some(s) = self.subs.get_mut(&p).and_then(Vec::pop) {
                    let _ = self.net.s(p).unsubscribe(s);
                }
            }
            Op::Meta {
                slot,
                which,
                target,
            } => {
                let p = self.slots[slot];
                let kind = self.kind(p);
                let target = self.net.peers[self.slots[target]]
                    .session
                    .as_ref()
                    .and_then(|s| s.session_id())
                    .map_or(1, |s| s.get());
                let (procedure, payload) = match which {
                    0 => ("wamp.session.count", Payload::empty()),
                    1 => ("wamp.session.list", Payload::empty()),
                    2 => (
                        "wamp.session.get",
                        Payload::encode_args(kind, &(target,)).expect("encodable arguments"),
                    ),
                    3 => (
                        "wamp.session.kill",
                        Payload::encode_args(kind, &(target,)).expect("encodable arguments"),
                    ),
                    4 => ("wamp.registration.list", Payload::empty()),
                    5 => (
                        "wamp.registration.match",
                        Payload::encode_args(kind, &("p.a",)).expect("encodable arguments"),
                    ),
                    6 => (
                        "wamp.subscription.match",
                        Payload::encode_args(kind, &("t.a",)).expect("encodable arguments"),
                    ),
                    7 => ("wamp.subscription.list", Payload::empty()),
                    8 => (
                        "wamp.session.add_testament",
                        Payload::encode_args(
                            kind,
                            &(
                                "t.a",
                                ["bye"],
                                std::collections::BTreeMap::<String, u8>::new(),
                            ),
                        )
                        .expect("encodable arguments"),
                    ),
                    9 => ("wamp.session.flush_testaments", Payload::empty()),
                    10 => (
                        "wamp.registration.get",
                        Payload::encode_args(kind, &(target,)).expect("encodable arguments"),
                    ),
                    _ => (
                        "wamp.subscription.get",
                        Payload::encode_args(kind, &("bad",)).expect("encodable arguments"),
                    ),
                };
                if let Ok(r) = self.net.s(p).call(uri(procedure), payload, Dict::new()) {
                    self.calls.entry(p).or_default().push(r);
                }
            }
            Op::Leave { slot } => {
                let p = self.slots[slot];
                let _ = self.net.s(p).leave(now, Uri::CLOSE_NORMAL, None);
            }
            Op::DropTransport { slot } => {
                let p = self.slots[slot];
                self.net.drop_transport(p);
            }
            Op::Rejoin { slot } => {
                let p = self.slots[slot];
                if !self.net.peers[p].open {
                    let kind = KINDS[(slot + p) % 3];
                    self.slots[slot] = self
                        .net
                        .connect(SessionConfig::new(uri("realm1")).serializer(kind));
                }
            }
            Op::Advance { millis: ms } => self.net.advance(millis(ms)),
            Op::RouterClose { slot } => {
                let conn = self.net.peers[self.slots[slot]].conn;
                let _ = self
                    .net
                    .router
                    .close(now, conn, Uri::CLOSE_REALM, Some("test"));
            }
            Op::Pause { slot, paused } => {
                let conn = self.net.peers[self.slots[slot]].conn;
                let _ = if paused {
                    self.net.router.pause_transmit(now, conn)
                } else {
                    self.net.router.resume_transmit(now, conn)
                };
            }
            Op::Rogue { kind, bytes } => {
                let raw = self.net.open_raw(KINDS[kind]);
                // Half the time, join first so the garbage hits an established session.
                if bytes.first().is_some_and(|b| b % 2 == 0) {
                    self.net.send_raw(
                        raw,
                        Hello {
                            realm: uri("realm1"),
                            details: Dict::new().with_role("callee", []),
                        },
                    );
                }
                self.net.send_bytes(raw, Bytes::from(bytes));
            }
            Op::RogueMessage { which, id, flag } => self.rogue(which, id, flag),
        }
        self.net.pump();
        self.observe();
    }

    fn rogue(&mut self, which: u8, id: u64, flag: bool) {
        use wamp_proto::message::*;
        let raw = match self.rogue.filter(|r| self.net.peers[*r].open) {
            Some(r) => r,
            None => {
                let r = self.net.open_raw(SerializerKind::MsgPack);
                self.net.send_raw(
                    r,
                    Hello {
                        realm: uri("realm1"),
                        details: Dict::new()
                            .with_role("caller", ["progressive_call_invocations", "call_canceling"])
                            .with_role("callee", ["call_canceling", "progressive_call_results"])
                            .with_role("subscriber", [])
                            .with_role("publisher", []),
                    },
                );
                self.rogue = Some(r);
                r
            }
        };
        let rid = RequestId::new(id).expect("an ID");
        let p = if flag { "p.a" } else { "p.x.c" };
        let message: Message = match which {
            0 => Call {
                request: rid,
                options: Dict::new().with_progress(flag),
                procedure: uri(p),
                payload: Payload::empty(),
            }
            .into(),
            1 => Cancel {
                request: rid,
                options: Dict::new().with_mode(if flag {
                    CancelMode::Kill
                } else {
                    CancelMode::Skip
                }),
            }
            .into(),
            2 => Yield {
                request: rid,
                options: Dict::new().with_progress(flag),
                payload: Payload::empty(),
            }
            .into(),
            3 => Error {
                request_type: MessageType::Invocation,
                request: rid,
                details: Dict::new(),
                error: uri("x.y"),
                payload: Payload::empty(),
            }
            .into(),
            4 => Register {
                request: rid,
                options: Dict::new().with_invoke(if flag {
                    InvokePolicy::RoundRobin
                } else {
                    InvokePolicy::Single
                }),
                procedure: uri(p),
            }
            .into(),
            5 => Unregister {
                request: rid,
                registration: wamp_proto::RegistrationId::new(id).expect("an ID"),
                options: Dict::new(),
            }
            .into(),
            6 => Subscribe {
                request: rid,
                options: Dict::new().with_get_retained(flag),
                topic: uri("t.a"),
            }
            .into(),
            7 => Unsubscribe {
                request: rid,
                subscription: wamp_proto::SubscriptionId::new(id).expect("an ID"),
                options: Dict::new(),
            }
            .into(),
            8 => Publish {
                request: rid,
                options: Dict::new().with_acknowledge(flag).with_retain(flag),
                topic: uri("t.a"),
                payload: Payload::empty(),
            }
            .into(),
            9 => Goodbye {
                details: Dict::new(),
                reason: Uri::CLOSE_NORMAL,
            }
            .into(),
            10 => Hello {
                realm: uri("realm1"),
                details: Dict::new().with_role("caller", []),
            }
            .into(),
            11 => Call {
                request: rid,
                options: Dict::new().with_timeout(id),
                procedure: uri("wamp.session.kill"),
                payload: Payload::encode_args(SerializerKind::MsgPack, &(id,)).expect("args"),
            }
            .into(),
            12 => EventReceived {
                publication: wamp_proto::PublicationId::new(id).expect("an ID"),
            }
            .into(),
            _ => Abort {
                details: Dict::new(),
                reason: Uri::CLOSE_NORMAL,
                payload: Payload::empty(),
            }
            .into(),
        };
        self.net.send_raw(raw, message);
        // It reads nothing: what it received is dropped.
        self.net.recv_raw(raw);
    }

    /// The rogue leaves; everyone else answers, parts finish, connections resume, time
    /// passes.
    fn quiesce(&mut self) {
        // The rogue never answers its invocations: it goes, and its calls fail.
        if let Some(r) = self.rogue.take() {
            self.net.drop_transport(r);
            self.observe();
        }
        for _ in 0..4 {
            for p in 0..self.net.peers.len() {
                if self.net.peers[p].session.is_none() {
                    continue;
                }
                let now = self.net.now;
                let _ = self.net.router.resume_transmit(now, self.net.peers[p].conn);
                for r in self.parts.remove(&p).unwrap_or_default() {
                    let _ = self.net.s(p).call_part(r, Payload::empty(), true);
                }
                for (request, _, _) in self.invocations.remove(&p).unwrap_or_default() {
                    let _ = self.net.s(p).yield_(request, Dict::new(), Payload::empty());
                }
            }
            self.net.pump();
            self.observe();
            self.net.advance(secs(5));
            self.observe();
        }
    }

    fn check(&mut self, finished: bool) -> Result<(), TestCaseError> {
        let mut joined = 0;
        for (p, peer) in self.net.peers.iter().enumerate() {
            let router_view = self.net.router.session_of(peer.conn);
            if router_view.is_some() {
                joined += 1;
            }
            let Some(session) = &peer.session else {
                continue;
            };
            // With nothing in flight to it, the client and the router agree on whether
            // it is joined (and as which session).
            if self.net.router.queued(peer.conn) == 0 {
                let client_view = session
                    .session_id()
                    .filter(|_| session.is_established() && peer.open);
                prop_assert_eq!(client_view, router_view, "peer {}", p);
            }
            // CALLs on the wire (a progressive call's parts share its ID, and an ID
            // comes back after the session rejoins, so count per join).
            let mut segments: Vec<(Vec<RequestId>, HashMap<RequestId, usize>)> = Vec::new();
            for m in &peer.tx {
                if let Message::Hello(_) = m {
                    segments.push((Vec::new(), HashMap::new()));
                }
                if let (Message::Call(c), Some(seg)) = (m, segments.last_mut()) {
                    if !seg.0.contains(&c.request) {
                        seg.0.push(c.request);
                    }
                }
            }
            let mut seg = 0usize;
            let mut welcomed = false;
            for m in &peer.rx {
                match m {
                    Message::Welcome(_) if welcomed => seg += 1,
                    Message::Welcome(_) => welcomed = true,
                    Message::Result(r) if r.details.progress() != Some(true) => {
                        if let Some(s) = segments.get_mut(seg) {
                            *s.1.entry(r.request).or_default() += 1;
                        }
                    }
                    Message::Error(e) if e.request_type == MessageType::Call => {
                        if let Some(s) = segments.get_mut(seg) {
                            *s.1.entry(e.request).or_default() += 1;
                        }
                    }
                    _ => {}
                }
            }
            for (i, (calls, answers)) in segments.iter().enumerate() {
                for (request, n) in answers {
                    prop_assert!(*n <= 1, "peer {p}: call {request} answered {n} times");
                    prop_assert!(
                        calls.contains(request),
                        "peer {p}: answer to unknown call {request}"
                    );
                }
                let live = i + 1 == segments.len() && session.is_established() && peer.open;
                if finished && live {
                    for request in calls {
                        prop_assert!(
                            answers.get(request) == Some(&1),
                            "peer {p}: call {request} never answered"
                        );
                    }
                }
            }
        }
        prop_assert_eq!(self.net.router.session_count(), joined);
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_operations_never_break_the_router(
        seed in any::<u64>(),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let mut model = Model::new(seed);
        for op in &ops {
            model.apply(op);
            model.check(false)?;
        }
        model.quiesce();
        model.check(true)?;
    }
}
