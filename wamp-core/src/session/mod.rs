//! The client side of WAMP as a sans-IO state machine: caller, callee, publisher and
//! subscriber, with the advanced profile and authentication.
//!
//! # Driving a session
//!
//! A [`Session`] never touches a socket or a clock. The code that owns it (a runtime
//! crate, a test, a fuzzer) feeds it input and drains its output:
//!
//! - **Input**: [`connect`](Session::connect) once the transport is open;
//!   [`handle_bytes`](Session::handle_bytes) (or [`handle_message`](Session::handle_message))
//!   for every received WAMP message; [`handle_timeout`](Session::handle_timeout) when the
//!   deadline from [`poll_timeout`](Session::poll_timeout) passes;
//!   [`handle_transport_closed`](Session::handle_transport_closed) when the transport goes
//!   away; and application commands ([`call`](Session::call),
//!   [`register`](Session::register), [`publish`](Session::publish),
//!   [`subscribe`](Session::subscribe), [`yield_`](Session::yield_),
//!   [`leave`](Session::leave), ...), which return a [`RequestId`] at once or a
//!   [`UsageError`] and never block.
//! - **Output**, drained after *every* input, in this order:
//!   [`poll_transmit`](Session::poll_transmit) until `None` (encoded messages to send, in
//!   order), [`poll_event`](Session::poll_event) until `None` (what the application must
//!   see), then [`poll_timeout`](Session::poll_timeout) (when to call `handle_timeout`
//!   next).
//!
//! Time is an argument (`now`), so tests run on a virtual clock. Randomness (auth nonces)
//! comes from the RNG given to [`Session::new`].
//!
//! ```no_run
//! use std::time::Instant;
//! use wamp_proto::session::{Session, SessionConfig, SessionEvent, Outcome};
//! use wamp_proto::{Dict, Payload, serializer::SerializerKind, Uri};
//!
//! # fn transport_send(_: &[u8]) {}
//! # fn transport_recv(_deadline: Option<Instant>) -> Option<bytes::Bytes> { None }
//! let config = SessionConfig::new(Uri::parse("realm1")?).serializer(SerializerKind::Json);
//! # use rand::SeedableRng;
//! let mut session = Session::new(config, Box::new(rand::rngs::StdRng::from_os_rng()));
//! session.connect(Instant::now())?;
//! let mut add = None;
//! loop {
//!     // 1. Send everything queued.
//!     while let Some(bytes) = session.poll_transmit() {
//!         transport_send(&bytes);
//!     }
//!     // 2. Let the application see what happened.
//!     while let Some(event) = session.poll_event() {
//!         match event {
//!             SessionEvent::Joined(_) => {
//!                 let args = Payload::encode_args(SerializerKind::Json, &(2, 3))?;
//!                 add = Some(session.call(Uri::parse("com.example.add")?, args, Dict::new())?);
//!             }
//!             SessionEvent::Reply(reply) if Some(reply.request) == add => {
//!                 if let Ok(Outcome::Result { payload, .. }) = reply.outcome {
//!                     let (sum,): (i64,) = payload.args()?;
//!                     println!("2 + 3 = {sum}");
//!                 }
//!                 session.leave(Instant::now(), Uri::CLOSE_NORMAL, None)?;
//!             }
//!             SessionEvent::Closed(reason) => {
//!                 println!("closed: {reason}");
//!                 return Ok(());
//!             }
//!             _ => {}
//!         }
//!     }
//!     // 3. Wait for input or the deadline, whichever comes first.
//!     let deadline = session.poll_timeout();
//!     match transport_recv(deadline) {
//!         Some(bytes) => session.handle_bytes(Instant::now(), bytes),
//!         None if deadline.is_some_and(|d| d <= Instant::now()) => session.handle_timeout(Instant::now()),
//!         None => session.handle_transport_closed(Instant::now()),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors by blame
//!
//! Local misuse returns `Err(UsageError)` and changes nothing. A protocol violation by
//! the router is not an error return: the session queues ABORT
//! `wamp.error.protocol_violation`, resolves every pending request, emits
//! [`SessionEvent::Closed`] with the reason, and stays closed; later commands return
//! [`UsageError::Closed`] with that reason.
//!
//! # Request tokens
//!
//! An owner that must route each answer somewhere (a runtime waking the task that made
//! the call) gives the session a token per request instead of keeping a map beside it:
//! a [`Session<T>`](Session) from [`Session::with_tokens`] takes one in each
//! `*_with_token` method ([`call_with_token`](Session::call_with_token), ...), hands it
//! back in the request's [`Reply`] (or in [`Refused`] if the request is not made), and
//! lends it through [`request_token`](Session::request_token) until that Reply is
//! polled, for the progressive results before it. [`Session::new`] is `Session<()>`,
//! whose plain methods need no token.

