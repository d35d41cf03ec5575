//! The callee role: REGISTER, UNREGISTER, INVOCATION, YIELD, ERROR, INTERRUPT, and the
//! router's revocation.

use crate::dict::{Details, Options};
use crate::id::{RegistrationId, RequestId};
use crate::message::{
    Error, Interrupt, Invocation, Message, MessageType, Register, Registered, Unregister,
    Unregistered, Yield,
};
use crate::payload::Payload;
use crate::uri::{MatchPolicy, Uri, UriRule};

use super::{
    revocation_reason, InFlight, InvocationEvent, Outcome, Pending, Refused, Registration, Sent,
    Session, SessionEvent, State, UsageError,
};

impl<T: Default> Session<T> {
    /// Registers `procedure`. `options` may carry `match` (prefix, wildcard), `invoke`
    /// (single, roundrobin, random, first, last), `disclose_caller`, ...
    pub fn register(&mut self, procedure: Uri, options: Options) -> Result<RequestId, UsageError> {
        self.register_with_token(procedure, options, T::default())
            .map_err(|refused| refused.error)
    }

    /// Ends a registration. Invocations for it may still arrive until the reply.
    pub fn unregister(&mut self, registration: RegistrationId) -> Result<RequestId, UsageError> {
        self.unregister_with_token(registration, T::default())
            .map_err(|refused| refused.error)
    }
}

impl<T> Session<T> {
    /// [`register`](Session::register), with `token` carried back in the Reply.
    pub fn register_with_token(
        &mut self,
        procedure: Uri,
        options: Options,
        token: T,
    ) -> Result<RequestId, Refused<T>> {
        let sent = self.send_register(procedure, options);
        self.track(sent, token)
    }

    fn send_register(
        &mut self,
        procedure: Uri,
        options: Options,
    ) -> Result<(RequestId, Sent), UsageError> {
        self.require_request_capacity()?;
        check_pattern(&procedure, options.match_policy())?;
        let request = self.send_request(|request| {
            Message::Register(Register {
                request,
                options,
                procedure: procedure.clone(),
            })
        })?;
        Ok((request, Sent::Pending(Pending::Register { procedure })))
    }

    /// [`unregister`](Session::unregister), with `token` carried back in the Reply.
    pub fn unregister_with_token(
        &mut self,
        registration: RegistrationId,
        token: T,
    ) -> Result<RequestId, Refused<T>> {
        let sent = self.send_unregister(registration);
        self.track(sent, token)
    }

    fn send_unregister(
        &mut self,
        registration: RegistrationId,
    ) -> Result<(RequestId, Sent), UsageError> {
        self.require_request_capacity()?;
        if !self.registrations.contains_key(&registration) {
            return Err(UsageError::NoSuchRegistration(registration));
        }
        let request = self.send_request(|request| {
            Message::Unregister(Unregister {
                request,
                registration,
                options: Options::new(),
            })
        })?;
        Ok((request, Sent::Pending(Pending::Unregister { registration })))
    }

    /// Answers an invocation with a result. `options.progress = true` sends a progressive
    /// result (only if the caller asked for progress); anything else is the final answer.
    ///
    /// A final result longer than the router accepts
    /// ([`set_peer_max_message_len`](Session::set_peer_max_message_len)) is replaced by
    /// ERROR `wamp.error.payload_size_exceeded`, so the caller still gets an answer, and
    /// [`UsageError::TooLarge`] says so; a progressive one is not sent.
    pub fn yield_(
        &mut self,
        invocation: RequestId,
        options: Options,
        payload: Payload,
    ) -> Result<(), UsageError> {
        self.require_answerable()?;
        let Some(inflight) = self.invocations.get(&invocation) else {
            return Err(UsageError::NoSuchInvocation(invocation));
        };
        let progress = options.progress() == Some(true);
        if progress && !inflight.receive_progress {
            return Err(UsageError::Invalid(
                "the caller did not ask for progressive results",
            ));
        }
        let payload = payload.to_format(self.serializer)?;
        let sent = self.send(Message::Yield(Yield {
            request: invocation,
            options,
            payload,
        }));
        if let (Err(UsageError::TooLarge { size, max }), false) = (&sent, progress) {
            let why = format!("the result is {size} bytes, more than the {max} the router accepts");
            self.refuse_invocation(invocation, Uri::PAYLOAD_SIZE_EXCEEDED, Some(&why));
        }
        sent?;
        if !progress {
            self.finish_invocation(invocation);
        }
        Ok(())
    }

