//! A realm: its joined sessions, its broker and dealer, its roles and principals, and the
//! routing of an established session's messages to them.

use std::collections::BTreeMap;
use std::time::Instant;

use wamp_proto::message::{self, Message, MessageType};
use wamp_proto::serializer::SerializerKind;
use wamp_proto::{Details, Id, Map, Payload, RequestId, SessionId, Uri, Value, MAX_ID};

use super::authorizer::{Action, Authorizer, Grant};
use super::broker::{send_error, Broker};
use super::config::{Limits, RealmConfig};
use super::connection::Connections;
use super::dealer::Dealer;
use super::event::{ConnectionId, LeaveReason};
use super::handshake::{Identity, RealmAuth};
use super::meta::{self, Testament};
use super::timers::Timers;

/// What one input may change beyond its realm, and what it needs from the router.
pub(crate) struct Ctx<'a> {
    pub now: Instant,
    pub rng: &'a mut dyn rand_core::CryptoRng,
    pub out: &'a mut Connections,
    pub timers: &'a mut Timers,
    /// The router-scope ID sequence (subscriptions, registrations).
    pub ids: &'a mut u64,
    pub limits: &'a Limits,
    /// This realm's index (for call timers).
    pub realm: usize,
    /// Sessions the meta API asked to close (the router does it after the input).
    pub kills: Vec<Kill>,
    /// Meta events to publish once the current operation is done.
    pub meta: Vec<(Uri, Vec<Value>, Map)>,
    /// The session ID the router calls authenticators as (no client has it).
    pub router_session: SessionId,
    /// Answers to the router's own calls, by their request ID, for the router to act on
    /// once the current operation is done: the YIELD's arguments, or the error and why.
    pub answers: Vec<(RequestId, RouterAnswer)>,
}

/// How one of the router's own calls ended.
pub(crate) enum RouterAnswer {
    /// The callee's YIELD: its positional arguments.
    Result(Vec<Value>),
    /// The callee's ERROR: its URI and its first argument.
    Error(Uri, String),
    /// The call failed on the router's side (timeout, the callee left, ...): why.
    Failed(String),
}

impl Ctx<'_> {
    /// The next router-scope ID.
    pub fn next_id(&mut self) -> Id {
        *self.ids = if *self.ids >= MAX_ID {
            1
        } else {
            *self.ids + 1
        };
        Id::new(*self.ids).unwrap_or(Id::MIN)
    }

    /// A random global-scope ID (publications).
    pub fn random_id(&mut self) -> Id {
        Id::random(&mut *self.rng)
    }

    /// Queues a meta event.
    pub fn meta_event(&mut self, topic: &'static str, args: Vec<Value>) {
        self.meta.push((Uri::from_static(topic), args, Map::new()));
    }

    /// Like [`meta_event`](Self::meta_event), with keyword arguments.
    pub fn meta_event_kw(&mut self, topic: &'static str, args: Vec<Value>, kwargs: Map) {
        self.meta.push((Uri::from_static(topic), args, kwargs));
    }
}

/// A session to close with GOODBYE, on behalf of the meta API.
#[derive(Debug, Clone)]
pub(crate) struct Kill {
    pub session: SessionId,
    pub reason: Uri,
    pub message: Option<String>,
}

/// A joined session, as its realm sees it.
#[derive(Debug)]
pub(crate) struct SessionInfo {
    pub id: SessionId,
    pub conn: ConnectionId,
    pub serializer: SerializerKind,
    pub authid: String,
    pub authrole: String,
    pub authmethod: String,
    pub authprovider: String,
    /// The roles and features it announced in HELLO.
    pub roles: Details,
    pub transport: Map,
    pub testaments: Vec<Testament>,
}

impl SessionInfo {
    pub fn new(
        id: SessionId,
        conn: ConnectionId,
        serializer: SerializerKind,
        identity: &Identity,
        roles: Details,
        transport: Map,
    ) -> Self {
        SessionInfo {
            id,
            conn,
            serializer,
            authid: identity.authid.clone(),
            authrole: identity.authrole.clone(),
            authmethod: identity.authmethod.to_owned(),
            authprovider: identity.authprovider.to_owned(),
            roles,
            transport,
            testaments: Vec::new(),
        }
    }

    /// Whether it announced `feature` for `role`.
    pub fn supports(&self, role: &str, feature: &str) -> bool {
        self.roles.has_feature(role, feature)
    }

    /// The session meta API's description of it.
    pub fn details(&self) -> Map {
        let mut m = Map::new();
        m.insert("session".into(), Value::UInt(self.id.get()));
        m.insert("authid".into(), Value::from(self.authid.as_str()));
        m.insert("authrole".into(), Value::from(self.authrole.as_str()));
        m.insert("authmethod".into(), Value::from(self.authmethod.as_str()));
        m.insert(
            "authprovider".into(),
            Value::from(self.authprovider.as_str()),
        );
        m.insert("transport".into(), Value::Map(self.transport.clone()));
        m
    }
}

pub(crate) type Sessions = BTreeMap<SessionId, SessionInfo>;

