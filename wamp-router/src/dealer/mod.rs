//! The dealer: registrations (exact, prefix, wildcard, with the spec's precedence;
//! shared with an invocation policy), calls routed to callees with caller disclosure,
//! progressive results and progressive call invocations, cancel, timeouts, and what
//! happens when a caller or callee leaves mid-call.

mod calls;

use std::collections::{HashMap, VecDeque};

use wamp_proto::message::{self, Call, Cancel, Message, MessageType, Register, Unregister, Yield};
use wamp_proto::{
    CancelMode, Details, Dict, IdHashMap, InvokePolicy, Map, MatchPolicy, PeerHashMap,
    RegistrationId, RequestId, RequestIdGenerator, SessionId, Uri, Value,
};

use super::authorizer::Action;
use super::event::ConnectionId;
use super::patterns::{pattern_details, Held, PatternIndex};
use super::realm::{call_error, Ctx, Inbound, Routed, RouterAnswer, Sessions};
use super::timers::Timer;

/// How many answers to forget per callee (for invocations ended early) and stray
/// progressive-call parts per caller (for calls already answered) are remembered, so a
/// late message crossing the router's decision is dropped instead of taken for a
/// protocol violation.
const REMEMBERED: usize = 1024;

#[derive(Debug)]
pub(crate) struct Registration {
    pub id: RegistrationId,
    pub procedure: Uri,
    pub policy: MatchPolicy,
    pub invoke: InvokePolicy,
    /// In registration order.
    pub callees: Vec<Callee>,
    /// The next callee for `roundrobin`.
    next: usize,
}

