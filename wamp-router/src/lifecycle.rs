//! The session lifecycle: HELLO, the authentication handshake and WELCOME; GOODBYE and
//! ABORT; a protocol violation; and the end of a connection.

use super::*;

use wamp_proto::message::Call;
use wamp_proto::Value;

use dynamic_auth::Ask;
use handshake::{Pending, Verdict};
use realm::Inbound;

impl Router {
    pub(crate) fn on_hello(&mut self, now: Instant, conn: ConnectionId, hello: Hello) {
        if self.shutting_down {
            return self.abort(
                now,
                conn,
                Uri::CLOSE_SYSTEM_SHUTDOWN,
                "the router is shutting down".into(),
            );
        }
        let realm = self.realm_index.get(&hello.realm).copied();
        let (binding, transport_auth, client_cert) = match self.conns.get(conn) {
            Some(c) => (
                c.channel_binding.clone(),
                c.transport_auth,
                c.client_cert.clone(),
            ),
            None => return,
        };
        // A transport's principal may name the realm it joins, so a realm that does not
        // exist is refused only once the principal is known.
        if realm.is_none() && transport_auth.is_none() {
            let why = format!("no realm {} on this router", hello.realm);
            return self.abort(now, conn, Uri::NO_SUCH_REALM, why);
        }
        if hello.details.roles().is_none_or(|r| r.is_empty()) {
            return self.protocol_violation(now, conn, "HELLO announces no roles".into());
        }
        let session = self.new_session_id(conn);
        let offered = hello.details.authmethods().unwrap_or_default();
        let method = handshake::method_name(offered.first().copied().unwrap_or("anonymous"));
        if let Some(c) = self.conns.get_mut(conn) {
            c.auth_method = method;
        }
        let auth = match (transport_auth, realm) {
            (Some(t), _) => &self.transport_auth[t].1,
            (None, Some(r)) => &self.realms[r].auth,
            (None, None) => unreachable!("refused above"),
        };
        let step = auth.hello(
            &hello,
            session,
            binding.as_ref(),
            client_cert.as_deref(),
            &mut *self.rng,
        );
        let roles = handshake::client_roles(&hello.details);
        self.proceed(now, conn, realm, session, roles, step);
    }

    /// Takes the handshake's next step.
    fn proceed(
        &mut self,
        now: Instant,
        conn: ConnectionId,
        realm: Option<usize>,
        session: SessionId,
        roles: Details,
        step: Step,
    ) {
        match step {
            Step::Welcome(identity) => self.admit(now, conn, realm, session, roles, identity),
            Step::Ask(ask) => self.ask(now, conn, realm, session, roles, ask),
            Step::Challenge {
                method,
                extra,
                pending,
            } => {
                if let Some(c) = self.conns.get_mut(conn) {
                    c.auth_method = method;
                }
                self.conns.send_final(
                    conn,
                    &Message::Challenge(Challenge {
                        method: method.to_owned(),
                        extra,
                    }),
                );
                if let Some(c) = self.conns.get_mut(conn) {
                    c.state = ConnState::Authenticating {
                        realm,
                        session,
                        roles,
                        pending,
                    };
                }
            }
            Step::Abort(reason, why) => {
                self.sessions.remove(&session);
                self.abort(now, conn, reason, why);
            }
        }
    }

    pub(crate) fn on_authenticate(
        &mut self,
        now: Instant,
        conn: ConnectionId,
        answer: wamp_proto::message::Authenticate,
    ) {
        let Some((binding, realm, session, roles, pending)) = self.take_handshake(conn) else {
            return;
        };
        let step = match pending.authenticate(&answer, binding.as_ref()) {
            Ok(Verdict::Welcome(identity)) => Step::Welcome(identity),
            Ok(Verdict::Ask(ask)) => Step::Ask(ask),
            Err(why) => Step::Abort(Uri::NOT_AUTHORIZED, why),
        };
        self.proceed(now, conn, realm, session, roles, step);
    }