/// A message from a joined session, with what the broker and dealer read of the realm
/// to route it. The sender is looked up once, here, for every role.
pub(crate) struct Inbound<'a, M> {
    pub sessions: &'a Sessions,
    pub authz: &'a Authorizer,
    /// The session that sent it.
    pub from: &'a SessionInfo,
    pub msg: M,
}

/// What routing a message returns: `Err` is a protocol violation by its sender.
pub(crate) type Routed = Result<(), String>;

impl<M> Inbound<'_, M> {
    /// Whether the sender's role may do `action` on `uri`; `Err` says why not.
    pub fn authorize(&self, action: Action, uri: &str) -> Result<Grant, String> {
        // The router's own calls (to authenticators) are not subject to roles.
        if self.from.conn == ConnectionId::ROUTER {
            return Ok(Grant::default());
        }
        self.authz
            .authorize(self.from.id, &self.from.authrole, action, uri)
    }
}

/// A request the broker or dealer may answer with an ERROR.
pub(crate) trait Request {
    const TYPE: MessageType;
    fn request(&self) -> RequestId;
}

// Each of these carries its request ID in `request`, and its type is its name.
macro_rules! requests {
    ($($kind:ident),*) => {$(
        impl Request for message::$kind {
            const TYPE: MessageType = MessageType::$kind;
            fn request(&self) -> RequestId {
                self.request
            }
        }
    )*};
}
requests!(Subscribe, Unsubscribe, Publish, Register, Unregister);

impl<M: Request> Inbound<'_, M> {
    /// Refuses the request: an ERROR to the sender, with `why` as its only argument.
    pub fn refuse(&self, ctx: &mut Ctx<'_>, error: Uri, why: &str) -> Routed {
        send_error(ctx, self.from, M::TYPE, self.msg.request(), error, why)
    }
}

impl<'a> Inbound<'a, ()> {
    /// The same sender with its message.
    fn with<M>(&self, msg: M) -> Inbound<'a, M> {
        Inbound {
            sessions: self.sessions,
            authz: self.authz,
            from: self.from,
            msg,
        }
    }
}

pub(crate) struct Realm {
    pub name: Uri,
    pub auth: RealmAuth,
    pub authz: Authorizer,
    pub meta_api: bool,
    pub sessions: Sessions,
    pub broker: Broker,
    pub dealer: Dealer,
}

impl Realm {
    pub fn new(config: &RealmConfig, auth: RealmAuth, authz: Authorizer) -> Self {
        Realm {
            name: config.name.clone(),
            auth,
            authz,
            meta_api: config.meta_api,
            sessions: Sessions::new(),
            broker: Broker::default(),
            dealer: Dealer::default(),
        }
    }

    /// A session joins (WELCOME already queued).
    pub fn join(&mut self, info: SessionInfo, ctx: &mut Ctx<'_>) {
        let details = info.details();
        self.sessions.insert(info.id, info);
        ctx.meta_event("wamp.session.on_join", vec![Value::Map(details)]);
        self.flush_meta(ctx);
    }

    /// A session leaves: it is unsubscribed and unregistered, its calls end, its
    /// testaments are published and `on_leave` is announced.
    pub fn leave(
        &mut self,
        session: SessionId,
        why: &LeaveReason,
        ctx: &mut Ctx<'_>,
    ) -> Option<SessionInfo> {
        let mut info = self.sessions.remove(&session)?;
        self.authz.forget_session(session);
        self.broker.remove_session(session, ctx);
        self.dealer.remove_session(&self.sessions, session, ctx);
        // The spec: `detached` testaments before `destroyed` ones, each in the order
        // they were added. Without session resumption both fire now.
        let mut testaments = std::mem::take(&mut info.testaments);
        testaments.sort_by_key(|t| !t.detached);
        for t in testaments {
            self.broker.publish_testament(&self.sessions, &info, t, ctx);
        }
        // Why it left is in the keyword arguments (`reason`, a URI, and `message`), so
        // subscribers that read the three positional ones see what they always saw.
        let mut kwargs = Map::new();
        kwargs.insert("reason".into(), Value::from(why.uri().as_str()));
        kwargs.insert("message".into(), Value::from(why.to_string().as_str()));
        ctx.meta_event_kw(
            "wamp.session.on_leave",
            vec![
                Value::UInt(session.get()),
                Value::from(info.authid.as_str()),
                Value::from(info.authrole.as_str()),
            ],
            kwargs,
        );
        self.flush_meta(ctx);
        Some(info)
    }

    /// Every session leaves at once (shutdown): nobody is left to receive meta events
    /// or testaments, so none are published.
    pub fn clear(&mut self, ctx: &mut Ctx<'_>) -> Vec<SessionInfo> {
        let sessions = std::mem::take(&mut self.sessions);
        for id in sessions.keys() {
            self.broker.remove_session(*id, ctx);
            self.dealer.remove_session(&Sessions::new(), *id, ctx);
        }
        ctx.meta.clear();
        sessions.into_values().collect()
    }