impl Registration {
    /// The registration meta API's description of it.
    pub fn details(&self) -> Map {
        let mut m = pattern_details(self.id.get(), &self.procedure, self.policy);
        m.insert("invoke".into(), Value::from(self.invoke.as_str()));
        m
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Callee {
    pub session: SessionId,
    disclose_caller: bool,
    forward_timeout: bool,
}

#[derive(Debug)]
struct ActiveCall {
    caller: SessionId,
    request: RequestId,
    callee: SessionId,
    invocation: RequestId,
    registration: RegistrationId,
    /// `receive_progress` went to the callee.
    progress: bool,
    /// The caller is still sending parts (progressive call invocations).
    parts_open: bool,
    /// The caller canceled in `kill` mode; the callee's answer ends the call.
    killing: bool,
    /// When the call came (for the call duration metric).
    started: std::time::Instant,
}

/// How a call ends, as far as the callee is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The callee answered.
    Answered,
    /// The router ended it first; a late answer is dropped, and the callee is told with
    /// INTERRUPT (`killnowait`) if it can be.
    Abandoned { interrupt: bool },
    /// The callee is gone.
    CalleeLeft,
}

#[derive(Debug, Default)]
pub(crate) struct Dealer {
    regs: IdHashMap<RegistrationId, Registration>,
    patterns: PatternIndex<RegistrationId>,
    calls: IdHashMap<u64, ActiveCall>,
    next_call: u64,
    by_caller: IdHashMap<SessionId, PeerHashMap<RequestId, u64>>,
    by_callee: IdHashMap<SessionId, PeerHashMap<RequestId, u64>>,
    /// Per callee: invocations ended without its answer.
    abandoned: IdHashMap<SessionId, VecDeque<RequestId>>,
    /// Per caller: progressive calls answered while parts were still coming.
    finished_parts: IdHashMap<SessionId, VecDeque<RequestId>>,
    /// How many registrations each session holds.
    held: Held,
    /// Per callee: its INVOCATION request IDs.
    invocation_ids: IdHashMap<SessionId, RequestIdGenerator>,
}

/// The keys of a session's calls in `index` (as caller or as callee), oldest first.
fn sorted_calls(
    index: &IdHashMap<SessionId, PeerHashMap<RequestId, u64>>,
    session: SessionId,
) -> Vec<u64> {
    let mut keys: Vec<u64> = index
        .get(&session)
        .map(|m| m.values().copied().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

fn remember(queue: &mut VecDeque<RequestId>, id: RequestId) {
    if queue.len() == REMEMBERED {
        queue.pop_front();
    }
    queue.push_back(id);
}

impl Dealer {
    /// The registration for exactly this procedure and policy.
    pub fn lookup(&self, procedure: &str, policy: MatchPolicy) -> Option<RegistrationId> {
        self.patterns.lookup(procedure, policy)
    }

    /// The registration a call to `procedure` goes to: exact, else the longest prefix,
    /// else the best wildcard (ties go to the older registration).
    pub fn best_match(&self, procedure: &str) -> Option<RegistrationId> {
        self.patterns.best(procedure)
    }

    pub fn get(&self, id: RegistrationId) -> Option<&Registration> {
        self.regs.get(&id)
    }

    /// Registration IDs per policy, sorted.
    pub fn list(&self) -> [Vec<RegistrationId>; 3] {
        self.patterns.list()
    }

    pub fn register(&mut self, req: Inbound<'_, Register>, ctx: &mut Ctx<'_>) -> Routed {
        let (msg, session) = (&req.msg, req.from.id);
        if msg.procedure.is_reserved() {
            let why = format!(
                "{} is reserved: wamp. procedures are the router's",
                msg.procedure
            );
            return req.refuse(ctx, Uri::INVALID_URI, &why);
        }
        if let Err(why) = req.authorize(Action::Register, &msg.procedure) {
            return req.refuse(ctx, Uri::NOT_AUTHORIZED, &why);
        }
        let policy = msg.options.match_policy().unwrap_or_default();
        let invoke = msg.options.invoke().unwrap_or_default();
        let entry = Callee {
            session,
            disclose_caller: msg.options.disclose_caller() == Some(true),
            forward_timeout: msg.options.forward_timeout() == Some(true),
        };
        let limit = ctx.limits.max_registrations_per_session;
        if let Err(why) = self.held.room(session, limit, "registrations") {
            return req.refuse(ctx, Uri::UNAVAILABLE, &why);
        }
        let (id, created) = match self.lookup(&msg.procedure, policy) {
            Some(id) => {
                let Some(reg) = self.regs.get_mut(&id) else {
                    return Ok(());
                };
                let conflict = if reg.callees.iter().any(|c| c.session == session) {
                    Some(format!(
                        "session {session} has already registered {} ({})",
                        msg.procedure,
                        policy.as_str()
                    ))
                } else if reg.invoke == InvokePolicy::Single {
                    Some(format!(
                        "{} ({}) is already registered by another session, with invoke=single",
                        msg.procedure,
                        policy.as_str(),
                    ))
                } else if reg.invoke != invoke {
                    Some(format!(
                        "{} ({}) is registered with invoke={}; this REGISTER asks for invoke={}",
                        msg.procedure,
                        policy.as_str(),
                        reg.invoke.as_str(),
                        invoke.as_str()
                    ))
                } else {
                    None
                };
                if let Some(why) = conflict {
                    return req.refuse(ctx, Uri::PROCEDURE_ALREADY_EXISTS, &why);
                }
                reg.callees.push(entry);
                (id, false)
            }
            None => {
                let id = RegistrationId(ctx.next_id());
                self.patterns.insert(&msg.procedure, policy, id);
                self.regs.insert(
                    id,
                    Registration {
                        id,
                        procedure: msg.procedure.clone(),
                        policy,
                        invoke,
                        callees: vec![entry],
                        next: 0,
                    },
                );
                (id, true)
            }
        };
        self.held.add(session);
        let _ = ctx.out.send(
            req.from.conn,
            &Message::Registered(message::Registered {
                request: msg.request,
                registration: id,
            }),
        );
        if created {
            let details = self
                .regs
                .get(&id)
                .map(Registration::details)
                .unwrap_or_default();
            ctx.meta_event(
                "wamp.registration.on_create",
                vec![Value::UInt(session.get()), Value::Map(details)],
            );
        }
        ctx.meta_event(
            "wamp.registration.on_register",
            vec![Value::UInt(session.get()), Value::UInt(id.get())],
        );
        Ok(())
    }

    pub fn unregister(&mut self, req: Inbound<'_, Unregister>, ctx: &mut Ctx<'_>) -> Routed {
        let (msg, session) = (&req.msg, req.from.id);
        if !self.detach(session, msg.registration, ctx) {
            let why = format!(
                "session {session} holds no registration {}",
                msg.registration
            );
            return req.refuse(ctx, Uri::NO_SUCH_REGISTRATION, &why);
        }
        // Invocations already sent for it still run to their end, except those whose
        // arguments are still coming: their next part could not name the registration.
        let mut cut: Vec<u64> = self
            .calls
            .iter()
            .filter(|(_, c)| {
                c.callee == session && c.registration == msg.registration && c.parts_open
            })
            .map(|(k, _)| *k)
            .collect();
        cut.sort();
        for key in cut {
            self.fail_call(
                req.sessions,
                key,
                Uri::CANCELED,
                "the callee unregistered before the call's arguments were complete",
                ctx,
            );
        }
        let _ = ctx.out.send(
            req.from.conn,
            &Message::Unregistered(message::Unregistered {
                request: Some(msg.request),
                details: Details::new(),
            }),
        );
        Ok(())
    }

    /// Removes a callee from a registration (deleting it when it was the last).
    fn detach(&mut self, session: SessionId, id: RegistrationId, ctx: &mut Ctx<'_>) -> bool {
        let Some(reg) = self.regs.get_mut(&id) else {
            return false;
        };
        let Some(i) = reg.callees.iter().position(|c| c.session == session) else {
            return false;
        };
        reg.callees.remove(i);
        self.held.release(session);
        if reg.next > i {
            reg.next -= 1;
        }
        ctx.meta_event(
            "wamp.registration.on_unregister",
            vec![Value::UInt(session.get()), Value::UInt(id.get())],
        );
        if reg.callees.is_empty() {
            let (procedure, policy) = (reg.procedure.clone(), reg.policy);
            self.regs.remove(&id);
            self.patterns.remove(&procedure, policy);
            ctx.meta_event(
                "wamp.registration.on_delete",
                vec![Value::UInt(session.get()), Value::UInt(id.get())],
            );
        }
        true
    }

    /// A leaving session's registrations go, its calls are abandoned (the callees
    /// interrupted), and the calls it was serving fail for their callers.
    pub fn remove_session(&mut self, sessions: &Sessions, session: SessionId, ctx: &mut Ctx<'_>) {
        let mut held: Vec<RegistrationId> = self
            .regs
            .values()
            .filter(|r| r.callees.iter().any(|c| c.session == session))
            .map(|r| r.id)
            .collect();
        held.sort();
        for id in held {
            self.detach(session, id, ctx);
        }
        for key in sorted_calls(&self.by_caller, session) {
            self.finish(sessions, key, Ending::Abandoned { interrupt: true }, ctx);
        }
        for key in sorted_calls(&self.by_callee, session) {
            if let Some(call) = self.calls.get(&key) {
                let why = format!("the callee (session {session}) left before answering");
                if call.caller == ctx.router_session {
                    ctx.answers.push((call.request, RouterAnswer::Failed(why)));
                } else if let Some(caller) = sessions.get(&call.caller) {
                    let _ = ctx.out.send(
                        caller.conn,
                        &call_error(caller.serializer, call.request, Uri::CANCELED, &why),
                    );
                }
            }
            self.finish(sessions, key, Ending::CalleeLeft, ctx);
        }
        self.by_caller.remove(&session);
        self.by_callee.remove(&session);
        self.abandoned.remove(&session);
        self.finished_parts.remove(&session);
        self.invocation_ids.remove(&session);
    }
}
