//! Dynamic authorization: requests of a role whose `authorizer` decides wait while the
//! router asks it (its connection's input held, so the session's later messages stay
//! behind), then are routed with its decision.

use std::collections::VecDeque;
use std::time::Instant;

use wamp_proto::message::Message;
use wamp_proto::{Map, RequestId, SessionId, Value};

use super::authorizer::{Action, Decision};
use super::connection::ConnState;
use super::event::ConnectionId;
use super::realm::RouterAnswer;
use super::Router;

/// Messages a runtime that does not honour input holds may send while one waits;
/// beyond this the session is cut (one that does honour them never gets near).
const MAX_BACKLOG: usize = 1024;

/// A request waiting for an authorizer's decision.
pub(crate) struct AuthzWait {
    /// The authorizer asked (for the reason of a refusal).
    procedure: wamp_proto::Uri,
    conn: ConnectionId,
    session: SessionId,
    realm: usize,
    action: Action,
    uri: String,
    message: Message,
    /// What the session sent after it, in order.
    backlog: VecDeque<Message>,
}

/// The action and URI a message asks to be authorized for, if any.
fn subject(message: &Message) -> Option<(Action, &str)> {
    match message {
        Message::Call(m) => Some((Action::Call, m.procedure.as_str())),
        Message::Register(m) => Some((Action::Register, m.procedure.as_str())),
        Message::Publish(m) => Some((Action::Publish, m.topic.as_str())),
        Message::Subscribe(m) => Some((Action::Subscribe, m.topic.as_str())),
        _ => None,
    }
}

/// Whether a message subscribes or registers a pattern (prefix or wildcard).
fn is_pattern(message: &Message) -> bool {
    let options = match message {
        Message::Subscribe(m) => &m.options,
        Message::Register(m) => &m.options,
        _ => return false,
    };
    options
        .as_map()
        .get("match")
        .and_then(Value::as_str)
        .is_some_and(|m| m != "exact")
}

/// The message's options, for the authorizer.
fn options(message: &Message) -> Map {
    match message {
        Message::Call(m) => m.options.as_map().clone(),
        Message::Register(m) => m.options.as_map().clone(),
        Message::Publish(m) => m.options.as_map().clone(),
        Message::Subscribe(m) => m.options.as_map().clone(),
        _ => Map::new(),
    }
}

/// An authorizer's answer as a decision: `true`/`false`, or a dictionary with `allow`,
/// `disclose` and `cache`.
fn decision(procedure: &str, answer: RouterAnswer) -> Decision {
    let deny = |why: String| Decision {
        allow: false,
        disclose: false,
        cache: false,
        why,
    };
    match answer {
        RouterAnswer::Result(args) => match args.first() {
            Some(Value::Bool(allow)) => Decision {
                allow: *allow,
                disclose: false,
                cache: false,
                why: format!("the authorizer {procedure} denied it"),
            },
            Some(Value::Map(m)) => {
                let flag = |key: &str| matches!(m.get(key), Some(Value::Bool(true)));
                Decision {
                    allow: flag("allow"),
                    disclose: flag("disclose"),
                    cache: flag("cache"),
                    why: format!("the authorizer {procedure} denied it"),
                }
            }
            other => deny(format!(
                "the authorizer {procedure} answered {other:?}, not true, false or a dictionary"
            )),
        },
        RouterAnswer::Error(error, why) => {
            deny(format!("the authorizer {procedure} failed: {error} {why}"))
        }
        RouterAnswer::Failed(why) => deny(format!("the authorizer {procedure} failed: {why}")),
    }
}

impl Router {
    /// Routes a message of an established session: at once, unless its role's
    /// authorizer must decide first (then it waits), or an earlier one waits.
    pub(crate) fn route(
        &mut self,
        now: Instant,
        conn: ConnectionId,
        realm: usize,
        session: SessionId,
        message: Message,
    ) {
        // Realms without dynamic roles (the usual case) pay nothing here.
        if !self.realms[realm].authz.any_dynamic() {
            return self.route_now(now, conn, realm, session, message);
        }
        if let Some(request) = self.authz_held.get(&conn) {
            let full = match self.authz_waits.get_mut(request) {
                Some(wait) if wait.backlog.len() < MAX_BACKLOG => {
                    wait.backlog.push_back(message);
                    return;
                }
                Some(_) => true,
                None => false,
            };
            if full {
                let why = format!(
                    "{MAX_BACKLOG} messages arrived while the input was held for an authorizer"
                );
                return self.protocol_violation(now, conn, why);
            }
        }
        if let Some((action, uri)) = subject(&message) {
            if let Some(procedure) = self.authorizer_to_ask(realm, session, &action, uri, &message)
            {
                return self.ask_authorizer(now, conn, realm, session, procedure, message);
            }
        }
        self.route_now(now, conn, realm, session, message);
    }