    /// Calls a dynamic authenticator for the handshake of `conn`; its answer comes back
    /// through [`on_router_answer`](Router::on_router_answer).
    fn ask(
        &mut self,
        now: Instant,
        conn: ConnectionId,
        realm: Option<usize>,
        session: SessionId,
        roles: Details,
        mut ask: Box<Ask>,
    ) {
        let procedure = ask.authenticator.procedure.clone();
        let target = match &ask.authenticator.realm {
            Some(name) => self.realm_index.get(name).copied(),
            None => realm,
        };
        let Some(target) = target else {
            self.sessions.remove(&session);
            let why = format!(
                "the authenticator {procedure} is on realm {}, which this router does not have",
                ask.authenticator.realm.as_ref().unwrap_or(&ask.realm)
            );
            return self.abort(now, conn, Uri::AUTHENTICATION_FAILED, why);
        };
        let transport = self
            .conns
            .get(conn)
            .map(|c| c.transport.clone())
            .unwrap_or_default();
        ask.details
            .insert("session".into(), Value::UInt(session.get()));
        ask.details
            .insert("transport".into(), Value::Map(transport));
        let args = vec![
            Value::from(ask.realm.as_str()),
            ask.authid.as_deref().map_or(Value::Null, Value::from),
            Value::Map(ask.details.clone()),
        ];
        let request = match self.call_as_router(now, target, procedure, args) {
            Ok(request) => request,
            Err(why) => {
                self.sessions.remove(&session);
                let why = format!(
                    "the authenticator {} could not be called: {why}",
                    ask.authenticator.procedure
                );
                return self.abort(now, conn, Uri::AUTHENTICATION_FAILED, why);
            }
        };
        self.auth_calls.insert(request, conn);
        if let Some(c) = self.conns.get_mut(conn) {
            c.state = ConnState::Authenticating {
                realm,
                session,
                roles,
                pending: Box::new(Pending::Asking { request, ask }),
            };
        }
    }

    /// The router calls `procedure` on `realm` as its own session (roles do not
    /// restrict it), with `args` and the authenticator timeout; the answer comes back to
    /// [`on_router_answer`](Router::on_router_answer) under the returned request ID.
    pub(crate) fn call_as_router(
        &mut self,
        now: Instant,
        realm: usize,
        procedure: Uri,
        args: Vec<Value>,
    ) -> Result<RequestId, String> {
        let request = loop {
            let id = self.auth_requests.next();
            if !self.auth_calls.contains_key(&id) && !self.authz_waits.contains_key(&id) {
                break id;
            }
        };
        if self.hooks.contains(&procedure) {
            self.asked.insert(request);
            self.timers
                .set_after(Timer::Hook(request), now, self.limits.authenticator_timeout);
            self.events.push_back(RouterEvent::Ask {
                request,
                procedure,
                args,
            });
            return Ok(request);
        }
        let timeout =
            u64::try_from(self.limits.authenticator_timeout.as_millis()).unwrap_or(u64::MAX);
        let call = Call {
            request,
            options: Dict::new().with_timeout(timeout.max(1)),
            procedure,
            payload: Payload::from_values(args, Map::new()),
        };
        let router = SessionInfo::new(
            self.router_session,
            ConnectionId::ROUTER,
            SerializerKind::MsgPack,
            &Identity::router(),
            Dict::new().with_role("caller", Vec::<&str>::new()),
            Map::new(),
        );
        self.in_realm(realm, now, |r, ctx| {
            let req = Inbound {
                sessions: &r.sessions,
                authz: &r.authz,
                from: &router,
                msg: call,
            };
            r.dealer.call_for_router(req, ctx)
        })
        .map(|()| request)
        .map_err(|(_, why)| why)
    }

    /// One of the router's own calls ended: an authenticator's or an authorizer's.
    pub(crate) fn on_router_answer(
        &mut self,
        now: Instant,
        request: RequestId,
        answer: RouterAnswer,
    ) {
        if self.authz_waits.contains_key(&request) {
            return self.on_authorizer_answer(request, answer);
        }
        let Some(conn) = self.auth_calls.remove(&request) else {
            return;
        };
        let Some(c) = self.conns.get_mut(conn) else {
            // The client left while its authenticator was thinking.
            return;
        };
        let waiting = matches!(
            &c.state,
            ConnState::Authenticating { pending, .. }
                if matches!(**pending, Pending::Asking { request: r, .. } if r == request)
        );
        if !waiting {
            return;
        }
        let Some((binding, realm, session, roles, pending)) = self.take_handshake(conn) else {
            return;
        };
        let Pending::Asking { ask, .. } = *pending else {
            return;
        };
        let step = match answer {
            RouterAnswer::Result(args) => {
                ask.answered(&args, session, binding.as_ref(), &mut *self.rng)
            }
            // Its refusal, in its words (Crossbar.io passes it on the same way).
            RouterAnswer::Error(error, why) => Step::Abort(error, why),
            RouterAnswer::Failed(why) => Step::Abort(
                Uri::AUTHENTICATION_FAILED,
                format!(
                    "the authenticator {} failed: {why}",
                    ask.authenticator.procedure
                ),
            ),
        };
        self.proceed(now, conn, realm, session, roles, step);
    }