mod callee;
mod caller;
mod config;
mod error;
mod event;
mod probe;
mod publisher;
mod subscriber;

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

pub use config::{
    Roles, SessionConfig, CALLEE_FEATURES, CALLER_FEATURES, PUBLISHER_FEATURES, SUBSCRIBER_FEATURES,
};
pub use error::{CloseReason, RequestError, UsageError};
pub use event::{EventDelivery, InvocationEvent, Joined, Outcome, Reply, SessionEvent};
pub use probe::PROBE_PROCEDURE;

use crate::auth::{ChannelBinding, ClientAuthenticator};
use crate::dict::{Details, Dict};
use crate::id::{RegistrationId, RequestId, RequestIdGenerator, SessionId, SubscriptionId};
use crate::message::{
    Abort, Authenticate, Call, Challenge, Goodbye, Hello, Message, MessageType, Welcome,
};
use crate::payload::Payload;
use crate::serializer::SerializerKind;
use crate::uri::Uri;
use crate::value::{Map, Value};
use crate::{Instant, Options};
use probe::{Due, Probe};

/// How many locally resolved (canceled) call IDs are remembered, so that the router's
/// late ERROR or RESULT for them is not taken for a protocol violation. Crossbar.io sends
/// such late answers (and even a second ERROR after `killnowait`).
const RECENTLY_CANCELED: usize = 1024;

/// The lifecycle state.
#[derive(Debug, Clone, PartialEq)]
enum State {
    /// Created; `connect` not called yet.
    Initial,
    /// HELLO sent, waiting for WELCOME or CHALLENGE.
    Establishing,
    /// AUTHENTICATE sent, waiting for WELCOME or another CHALLENGE.
    Authenticating,
    /// Joined.
    Established,
    /// The application asked to leave while invocations were running: answers still
    /// go out, new invocations are refused, and GOODBYE follows the last answer (or the
    /// deadline).
    Draining {
        reason: Uri,
        message: Option<String>,
    },
    /// GOODBYE sent, waiting for the router's GOODBYE.
    ShuttingDown {
        reason: Uri,
        message: Option<String>,
    },
    /// Over, for good.
    Closed(CloseReason),
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Initial => "not connected",
            State::Establishing => "establishing",
            State::Authenticating => "authenticating",
            State::Established => "established",
            State::Draining { .. } => "leaving",
            State::ShuttingDown { .. } => "shutting down",
            State::Closed(_) => "closed",
        }
    }
}

/// A request this session sent and has not seen the end of.
#[derive(Debug, Clone)]
enum Pending {
    Call {
        procedure: Uri,
        receive_progress: bool,
        /// Progressive call invocations: more parts of the arguments may still be sent.
        sending_parts: bool,
    },
    Register {
        procedure: Uri,
    },
    Unregister {
        registration: RegistrationId,
    },
    Subscribe {
        topic: Uri,
    },
    Unsubscribe {
        subscription: SubscriptionId,
    },
    Publish,
}

/// An event waiting for `poll_event`; a Reply gets its token when it is polled.
enum Queued<T> {
    Event(SessionEvent<T>),
    Reply(RequestId, Result<Outcome, RequestError>),
}

/// What a request command did, for [`Session::track`].
enum Sent {
    /// Sent; the answer will come.
    Pending(Pending),
    /// Answered locally, at once.
    Answered(Outcome),
    /// Sent, and nothing will come back (PUBLISH without `acknowledge`).
    Nothing,
}

/// A request the session would not make: why, and the token it was given back.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused<T> {
    /// Why.
    pub error: UsageError,
    /// The token, unused.
    pub token: T,
}

impl Pending {
    fn request_type(&self) -> MessageType {
        match self {
            Pending::Call { .. } => MessageType::Call,
            Pending::Register { .. } => MessageType::Register,
            Pending::Unregister { .. } => MessageType::Unregister,
            Pending::Subscribe { .. } => MessageType::Subscribe,
            Pending::Unsubscribe { .. } => MessageType::Unsubscribe,
            Pending::Publish => MessageType::Publish,
        }
    }
}

/// A registration this session holds.
#[derive(Debug, Clone)]
struct Registration {
    procedure: Uri,
}

/// A subscription this session holds; the router shares one subscription ID among all
/// subscribes to the same topic and policy, so they are counted.
#[derive(Debug, Clone)]
struct Subscription {
    topic: Uri,
    count: usize,
}