    /// Routes a message of an established session. `Err` is a protocol violation by
    /// that session.
    pub fn handle(
        &mut self,
        session: SessionId,
        message: Message,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), String> {
        let result = match message {
            // A part of a call the dealer holds is the dealer's, whatever its URI.
            Message::Call(m)
                if m.procedure.is_reserved() && !self.dealer.owns_call(session, m.request) =>
            {
                self.meta_call(session, m, ctx)
            }
            message => self.route(session, message, ctx),
        };
        self.flush_meta(ctx);
        result
    }

    /// Routes a message for the broker or the dealer.
    fn route(
        &mut self,
        session: SessionId,
        message: Message,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), String> {
        let Realm {
            sessions,
            authz,
            broker,
            dealer,
            ..
        } = self;
        let Some(from) = sessions.get(&session) else {
            return Ok(());
        };
        let at = Inbound {
            sessions: &*sessions,
            authz: &*authz,
            from,
            msg: (),
        };
        match message {
            Message::Publish(m) => broker.publish(at.with(m), ctx),
            Message::Subscribe(m) => broker.subscribe(at.with(m), ctx),
            Message::Unsubscribe(m) => broker.unsubscribe(at.with(m), ctx),
            Message::Call(m) => dealer.call(at.with(m), ctx),
            Message::Cancel(m) => dealer.cancel(at.with(m), ctx),
            Message::Register(m) => dealer.register(at.with(m), ctx),
            Message::Unregister(m) => dealer.unregister(at.with(m), ctx),
            Message::Yield(m) => dealer.yield_(at.with(m), ctx),
            Message::Error(m) if m.request_type == MessageType::Invocation => {
                dealer.invocation_error(at.with(m), ctx)
            }
            Message::Error(m) => Err(format!(
                "ERROR for a {} request: a client may only answer INVOCATION with ERROR",
                m.request_type
            )),
            // Acknowledged event delivery is not announced; an acknowledgement is harmless.
            Message::EventReceived(_) => Ok(()),
            other => Err(format!(
                "{} is not a message a client sends in an established session",
                other.message_type()
            )),
        }
    }

    /// A call to a `wamp.` procedure: the meta API, or nothing.
    fn meta_call(
        &mut self,
        session: SessionId,
        call: message::Call,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), String> {
        let Some(caller) = self.sessions.get(&session) else {
            return Ok(());
        };
        let outcome =
            match self
                .authz
                .authorize(session, &caller.authrole, Action::Call, &call.procedure)
            {
                Err(why) => Err((Uri::NOT_AUTHORIZED, why)),
                Ok(_) if !self.meta_api => Err((
                    Uri::NO_SUCH_PROCEDURE,
                    format!(
                        "no procedure {} (the meta API is off in this realm)",
                        call.procedure
                    ),
                )),
                Ok(_) if call.options.progress() == Some(true) => {
                    // Its later parts (same ID) are dropped by the dealer.
                    self.dealer.discard_parts(session, call.request);
                    Err((
                        Uri::FEATURE_NOT_SUPPORTED,
                        format!("{} takes no progressive call invocations", call.procedure),
                    ))
                }
                Ok(_) => meta::call(self, session, &call, ctx),
            };
        let Some(caller) = self.sessions.get(&session) else {
            return Ok(());
        };
        let (conn, kind) = (caller.conn, caller.serializer);
        let reply = match outcome {
            Ok(payload) => Message::Result(message::CallResult {
                request: call.request,
                details: Details::new(),
                payload,
            }),
            Err((error, why)) => {
                if call.options.progress() == Some(true) {
                    self.dealer.discard_parts(session, call.request);
                }
                call_error(kind, call.request, error, &why)
            }
        };
        send_or_fail(ctx, conn, kind, call.request, reply);
        Ok(())
    }

    /// Publishes the queued meta events (if the meta API is on).
    fn flush_meta(&mut self, ctx: &mut Ctx<'_>) {
        let events = std::mem::take(&mut ctx.meta);
        if !self.meta_api {
            return;
        }
        for (topic, args, kwargs) in events {
            let payload = Payload::from_values(args, kwargs);
            self.broker
                .publish_meta(&self.sessions, &topic, payload, ctx);
        }
    }
}

/// An ERROR for a CALL, with the message as its only argument (what Autobahn shows as
/// the error's text).
pub(crate) fn call_error(
    kind: SerializerKind,
    request: wamp_proto::RequestId,
    error: Uri,
    why: &str,
) -> Message {
    Message::Error(message::Error {
        request_type: MessageType::Call,
        request,
        details: Details::new(),
        error,
        payload: Payload::encode_args(kind, &(why,)).unwrap_or_default(),
    })
}

/// Sends an answer to a caller; if its payload cannot be converted to the caller's
/// serializer, the caller gets an ERROR saying so instead (never nothing).
pub(crate) fn send_or_fail(
    ctx: &mut Ctx<'_>,
    conn: ConnectionId,
    kind: SerializerKind,
    request: wamp_proto::RequestId,
    message: Message,
) {
    if let Err(e) = ctx.out.send(conn, &message) {
        let why = format!("the answer could not be converted for this session: {e}");
        let _ = ctx.out.send(
            conn,
            &call_error(kind, request, Uri::INVALID_ARGUMENT, &why),
        );
    }
}