    /// Takes a connection's handshake in progress (its state becomes `AwaitingHello`
    /// until the caller decides): the channel binding, the realm asked for, the reserved
    /// session ID, the client's roles and what the handshake waits for.
    #[allow(clippy::type_complexity)] // the parts of one state, taken together
    fn take_handshake(
        &mut self,
        conn: ConnectionId,
    ) -> Option<(
        Option<ChannelBinding>,
        Option<usize>,
        SessionId,
        Details,
        Box<Pending>,
    )> {
        let c = self.conns.get_mut(conn)?;
        if !matches!(c.state, ConnState::Authenticating { .. }) {
            return None;
        }
        let binding = c.channel_binding.clone();
        match std::mem::replace(&mut c.state, ConnState::AwaitingHello) {
            ConnState::Authenticating {
                realm,
                session,
                roles,
                pending,
            } => Some((binding, realm, session, roles, pending)),
            _ => None,
        }
    }

    /// A random session ID no other session (or handshake) has.
    pub(crate) fn new_session_id(&mut self, conn: ConnectionId) -> SessionId {
        loop {
            let id = SessionId(Id::random(&mut *self.rng));
            if let std::collections::hash_map::Entry::Vacant(e) = self.sessions.entry(id) {
                e.insert(conn);
                return id;
            }
        }
    }

    pub(crate) fn release_handshake(&mut self, conn: ConnectionId) {
        if let Some(ConnState::Authenticating { session, .. }) =
            self.conns.get(conn).map(|c| &c.state)
        {
            let session = *session;
            self.sessions.remove(&session);
        }
    }

    /// An authenticated client joins the realm its principal names, else the one it
    /// asked for, if that realm exists and defines the principal's role.
    fn admit(
        &mut self,
        now: Instant,
        conn: ConnectionId,
        requested: Option<usize>,
        session: SessionId,
        roles: Details,
        identity: Identity,
    ) {
        let realm = match &identity.realm {
            Some(name) => self.realm_index.get(name).copied().ok_or_else(|| {
                format!(
                    "principal {:?} is assigned realm {name}, which this router does not have",
                    identity.authid
                )
            }),
            None => requested.ok_or_else(|| "no such realm on this router".to_owned()),
        };
        let realm = match realm {
            Ok(realm) => realm,
            Err(why) => {
                self.sessions.remove(&session);
                return self.abort(now, conn, Uri::NO_SUCH_REALM, why);
            }
        };
        if !self.realms[realm].authz.has_role(&identity.authrole) {
            self.sessions.remove(&session);
            let why = format!(
                "principal {:?} has role {:?}, which realm {} does not define",
                identity.authid, identity.authrole, self.realms[realm].name
            );
            return self.abort(now, conn, Uri::NO_SUCH_ROLE, why);
        }
        self.welcome(now, conn, realm, session, roles, identity);
    }

    pub(crate) fn welcome(
        &mut self,
        now: Instant,
        conn: ConnectionId,
        realm: usize,
        session: SessionId,
        roles: Details,
        identity: Identity,
    ) {
        let meta = self.realms[realm].meta_api;
        let broker: Vec<&str> = BROKER_FEATURES
            .iter()
            .chain(if meta { BROKER_META_FEATURES } else { &[] })
            .copied()
            .collect();
        let dealer: Vec<&str> = DEALER_FEATURES
            .iter()
            .chain(if meta { DEALER_META_FEATURES } else { &[] })
            .copied()
            .collect();
        let mut details = Dict::new()
            .with_role("broker", broker)
            .with_role("dealer", dealer)
            .with_authid(identity.authid.as_str())
            .with_authrole(identity.authrole.as_str())
            .with_authmethod(identity.authmethod)
            .with_authprovider(identity.authprovider)
            .with_agent(AGENT)
            .with("realm", self.realms[realm].name.as_str());
        if !identity.authextra.is_empty() {
            details = details.with_authextra(identity.authextra.clone());
        }
        self.conns
            .send_final(conn, &Message::Welcome(Welcome { session, details }));
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        c.state = ConnState::Established { realm, session };
        // The session holds the transport details while it lives (the connection gets
        // them back when it leaves, for a next session on the same transport).
        let info = SessionInfo::new(
            session,
            conn,
            c.serializer,
            &identity,
            roles,
            std::mem::take(&mut c.transport),
        );
        self.timers.cancel(Timer::Handshake(conn));
        self.conns.counters.joined += 1;
        self.in_realm(realm, now, |r, ctx| r.join(info, ctx));
        self.events.push_back(RouterEvent::Joined {
            conn,
            session,
            realm: self.realms[realm].name.clone(),
            authid: identity.authid,
            authrole: identity.authrole,
            authmethod: identity.authmethod.to_owned(),
        });
    }

