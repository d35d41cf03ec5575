//! A property test of the client [`Session`]: arbitrary sequences of application commands,
//! router messages and time steps, on a virtual clock, with every output drained after
//! every input (as the crate docs prescribe).
//!
//! The router is a model that reads what the session sends (the request IDs it issued,
//! the registrations and subscriptions it holds, the invocations it must answer) and
//! mostly behaves: RESULT (progressive too), ERROR, REGISTERED, SUBSCRIBED (one shared
//! subscription per topic), UNREGISTERED, UNSUBSCRIBED, PUBLISHED, INVOCATION (progressive
//! call invocations too), INTERRUPT, EVENT, revocations, GOODBYE, ABORT. Now and then it
//! goes rogue: replies for stale or unknown IDs, replies of the wrong type, messages in the
//! wrong state, unknown registrations and subscriptions, random bytes (rare, since each
//! ends the session). Time steps fire the handshake and GOODBYE deadlines; the transport
//! may close. Whatever happens:
//!
//! - nothing panics, and everything the session sends decodes and is a client message;
//! - request IDs are unique: every ID a command returns is new (so none is in flight
//!   twice), and the wire carries it exactly once as a new request, except for the parts
//!   of a progressive call invocation and CANCEL, which reuse the call's ID;
//! - every request that expects an answer (all but PUBLISH without `acknowledge`) gets
//!   exactly one `Reply`, the locally answered unsubscribe of a shared subscription
//!   included; the requests still unanswered are exactly the session's
//!   `pending_requests()`; when `Closed` comes, every one of them has been answered;
//! - each invocation is answered (YIELD or ERROR) at most once, finally;
//! - after `handle_timeout(t)`, `poll_timeout()` is `None` or later than `t`;
//! - a refused command sends nothing and emits nothing;
//! - `Closed` comes once and is the last event; after it every command returns
//!   `UsageError::Closed` and nothing more is sent.

// The virtual clock starts at one real `Instant::now()`; everything after is `t0 + d`.
// The clippy ban on clocks is for the library, not for its tests.
#![allow(clippy::disallowed_methods)]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rand::SeedableRng;
use wamp_proto::auth::Ticket;
use wamp_proto::message::{
    self, Abort, CallResult, Challenge, Event, Goodbye, Interrupt, Invocation, Published,
    Registered, Subscribed, Unregistered, Unsubscribed, Welcome,
};
use wamp_proto::session::{Session, SessionConfig, SessionEvent, UsageError};
use wamp_proto::{
    message::Message, message::MessageType, serializer::SerializerKind, CancelMode, Dict,
    MatchPolicy, Payload, PublicationId, RegistrationId, RequestId, SessionId, SubscriptionId, Uri,
};

// ------------------------------------------------------------------------------------------
// What happens
// ------------------------------------------------------------------------------------------

/// How the router answers a request it picked.
#[derive(Debug, Clone, Copy)]
enum How {
    /// The right reply for the request's type.
    Correct,
    /// ERROR for the request's type.
    Error,
    /// A progressive RESULT (for calls with `receive_progress`).
    Progress,
    /// Rogue: a reply for a request already answered (or never to be answered).
    Stale,
    /// Rogue: a reply of another type.
    WrongType,
    /// Rogue: the right reply type for an ID the session never issued.
    UnknownId,
    /// Rogue: REGISTERED with a registration the session holds, or a progressive RESULT
    /// the caller did not ask for.
    Confused,
}

#[derive(Debug, Clone)]
enum Op {
    // The application.
    Call {
        receive_progress: bool,
        parts: bool,
        timeout: bool,
    },
    CallPart {
        pick: usize,
        last: bool,
    },
    Cancel {
        pick: usize,
        mode: CancelMode,
    },
    Register {
        pattern: u8,
    },
    Unregister {
        pick: usize,
    },
    Yield {
        pick: usize,
        progress: bool,
    },
    InvocationError {
        pick: usize,
    },
    Publish {
        ack: bool,
    },
    Subscribe {
        topic: u8,
    },
    Unsubscribe {
        pick: usize,
    },
    Leave,
    // The router.
    // Router ops marked `rogue` may break the protocol (wrong state, wrong or stale IDs,
    // unknown registrations and subscriptions); the others are what a correct router
    // could send at that point.
    Welcome {
        rogue: bool,
    },
    Challenge {
        rogue: bool,
        offered: bool,
    },
    Reply {
        pick: usize,
        how: How,
    },
    Invocation {
        rogue: bool,
        pick: usize,
        continuation: bool,
        progress: bool,
        receive_progress: bool,
    },
    Interrupt {
        pick: usize,
    },
    Event {
        rogue: bool,
        pick: usize,
        pattern_topic: bool,
    },
    Revoke {
        rogue: bool,
        registration: bool,
        pick: usize,
    },
    Goodbye,
    Abort,
    Bytes(Vec<u8>),
    // Time and the transport.
    Advance(u64),
    ToDeadline,
    TransportClosed,
}