/// An INVOCATION waiting for this callee's answer.
#[derive(Debug, Clone)]
struct InFlight {
    receive_progress: bool,
    /// Progressive call invocations: more INVOCATION parts will come with this ID.
    more_parts: bool,
}

/// A WAMP client session. See the [module documentation](self) for how to drive it.
pub struct Session<T = ()> {
    realm: Uri,
    serializer: SerializerKind,
    roles: Roles,
    authenticators: Vec<Box<dyn ClientAuthenticator>>,
    /// The authenticators (indices) that answered a CHALLENGE: each checks the WELCOME,
    /// whatever method the WELCOME names, so a router cannot skip WAMP-SCRAM's server
    /// verification by leaving out `authmethod`.
    answered: Vec<usize>,
    authid: Option<String>,
    authrole: Option<String>,
    authextra: Map,
    agent: String,
    handshake_timeout: std::time::Duration,
    goodbye_timeout: std::time::Duration,
    max_pending: usize,
    max_transmit_queue: usize,
    max_concurrent_invocations: usize,
    progressive_invocations: bool,
    answer_interrupts: bool,
    /// The largest message the router accepts, if it said (RawSocket's handshake).
    peer_max_message_len: Option<usize>,
    rng: Box<dyn rand_core::CryptoRng + Send>,
    channel_binding: Option<ChannelBinding>,

    state: State,
    session_id: Option<SessionId>,
    router: Details,
    deadline: Option<Instant>,
    ids: RequestIdGenerator,
    transmit: VecDeque<Bytes>,
    events: VecDeque<Queued<T>>,
    /// Tokens of requests whose Reply is queued but not yet polled, so that the
    /// request's token can still be borrowed for the events queued before it.
    replied: HashMap<RequestId, T>,
    /// Requests awaiting their answer, with the owner's token for each.
    pending: HashMap<RequestId, (Pending, T)>,
    recently_canceled: VecDeque<RequestId>,
    /// Progressive invocations (ones that had more parts coming) answered recently, so
    /// that a part that crossed the answer is discarded, as the spec says.
    recently_answered: VecDeque<RequestId>,
    /// IDs for requests answered without reaching the wire, counted down from 2^53 so the
    /// session-scope sequence on the wire has no gaps.
    local_ids: u64,
    registrations: HashMap<RegistrationId, Registration>,
    subscriptions: HashMap<SubscriptionId, Subscription>,
    invocations: HashMap<RequestId, InFlight>,
    /// The WAMP-level keepalive, when configured.
    probe: Option<Probe>,
}

impl<T> std::fmt::Debug for Session<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("realm", &self.realm)
            .field("state", &self.state)
            .field("session_id", &self.session_id)
            .field("pending", &self.pending.len())
            .field("registrations", &self.registrations.len())
            .field("subscriptions", &self.subscriptions.len())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session for `config`; `rng` supplies authentication nonces, so it must be a
    /// cryptographic generator (`CryptoRng`). Its requests carry no token; see
    /// [`Session::with_tokens`] for one that does.
    pub fn new(config: SessionConfig, rng: Box<dyn rand_core::CryptoRng + Send>) -> Session {
        Session::with_tokens(config, rng)
    }
}

impl<T> Session<T> {
    /// A session whose requests carry a token of type `T`: the `*_with_token` methods
    /// take one, the request's [`Reply`] gives it back, and
    /// [`request_token`](Session::request_token) lends it while the request is
    /// pending. An owner keeps its per-request state there (the channel a waiting
    /// handle listens on) instead of in a map of its own beside the session's.
    pub fn with_tokens(
        config: SessionConfig,
        rng: Box<dyn rand_core::CryptoRng + Send>,
    ) -> Session<T> {
        Session {
            realm: config.realm,
            serializer: config.serializer,
            roles: config.roles,
            authenticators: config.authenticators,
            answered: Vec::new(),
            authid: config.authid,
            authrole: config.authrole,
            authextra: config.authextra,
            agent: config.agent,
            handshake_timeout: config.handshake_timeout,
            goodbye_timeout: config.goodbye_timeout,
            max_pending: config.max_pending,
            max_transmit_queue: config.max_transmit_queue,
            max_concurrent_invocations: config.max_concurrent_invocations,
            progressive_invocations: config.progressive_invocations,
            answer_interrupts: config.answer_interrupts,
            probe: config
                .liveness_probe
                .map(|(interval, timeout)| Probe::new(interval, timeout)),
            peer_max_message_len: None,
            rng,
            channel_binding: None,
            state: State::Initial,
            session_id: None,
            router: Details::new(),
            deadline: None,
            ids: RequestIdGenerator::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            replied: HashMap::new(),
            pending: HashMap::new(),
            recently_canceled: VecDeque::new(),
            recently_answered: VecDeque::new(),
            local_ids: crate::id::MAX_ID,
            registrations: HashMap::new(),
            subscriptions: HashMap::new(),
            invocations: HashMap::new(),
        }
    }

