//! Calls: a CALL routed to a callee by the registration's invocation policy (caller
//! disclosure, progressive results and progressive call invocations), YIELD and ERROR
//! answered back, cancel in its three modes, call timeouts, and the end of each call.

use super::*;

impl Dealer {
    pub fn call(&mut self, req: Inbound<'_, Call>, ctx: &mut Ctx<'_>) -> Routed {
        let (caller, msg) = (req.from, &req.msg);
        let session = caller.id;
        // Progressive call invocations reuse the call's request ID for every part.
        if let Some(&key) = self
            .by_caller
            .get(&session)
            .and_then(|m| m.get(&msg.request))
        {
            if !self.calls.get(&key).is_some_and(|c| c.parts_open) {
                return Err(format!(
                    "CALL with request ID {}, which is already in flight",
                    msg.request
                ));
            }
            self.continue_call(req.sessions, key, req.msg, ctx);
            return Ok(());
        }
        if self
            .finished_parts
            .get(&session)
            .is_some_and(|q| q.contains(&msg.request))
        {
            // A part that crossed the call's answer: the spec has it discarded.
            return Ok(());
        }
        let parts = msg.options.progress() == Some(true);
        if parts && !caller.supports("caller", "progressive_call_invocations") {
            return Err(
                "CALL with progress: true from a caller that did not announce progressive_call_invocations"
                    .into(),
            );
        }
        let (caller_conn, caller_kind, request) = (caller.conn, caller.serializer, msg.request);
        if let Err((error, why)) = self.start_call(req, parts, ctx) {
            let _ = ctx
                .out
                .send(caller_conn, &call_error(caller_kind, request, error, &why));
            if parts {
                // The caller may still send parts under this ID: drop them.
                self.discard_parts(session, request);
            }
        }
        Ok(())
    }

    /// Whether a CALL with this ID belongs to a call the dealer knows (in flight, or
    /// answered while its parts were still coming).
    pub fn owns_call(&self, session: SessionId, request: RequestId) -> bool {
        self.by_caller
            .get(&session)
            .is_some_and(|m| m.contains_key(&request))
            || self
                .finished_parts
                .get(&session)
                .is_some_and(|q| q.contains(&request))
    }

    /// Later parts of this (answered) call are to be dropped.
    pub fn discard_parts(&mut self, session: SessionId, request: RequestId) {
        remember(self.finished_parts.entry(session).or_default(), request);
    }

    /// The router calls a procedure as `caller` (its own session); the answer comes back
    /// in `ctx.answers`. `Err`: it could not be called.
    pub fn call_for_router(
        &mut self,
        req: Inbound<'_, Call>,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), (Uri, String)> {
        self.start_call(req, false, ctx)
    }