    /// Answers an invocation with an error URI (the final answer). An answer longer
    /// than the router accepts goes out as ERROR `wamp.error.payload_size_exceeded`
    /// instead, and [`UsageError::TooLarge`] says so.
    pub fn invocation_error(
        &mut self,
        invocation: RequestId,
        error: Uri,
        details: Details,
        payload: Payload,
    ) -> Result<(), UsageError> {
        self.require_answerable()?;
        if !self.invocations.contains_key(&invocation) {
            return Err(UsageError::NoSuchInvocation(invocation));
        }
        let payload = payload.to_format(self.serializer)?;
        let sent = self.send(Message::Error(Error {
            request_type: MessageType::Invocation,
            request: invocation,
            details,
            error,
            payload,
        }));
        if let Err(UsageError::TooLarge { size, max }) = &sent {
            let why = format!("the error is {size} bytes, more than the {max} the router accepts");
            self.refuse_invocation(invocation, Uri::PAYLOAD_SIZE_EXCEEDED, Some(&why));
        }
        sent?;
        self.finish_invocation(invocation);
        Ok(())
    }

    /// Answers an invocation on the application's behalf with ERROR `error` and a
    /// one-line reason (none for a cancel, which says it all); the answer the protocol
    /// requires, so never refused for a full queue.
    fn refuse_invocation(&mut self, invocation: RequestId, error: Uri, why: Option<&str>) {
        let payload = match why {
            Some(why) => Payload::from_values(vec![why.into()], Default::default()),
            None => Payload::empty(),
        };
        let _ = self.send_unbounded(Message::Error(Error {
            request_type: MessageType::Invocation,
            request: invocation,
            details: Details::new(),
            error,
            payload,
        }));
        self.finish_invocation(invocation);
    }

    /// The final answer to an invocation went out. If more parts of its arguments were
    /// still coming (progressive call invocations), remember it, so that those parts are
    /// discarded rather than taken for a new invocation. A draining leave sends GOODBYE
    /// after the last answer.
    fn finish_invocation(&mut self, invocation: RequestId) {
        if let Some(inflight) = self.invocations.remove(&invocation) {
            if inflight.more_parts {
                self.remember_answered(invocation);
            }
        }
        if self.invocations.is_empty() && matches!(self.state, State::Draining { .. }) {
            // Without a clock here, the router's GOODBYE gets its full timeout after the
            // drain's deadline.
            if let Some(deadline) = self.deadline {
                self.send_goodbye(deadline + self.goodbye_timeout);
            }
        }
    }

    pub(super) fn on_registered(&mut self, registered: Registered) {
        let request = registered.request;
        let Some(Pending::Register { procedure }) = self.pending_kind(request) else {
            return self.protocol_violation(format!(
                "REGISTERED for request {request}, which is not a pending REGISTER"
            ));
        };
        let procedure = procedure.clone();
        if self.registrations.contains_key(&registered.registration) {
            return self.protocol_violation(format!(
                "REGISTERED with registration {}, which this session already holds",
                registered.registration
            ));
        }
        self.registrations
            .insert(registered.registration, Registration { procedure });
        self.reply(request, Ok(Outcome::Registered(registered.registration)));
    }