    /// Sets the TLS channel binding data, for authentication methods that bind to the
    /// channel (cryptosign, SCRAM). Call before `connect`.
    pub fn set_channel_binding(&mut self, binding: ChannelBinding) {
        self.channel_binding = Some(binding);
    }

    /// The serializer this session encodes with.
    pub fn serializer(&self) -> SerializerKind {
        self.serializer
    }

    /// The session ID, once joined.
    pub fn session_id(&self) -> Option<SessionId> {
        self.session_id
    }

    /// Whether the session is joined: WELCOME came and GOODBYE has not gone out. A
    /// leave that waits for running invocations is still joined (it takes no new
    /// requests, but answers and results flow).
    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established | State::Draining { .. })
    }

    /// Why the session closed, if it has.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        match &self.state {
            State::Closed(reason) => Some(reason),
            _ => None,
        }
    }

    /// The router's WELCOME details (roles and features), once joined.
    pub fn router_details(&self) -> &Details {
        &self.router
    }

    /// Whether the router announced `feature` for `role` (`broker` or `dealer`).
    pub fn router_supports(&self, role: &str, feature: &str) -> bool {
        self.router.has_feature(role, feature)
    }

    /// The number of requests in flight.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// The number of invocations waiting for this callee's answer.
    pub fn running_invocations(&self) -> usize {
        self.invocations.len()
    }

    /// Tells the session the largest message the router accepts (RawSocket announces
    /// it in its handshake; WebSocket has no such thing). Every message is checked
    /// after encoding: a command whose message is longer fails with
    /// [`UsageError::TooLarge`] and sends nothing, and a final answer to an invocation
    /// that is too long is replaced by ERROR `wamp.error.payload_size_exceeded`, so the
    /// caller still gets an answer.
    pub fn set_peer_max_message_len(&mut self, max: Option<usize>) {
        self.peer_max_message_len = max;
    }

    // ---- output ------------------------------------------------------------------

    /// The next encoded message to send, in order.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmit.pop_front()
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<SessionEvent<T>> {
        loop {
            match self.events.pop_front()? {
                Queued::Event(event) => return Some(event),
                Queued::Reply(request, outcome) => {
                    // Always there: push_reply put it there with the Reply.
                    if let Some(token) = self.replied.remove(&request) {
                        return Some(SessionEvent::Reply(Reply {
                            request,
                            token,
                            outcome,
                        }));
                    }
                }
            }
        }
    }

    /// When [`handle_timeout`](Session::handle_timeout) must be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let probe = match self.state {
            State::Established | State::Draining { .. } => {
                self.probe.as_ref().and_then(Probe::deadline)
            }
            _ => None,
        };
        match (self.deadline, probe) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ---- input -------------------------------------------------------------------

    /// Starts the session on an open transport: sends HELLO.
    pub fn connect(&mut self, now: Instant) -> Result<(), UsageError> {
        match &self.state {
            State::Initial => {}
            State::Closed(reason) => return Err(UsageError::Closed(reason.clone())),
            _ => return Err(UsageError::AlreadyStarted),
        }
        let hello = Message::Hello(Hello {
            realm: self.realm.clone(),
            details: self.hello_details(),
        });
        self.send(hello)?;
        self.state = State::Establishing;
        self.deadline = Some(now + self.handshake_timeout);
        Ok(())
    }

    fn hello_details(&mut self) -> Details {
        let mut details = Dict::new().with_agent(self.agent.clone());
        let roles = [
            (self.roles.caller, "caller", CALLER_FEATURES),
            (self.roles.callee, "callee", CALLEE_FEATURES),
            (self.roles.publisher, "publisher", PUBLISHER_FEATURES),
            (self.roles.subscriber, "subscriber", SUBSCRIBER_FEATURES),
        ];
        for (enabled, role, features) in roles {
            if enabled {
                details = details.with_role(role, features.iter().copied());
            }
        }
        let mut authextra = self.authextra.clone();
        let mut authid = self.authid.clone();
        if !self.authenticators.is_empty() {
            let methods: Vec<String> = self
                .authenticators
                .iter()
                .map(|a| a.method().to_owned())
                .collect();
            details = details.with_authmethods(methods);
            for auth in &mut self.authenticators {
                if authid.is_none() {
                    authid = auth.authid().map(str::to_owned);
                }
                authextra.extend(auth.hello_extra(&mut *self.rng));
            }
        }
        if let Some(authid) = authid {
            details = details.with_authid(authid);
        }
        if let Some(authrole) = &self.authrole {
            details = details.with_authrole(authrole.clone());
        }
        if !authextra.is_empty() {
            details = details.with_authextra(authextra);
        }
        details
    }

    /// Feeds one received, still encoded message. A frame that does not decode is a
    /// protocol violation.
    pub fn handle_bytes(&mut self, now: Instant, frame: Bytes) {
        if matches!(self.state, State::Closed(_)) {
            return;
        }
        match self.serializer.decode(frame) {
            Ok(message) => self.handle_message(now, message),
            Err(e) => self.protocol_violation(e.to_string()),
        }
    }

    /// Feeds one received message.
    pub fn handle_message(&mut self, now: Instant, message: Message) {
        if let Some(probe) = &mut self.probe {
            probe.on_input(now);
        }
        match (&self.state, message) {
            (State::Closed(_), _) => {}
            (State::Initial, m) => self.protocol_violation(format!(
                "received {} before HELLO was sent",
                m.message_type()
            )),
            (_, Message::Abort(abort)) => self.on_abort(abort),
            (State::Establishing | State::Authenticating, Message::Welcome(welcome)) => {
                self.on_welcome(welcome)
            }
            (State::Establishing | State::Authenticating, Message::Challenge(challenge)) => {
                self.on_challenge(challenge)
            }
            (State::Establishing | State::Authenticating, m) => self.protocol_violation(format!(
                "received {} before the session was established",
                m.message_type()
            )),
            (State::ShuttingDown { .. }, Message::Goodbye(_)) => {
                let State::ShuttingDown { reason, message } =
                    std::mem::replace(&mut self.state, State::Initial)
                else {
                    return;
                };
                self.close(CloseReason::Goodbye {
                    reason,
                    local: true,
                    message,
                });
            }
            // The spec's transition 14: while shutting down, anything else is ignored.
            (State::ShuttingDown { .. }, _) => {}
            (State::Established | State::Draining { .. }, m) => self.on_established_message(m),
        }
    }

    /// Advances time: acts on an expired deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.state, State::Established | State::Draining { .. }) {
            match self.probe.as_ref().map(|p| p.due(now)) {
                Some(Due::Probe) => self.send_probe(now),
                Some(Due::Dead(timeout)) => {
                    return self.close(CloseReason::Unresponsive { timeout })
                }
                Some(Due::Nothing) | None => {}
            }
        }
        let Some(deadline) = self.deadline else {
            return;
        };
        if deadline > now {
            return;
        }
        // Stop the timer before acting, so the next poll_timeout is later than `now`.
        self.deadline = None;
        match self.state {
            State::Establishing | State::Authenticating => {
                self.close(CloseReason::HandshakeTimeout)
            }
            State::ShuttingDown { .. } => self.close(CloseReason::GoodbyeTimeout),
            // The running invocations had their time: leave without their answers.
            State::Draining { .. } => self.send_goodbye(now + self.goodbye_timeout),
            _ => {}
        }
    }

    /// The transport closed (or failed): the session is over.
    pub fn handle_transport_closed(&mut self, _now: Instant) {
        if !matches!(self.state, State::Closed(_)) {
            self.close(CloseReason::TransportLost);
        }
    }

    /// Leaves the realm: sends GOODBYE and waits (up to the GOODBYE timeout) for the
    /// router's reply.
    ///
    /// While invocations are still running, GOODBYE waits for their answers (a draining
    /// leave): [`yield_`](Session::yield_) and
    /// [`invocation_error`](Session::invocation_error) still work, new INVOCATIONs are
    /// answered with ERROR `wamp.error.unavailable`, and no new request is taken (the
    /// [liveness probe](SessionConfig::liveness_probe), if configured, still runs).
    /// GOODBYE goes out with the last answer, or when the GOODBYE timeout passes first;
    /// the whole leave takes at most twice that timeout.
    pub fn leave(
        &mut self,
        now: Instant,
        reason: Uri,
        message: Option<&str>,
    ) -> Result<(), UsageError> {
        self.require_established()?;
        self.state = State::Draining {
            reason,
            message: message.map(str::to_owned),
        };
        if self.invocations.is_empty() {
            self.send_goodbye(now + self.goodbye_timeout);
        } else {
            self.deadline = Some(now + self.goodbye_timeout);
        }
        Ok(())
    }

    /// Ends a draining leave: GOODBYE, then wait for the router's until `deadline`.
    fn send_goodbye(&mut self, deadline: Instant) {
        let State::Draining { reason, message } =
            std::mem::replace(&mut self.state, State::Initial)
        else {
            return;
        };
        let details = match &message {
            Some(m) => Dict::new().with_message(m.as_str()),
            None => Dict::new(),
        };
        // Protocol-required, and the only message left: never refused for a full queue.
        let _ = self.send_unbounded(Message::Goodbye(Goodbye {
            details,
            reason: reason.clone(),
        }));
        self.state = State::ShuttingDown { reason, message };
        self.deadline = Some(deadline);
    }

    // ---- lifecycle ---------------------------------------------------------------

    fn on_abort(&mut self, abort: Abort) {
        let message = abort.details.message().map(str::to_owned);
        self.close(CloseReason::Aborted {
            reason: abort.reason,
            message,
        });
    }

    fn on_challenge(&mut self, challenge: Challenge) {
        let channel = self.channel_binding.clone();
        let Some(index) = self
            .authenticators
            .iter()
            .position(|a| a.method() == challenge.method)
        else {
            let why = format!(
                "challenged with {:?}, which this client did not offer",
                challenge.method
            );
            return self.abort_locally(Uri::CANNOT_AUTHENTICATE, why);
        };
        if !self.answered.contains(&index) {
            self.answered.push(index);
        }
        let auth = &mut self.authenticators[index];
        match auth.authenticate(&challenge.extra, channel.as_ref()) {
            Ok(answer) => {
                let Authenticate { signature, extra } = answer;
                match self.send_unbounded(Message::Authenticate(Authenticate { signature, extra }))
                {
                    Ok(()) => self.state = State::Authenticating,
                    Err(e) => self.abort_locally(Uri::CANNOT_AUTHENTICATE, e.to_string()),
                }
            }
            Err(e) => self.abort_locally(Uri::CANNOT_AUTHENTICATE, e.to_string()),
        }
    }

    fn on_welcome(&mut self, welcome: Welcome) {
        // The method the WELCOME names (WAMP-SCRAM refuses one it never answered), and
        // every method that answered a CHALLENGE, check the WELCOME.
        let named = welcome
            .details
            .authmethod()
            .and_then(|m| self.authenticators.iter().position(|a| a.method() == m));
        let mut checks = self.answered.clone();
        checks.extend(named.filter(|i| !self.answered.contains(i)));
        for index in checks {
            if let Err(e) = self.authenticators[index].verify_welcome(&welcome.details) {
                return self.abort_locally(Uri::CANNOT_AUTHENTICATE, e.to_string());
            }
        }
        self.state = State::Established;
        self.deadline = None;
        self.session_id = Some(welcome.session);
        self.router = welcome.details.clone();
        self.emit(SessionEvent::Joined(Joined {
            session: welcome.session,
            realm: self.realm.clone(),
            details: welcome.details,
        }));
    }

    fn on_goodbye(&mut self, goodbye: Goodbye) {
        // The reply is sent even if the queue is full: it is the last message.
        let reply = Message::Goodbye(Goodbye {
            details: Dict::new(),
            reason: Uri::GOODBYE_AND_OUT,
        });
        let _ = self.send_unbounded(reply);
        let message = goodbye.details.message().map(str::to_owned);
        self.close(CloseReason::Goodbye {
            reason: goodbye.reason,
            local: false,
            message,
        });
    }

    /// Sends ABORT and closes, for failures on this side (authentication).
    fn abort_locally(&mut self, reason: Uri, message: String) {
        let abort = Message::Abort(Abort {
            details: Dict::new().with_message(message.clone()),
            reason: reason.clone(),
            payload: Payload::empty(),
        });
        let _ = self.send_unbounded(abort);
        self.close(CloseReason::AbortedLocally { reason, message });
    }

    /// The router broke the protocol: ABORT `wamp.error.protocol_violation` and close,
    /// without processing anything further.
    fn protocol_violation(&mut self, why: String) {
        let abort = Message::Abort(Abort {
            details: Dict::new().with_message(why.clone()),
            reason: Uri::PROTOCOL_VIOLATION,
            payload: Payload::empty(),
        });
        let _ = self.send_unbounded(abort);
        self.close(CloseReason::ProtocolViolation(why));
    }

    /// Enters the closed state: every pending request resolves (once), in request order.
    fn close(&mut self, reason: CloseReason) {
        self.state = State::Closed(reason.clone());
        self.deadline = None;
        let mut pending: Vec<(RequestId, (Pending, T))> = self.pending.drain().collect();
        pending.sort_by_key(|(id, _)| *id);
        for (request, (_, token)) in pending {
            self.push_reply(
                request,
                token,
                Err(RequestError::SessionClosed(reason.clone())),
            );
        }
        self.registrations.clear();
        self.subscriptions.clear();
        self.invocations.clear();
        self.recently_canceled.clear();
        self.recently_answered.clear();
        self.emit(SessionEvent::Closed(reason));
    }

    fn require_established(&self) -> Result<(), UsageError> {
        match &self.state {
            State::Established => Ok(()),
            State::Closed(reason) => Err(UsageError::Closed(reason.clone())),
            other => Err(UsageError::NotEstablished(other.name())),
        }
    }

    /// Invocations may be answered while joined, and while a leave waits for them.
    fn require_answerable(&self) -> Result<(), UsageError> {
        match &self.state {
            State::Draining { .. } => Ok(()),
            _ => self.require_established(),
        }
    }

    /// Checks that a new request can be added.
    fn require_request_capacity(&self) -> Result<(), UsageError> {
        self.require_established()?;
        if self.pending.len() >= self.max_pending {
            return Err(UsageError::TooManyPending(self.max_pending));
        }
        if self.transmit.len() >= self.max_transmit_queue {
            return Err(UsageError::QueueFull(self.max_transmit_queue));
        }
        Ok(())
    }

    /// Encodes and queues a message, within the queue limit.
    fn send(&mut self, message: Message) -> Result<(), UsageError> {
        if self.transmit.len() >= self.max_transmit_queue {
            return Err(UsageError::QueueFull(self.max_transmit_queue));
        }
        self.send_unbounded(message)
    }

    /// Encodes and queues a message regardless of the queue limit: for the answers the
    /// protocol requires (GOODBYE reply, ABORT, AUTHENTICATE), which are bounded by the
    /// router's messages, not by the application.
    fn send_unbounded(&mut self, message: Message) -> Result<(), UsageError> {
        let bytes = self.serializer.encode(&message)?;
        if let Some(max) = self.peer_max_message_len {
            if bytes.len() > max {
                return Err(UsageError::TooLarge {
                    size: bytes.len(),
                    max,
                });
            }
        }
        self.transmit.push_back(bytes);
        Ok(())
    }

    /// Sends a new request under a fresh ID. The ID is taken only if the message is
    /// queued: a refused command (say, options the serializer cannot encode) changes
    /// nothing, and the IDs on the wire still go up by one, as the spec requires.
    fn send_request(
        &mut self,
        message: impl FnOnce(RequestId) -> Message,
    ) -> Result<RequestId, UsageError> {
        let ids = self.ids.clone();
        let request = self.next_request();
        if let Err(e) = self.send(message(request)) {
            self.ids = ids;
            return Err(e);
        }
        Ok(request)
    }

    /// Sends the liveness probe: a CALL whose answer (whatever it is) proves the router
    /// alive, consumed by [`on_established_message`](Self::on_established_message).
    fn send_probe(&mut self, now: Instant) {
        let ids = self.ids.clone();
        let request = self.next_request();
        let call = Message::Call(Call {
            request,
            options: Options::new(),
            procedure: PROBE_PROCEDURE,
            payload: Payload::empty(),
        });
        // Unbounded: one small message per interval, and a full queue is no reason to
        // stop checking that the router is there.
        let sent = match self.send_unbounded(call) {
            Ok(()) => Some(request),
            Err(_) => {
                // Unsent: the ID goes back, so the IDs on the wire stay gapless.
                self.ids = ids;
                None
            }
        };
        if let Some(probe) = &mut self.probe {
            probe.sent(now, sent);
        }
    }

    /// A fresh request ID that is not in flight.
    fn next_request(&mut self) -> RequestId {
        loop {
            let id = self.ids.next();
            // After 2^53 requests the sequence wraps; skip IDs still in flight.
            if !self.pending.contains_key(&id) && !self.replied.contains_key(&id) {
                return id;
            }
        }
    }

    /// An ID for a request answered locally, from the top of the range down; it never
    /// reaches the wire, so the wire's sequence stays gapless.
    fn next_local_request(&mut self) -> RequestId {
        loop {
            let id = RequestId::new(self.local_ids).unwrap_or(RequestId(crate::id::Id::MAX));
            self.local_ids = if self.local_ids <= 1 {
                crate::id::MAX_ID
            } else {
                self.local_ids - 1
            };
            if !self.pending.contains_key(&id) {
                return id;
            }
        }
    }

    fn remember_answered(&mut self, invocation: RequestId) {
        if self.recently_answered.len() == RECENTLY_CANCELED {
            self.recently_answered.pop_front();
        }
        self.recently_answered.push_back(invocation);
    }

    fn remember_canceled(&mut self, request: RequestId) {
        if self.recently_canceled.len() == RECENTLY_CANCELED {
            self.recently_canceled.pop_front();
        }
        self.recently_canceled.push_back(request);
    }

    fn was_canceled(&self, request: RequestId) -> bool {
        self.recently_canceled.contains(&request)
    }

    /// What kind of request `request` is, if it is pending.
    fn pending_kind(&self, request: RequestId) -> Option<&Pending> {
        self.pending.get(&request).map(|(kind, _)| kind)
    }

    /// Keeps `token` with what a request command did: pending until its answer,
    /// answered at once, or nothing to answer; or gives it back with the error.
    fn track(
        &mut self,
        sent: Result<(RequestId, Sent), UsageError>,
        token: T,
    ) -> Result<RequestId, Refused<T>> {
        match sent {
            Ok((request, Sent::Pending(kind))) => {
                self.pending.insert(request, (kind, token));
                Ok(request)
            }
            Ok((request, Sent::Answered(outcome))) => {
                self.push_reply(request, token, Ok(outcome));
                Ok(request)
            }
            Ok((request, Sent::Nothing)) => Ok(request),
            Err(error) => Err(Refused { error, token }),
        }
    }

    /// Ends a pending request: its one Reply, with its token.
    fn reply(&mut self, request: RequestId, outcome: Result<Outcome, RequestError>) {
        if let Some((_, token)) = self.pending.remove(&request) {
            self.push_reply(request, token, outcome);
        }
    }

    fn push_reply(&mut self, request: RequestId, token: T, outcome: Result<Outcome, RequestError>) {
        self.replied.insert(request, token);
        self.events.push_back(Queued::Reply(request, outcome));
    }

    fn emit(&mut self, event: SessionEvent<T>) {
        self.events.push_back(Queued::Event(event));
    }

    /// The token of a request whose Reply has not been polled yet: from the request
    /// until [`poll_event`](Session::poll_event) hands out its Reply, so the events
    /// before it (progressive results) can reach what the token names.
    pub fn request_token(&self, request: RequestId) -> Option<&T> {
        match self.pending.get(&request) {
            Some((_, token)) => Some(token),
            None => self.replied.get(&request),
        }
    }

    // ---- dispatch ----------------------------------------------------------------

    fn on_established_message(&mut self, message: Message) {
        match message {
            Message::Goodbye(m) => self.on_goodbye(m),
            Message::Error(m)
                if m.request_type == MessageType::Call && self.is_probe(m.request) => {}
            Message::Result(m) if self.is_probe(m.request) => {}
            Message::Error(m) => self.on_error(m),
            Message::Result(m) => self.on_result(m),
            Message::Registered(m) => self.on_registered(m),
            Message::Unregistered(m) => self.on_unregistered(m),
            Message::Invocation(m) => self.on_invocation(m),
            Message::Interrupt(m) => self.on_interrupt(m),
            Message::Published(m) => self.on_published(m),
            Message::Subscribed(m) => self.on_subscribed(m),
            Message::Unsubscribed(m) => self.on_unsubscribed(m),
            Message::Event(m) => self.on_event(m),
            other => self.protocol_violation(format!(
                "received {} in an established session",
                other.message_type()
            )),
        }
    }

    /// Whether `request` was the liveness probe's (its answer is consumed).
    fn is_probe(&mut self, request: RequestId) -> bool {
        self.probe.as_mut().is_some_and(|p| p.take_answer(request))
    }

    fn on_error(&mut self, error: crate::message::Error) {
        let request = error.request;
        let Some(pending) = self.pending_kind(request) else {
            if error.request_type == MessageType::Call && self.was_canceled(request) {
                return;
            }
            return self.protocol_violation(format!(
                "ERROR for {} request {request}, which is not pending",
                error.request_type
            ));
        };
        if pending.request_type() != error.request_type {
            return self.protocol_violation(format!(
                "ERROR says request {request} was a {}, but it is a {}",
                error.request_type,
                pending.request_type()
            ));
        }
        self.reply(
            request,
            Err(RequestError::Wamp {
                error: error.error,
                details: error.details,
                payload: error.payload,
            }),
        );
    }
}

/// Reads a `reason` string from revocation details.
fn revocation_reason(details: &Details) -> Option<String> {
    details
        .reason()
        .map(str::to_owned)
        .or_else(|| details.get("reason").map(|v: &Value| format!("{v:?}")))
}
