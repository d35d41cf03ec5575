//! The caller role: CALL, RESULT (progressive too), CANCEL, progressive call invocations.

use crate::dict::{CancelMode, Options};
use crate::id::RequestId;
use crate::message::{Call, CallResult, Cancel, Message};
use crate::payload::Payload;
use crate::uri::Uri;

use super::{Outcome, Pending, Refused, RequestError, Sent, Session, SessionEvent, UsageError};

impl<T: Default> Session<T> {
    /// Calls `procedure`. `options` may carry `timeout` (ms), `receive_progress`,
    /// `disclose_me` and anything else the router understands; with `progress: true` the
    /// call's arguments are sent in several parts (see [`Session::call_part`]).
    ///
    /// The call ends with one [`SessionEvent::Reply`]; with `receive_progress`,
    /// [`SessionEvent::Progress`] events come before it.
    pub fn call(
        &mut self,
        procedure: Uri,
        payload: Payload,
        options: Options,
    ) -> Result<RequestId, UsageError> {
        self.call_with_token(procedure, payload, options, T::default())
            .map_err(|refused| refused.error)
    }
}

impl<T> Session<T> {
    /// [`call`](Session::call), with `token` carried back in the call's Reply (or in
    /// the error, if the call cannot be made).
    pub fn call_with_token(
        &mut self,
        procedure: Uri,
        payload: Payload,
        options: Options,
        token: T,
    ) -> Result<RequestId, Refused<T>> {
        let sent = self.send_call(procedure, payload, options);
        self.track(sent, token)
    }

    fn send_call(
        &mut self,
        procedure: Uri,
        payload: Payload,
        options: Options,
    ) -> Result<(RequestId, Sent), UsageError> {
        self.require_request_capacity()?;
        let sending_parts = options.progress() == Some(true);
        if sending_parts && !self.router_supports("dealer", "progressive_call_invocations") {
            return Err(UsageError::FeatureNotSupported(
                "progressive_call_invocations",
            ));
        }
        let receive_progress = options.receive_progress() == Some(true);
        let payload = payload.to_format(self.serializer)?;
        let request = self.send_request(|request| {
            Message::Call(Call {
                request,
                options,
                procedure: procedure.clone(),
                payload,
            })
        })?;
        let kind = Pending::Call {
            procedure,
            receive_progress,
            sending_parts,
        };
        Ok((request, Sent::Pending(kind)))
    }

    /// Sends the next part of a progressive call invocation started with
    /// `options.progress = true`; `last` ends the arguments.
    pub fn call_part(
        &mut self,
        request: RequestId,
        payload: Payload,
        last: bool,
    ) -> Result<(), UsageError> {
        self.require_established()?;
        let Some(Pending::Call {
            procedure,
            sending_parts: true,
            ..
        }) = self.pending_kind(request)
        else {
            return Err(UsageError::NoSuchCall(request));
        };
        let procedure = procedure.clone();
        let payload = payload.to_format(self.serializer)?;
        let options = if last {
            Options::new()
        } else {
            Options::new().with_progress(true)
        };
        self.send(Message::Call(Call {
            request,
            options,
            procedure,
            payload,
        }))?;
        if last {
            if let Some((Pending::Call { sending_parts, .. }, _)) = self.pending.get_mut(&request) {
                *sending_parts = false;
            }
        }
        Ok(())
    }

    /// Cancels a pending call. With `skip` and `killnowait` the call resolves at once as
    /// [`RequestError::Canceled`] (the router's own answer, which some routers send late or
    /// twice, is then ignored); with `kill` the call resolves when the router answers,
    /// possibly still with a result.
    pub fn cancel(&mut self, request: RequestId, mode: CancelMode) -> Result<(), UsageError> {
        self.require_established()?;
        if !matches!(self.pending_kind(request), Some(Pending::Call { .. })) {
            return Err(UsageError::NoSuchCall(request));
        }
        if !self.router_supports("dealer", "call_canceling") {
            return Err(UsageError::FeatureNotSupported("call_canceling"));
        }
        self.send(Message::Cancel(Cancel {
            request,
            options: Options::new().with_mode(mode),
        }))?;
        if mode != CancelMode::Kill {
            self.remember_canceled(request);
            self.reply(request, Err(RequestError::Canceled));
        }
        Ok(())
    }

    pub(super) fn on_result(&mut self, result: CallResult) {
        let request = result.request;
        let Some(Pending::Call {
            receive_progress, ..
        }) = self.pending_kind(request)
        else {
            if self.was_canceled(request) {
                return;
            }
            return self.protocol_violation(format!(
                "RESULT for request {request}, which is not a pending call"
            ));
        };
        if result.details.progress() == Some(true) {
            if !receive_progress {
                return self.protocol_violation(format!(
                    "progressive RESULT for call {request}, which did not ask for progress"
                ));
            }
            self.emit(SessionEvent::Progress {
                request,
                details: result.details,
                payload: result.payload,
            });
            return;
        }
        self.reply(
            request,
            Ok(Outcome::Result {
                details: result.details,
                payload: result.payload,
            }),
        );
    }
}