    pub(super) fn on_unregistered(&mut self, unregistered: Unregistered) {
        match unregistered.request {
            Some(request) => {
                let Some(Pending::Unregister { registration }) = self.pending_kind(request) else {
                    return self.protocol_violation(format!(
                        "UNREGISTERED for request {request}, which is not a pending UNREGISTER"
                    ));
                };
                let registration = *registration;
                self.registrations.remove(&registration);
                self.reply(request, Ok(Outcome::Unregistered));
            }
            None => {
                let Some(registration) = unregistered.details.registration() else {
                    return self.protocol_violation(
                        "UNREGISTERED revocation without Details.registration".into(),
                    );
                };
                // A revocation may cross our own UNREGISTER; then there is nothing left to do.
                if self.registrations.remove(&registration).is_some() {
                    self.emit(SessionEvent::RegistrationRevoked {
                        registration,
                        reason: revocation_reason(&unregistered.details),
                    });
                }
            }
        }
    }

    pub(super) fn on_invocation(&mut self, invocation: Invocation) {
        let Some(registration) = self.registrations.get(&invocation.registration) else {
            return self.protocol_violation(format!(
                "INVOCATION for registration {}, which this session does not hold",
                invocation.registration
            ));
        };
        let procedure = match invocation.details.procedure().map(Uri::parse) {
            Some(Ok(uri)) => uri,
            _ => registration.procedure.clone(),
        };
        let more_parts = invocation.details.progress() == Some(true);
        let continuation = match self.invocations.get_mut(&invocation.request) {
            Some(inflight) if inflight.more_parts => {
                inflight.more_parts = more_parts;
                true
            }
            Some(_) => {
                return self.protocol_violation(format!(
                    "INVOCATION with request {}, which is already in flight",
                    invocation.request
                ));
            }
            // A part that crossed our final answer: the spec has it discarded.
            None if self.recently_answered.contains(&invocation.request) => return,
            None => {
                let refusal = if matches!(self.state, State::Draining { .. }) {
                    Some((Uri::UNAVAILABLE, "the callee is leaving"))
                } else if more_parts && !self.progressive_invocations {
                    Some((
                        Uri::FEATURE_NOT_SUPPORTED,
                        "progressive call invocations are not supported by this callee",
                    ))
                } else if self.invocations.len() >= self.max_concurrent_invocations {
                    Some((Uri::UNAVAILABLE, "too many invocations in progress"))
                } else {
                    None
                };
                self.invocations.insert(
                    invocation.request,
                    InFlight {
                        receive_progress: invocation.details.receive_progress() == Some(true),
                        more_parts,
                    },
                );
                if let Some((error, why)) = refusal {
                    // Answered here; later parts are dropped as ones that crossed it.
                    return self.refuse_invocation(invocation.request, error, Some(why));
                }
                false
            }
        };
        self.emit(SessionEvent::Invocation(InvocationEvent {
            request: invocation.request,
            registration: invocation.registration,
            procedure,
            details: invocation.details,
            payload: invocation.payload,
            continuation,
        }));
    }

    /// The caller canceled (mode `kill` or `killnowait`): the session answers at once
    /// with ERROR `wamp.error.canceled`, as the router expects (unless configured not
    /// to), and tells the application to stop the handler; a later answer from it is
    /// then refused with [`UsageError::NoSuchInvocation`].
    pub(super) fn on_interrupt(&mut self, interrupt: Interrupt) {
        // An INTERRUPT may cross our YIELD; an unknown one is not an error (as in Autobahn).
        if self.invocations.contains_key(&interrupt.request) {
            if self.answer_interrupts {
                self.refuse_invocation(interrupt.request, Uri::CANCELED, None);
            }
            self.emit(SessionEvent::Interrupt {
                request: interrupt.request,
                mode: interrupt.options.mode(),
                options: interrupt.options,
            });
        }
    }
}

/// Checks a subscription or registration URI against its match policy.
pub(super) fn check_pattern(uri: &Uri, policy: Option<MatchPolicy>) -> Result<(), UsageError> {
    let rule = match policy {
        Some(MatchPolicy::Prefix | MatchPolicy::Wildcard) => UriRule::LoosePattern,
        _ => UriRule::Loose,
    };
    rule.check(uri)
        .map_err(|e| UsageError::InvalidUri(format!("{uri}: {e}")))
}
