//! The publisher role: PUBLISH and PUBLISHED.

use crate::dict::Options;
use crate::id::RequestId;
use crate::message::{Message, Publish, Published};
use crate::payload::Payload;
use crate::uri::Uri;

use super::{Outcome, Pending, Refused, Sent, Session, UsageError};

impl<T: Default> Session<T> {
    /// Publishes to `topic`. `options` may carry `acknowledge`, `exclude_me`, `exclude`,
    /// `eligible` (and their `_authid`/`_authrole` forms), `disclose_me`, `retain`.
    ///
    /// With `acknowledge: true` the publication ends with one [`super::SessionEvent::Reply`];
    /// without it nothing comes back, and the returned ID is only for logging.
    pub fn publish(
        &mut self,
        topic: Uri,
        payload: Payload,
        options: Options,
    ) -> Result<RequestId, UsageError> {
        self.publish_with_token(topic, payload, options, T::default())
            .map_err(|refused| refused.error)
    }
}

impl<T> Session<T> {
    /// [`publish`](Session::publish), with `token` carried back in the Reply (with
    /// `acknowledge`; without it the token is dropped at once, as nothing comes back).
    pub fn publish_with_token(
        &mut self,
        topic: Uri,
        payload: Payload,
        options: Options,
        token: T,
    ) -> Result<RequestId, Refused<T>> {
        let sent = self.send_publish(topic, payload, options);
        self.track(sent, token)
    }

    fn send_publish(
        &mut self,
        topic: Uri,
        payload: Payload,
        options: Options,
    ) -> Result<(RequestId, Sent), UsageError> {
        self.require_request_capacity()?;
        let acknowledge = options.acknowledge() == Some(true);
        let payload = payload.to_format(self.serializer)?;
        let request = self.send_request(|request| {
            Message::Publish(Publish {
                request,
                options,
                topic,
                payload,
            })
        })?;
        if acknowledge {
            Ok((request, Sent::Pending(Pending::Publish)))
        } else {
            Ok((request, Sent::Nothing))
        }
    }

    pub(super) fn on_published(&mut self, published: Published) {
        let request = published.request;
        if !matches!(self.pending_kind(request), Some(Pending::Publish)) {
            return self.protocol_violation(format!(
                "PUBLISHED for request {request}, which is not a pending PUBLISH"
            ));
        }
        self.reply(request, Ok(Outcome::Published(published.publication)));
    }
}
