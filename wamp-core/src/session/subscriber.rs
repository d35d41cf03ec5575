//! The subscriber role: SUBSCRIBE, UNSUBSCRIBE, EVENT, and the router's revocation.

use crate::dict::Options;
use crate::id::{RequestId, SubscriptionId};
use crate::message::{Event, Message, Subscribe, Subscribed, Unsubscribe, Unsubscribed};
use crate::uri::Uri;

use super::callee::check_pattern;
use super::{
    revocation_reason, EventDelivery, Outcome, Pending, Refused, Sent, Session, SessionEvent,
    Subscription, UsageError,
};

impl<T: Default> Session<T> {
    /// Subscribes to `topic`. `options` may carry `match` (prefix, wildcard) and
    /// `get_retained`.
    ///
    /// The router gives every subscribe to the same topic and policy the same
    /// subscription ID; the session counts them, and only the last
    /// [`unsubscribe`](Session::unsubscribe) of that ID reaches the router.
    pub fn subscribe(&mut self, topic: Uri, options: Options) -> Result<RequestId, UsageError> {
        self.subscribe_with_token(topic, options, T::default())
            .map_err(|refused| refused.error)
    }

    /// Ends one subscribe of `subscription`.
    pub fn unsubscribe(&mut self, subscription: SubscriptionId) -> Result<RequestId, UsageError> {
        self.unsubscribe_with_token(subscription, T::default())
            .map_err(|refused| refused.error)
    }
}

impl<T> Session<T> {
    /// [`subscribe`](Session::subscribe), with `token` carried back in the Reply.
    pub fn subscribe_with_token(
        &mut self,
        topic: Uri,
        options: Options,
        token: T,
    ) -> Result<RequestId, Refused<T>> {
        let sent = self.send_subscribe(topic, options);
        self.track(sent, token)
    }

    fn send_subscribe(
        &mut self,
        topic: Uri,
        options: Options,
    ) -> Result<(RequestId, Sent), UsageError> {
        self.require_request_capacity()?;
        check_pattern(&topic, options.match_policy())?;
        let request = self.send_request(|request| {
            Message::Subscribe(Subscribe {
                request,
                options,
                topic: topic.clone(),
            })
        })?;
        Ok((request, Sent::Pending(Pending::Subscribe { topic })))
    }

    /// [`unsubscribe`](Session::unsubscribe), with `token` carried back in the Reply.
    pub fn unsubscribe_with_token(
        &mut self,
        subscription: SubscriptionId,
        token: T,
    ) -> Result<RequestId, Refused<T>> {
        let sent = self.send_unsubscribe(subscription);
        self.track(sent, token)
    }

    fn send_unsubscribe(
        &mut self,
        subscription: SubscriptionId,
    ) -> Result<(RequestId, Sent), UsageError> {
        self.require_request_capacity()?;
        let Some(sub) = self.subscriptions.get_mut(&subscription) else {
            return Err(UsageError::NoSuchSubscription(subscription));
        };
        if sub.count > 1 {
            // Others still use it: answer locally, with an ID off the wire's sequence.
            sub.count -= 1;
            let request = self.next_local_request();
            return Ok((request, Sent::Answered(Outcome::Unsubscribed)));
        }
        let request = self.send_request(|request| {
            Message::Unsubscribe(Unsubscribe {
                request,
                subscription,
                options: Options::new(),
            })
        })?;
        Ok((
            request,
            Sent::Pending(Pending::Unsubscribe { subscription }),
        ))
    }

    pub(super) fn on_subscribed(&mut self, subscribed: Subscribed) {
        let request = subscribed.request;
        let Some(Pending::Subscribe { topic }) = self.pending_kind(request) else {
            return self.protocol_violation(format!(
                "SUBSCRIBED for request {request}, which is not a pending SUBSCRIBE"
            ));
        };
        let topic = topic.clone();
        self.subscriptions
            .entry(subscribed.subscription)
            .and_modify(|s| s.count += 1)
            .or_insert(Subscription { topic, count: 1 });
        self.reply(request, Ok(Outcome::Subscribed(subscribed.subscription)));
    }

    pub(super) fn on_unsubscribed(&mut self, unsubscribed: Unsubscribed) {
        match unsubscribed.request {
            Some(request) => {
                let Some(Pending::Unsubscribe { subscription }) = self.pending_kind(request) else {
                    return self.protocol_violation(format!(
                        "UNSUBSCRIBED for request {request}, which is not a pending UNSUBSCRIBE"
                    ));
                };
                let subscription = *subscription;
                let remaining = self
                    .subscriptions
                    .remove(&subscription)
                    .map_or(0, |s| s.count.saturating_sub(1));
                self.reply(request, Ok(Outcome::Unsubscribed));
                if remaining > 0 {
                    // Another subscribe to the same topic was answered while this
                    // UNSUBSCRIBE was on its way: the router has dropped the subscription
                    // it shares, so say so rather than lose its events silently.
                    self.emit(SessionEvent::SubscriptionRevoked {
                        subscription,
                        reason: Some(
                            "unsubscribed while another subscribe to the same topic was in flight; subscribe again"
                                .into(),
                        ),
                    });
                }
            }
            None => {
                let Some(subscription) = unsubscribed.details.subscription() else {
                    return self.protocol_violation(
                        "UNSUBSCRIBED revocation without Details.subscription".into(),
                    );
                };
                if self.subscriptions.remove(&subscription).is_some() {
                    self.emit(SessionEvent::SubscriptionRevoked {
                        subscription,
                        reason: revocation_reason(&unsubscribed.details),
                    });
                }
            }
        }
    }

    pub(super) fn on_event(&mut self, event: Event) {
        let Some(subscription) = self.subscriptions.get(&event.subscription) else {
            return self.protocol_violation(format!(
                "EVENT for subscription {}, which this session does not hold",
                event.subscription
            ));
        };
        let topic = match event.details.topic().map(Uri::parse) {
            Some(Ok(uri)) => uri,
            _ => subscription.topic.clone(),
        };
        self.emit(SessionEvent::Event(EventDelivery {
            subscription: event.subscription,
            publication: event.publication,
            topic,
            details: event.details,
            payload: event.payload,
        }));
    }
}