fn how() -> impl Strategy<Value = How> {
    prop_oneof![
        300 => Just(How::Correct),
        80 => Just(How::Error),
        80 => Just(How::Progress),
        6 => Just(How::Stale),
        4 => Just(How::WrongType),
        4 => Just(How::UnknownId),
        4 => Just(How::Confused),
    ]
}

/// Rogue router messages: rare, since each one ends the session.
fn rogue() -> impl Strategy<Value = bool> {
    prop::bool::weighted(0.03)
}

fn cancel_mode() -> impl Strategy<Value = CancelMode> {
    prop_oneof![
        Just(CancelMode::Skip),
        Just(CancelMode::Kill),
        Just(CancelMode::KillNoWait)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let pick = 0..64usize;
    // Weights in per mille, roughly: commands 45%, router 47%, time 4%, endings 3%.
    prop_oneof![
        80 => (any::<bool>(), prop::bool::weighted(0.2), any::<bool>()).prop_map(
            |(receive_progress, parts, timeout)| Op::Call { receive_progress, parts, timeout }
        ),
        30 => (pick.clone(), prop::bool::weighted(0.6))
            .prop_map(|(pick, last)| Op::CallPart { pick, last }),
        30 => (pick.clone(), cancel_mode()).prop_map(|(pick, mode)| Op::Cancel { pick, mode }),
        50 => (0..4u8).prop_map(|pattern| Op::Register { pattern }),
        20 => pick.clone().prop_map(|pick| Op::Unregister { pick }),
        60 => (pick.clone(), prop::bool::weighted(0.3))
            .prop_map(|(pick, progress)| Op::Yield { pick, progress }),
        15 => pick.clone().prop_map(|pick| Op::InvocationError { pick }),
        40 => any::<bool>().prop_map(|ack| Op::Publish { ack }),
        50 => (0..4u8).prop_map(|topic| Op::Subscribe { topic }),
        30 => pick.clone().prop_map(|pick| Op::Unsubscribe { pick }),
        5 => Just(Op::Leave),
        10 => rogue().prop_map(|rogue| Op::Welcome { rogue }),
        10 => (rogue(), prop::bool::weighted(0.9))
            .prop_map(|(rogue, offered)| Op::Challenge { rogue, offered }),
        250 => (pick.clone(), how()).prop_map(|(pick, how)| Op::Reply { pick, how }),
        70 => (
            rogue(),
            pick.clone(),
            prop::bool::weighted(0.3),
            prop::bool::weighted(0.2),
            any::<bool>()
        )
            .prop_map(|(rogue, pick, continuation, progress, receive_progress)| {
                Op::Invocation { rogue, pick, continuation, progress, receive_progress }
            }),
        15 => pick.clone().prop_map(|pick| Op::Interrupt { pick }),
        50 => (rogue(), pick.clone(), any::<bool>())
            .prop_map(|(rogue, pick, pattern_topic)| Op::Event { rogue, pick, pattern_topic }),
        15 => (rogue(), any::<bool>(), pick).prop_map(
            |(rogue, registration, pick)| Op::Revoke { rogue, registration, pick }
        ),
        5 => Just(Op::Goodbye),
        5 => Just(Op::Abort),
        4 => prop::collection::vec(any::<u8>(), 0..24).prop_map(Op::Bytes),
        30 => (0..1_500u64).prop_map(Op::Advance),
        10 => Just(Op::ToDeadline),
        5 => Just(Op::TransportClosed),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    kind: SerializerKind,
    max_pending: usize,
    join_first: bool,
    ops: Vec<Op>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(SerializerKind::ALL.to_vec()),
        prop_oneof![1 => Just(3usize), 3 => Just(65_536usize)],
        prop::bool::weighted(0.9),
        prop::collection::vec(op(), 1..48),
    )
        .prop_map(|(kind, max_pending, join_first, ops)| Case {
            kind,
            max_pending,
            join_first,
            ops,
        })
}

// ------------------------------------------------------------------------------------------
// The run: the session, the router model, and the checks
// ------------------------------------------------------------------------------------------

/// A request as the router saw it on the wire.
#[derive(Debug, Clone)]
struct Sent {
    request: RequestId,
    kind: MessageType,
    /// CALL: `receive_progress`; PUBLISH: `acknowledge`.
    flag: bool,
    /// SUBSCRIBE: the topic (shared subscriptions reuse the ID).
    topic: Option<Uri>,
    /// UNREGISTER: the registration; UNSUBSCRIBE: the subscription.
    target: Option<u64>,
}

const TOPICS: [&str; 4] = ["com.a", "com.b", "com.", "com..x"];

struct Run {
    session: Session,
    kind: SerializerKind,
    now: Instant,
    frames: usize,

    // The router model.
    /// Every new request seen on the wire, in order.
    sent: Vec<Sent>,
    /// Requests the router has not answered finally.
    open: Vec<RequestId>,
    /// Calls whose arguments are still coming in parts.
    parts_open: HashSet<RequestId>,
    /// Every registration the router handed out, and those the session still holds.
    registrations: Vec<RegistrationId>,
    held_registrations: Vec<RegistrationId>,
    /// Every subscription the router handed out, and those the session still holds.
    subscriptions: Vec<SubscriptionId>,
    held_subscriptions: Vec<SubscriptionId>,
    topic_subscription: HashMap<Uri, SubscriptionId>,
    invocations: Vec<RequestId>,
    /// Invocations the callee has not answered finally.
    invocations_open: HashSet<RequestId>,
    /// Progressive call invocations whose further parts may come.
    invocations_more: HashSet<RequestId>,
    next_router_id: u64,
    next_invocation: u64,

    // The application's view.
    /// Every ID a command returned.
    issued: HashSet<RequestId>,
    /// Requests that expect a Reply and have not had one.
    awaiting: HashMap<RequestId, &'static str>,
    calls: Vec<RequestId>,
    /// The ID the last command returned, which the next new request on the wire must carry.
    expect_on_wire: Option<RequestId>,
    /// The ID of an unsubscribe that may be answered without sending anything.
    local_ok: Option<RequestId>,
    /// The application called `leave` successfully.
    left: bool,
    closed: bool,
}

type Check = Result<(), TestCaseError>;

impl Run {
    fn new(case: &Case) -> Run {
        let mut config = SessionConfig::new(Uri::from_static("realm1"))
            .serializer(case.kind)
            .handshake_timeout(Duration::from_millis(1_000))
            .goodbye_timeout(Duration::from_millis(500))
            .authenticator(Ticket::new("joe", "secret"));
        config.max_pending = case.max_pending;
        Run {
            session: Session::new(config, Box::new(rand::rngs::StdRng::seed_from_u64(1))),
            kind: case.kind,
            now: Instant::now(),
            frames: 0,
            sent: Vec::new(),
            open: Vec::new(),
            parts_open: HashSet::new(),
            registrations: Vec::new(),
            held_registrations: Vec::new(),
            subscriptions: Vec::new(),
            held_subscriptions: Vec::new(),
            topic_subscription: HashMap::new(),
            invocations: Vec::new(),
            invocations_open: HashSet::new(),
            invocations_more: HashSet::new(),
            next_router_id: 1,
            next_invocation: 1,
            issued: HashSet::new(),
            awaiting: HashMap::new(),
            calls: Vec::new(),
            expect_on_wire: None,
            local_ok: None,
            left: false,
            closed: false,
        }
    }

    fn router_id(&mut self) -> u64 {
        self.next_router_id += 1;
        self.next_router_id * 1_000 + 7
    }

    /// The router sends `message`.
    fn send(&mut self, message: impl Into<Message>) -> Check {
        let bytes = self
            .kind
            .encode(&message.into())
            .map_err(|e| TestCaseError::fail(format!("the router's message: {e}")))?;
        self.session.handle_bytes(self.now, bytes);
        self.drain()
    }

    /// Drains every output and checks it.
    fn drain(&mut self) -> Check {
        let was_closed = self.closed;
        while let Some(bytes) = self.session.poll_transmit() {
            prop_assert!(!was_closed, "sent something after Closed");
            self.frames += 1;
            let message = self
                .kind
                .decode(bytes)
                .map_err(|e| TestCaseError::fail(format!("a sent frame does not decode: {e}")))?;
            self.on_transmit(message)?;
        }
        // An unsubscribe of a shared subscription is answered locally: nothing is sent, and
        // its Reply must come at once.
        let unsent = self.expect_on_wire.take();
        let answered_locally = unsent.filter(|r| self.local_ok == Some(*r));
        self.local_ok = None;
        prop_assert_eq!(
            unsent,
            answered_locally,
            "a command's request never reached the wire"
        );
        while let Some(event) = self.session.poll_event() {
            prop_assert!(!self.closed, "an event after Closed: {:?}", event);
            match event {
                SessionEvent::Reply(reply) => {
                    prop_assert!(
                        self.awaiting.remove(&reply.request).is_some(),
                        "a Reply for {} which is not awaiting one (unknown or answered twice)",
                        reply.request
                    );
                }
                SessionEvent::Closed(_) => {
                    prop_assert!(
                        self.awaiting.is_empty(),
                        "closed with requests unanswered: {:?}",
                        self.awaiting
                    );
                    prop_assert!(self.session.close_reason().is_some());
                    self.closed = true;
                }
                _ => {}
            }
        }
        if let Some(request) = answered_locally {
            prop_assert!(
                !self.awaiting.contains_key(&request),
                "a locally answered unsubscribe ({}) was not answered at once",
                request
            );
        }
        if !self.closed {
            prop_assert_eq!(
                self.awaiting.len(),
                self.session.pending_requests(),
                "the unanswered requests are the session's pending ones"
            );
        } else {
            prop_assert_eq!(self.session.pending_requests(), 0);
            prop_assert_eq!(self.session.poll_timeout(), None);
        }
        Ok(())
    }

    /// What the router learns from a frame the session sent.
    fn on_transmit(&mut self, message: Message) -> Check {
        let first = self.frames == 1;
        prop_assert_eq!(
            first,
            matches!(message, Message::Hello(_)),
            "HELLO is the first message, and only the first: {:?}",
            message
        );
        let new = match message {
            Message::Hello(_)
            | Message::Authenticate(_)
            | Message::Goodbye(_)
            | Message::Abort(_) => return Ok(()),
            Message::Call(call) if self.parts_open.contains(&call.request) => {
                // A further part of a progressive call invocation: same ID, legitimately.
                if call.options.progress() != Some(true) {
                    self.parts_open.remove(&call.request);
                }
                return Ok(());
            }
            Message::Call(call) => {
                if call.options.progress() == Some(true) {
                    self.parts_open.insert(call.request);
                }
                Sent {
                    request: call.request,
                    kind: MessageType::Call,
                    flag: call.options.receive_progress() == Some(true),
                    topic: None,
                    target: None,
                }
            }
            Message::Cancel(cancel) => {
                prop_assert!(
                    self.calls.contains(&cancel.request),
                    "CANCEL for {}, not a call",
                    cancel.request
                );
                return Ok(());
            }
            Message::Yield(y) => {
                prop_assert!(
                    self.invocations_open.contains(&y.request),
                    "YIELD for invocation {}, which is not waiting for an answer",
                    y.request
                );
                if y.options.progress() != Some(true) {
                    self.invocations_open.remove(&y.request);
                    self.invocations_more.remove(&y.request);
                }
                return Ok(());
            }
            Message::Error(e) => {
                prop_assert_eq!(e.request_type, MessageType::Invocation);
                self.invocations_more.remove(&e.request);
                prop_assert!(
                    self.invocations_open.remove(&e.request),
                    "ERROR for invocation {}, which is not waiting for an answer",
                    e.request
                );
                return Ok(());
            }
            Message::Register(m) => Sent {
                request: m.request,
                kind: MessageType::Register,
                flag: false,
                topic: None,
                target: None,
            },
            Message::Unregister(m) => Sent {
                request: m.request,
                kind: MessageType::Unregister,
                flag: false,
                topic: None,
                target: Some(m.registration.get()),
            },
            Message::Subscribe(m) => Sent {
                request: m.request,
                kind: MessageType::Subscribe,
                flag: false,
                topic: Some(m.topic),
                target: None,
            },
            Message::Unsubscribe(m) => Sent {
                request: m.request,
                kind: MessageType::Unsubscribe,
                flag: false,
                topic: None,
                target: Some(m.subscription.get()),
            },
            Message::Publish(m) => Sent {
                request: m.request,
                kind: MessageType::Publish,
                flag: m.options.acknowledge() == Some(true),
                topic: None,
                target: None,
            },
            other => {
                return Err(TestCaseError::fail(format!(
                    "the session sent a router's message: {other:?}"
                )))
            }
        };
        prop_assert_eq!(
            self.expect_on_wire.take(),
            Some(new.request),
            "a new request on the wire carries the ID its command returned"
        );
        prop_assert!(
            self.sent.iter().all(|s| s.request != new.request),
            "request ID {} on the wire twice",
            new.request
        );
        if new.kind != MessageType::Publish || new.flag {
            self.open.push(new.request);
        }
        self.sent.push(new);
        Ok(())
    }

    /// Checks a command's result.
    fn command(
        &mut self,
        result: Result<Option<(RequestId, Option<&'static str>)>, UsageError>,
    ) -> Check {
        match result {
            Ok(None) => {}
            Ok(Some((request, awaits))) => {
                prop_assert!(!self.closed, "a command succeeded after Closed");
                prop_assert!(
                    !self.awaiting.contains_key(&request),
                    "request ID {} is already in flight",
                    request
                );
                prop_assert!(
                    self.issued.insert(request),
                    "request ID {} issued twice",
                    request
                );
                if let Some(what) = awaits {
                    self.awaiting.insert(request, what);
                }
            }
            Err(e) => {
                if self.closed {
                    prop_assert!(
                        matches!(e, UsageError::Closed(_)),
                        "after Closed, commands return Closed, not {:?}",
                        e
                    );
                }
                self.expect_on_wire = None;
                prop_assert!(
                    self.session.poll_transmit().is_none(),
                    "a refused command ({}) sent something",
                    e
                );
                prop_assert!(
                    self.session.poll_event().is_none(),
                    "a refused command ({}) emitted an event",
                    e
                );
            }
        }
        self.drain()
    }

    fn pick<T: Copy>(items: &[T], pick: usize) -> Option<T> {
        (!items.is_empty()).then(|| items[pick % items.len()])
    }

    fn apply(&mut self, op: &Op) -> Check {
        let kind = self.kind;
        let payload = |n: usize| {
            if n % 2 == 0 {
                Payload::empty()
            } else {
                Payload::encode_args(kind, &(n,)).unwrap_or_default()
            }
        };
        match *op {
            Op::Call {
                receive_progress,
                parts,
                timeout,
            } => {
                let mut options = Dict::new();
                if receive_progress {
                    options = options.with_receive_progress(true);
                }
                if parts {
                    options = options.with_progress(true);
                }
                if timeout {
                    options = options.with_timeout(100);
                }
                let result = self
                    .session
                    .call(Uri::from_static("com.proc"), payload(1), options);
                if let Ok(request) = result {
                    self.calls.push(request);
                    self.expect_on_wire = Some(request);
                }
                self.command(result.map(|r| Some((r, Some("call")))))
            }
            Op::CallPart { pick, last } => {
                let request =
                    Run::pick(&self.calls, pick).unwrap_or(RequestId(wamp_proto::Id::MIN));
                let result = self.session.call_part(request, payload(pick), last);
                self.command(result.map(|()| None))
            }
            Op::Cancel { pick, mode } => {
                let request =
                    Run::pick(&self.calls, pick).unwrap_or(RequestId(wamp_proto::Id::MIN));
                let result = self.session.cancel(request, mode);
                self.command(result.map(|()| None))
            }
            Op::Register { pattern } => {
                let (procedure, options) = match pattern {
                    0 => ("com.proc", Dict::new()),
                    1 => ("com.other", Dict::new()),
                    2 => ("com.", Dict::new().with_match_policy(MatchPolicy::Prefix)),
                    _ => (
                        "com..x",
                        Dict::new().with_match_policy(MatchPolicy::Wildcard),
                    ),
                };
                let procedure = Uri::parse_pattern(
                    procedure,
                    options.match_policy().unwrap_or(MatchPolicy::Exact),
                )
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let result = self.session.register(procedure, options);
                if let Ok(request) = result {
                    self.expect_on_wire = Some(request);
                }
                self.command(result.map(|r| Some((r, Some("register")))))
            }
            Op::Unregister { pick } => {
                let registration = Run::pick(&self.registrations, pick)
                    .unwrap_or(RegistrationId(wamp_proto::Id::MIN));
                let result = self.session.unregister(registration);
                if let Ok(request) = result {
                    self.expect_on_wire = Some(request);
                }
                self.command(result.map(|r| Some((r, Some("unregister")))))
            }
            Op::Yield { pick, progress } => {
                let request =
                    Run::pick(&self.invocations, pick).unwrap_or(RequestId(wamp_proto::Id::MIN));
                let options = if progress {
                    Dict::new().with_progress(true)
                } else {
                    Dict::new()
                };
                let result = self.session.yield_(request, options, payload(pick));
                self.command(result.map(|()| None))
            }
            Op::InvocationError { pick } => {
                let request =
                    Run::pick(&self.invocations, pick).unwrap_or(RequestId(wamp_proto::Id::MIN));
                let result = self.session.invocation_error(
                    request,
                    Uri::from_static("com.error.failed"),
                    Dict::new(),
                    payload(pick),
                );
                self.command(result.map(|()| None))
            }
            Op::Publish { ack } => {
                let options = if ack {
                    Dict::new().with_acknowledge(true)
                } else {
                    Dict::new().with_exclude_me(false)
                };
                let result = self
                    .session
                    .publish(Uri::from_static("com.a"), payload(3), options);
                if let Ok(request) = result {
                    self.expect_on_wire = Some(request);
                }
                self.command(result.map(|r| Some((r, ack.then_some("publish")))))
            }
            Op::Subscribe { topic } => {
                let (topic, options) = match topic {
                    0 => (TOPICS[0], Dict::new()),
                    1 => (TOPICS[1], Dict::new()),
                    2 => (
                        TOPICS[2],
                        Dict::new().with_match_policy(MatchPolicy::Prefix),
                    ),
                    _ => (
                        TOPICS[3],
                        Dict::new()
                            .with_match_policy(MatchPolicy::Wildcard)
                            .with_get_retained(true),
                    ),
                };
                let topic =
                    Uri::parse_pattern(topic, options.match_policy().unwrap_or(MatchPolicy::Exact))
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let result = self.session.subscribe(topic, options);
                if let Ok(request) = result {
                    self.expect_on_wire = Some(request);
                }
                self.command(result.map(|r| Some((r, Some("subscribe")))))
            }
            Op::Unsubscribe { pick } => {
                let subscription = Run::pick(&self.subscriptions, pick)
                    .unwrap_or(SubscriptionId(wamp_proto::Id::MIN));
                let result = self.session.unsubscribe(subscription);
                if let Ok(request) = result {
                    self.expect_on_wire = Some(request);
                    self.local_ok = Some(request);
                }
                self.command(result.map(|r| Some((r, Some("unsubscribe")))))
            }
            Op::Leave => {
                let result = self.session.leave(self.now, Uri::CLOSE_NORMAL, None);
                self.left |= result.is_ok();
                self.command(result.map(|()| None))
            }

            Op::Welcome { rogue } => {
                if !rogue && !self.handshaking() {
                    return Ok(());
                }
                self.send(Welcome {
                    session: SessionId::new(77).unwrap_or(SessionId(wamp_proto::Id::MIN)),
                    details: Dict::new()
                        .with_role(
                            "dealer",
                            [
                                "call_canceling",
                                "progressive_call_results",
                                "progressive_call_invocations",
                            ],
                        )
                        .with_role("broker", ["subscription_revocation"]),
                })
            }
            Op::Challenge { rogue, offered } => {
                if !rogue && !self.handshaking() {
                    return Ok(());
                }
                self.send(Challenge {
                    method: if offered { "ticket" } else { "wampcra" }.into(),
                    extra: Dict::new(),
                })
            }
            Op::Reply { pick, how } => self.reply(pick, how),
            Op::Invocation {
                rogue,
                pick,
                continuation,
                progress,
                receive_progress,
            } => {
                let registration = if rogue {
                    Run::pick(&self.registrations, pick)
                        .filter(|_| pick % 2 == 0)
                        .unwrap_or(RegistrationId(wamp_proto::Id::MAX))
                } else {
                    match Run::pick(&self.held_registrations, pick) {
                        Some(r) => r,
                        None => return Ok(()),
                    }
                };
                let more: Vec<RequestId> = self.invocations_more.iter().copied().collect();
                let request = match (rogue, continuation) {
                    // A rogue router reuses an ID that may still be in flight.
                    (true, true) => Run::pick(&self.invocations, pick),
                    (false, true) => {
                        let mut more = more;
                        more.sort();
                        Run::pick(&more, pick)
                    }
                    _ => None,
                };
                let request = match request {
                    Some(request) => request,
                    None => {
                        self.next_invocation += 1;
                        RequestId::new(self.next_invocation - 1)
                            .unwrap_or(RequestId(wamp_proto::Id::MIN))
                    }
                };
                let mut details = Dict::new();
                if progress {
                    details = details.with_progress(true);
                    self.invocations_more.insert(request);
                } else {
                    self.invocations_more.remove(&request);
                }
                if receive_progress {
                    details = details.with_receive_progress(true);
                }
                if pick % 3 == 0 {
                    details = details.with_procedure("com.x.y");
                }
                if !self.invocations.contains(&request) {
                    self.invocations.push(request);
                }
                // The model expects an answer if the session takes it (if it is a protocol
                // violation instead, nothing more is sent at all).
                self.invocations_open.insert(request);
                self.send(Invocation {
                    request,
                    registration,
                    details,
                    payload: payload(pick),
                })
            }
            Op::Interrupt { pick } => {
                let request = Run::pick(&self.invocations, pick)
                    .filter(|_| pick % 4 != 0)
                    .unwrap_or(RequestId(wamp_proto::Id::MAX));
                self.send(Interrupt {
                    request,
                    options: Dict::new().with_mode(CancelMode::Kill),
                })
            }
            Op::Event {
                rogue,
                pick,
                pattern_topic,
            } => {
                let subscription = if rogue {
                    Run::pick(&self.subscriptions, pick)
                        .filter(|_| pick % 2 == 0)
                        .unwrap_or(SubscriptionId(wamp_proto::Id::MAX))
                } else {
                    match Run::pick(&self.held_subscriptions, pick) {
                        Some(s) => s,
                        None => return Ok(()),
                    }
                };
                let mut details = Dict::new();
                if pattern_topic {
                    details = details.with_topic("com.a.b.x").with_retained(true);
                }
                let publication = self.router_id();
                self.send(Event {
                    subscription,
                    publication: PublicationId::new(publication)
                        .unwrap_or(PublicationId(wamp_proto::Id::MIN)),
                    details,
                    payload: payload(pick),
                })
            }
            Op::Revoke {
                rogue,
                registration,
                pick,
            } => {
                let mut details = Dict::new().with_reason("revoked");
                if registration {
                    if !rogue {
                        let Some(r) = Run::pick(&self.held_registrations, pick) else {
                            return Ok(());
                        };
                        self.held_registrations.retain(|h| *h != r);
                        details = details.with("registration", r.get());
                    }
                    self.send(Unregistered {
                        request: None,
                        details,
                    })
                } else {
                    if !rogue {
                        let Some(s) = Run::pick(&self.held_subscriptions, pick) else {
                            return Ok(());
                        };
                        self.forget_subscription(s);
                        details = details.with("subscription", s.get());
                    }
                    self.send(Unsubscribed {
                        request: None,
                        details,
                    })
                }
            }
            Op::Goodbye => self.send(Goodbye {
                details: Dict::new(),
                reason: Uri::CLOSE_SYSTEM_SHUTDOWN,
            }),
            Op::Abort => self.send(Abort {
                details: Dict::new().with_message("go away"),
                reason: Uri::NOT_AUTHORIZED,
                payload: Payload::empty(),
            }),
            Op::Bytes(ref bytes) => {
                self.session
                    .handle_bytes(self.now, Bytes::copy_from_slice(bytes));
                self.drain()
            }
            Op::Advance(ms) => {
                self.now += Duration::from_millis(ms);
                self.timeout()
            }
            Op::ToDeadline => {
                if let Some(deadline) = self.session.poll_timeout() {
                    self.now = self.now.max(deadline);
                }
                self.timeout()
            }
            Op::TransportClosed => {
                self.session.handle_transport_closed(self.now);
                self.drain()
            }
        }
    }

    fn timeout(&mut self) -> Check {
        self.session.handle_timeout(self.now);
        if let Some(next) = self.session.poll_timeout() {
            prop_assert!(
                next > self.now,
                "after handle_timeout(t) the next deadline must be later than t"
            );
        }
        self.drain()
    }

    /// Whether the session waits for WELCOME or CHALLENGE.
    fn handshaking(&self) -> bool {
        !self.closed && !self.session.is_established() && !self.left
    }

    /// The session no longer holds `subscription` (the router deleted it).
    fn forget_subscription(&mut self, subscription: SubscriptionId) {
        self.held_subscriptions.retain(|h| *h != subscription);
        self.topic_subscription.retain(|_, s| *s != subscription);
    }

    /// The router answers one of the session's requests.
    fn reply(&mut self, pick: usize, how: How) -> Check {
        let candidates: Vec<RequestId> = if matches!(how, How::Stale) {
            self.sent.iter().map(|s| s.request).collect()
        } else {
            self.open.clone()
        };
        let Some(request) = Run::pick(&candidates, pick) else {
            return Ok(());
        };
        let Some(sent) = self.sent.iter().find(|s| s.request == request).cloned() else {
            return Ok(());
        };
        // A progressive RESULT only for calls that asked for one, unless confused.
        let how = match how {
            How::Progress if !(sent.kind == MessageType::Call && sent.flag) => How::Correct,
            How::Confused if sent.kind == MessageType::Call && !sent.flag => How::Progress,
            How::Confused if sent.kind != MessageType::Register => How::WrongType,
            other => other,
        };
        let (target, kind) = match how {
            How::UnknownId => {
                let unknown = self.sent.len() as u64 + 1_000 + pick as u64;
                (RequestId::new(unknown).unwrap_or(request), sent.kind)
            }
            How::WrongType => {
                let kinds = [
                    MessageType::Call,
                    MessageType::Register,
                    MessageType::Unregister,
                    MessageType::Subscribe,
                    MessageType::Unsubscribe,
                    MessageType::Publish,
                ];
                let others: Vec<MessageType> =
                    kinds.into_iter().filter(|k| *k != sent.kind).collect();
                (request, others[pick % others.len()])
            }
            _ => (request, sent.kind),
        };
        if !matches!(how, How::Progress) && target == request {
            self.open.retain(|r| *r != request);
        }
        let message: Message = match (how, kind) {
            (How::Error, _) => Message::Error(message::Error {
                request_type: kind,
                request: target,
                details: Dict::new(),
                error: Uri::from_static("com.error.refused"),
                payload: Payload::empty(),
            }),
            (How::Progress, _) => CallResult {
                request: target,
                details: Dict::new().with_progress(true),
                payload: Payload::empty(),
            }
            .into(),
            (_, MessageType::Call) => CallResult {
                request: target,
                details: Dict::new(),
                payload: Payload::empty(),
            }
            .into(),
            (_, MessageType::Register) => {
                let registration = match how {
                    // A registration the session already holds.
                    How::Confused => Run::pick(&self.registrations, pick)
                        .unwrap_or(RegistrationId(wamp_proto::Id::MIN)),
                    _ => {
                        let id = self.router_id();
                        RegistrationId::new(id).unwrap_or(RegistrationId(wamp_proto::Id::MIN))
                    }
                };
                self.registrations.push(registration);
                self.held_registrations.push(registration);
                Registered {
                    request: target,
                    registration,
                }
                .into()
            }
            (_, MessageType::Unregister) => {
                if let Some(r) = sent.target {
                    self.held_registrations.retain(|h| h.get() != r);
                }
                Unregistered {
                    request: Some(target),
                    details: Dict::new(),
                }
                .into()
            }
            (_, MessageType::Subscribe) => {
                // The broker shares one subscription per topic.
                let topic = sent.topic.unwrap_or(Uri::from_static("com.a"));
                let subscription = match self.topic_subscription.get(&topic) {
                    Some(s) => *s,
                    None => {
                        let id = self.router_id();
                        SubscriptionId::new(id).unwrap_or(SubscriptionId(wamp_proto::Id::MIN))
                    }
                };
                self.topic_subscription.insert(topic, subscription);
                if !self.subscriptions.contains(&subscription) {
                    self.subscriptions.push(subscription);
                }
                if !self.held_subscriptions.contains(&subscription) {
                    self.held_subscriptions.push(subscription);
                }
                Subscribed {
                    request: target,
                    subscription,
                }
                .into()
            }
            (_, MessageType::Unsubscribe) => {
                if let Some(s) = sent.target.and_then(SubscriptionId::new) {
                    self.forget_subscription(s);
                }
                Unsubscribed {
                    request: Some(target),
                    details: Dict::new(),
                }
                .into()
            }
            (_, _) => {
                let id = self.router_id();
                Published {
                    request: target,
                    publication: PublicationId::new(id)
                        .unwrap_or(PublicationId(wamp_proto::Id::MIN)),
                }
                .into()
            }
        };
        self.send(message)
    }

    /// After the sequence: if closed, closed for good.
    fn finish(&mut self) -> Check {
        if !self.closed {
            return Ok(());
        }
        let now = self.now;
        let s = &mut self.session;
        let any = Uri::from_static("com.a");
        let results: Vec<Result<(), UsageError>> = vec![
            s.connect(now),
            s.call(any.clone(), Payload::empty(), Dict::new()).map(drop),
            s.call_part(RequestId(wamp_proto::Id::MIN), Payload::empty(), true),
            s.cancel(RequestId(wamp_proto::Id::MIN), CancelMode::Kill),
            s.register(any.clone(), Dict::new()).map(drop),
            s.unregister(RegistrationId(wamp_proto::Id::MIN)).map(drop),
            s.yield_(
                RequestId(wamp_proto::Id::MIN),
                Dict::new(),
                Payload::empty(),
            ),
            s.publish(any.clone(), Payload::empty(), Dict::new())
                .map(drop),
            s.subscribe(any, Dict::new()).map(drop),
            s.unsubscribe(SubscriptionId(wamp_proto::Id::MIN)).map(drop),
            s.leave(now, Uri::CLOSE_NORMAL, None),
        ];
        for result in results {
            prop_assert!(
                matches!(result, Err(UsageError::Closed(_))),
                "after Closed: {:?}",
                result
            );
        }
        self.session.handle_timeout(now + Duration::from_secs(3600));
        self.session.handle_transport_closed(now);
        prop_assert!(self.session.poll_transmit().is_none());
        prop_assert!(self.session.poll_event().is_none());
        Ok(())
    }
}

fn run(case: &Case) -> Check {
    let mut run = Run::new(case);
    run.session
        .connect(run.now)
        .map_err(|e| TestCaseError::fail(format!("connect: {e}")))?;
    run.drain()?;
    if case.join_first {
        run.apply(&Op::Welcome { rogue: false })?;
    }
    for op in &case.ops {
        run.apply(op)?;
    }
    run.finish()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_commands_messages_and_time_keep_the_session_sound(case in case()) {
        run(&case)?;
    }
}
