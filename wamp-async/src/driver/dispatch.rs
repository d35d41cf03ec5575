//! The loop's bookkeeping: commands into the core session, the session's events out to
//! the handles that wait for them.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use wamp_proto::Instant;

use futures::channel::oneshot;
use futures::future::{AbortHandle, Abortable};
use futures::{FutureExt, SinkExt};
use wamp_proto::session::{CloseReason, InvocationEvent, Outcome, Refused, Reply, SessionEvent};
use wamp_proto::{Details, Options, Payload, PublicationId, RegistrationId, SubscriptionId, Uri};

use super::Driver;
use crate::call::CallResult;
use crate::command::{Answer, Command, Control, ReplySink};
use crate::error::{ConnectError, Error, WampError, RUNTIME_ERROR};
use crate::queue::{Pushed, QueueTx};
use crate::register::{Handler, Interrupted, Invocation};
use crate::runtime::Runtime;
use crate::session::SessionDetails;
use crate::subscribe::Event;

/// A request sent to the router and the handle waiting for its outcome.
pub(super) enum Waiting {
    Call {
        key: u64,
        sink: ReplySink,
    },
    Register {
        procedure: Uri,
        handler: Arc<dyn Handler>,
        reply: oneshot::Sender<Result<RegistrationId, Error>>,
    },
    Unregister {
        registration: RegistrationId,
        reply: Option<oneshot::Sender<Result<(), Error>>>,
    },
    Subscribe {
        key: u64,
        sink: QueueTx<Event>,
        reply: oneshot::Sender<Result<SubscriptionId, Error>>,
    },
    Unsubscribe {
        reply: Option<oneshot::Sender<Result<(), Error>>>,
    },
    Publish {
        reply: oneshot::Sender<Result<Option<PublicationId>, Error>>,
    },
}

/// An invocation whose handler is running.
pub(super) struct Running {
    abort: AbortHandle,
    interrupt: oneshot::Sender<()>,
}

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Waiting::Call { .. } => "Call",
            Waiting::Register { .. } => "Register",
            Waiting::Unregister { .. } => "Unregister",
            Waiting::Subscribe { .. } => "Subscribe",
            Waiting::Unsubscribe { .. } => "Unsubscribe",
            Waiting::Publish { .. } => "Publish",
        })
    }
}

