//! The publisher role: PUBLISH and PUBLISHED.

use crate::dict::Options;
use crate::id::RequestId;
use crate::message::{Message, Publish, Published};
use crate::payload::Payload;
use crate::uri::Uri;

use super::{Outcome, Pending, Session, UsageError};

impl Session {
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
            self.pending.insert(request, Pending::Publish);
        }
        Ok(request)
    }

    pub(super) fn on_published(&mut self, published: Published) {
        let request = published.request;
        if !matches!(self.pending.get(&request), Some(Pending::Publish)) {
            return self.protocol_violation(format!(
                "PUBLISHED for request {request}, which is not a pending PUBLISH"
            ));
        }
        self.pending.remove(&request);
        self.reply(request, Ok(Outcome::Published(published.publication)));
    }
}