    /// Routes a message with whatever decision is at hand, then drops a decision that
    /// was for it alone.
    fn route_now(
        &mut self,
        now: Instant,
        conn: ConnectionId,
        realm: usize,
        session: SessionId,
        message: Message,
    ) {
        let dynamic = self.realms[realm].authz.any_dynamic();
        let subject = subject(&message)
            .filter(|_| dynamic)
            .map(|(action, uri)| (action, uri.to_owned()));
        let result = self.in_realm(realm, now, |r, ctx| r.handle(session, message, ctx));
        if let Some((action, uri)) = subject {
            self.realms[realm].authz.forget_once(session, action, &uri);
        }
        if let Err(why) = result {
            self.protocol_violation(now, conn, why);
        }
    }

    /// The authorizer to ask before routing `message`, if its sender's role has one and
    /// no decision is at hand (a later part of a progressive call needs none). A
    /// pattern subscription or registration is always asked about: a decision cached for
    /// the exact URI says nothing about everything under it.
    fn authorizer_to_ask(
        &self,
        realm: usize,
        session: SessionId,
        action: &Action,
        uri: &str,
        message: &Message,
    ) -> Option<wamp_proto::Uri> {
        let r = &self.realms[realm];
        let role = &r.sessions.get(&session)?.authrole;
        let procedure = r.authz.authorizer_of(role)?;
        if let Message::Call(call) = message {
            if r.dealer.owns_call(session, call.request) {
                return None;
            }
        }
        // A decision just made for this very request is used (it is being routed again).
        let usable = !is_pattern(message) || self.redo_decided;
        (!usable || !r.authz.decided(session, *action, uri)).then(|| procedure.clone())
    }

    fn ask_authorizer(
        &mut self,
        now: Instant,
        conn: ConnectionId,
        realm: usize,
        session: SessionId,
        procedure: wamp_proto::Uri,
        message: Message,
    ) {
        let Some((action, uri)) = subject(&message).map(|(a, u)| (a, u.to_owned())) else {
            return;
        };
        let details = self.realms[realm]
            .sessions
            .get(&session)
            .map(|s| s.details())
            .unwrap_or_default();
        let args = vec![
            Value::Map(details),
            Value::from(uri.as_str()),
            Value::from(action.to_string().as_str()),
            Value::Map(options(&message)),
        ];
        match self.call_as_router(now, realm, procedure.clone(), args) {
            Ok(request) => {
                self.conns.hold_input(conn);
                self.authz_held.insert(conn, request);
                let wait = AuthzWait {
                    procedure,
                    conn,
                    session,
                    realm,
                    action,
                    uri,
                    message,
                    backlog: VecDeque::new(),
                };
                self.authz_waits.insert(request, wait);
            }
            Err(why) => {
                // Denied at once, and routed at once: nothing of this session waits.
                let why = format!("the authorizer {procedure} could not be called: {why}");
                let denied = decision(procedure.as_str(), RouterAnswer::Failed(why));
                self.realms[realm]
                    .authz
                    .decide(session, action, &uri, denied);
                self.route_now(now, conn, realm, session, message);
            }
        }
    }

    /// The authorizer answered for the request that waits on `request`.
    pub(crate) fn on_authorizer_answer(&mut self, request: RequestId, answer: RouterAnswer) {
        let Some(wait) = self.authz_waits.remove(&request) else {
            return;
        };
        if self.authz_held.get(&wait.conn) == Some(&request) {
            self.authz_held.remove(&wait.conn);
            self.conns.release_input(wait.conn);
        }
        let decision = decision(wait.procedure.as_str(), answer);
        self.decided(wait, decision);
    }

    /// Keeps the decision and routes the request (and what waited behind it) again,
    /// after the current input, if its session is still there.
    fn decided(&mut self, wait: AuthzWait, decision: Decision) {
        let AuthzWait {
            procedure: _,
            conn,
            session,
            realm,
            action,
            uri,
            message,
            backlog,
        } = wait;
        let still = matches!(
            self.conns.get(conn).map(|c| &c.state),
            Some(&ConnState::Established { session: s, .. }) if s == session
        );
        if !still {
            return;
        }
        let mut decision = decision;
        // Only a decision about an exact URI may stand for later requests.
        decision.cache &= !is_pattern(&message);
        self.realms[realm]
            .authz
            .decide(session, action, &uri, decision);
        self.redo.push_back((conn, message, true));
        self.redo
            .extend(backlog.into_iter().map(|m| (conn, m, false)));
    }

    /// Routes the requests whose decisions came, each as its connection's input.
    pub(crate) fn route_decided(&mut self, now: Instant) {
        while let Some((conn, message, decided)) = self.redo.pop_front() {
            self.redo_in_progress = true;
            self.redo_decided = decided;
            self.conns.begin_input(conn);
            self.handle_message_from(now, conn, message);
            self.conns.end_input();
            self.redo_in_progress = false;
            self.redo_decided = false;
        }
    }
}