    /// A joined session leaves its realm (the connection's state is the caller's
    /// business).
    pub(crate) fn leave(
        &mut self,
        now: Instant,
        conn: ConnectionId,
        realm: usize,
        session: SessionId,
        reason: LeaveReason,
    ) {
        self.sessions.remove(&session);
        // A request of this session waiting for an authorizer: the wait is its own, the
        // connection's input is not (a next session may come on it).
        if self.authz_held.remove(&conn).is_some() {
            self.conns.release_input(conn);
        }
        let info = self.in_realm(realm, now, |r, ctx| r.leave(session, &reason, ctx));
        if let (Some(info), Some(c)) = (info, self.conns.get_mut(conn)) {
            c.transport = info.transport;
        }
        self.events.push_back(RouterEvent::Left {
            conn,
            session,
            realm: self.realms[realm].name.clone(),
            reason,
        });
    }

    /// The router closes a joined session with GOODBYE.
    #[allow(clippy::too_many_arguments)] // the session, the GOODBYE, and why
    pub(crate) fn goodbye(
        &mut self,
        now: Instant,
        conn: ConnectionId,
        realm: usize,
        session: SessionId,
        reason: Uri,
        message: Option<&str>,
        why: LeaveReason,
    ) {
        // Out of the realm first, so nothing more is routed to it after the GOODBYE.
        if let Some(c) = self.conns.get_mut(conn) {
            c.state = ConnState::Closing;
        }
        self.leave(now, conn, realm, session, why);
        self.send_goodbye(now, conn, reason, message);
    }

    pub(crate) fn send_goodbye(
        &mut self,
        now: Instant,
        conn: ConnectionId,
        reason: Uri,
        message: Option<&str>,
    ) {
        let details = match message {
            Some(m) => Dict::new().with_message(m),
            None => Dict::new(),
        };
        self.conns
            .send_final(conn, &Message::Goodbye(Goodbye { details, reason }));
        if let Some(c) = self.conns.get_mut(conn) {
            c.state = ConnState::Closing;
        }
        self.timers
            .set_after(Timer::Goodbye(conn), now, self.limits.goodbye_timeout);
    }

    /// Sends ABORT, ends the session (if joined) and drops the transport. Only a protocol
    /// violation aborts a joined session; the other reasons refuse a handshake.
    pub(crate) fn abort(&mut self, now: Instant, conn: ConnectionId, reason: Uri, message: String) {
        let session = match self.conns.get(conn).map(|c| &c.state) {
            Some(&ConnState::Established { realm, session }) => {
                let why = LeaveReason::ProtocolViolation(message.clone());
                self.leave(now, conn, realm, session, why);
                Some(session)
            }
            Some(ConnState::Closed) | None => return,
            _ => None,
        };
        let refused = [
            Uri::NOT_AUTHORIZED,
            Uri::AUTHENTICATION_FAILED,
            Uri::NO_SUCH_ROLE,
            handshake::NO_AUTH_METHOD,
        ];
        if session.is_none() && refused.contains(&reason) {
            let method = self.conns.get(conn).map_or("none", |c| c.auth_method);
            self.conns.counters.auth_failed(method);
        }
        self.release_handshake(conn);
        self.conns.send_final(
            conn,
            &Message::Abort(Abort {
                details: Dict::new().with_message(message.as_str()),
                reason: reason.clone(),
                payload: Payload::empty(),
            }),
        );
        self.events.push_back(RouterEvent::Aborted {
            conn,
            session,
            reason,
            message,
        });
        self.close_connection(conn);
    }

    /// The client broke the protocol: ABORT `wamp.error.protocol_violation`, its session
    /// (if any) ends, its transport is dropped. Nothing else it sends is processed.
    pub(crate) fn protocol_violation(&mut self, now: Instant, conn: ConnectionId, why: String) {
        self.abort(now, conn, Uri::PROTOCOL_VIOLATION, why);
    }

    /// Tells the runtime to drop the transport; input on it is ignored from now on.
    pub(crate) fn close_connection(&mut self, conn: ConnectionId) {
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        if matches!(c.state, ConnState::Closed) {
            return;
        }
        c.state = ConnState::Closed;
        self.timers.cancel(Timer::Handshake(conn));
        self.timers.cancel(Timer::Goodbye(conn));
        self.timers.cancel(Timer::WriteStall(conn));
        self.events.push_back(RouterEvent::CloseConnection { conn });
    }
}