impl Waiting {
    /// The request was not made: its handle learns why.
    fn fail(self, error: Error) {
        match self {
            Waiting::Call { sink, .. } => sink.finish(Err(error)),
            Waiting::Register { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Waiting::Subscribe { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Waiting::Publish { reply } => {
                let _ = reply.send(Err(error));
            }
            Waiting::Unregister { reply, .. } | Waiting::Unsubscribe { reply } => {
                if let Some(reply) = reply {
                    let _ = reply.send(Err(error));
                }
            }
        }
    }
}

/// A command the session refused: the handle in its token learns why.
fn refused(refused: Refused<Option<Waiting>>) {
    if let Some(waiting) = refused.token {
        waiting.fail(refused.error.into());
    }
}

impl Running {
    fn stop(self) {
        let _ = self.interrupt.send(());
        self.abort.abort();
    }
}

fn unexpected(outcome: &Outcome) -> Error {
    Error::Wamp(WampError::with_message(
        RUNTIME_ERROR,
        format!("unexpected outcome {outcome:?}"),
    ))
}

impl<R: Runtime> Driver<R> {
    /// Why new requests are refused once the session has ended.
    fn closed_error(&self) -> Error {
        Error::SessionClosed(
            self.close_reason
                .clone()
                .unwrap_or(CloseReason::TransportLost),
        )
    }

    // ---- commands ----------------------------------------------------------------

    pub(super) fn on_command(&mut self, now: Instant, command: Command) {
        if self.close_reason.is_some() {
            return self.refuse(command);
        }
        let Some(session) = &mut self.session else {
            return self.refuse(command);
        };
        match command {
            Command::Call {
                key,
                procedure,
                payload,
                options,
                reply,
            } => {
                let waiting = Waiting::Call { key, sink: reply };
                match session.call_with_token(procedure, payload, options, Some(waiting)) {
                    Ok(request) => {
                        self.calls.insert(key, request);
                    }
                    Err(e) => refused(e),
                }
            }
            Command::Register {
                procedure,
                options,
                handler,
                reply,
            } => {
                let waiting = Waiting::Register {
                    procedure: procedure.clone(),
                    handler,
                    reply,
                };
                if let Err(e) = session.register_with_token(procedure, options, Some(waiting)) {
                    refused(e);
                }
            }
            Command::Unregister {
                registration,
                reply,
            } => self.unregister(registration, Some(reply)),
            Command::Subscribe {
                key,
                topic,
                options,
                sink,
                reply,
            } => {
                let waiting = Waiting::Subscribe { key, sink, reply };
                if let Err(e) = session.subscribe_with_token(topic, options, Some(waiting)) {
                    refused(e);
                }
            }
            Command::Unsubscribe {
                key,
                subscription,
                reply,
            } => self.unsubscribe(key, subscription, Some(reply)),
            Command::Publish {
                topic,
                payload,
                options,
                reply,
            } => {
                if options.acknowledge() == Some(true) {
                    let waiting = Waiting::Publish { reply };
                    if let Err(e) =
                        session.publish_with_token(topic, payload, options, Some(waiting))
                    {
                        refused(e);
                    }
                } else {
                    // Nothing comes back: done once it is queued.
                    let _ = reply.send(
                        session
                            .publish(topic, payload, options)
                            .map(|_| None)
                            .map_err(Error::from),
                    );
                }
            }
            Command::Leave {
                reason,
                message,
                reply,
            } => {
                // The session sends GOODBYE once the running handlers have answered
                // (bounded by the GOODBYE timeout).
                match self.start_leave(now, reason, message) {
                    Ok(()) => self.leave_waiters.push(reply),
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
        }
    }

    /// Sends GOODBYE. Already leaving is fine: the caller waits for the same end.
    fn start_leave(
        &mut self,
        now: Instant,
        reason: Uri,
        message: Option<String>,
    ) -> Result<(), Error> {
        let Some(session) = &mut self.session else {
            return Ok(());
        };
        match session.leave(now, reason.clone(), message.as_deref()) {
            Ok(()) => {
                tracing::info!(reason = %reason, "leaving");
                Ok(())
            }
            // Leaving already: this caller waits for the same end.
            Err(wamp_proto::session::UsageError::NotEstablished(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Answers a command the session can no longer take.
    fn refuse(&mut self, command: Command) {
        let error = self.closed_error();
        match command {
            Command::Call { reply, .. } => reply.finish(Err(error)),
            Command::Register { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Command::Unregister { reply, .. } | Command::Unsubscribe { reply, .. } => {
                // Undone already: the session that held it is over.
                let _ = reply.send(Ok(()));
            }
            Command::Subscribe { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Command::Publish { reply, .. } => {
                let _ = reply.send(Err(error));
            }
            Command::Leave { reply, .. } => match &self.close_reason {
                Some(reason) => {
                    let _ = reply.send(Ok(reason.clone()));
                }
                None => self.leave_waiters.push(reply),
            },
        }
    }

    fn unregister(
        &mut self,
        registration: RegistrationId,
        reply: Option<oneshot::Sender<Result<(), Error>>>,
    ) {
        let Some(session) = &mut self.session else {
            return;
        };
        let waiting = Waiting::Unregister {
            registration,
            reply,
        };
        if let Err(Refused { error, token }) =
            session.unregister_with_token(registration, Some(waiting))
        {
            // Revoked by the router, or the session ended: nothing left to undo.
            self.registrations.remove(&registration);
            if let Some(Waiting::Unregister {
                reply: Some(reply), ..
            }) = token
            {
                let _ = reply.send(match error {
                    wamp_proto::session::UsageError::NoSuchRegistration(_) => Ok(()),
                    e => Err(e.into()),
                });
            }
        }
    }

    fn unsubscribe(
        &mut self,
        key: u64,
        subscription: SubscriptionId,
        reply: Option<oneshot::Sender<Result<(), Error>>>,
    ) {
        // This handle gets no more events, whatever the router says.
        if let Some(sinks) = self.subscriptions.get_mut(&subscription) {
            sinks.retain(|(k, _)| *k != key);
            if sinks.is_empty() {
                self.subscriptions.remove(&subscription);
            }
        }
        let Some(session) = &mut self.session else {
            return;
        };
        let waiting = Some(Waiting::Unsubscribe { reply });
        if let Err(Refused {
            error,
            token: Some(Waiting::Unsubscribe { reply: Some(reply) }),
        }) = session.unsubscribe_with_token(subscription, waiting)
        {
            let _ = reply.send(match error {
                wamp_proto::session::UsageError::NoSuchSubscription(_) => Ok(()),
                e => Err(e.into()),
            });
        }
    }

    // ---- notices from dropped handles ----------------------------------------------

    pub(super) fn on_control(&mut self, _now: Instant, control: Control) {
        if self.close_reason.is_some() {
            return;
        }
        match control {
            Control::CancelCall { key, mode } => {
                // Unknown key: the call has already ended.
                let Some(request) = self.calls.get(&key).copied() else {
                    return;
                };
                let Some(session) = &mut self.session else {
                    return;
                };
                match session.cancel(request, mode) {
                    Ok(()) => tracing::debug!(%request, mode = mode.as_str(), "call canceled"),
                    // Without router support the call runs on; its outcome is dropped.
                    Err(e) => tracing::debug!(%request, error = %e, "cannot cancel the call"),
                }
            }
            Control::Unregister { registration } => self.unregister(registration, None),
            Control::Unsubscribe { key, subscription } => self.unsubscribe(key, subscription, None),
        }
    }

    // ---- answers from procedure handlers -------------------------------------------

    pub(super) fn on_answer(&mut self, _now: Instant, answer: Answer) {
        match answer {
            Answer::Progress {
                invocation,
                payload,
            } => {
                if !self.running.contains_key(&invocation) {
                    return;
                }
                let Some(session) = &mut self.session else {
                    return;
                };
                let options = Options::new().with_progress(true);
                if let Err(e) = session.yield_(invocation, options, payload) {
                    tracing::warn!(%invocation, error = %e, "progressive result not sent");
                }
            }
            Answer::Final { invocation, result } => {
                // Gone: interrupted (and already answered) or the session ended.
                if self.running.remove(&invocation).is_none() {
                    return;
                }
                let Some(session) = &mut self.session else {
                    return;
                };
                let sent = match result {
                    Ok(y) => session.yield_(invocation, Options::new(), y.payload),
                    Err(error) => {
                        let (uri, details, payload) = error.into_parts();
                        session.invocation_error(invocation, uri, details, payload)
                    }
                };
                if let Err(e) = sent {
                    // Too long for the router: the session answered with
                    // `wamp.error.payload_size_exceeded` itself. Otherwise the answer
                    // could not be encoded for this session: the caller still gets one.
                    tracing::warn!(%invocation, error = %e, "answer not sent");
                    let _ = session.invocation_error(
                        invocation,
                        RUNTIME_ERROR,
                        Details::new(),
                        Payload::from_values(vec![e.to_string().into()], Default::default()),
                    );
                }
            }
        }
    }

    // ---- session events ------------------------------------------------------------

    pub(super) fn on_event(&mut self, now: Instant, event: SessionEvent<Option<Waiting>>) {
        match event {
            SessionEvent::Joined(joined) => {
                let Some(serializer) = self.serializer else {
                    return;
                };
                let details = SessionDetails {
                    id: joined.session,
                    realm: joined.realm.clone(),
                    authid: joined.authid().map(str::to_owned),
                    authrole: joined.authrole().map(str::to_owned),
                    authmethod: joined.details.authmethod().map(str::to_owned),
                    authprovider: joined.details.authprovider().map(str::to_owned),
                    serializer,
                    transport: self.transport.clone(),
                    welcome: joined.details,
                };
                self.span.record("session", joined.session.get());
                tracing::info!(
                    session = %details.id,
                    authid = details.authid.as_deref().unwrap_or(""),
                    authrole = details.authrole.as_deref().unwrap_or(""),
                    serializer = %serializer,
                    "joined"
                );
                match self.joined.take() {
                    Some(reply) => {
                        if reply.send(Ok(details)).is_err() {
                            self.abandon(now);
                        }
                    }
                    None => self.abandon(now),
                }
            }
            SessionEvent::Reply(reply) => self.on_reply(reply),
            SessionEvent::Progress {
                request,
                details,
                payload,
            } => {
                let token = self.session.as_ref().and_then(|s| s.request_token(request));
                if let Some(Some(Waiting::Call {
                    sink: ReplySink::Stream(tx),
                    ..
                })) = token
                {
                    let result = CallResult {
                        details,
                        payload,
                        progress: true,
                    };
                    if tx.push(result) == Pushed::Dropped {
                        tracing::debug!(%request, "progressive result dropped: the stream is not read");
                    }
                }
            }
            SessionEvent::Invocation(invocation) => self.on_invocation(invocation),
            SessionEvent::Interrupt { request, mode, .. } => {
                let Some(running) = self.running.remove(&request) else {
                    return;
                };
                // The session has answered `wamp.error.canceled` already.
                tracing::debug!(%request, mode = mode.map_or("", |m| m.as_str()), "invocation interrupted");
                running.stop();
            }
            SessionEvent::Event(delivery) => {
                let Some(sinks) = self.subscriptions.get(&delivery.subscription) else {
                    return;
                };
                for (_, sink) in sinks {
                    if sink.push(Event {
                        delivery: delivery.clone(),
                    }) == Pushed::Dropped
                    {
                        tracing::debug!(subscription = %delivery.subscription, "event dropped: the subscription is not read");
                    }
                }
            }
            SessionEvent::RegistrationRevoked {
                registration,
                reason,
            } => {
                tracing::info!(%registration, reason = reason.as_deref().unwrap_or(""), "registration revoked");
                self.registrations.remove(&registration);
            }
            SessionEvent::SubscriptionRevoked {
                subscription,
                reason,
            } => {
                tracing::info!(%subscription, reason = reason.as_deref().unwrap_or(""), "subscription revoked");
                for (_, sink) in self.subscriptions.remove(&subscription).unwrap_or_default() {
                    sink.finish(Err(Error::Revoked {
                        reason: reason.clone(),
                    }));
                }
            }
            SessionEvent::Closed(reason) => self.finish_session(now, reason),
            other => tracing::debug!(event = ?other, "unhandled session event"),
        }
    }

    fn on_reply(&mut self, reply: Reply<Option<Waiting>>) {
        let Reply { token, outcome, .. } = reply;
        let Some(waiting) = token else {
            return;
        };
        match waiting {
            Waiting::Call { key, sink } => {
                self.calls.remove(&key);
                sink.finish(match outcome {
                    Ok(Outcome::Result { details, payload }) => Ok(CallResult {
                        details,
                        payload,
                        progress: false,
                    }),
                    Ok(other) => Err(unexpected(&other)),
                    Err(e) => Err(e.into()),
                });
            }
            Waiting::Register {
                procedure,
                handler,
                reply,
            } => match outcome {
                Ok(Outcome::Registered(id)) => {
                    tracing::debug!(procedure = %procedure, registration = %id, "registered");
                    self.registrations.insert(id, handler);
                    if reply.send(Ok(id)).is_err() {
                        // The register future was dropped: nobody holds the handle.
                        self.unregister(id, None);
                    }
                }
                Ok(other) => {
                    let _ = reply.send(Err(unexpected(&other)));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Waiting::Unregister {
                registration,
                reply,
            } => {
                self.registrations.remove(&registration);
                if let Some(reply) = reply {
                    let _ = reply.send(outcome.map(|_| ()).map_err(Error::from));
                }
            }
            Waiting::Subscribe { key, sink, reply } => match outcome {
                Ok(Outcome::Subscribed(id)) => {
                    self.subscriptions.entry(id).or_default().push((key, sink));
                    if reply.send(Ok(id)).is_err() {
                        self.unsubscribe(key, id, None);
                    }
                }
                Ok(other) => {
                    let _ = reply.send(Err(unexpected(&other)));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Waiting::Unsubscribe { reply } => {
                if let Some(reply) = reply {
                    let _ = reply.send(outcome.map(|_| ()).map_err(Error::from));
                }
            }
            Waiting::Publish { reply } => {
                let _ = reply.send(match outcome {
                    Ok(Outcome::Published(id)) => Ok(Some(id)),
                    Ok(other) => Err(unexpected(&other)),
                    Err(e) => Err(e.into()),
                });
            }
        }
    }

    fn on_invocation(&mut self, invocation: InvocationEvent) {
        let Some(serializer) = self.serializer else {
            return;
        };
        let request = invocation.request;
        // Admission (the concurrency limit, progressive call invocations, a leave in
        // progress) is the session's: what arrives here runs.
        let Some(handler) = self.registrations.get(&invocation.registration).cloned() else {
            // Registered in the session but not here cannot happen; answer anyway.
            if let Some(session) = &mut self.session {
                let _ = session.invocation_error(
                    request,
                    Uri::NO_SUCH_REGISTRATION,
                    Details::new(),
                    Payload::empty(),
                );
            }
            return;
        };
        let (interrupt, interrupted) = Interrupted::new();
        let mut answers = self.answers_tx.clone();
        let invocation = Invocation {
            request,
            registration: invocation.registration,
            procedure: invocation.procedure,
            details: invocation.details,
            payload: invocation.payload,
            serializer,
            answers: self.answers_tx.clone(),
            interrupted,
        };
        let (abort, registration) = AbortHandle::new_pair();
        let future = handler.call(invocation);
        let task = async move {
            // A panicking handler still answers, so the caller is not left waiting.
            let guarded = AssertUnwindSafe(future).catch_unwind();
            let result = match Abortable::new(guarded, registration).await {
                Ok(Ok(result)) => result,
                Ok(Err(_panic)) => Err(WampError::with_message(
                    RUNTIME_ERROR,
                    "the procedure handler panicked",
                )),
                // Interrupted: the loop has answered already.
                Err(_aborted) => return,
            };
            let _ = answers
                .send(Answer::Final {
                    invocation: request,
                    result,
                })
                .await;
        };
        self.rt.spawn(task.boxed());
        self.running.insert(request, Running { abort, interrupt });
    }

    /// The session is over: every waiting handle learns why, once.
    pub(super) fn finish_session(&mut self, now: Instant, reason: CloseReason) {
        if self.close_reason.is_some() {
            return;
        }
        match &reason {
            CloseReason::ProtocolViolation(why) => {
                tracing::warn!(%why, "the router broke the protocol; session aborted")
            }
            _ => tracing::info!(reason = %reason, "session closed"),
        }
        self.close_reason = Some(reason.clone());
        let error = ConnectError::from_close(
            reason.clone(),
            self.transport_error.clone(),
            self.join.handshake_timeout,
        );
        self.fail_connect(error);
        if let Some(closed) = self.closed_tx.take() {
            let _ = closed.send(reason.clone());
        }
        for waiter in self.leave_waiters.drain(..) {
            let _ = waiter.send(Ok(reason.clone()));
        }
        // Every request the session held has had its Reply (SessionClosed) by now.
        self.calls.clear();
        for (_, sinks) in self.subscriptions.drain() {
            for (_, sink) in sinks {
                sink.close();
            }
        }
        self.registrations.clear();
        for (_, running) in self.running.drain() {
            running.stop();
        }
        self.pump.framer.close(now);
    }
}