    /// Routes a new call to a callee; `Err` is the ERROR for the caller.
    pub(super) fn start_call(
        &mut self,
        req: Inbound<'_, Call>,
        parts: bool,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), (Uri, String)> {
        let grant = match req.authorize(Action::Call, &req.msg.procedure) {
            Ok(grant) => grant,
            Err(why) => return Err((Uri::NOT_AUTHORIZED, why)),
        };
        let Inbound {
            sessions,
            from: caller,
            msg,
            ..
        } = req;
        let session = caller.id;
        let caller_conn = caller.conn;
        let in_flight = self.by_caller.get(&session).map_or(0, HashMap::len);
        // The router's own calls are bounded by the connections that wait on them.
        if in_flight >= ctx.limits.max_calls_per_session && caller.conn != ConnectionId::ROUTER {
            let why = format!(
                "too many calls in flight: session {session} already waits for {in_flight}"
            );
            return Err((Uri::UNAVAILABLE, why));
        }
        let Some(reg_id) = self.best_match(&msg.procedure) else {
            let why = format!("no callee has registered {}", msg.procedure);
            return Err((Uri::NO_SUCH_PROCEDURE, why));
        };
        let Some(reg) = self.regs.get_mut(&reg_id) else {
            return Ok(());
        };
        let n = reg.callees.len();
        let pick = match reg.invoke {
            InvokePolicy::Single | InvokePolicy::First => 0,
            InvokePolicy::Last => n.saturating_sub(1),
            InvokePolicy::RoundRobin => {
                let i = reg.next % n.max(1);
                reg.next = (i + 1) % n.max(1);
                i
            }
            InvokePolicy::Random => (ctx.rng.next_u64() % n.max(1) as u64) as usize,
        };
        let Some(entry) = reg.callees.get(pick).cloned() else {
            let why = format!("no callee has registered {}", msg.procedure);
            return Err((Uri::NO_SUCH_PROCEDURE, why));
        };
        let pattern = reg.policy != MatchPolicy::Exact;

        let Some(callee) = sessions.get(&entry.session) else {
            return Ok(());
        };
        if parts && !callee.supports("callee", "progressive_call_invocations") {
            let why = format!(
                "the callee of {} does not support progressive call invocations",
                msg.procedure
            );
            return Err((Uri::FEATURE_NOT_SUPPORTED, why));
        }
        let progress = msg.options.receive_progress() == Some(true)
            && callee.supports("callee", "progressive_call_results");
        let timeout = msg.options.timeout().filter(|t| *t > 0);
        let mut details = Dict::new();
        if pattern {
            details = details.with_procedure(msg.procedure.as_str());
        }
        if progress {
            details = details.with_receive_progress(true);
        }
        if parts {
            details = details.with_progress(true);
        }
        if let (true, Some(t)) = (entry.forward_timeout, timeout) {
            details = details.with_timeout(t);
        }
        if msg.options.disclose_me() == Some(true) || entry.disclose_caller || grant.disclose_caller
        {
            details = details
                .with_caller(session)
                .with_caller_authid(caller.authid.as_str())
                .with_caller_authrole(caller.authrole.as_str());
        }
        let callee_conn = callee.conn;
        let busy = self.by_callee.get(&entry.session);
        let ids = self.invocation_ids.entry(entry.session).or_default();
        let invocation = loop {
            let id = ids.next();
            if !busy.is_some_and(|m| m.contains_key(&id)) {
                break id;
            }
        };
        let sent = ctx.out.send(
            callee_conn,
            &Message::Invocation(message::Invocation {
                request: invocation,
                registration: reg_id,
                details,
                payload: msg.payload,
            }),
        );
        if let Err(e) = sent {
            let why = format!("the arguments could not be converted for the callee: {e}");
            return Err((Uri::INVALID_ARGUMENT, why));
        }
        self.next_call += 1;
        let key = self.next_call;
        self.calls.insert(
            key,
            ActiveCall {
                caller: session,
                request: msg.request,
                callee: entry.session,
                invocation,
                registration: reg_id,
                progress,
                parts_open: parts,
                killing: false,
                started: ctx.now,
            },
        );
        self.by_caller
            .entry(session)
            .or_default()
            .insert(msg.request, key);
        self.by_callee
            .entry(entry.session)
            .or_default()
            .insert(invocation, key);
        // A callee that asked for the timeout enforces it itself; the router's own calls
        // are bounded here whatever the callee asked (a held session waits on them).
        let enforce = !entry.forward_timeout || caller_conn == ConnectionId::ROUTER;
        if let (true, Some(t)) = (enforce, timeout) {
            ctx.timers.set_after(
                Timer::Call(ctx.realm, key),
                ctx.now,
                std::time::Duration::from_millis(t),
            );
        }
        Ok(())
    }

    /// The next part of a progressive call invocation: to the same callee, under the
    /// same invocation ID.
    pub(super) fn continue_call(
        &mut self,
        sessions: &Sessions,
        key: u64,
        msg: message::Call,
        ctx: &mut Ctx<'_>,
    ) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let more = msg.options.progress() == Some(true);
        call.parts_open = more;
        let details = if more {
            Dict::new().with_progress(true)
        } else {
            Dict::new()
        };
        let (callee, invocation, registration) = (call.callee, call.invocation, call.registration);
        let Some(callee) = sessions.get(&callee) else {
            return;
        };
        let sent = ctx.out.send(
            callee.conn,
            &Message::Invocation(message::Invocation {
                request: invocation,
                registration,
                details,
                payload: msg.payload,
            }),
        );
        if let Err(e) = sent {
            let why = format!("the arguments could not be converted for the callee: {e}");
            self.fail_call(sessions, key, Uri::INVALID_ARGUMENT, &why, ctx);
        }
    }

    pub fn yield_(&mut self, req: Inbound<'_, Yield>, ctx: &mut Ctx<'_>) -> Routed {
        let (sessions, msg) = (req.sessions, req.msg);
        let Some((key, call)) = self.answering(req.from.id, msg.request, "YIELD")? else {
            return Ok(());
        };
        let progress = msg.options.progress() == Some(true);
        if progress && !call.progress {
            return Err(format!(
                "progressive YIELD for invocation {}, which did not ask for progressive results",
                msg.request
            ));
        }
        let details = if progress {
            Dict::new().with_progress(true)
        } else {
            Dict::new()
        };
        if call.caller == ctx.router_session {
            let answer = match msg.payload.args_values() {
                Ok(args) => RouterAnswer::Result(args),
                Err(e) => RouterAnswer::Failed(format!("its result could not be read: {e}")),
            };
            ctx.answers.push((call.request, answer));
            self.finish(sessions, key, Ending::Answered, ctx);
            return Ok(());
        }
        let result = Message::Result(message::CallResult {
            request: call.request,
            details,
            payload: msg.payload,
        });
        let Some(caller) = sessions.get(&call.caller) else {
            self.finish(sessions, key, Ending::Answered, ctx);
            return Ok(());
        };
        if let Err(e) = ctx.out.send(caller.conn, &result) {
            let why = format!("the result could not be converted for the caller: {e}");
            self.fail_call(sessions, key, Uri::INVALID_ARGUMENT, &why, ctx);
            return Ok(());
        }
        if !progress {
            self.finish(sessions, key, Ending::Answered, ctx);
        }
        Ok(())
    }

    pub fn invocation_error(
        &mut self,
        req: Inbound<'_, message::Error>,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), String> {
        let (sessions, msg) = (req.sessions, req.msg);
        let Some((key, call)) = self.answering(req.from.id, msg.request, "ERROR")? else {
            return Ok(());
        };
        // After a `kill` cancel the caller learns that its call was canceled, whatever
        // error the callee chose to stop with (Autobahn's is `runtime_error`).
        let error = if call.killing {
            Uri::CANCELED
        } else {
            msg.error
        };
        if call.caller == ctx.router_session {
            // The error's first argument is its message, as Crossbar.io reads it.
            let why = match msg
                .payload
                .args_values()
                .ok()
                .and_then(|a| a.into_iter().next())
            {
                Some(Value::String(s)) => s,
                Some(other) => format!("{other:?}"),
                None => String::new(),
            };
            ctx.answers
                .push((call.request, RouterAnswer::Error(error, why)));
            self.finish(sessions, key, Ending::Answered, ctx);
            return Ok(());
        }
        if let Some(caller) = sessions.get(&call.caller) {
            let reply = Message::Error(message::Error {
                request_type: MessageType::Call,
                request: call.request,
                details: msg.details,
                error,
                payload: msg.payload,
            });
            if let Err(e) = ctx.out.send(caller.conn, &reply) {
                let why = format!("the callee's error could not be converted for the caller: {e}");
                let _ = ctx.out.send(
                    caller.conn,
                    &call_error(caller.serializer, call.request, Uri::INVALID_ARGUMENT, &why),
                );
            }
        }
        self.finish(sessions, key, Ending::Answered, ctx);
        Ok(())
    }

    /// The call a callee's answer belongs to, and its key: `Ok(None)` for an answer the
    /// router already gave up on, `Err` for one to an invocation that never was.
    pub(super) fn answering(
        &self,
        callee: SessionId,
        invocation: RequestId,
        what: &str,
    ) -> Result<Option<(u64, &ActiveCall)>, String> {
        if let Some(&key) = self.by_callee.get(&callee).and_then(|m| m.get(&invocation)) {
            // Every key in `by_callee` names a call in `calls`.
            return Ok(self.calls.get(&key).map(|call| (key, call)));
        }
        if self
            .abandoned
            .get(&callee)
            .is_some_and(|q| q.contains(&invocation))
        {
            return Ok(None);
        }
        Err(format!(
            "{what} for invocation {invocation}, which is not pending"
        ))
    }

    pub fn cancel(&mut self, req: Inbound<'_, Cancel>, ctx: &mut Ctx<'_>) -> Routed {
        let (sessions, msg) = (req.sessions, req.msg);
        // A CANCEL that crossed the answer finds nothing: fine.
        let Some(&key) = self
            .by_caller
            .get(&req.from.id)
            .and_then(|m| m.get(&msg.request))
        else {
            return Ok(());
        };
        let Some(call) = self.calls.get_mut(&key) else {
            return Ok(());
        };
        // Without a mode, do what Crossbar.io does: `killnowait`. A callee that cannot
        // be interrupted gets `skip`, as the spec says.
        let mode = msg.options.mode().unwrap_or(CancelMode::KillNoWait);
        let interruptible = sessions
            .get(&call.callee)
            .is_some_and(|c| c.supports("callee", "call_canceling"));
        let mode = if interruptible {
            mode
        } else {
            CancelMode::Skip
        };
        match mode {
            CancelMode::Kill => {
                if !call.killing {
                    call.killing = true;
                    let (callee, invocation) = (call.callee, call.invocation);
                    if let Some(c) = sessions.get(&callee) {
                        let _ = ctx.out.send(
                            c.conn,
                            &Message::Interrupt(message::Interrupt {
                                request: invocation,
                                options: Dict::new().with_mode(CancelMode::Kill),
                            }),
                        );
                    }
                }
            }
            CancelMode::Skip | CancelMode::KillNoWait => {
                let why = format!("the caller canceled the call (mode {})", mode.as_str());
                self.fail_call_as(
                    sessions,
                    key,
                    Uri::CANCELED,
                    &why,
                    mode == CancelMode::KillNoWait,
                    ctx,
                );
            }
        }
        Ok(())
    }

    /// A call's deadline passed: the caller gets `wamp.error.timeout`, the callee an
    /// INTERRUPT.
    pub fn timeout(&mut self, sessions: &Sessions, key: u64, ctx: &mut Ctx<'_>) {
        if !self.calls.contains_key(&key) {
            return;
        }
        self.fail_call(
            sessions,
            key,
            Uri::TIMEOUT,
            "the callee did not answer within the call's timeout",
            ctx,
        );
    }

    /// Ends a call with an ERROR to the caller and INTERRUPT to the callee.
    pub(super) fn fail_call(
        &mut self,
        sessions: &Sessions,
        key: u64,
        error: Uri,
        why: &str,
        ctx: &mut Ctx<'_>,
    ) {
        self.fail_call_as(sessions, key, error, why, true, ctx);
    }

    pub(super) fn fail_call_as(
        &mut self,
        sessions: &Sessions,
        key: u64,
        error: Uri,
        why: &str,
        interrupt: bool,
        ctx: &mut Ctx<'_>,
    ) {
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        if call.caller == ctx.router_session {
            ctx.answers.push((
                call.request,
                RouterAnswer::Failed(format!("{why} ({error})")),
            ));
        } else if let Some(caller) = sessions.get(&call.caller) {
            let _ = ctx.out.send(
                caller.conn,
                &call_error(caller.serializer, call.request, error, why),
            );
        }
        self.finish(sessions, key, Ending::Abandoned { interrupt }, ctx);
    }

    /// Forgets a call, remembering what may still arrive for it.
    pub(super) fn finish(
        &mut self,
        sessions: &Sessions,
        key: u64,
        ending: Ending,
        ctx: &mut Ctx<'_>,
    ) {
        let Some(call) = self.calls.remove(&key) else {
            return;
        };
        ctx.timers.cancel(Timer::Call(ctx.realm, key));
        if ending == Ending::Answered {
            let took = ctx.now.saturating_duration_since(call.started);
            ctx.out.counters.call_answered(took);
        }
        // A session's maps stay while it is joined, empty or not (one call in flight
        // at a time would otherwise build and drop them per call); they go with it.
        if let Some(m) = self.by_caller.get_mut(&call.caller) {
            m.remove(&call.request);
        }
        if let Some(m) = self.by_callee.get_mut(&call.callee) {
            m.remove(&call.invocation);
        }
        if call.parts_open && sessions.contains_key(&call.caller) {
            remember(
                self.finished_parts.entry(call.caller).or_default(),
                call.request,
            );
        }
        if let Ending::Abandoned { interrupt } = ending {
            let Some(callee) = sessions.get(&call.callee) else {
                return;
            };
            remember(
                self.abandoned.entry(call.callee).or_default(),
                call.invocation,
            );
            if interrupt && callee.supports("callee", "call_canceling") {
                let _ = ctx.out.send(
                    callee.conn,
                    &Message::Interrupt(message::Interrupt {
                        request: call.invocation,
                        options: Dict::new().with_mode(CancelMode::KillNoWait),
                    }),
                );
            }
        }
    }
}
