//! Receiving events: the [`Subscription`] stream and its [`Event`]s.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::channel::oneshot;
use futures::Stream;
use serde::de::DeserializeOwned;
use wamp_proto::session::EventDelivery;
use wamp_proto::{
    Details, MatchPolicy, Options, Payload, PublicationId, SessionId, SubscriptionId, Uri, Value,
};

use crate::args::first;
use crate::command::{Command, Control};
use crate::error::Error;
use crate::queue::{queue, QueueRx};
use crate::session::Session;

/// An event delivered to a subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub(crate) delivery: EventDelivery,
}

impl Event {
    /// The topic the event was published to (for a pattern subscription, the concrete
    /// topic).
    pub fn topic(&self) -> &Uri {
        &self.delivery.topic
    }

    /// Decodes the positional arguments.
    pub fn args<A: DeserializeOwned>(&self) -> Result<A, Error> {
        Ok(self.delivery.payload.args()?)
    }

    /// Decodes the keyword arguments.
    pub fn kwargs<K: DeserializeOwned>(&self) -> Result<K, Error> {
        Ok(self.delivery.payload.kwargs()?)
    }

    /// Decodes the first positional argument.
    pub fn first<T: DeserializeOwned>(&self) -> Result<T, Error> {
        first(&self.delivery.payload)
    }

    /// The arguments as encoded.
    pub fn payload(&self) -> &Payload {
        &self.delivery.payload
    }

    /// The EVENT details.
    pub fn details(&self) -> &Details {
        &self.delivery.details
    }

    /// The publication ID.
    pub fn publication(&self) -> PublicationId {
        self.delivery.publication
    }

    /// The subscription ID.
    pub fn subscription(&self) -> SubscriptionId {
        self.delivery.subscription
    }

    /// The publisher's session, if disclosed.
    pub fn publisher(&self) -> Option<SessionId> {
        self.delivery.details.publisher()
    }

    /// The publisher's authid, if disclosed.
    pub fn publisher_authid(&self) -> Option<&str> {
        self.delivery.details.publisher_authid()
    }

    /// Whether this is a retained event delivered on subscribing.
    pub fn is_retained(&self) -> bool {
        self.delivery.details.retained() == Some(true)
    }
}

/// Options for [`Session::subscribe_with`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SubscribeOptions {
    /// The SUBSCRIBE options sent.
    pub options: Options,
    /// How many unread events the subscription holds before it drops them and reports
    /// [`Error::Lagged`]. `None`: the session's `stream_buffer`.
    pub buffer: Option<usize>,
}

impl SubscribeOptions {
    /// Default options: exact match, the session's buffer.
    pub fn new() -> Self {
        SubscribeOptions::default()
    }

    /// Matches topics by prefix or wildcard pattern.
    #[must_use]
    pub fn match_policy(mut self, policy: MatchPolicy) -> Self {
        self.options = self.options.with_match_policy(policy);
        self
    }

    /// Asks for the topic's retained event on subscribing.
    #[must_use]
    pub fn get_retained(mut self, get: bool) -> Self {
        self.options = self.options.with_get_retained(get);
        self
    }

    /// Sets the buffer size.
    #[must_use]
    pub fn buffer(mut self, events: usize) -> Self {
        self.buffer = Some(events);
        self
    }

    /// Sets any other SUBSCRIBE option.
    #[must_use]
    pub fn option(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.options.insert(key, value);
        self
    }
}

/// A subscription: a stream of the events published to its topic.
///
/// Items are `Ok(Event)`, except:
/// - `Err(Error::Lagged { missed })` where events were dropped because the stream was
///   not read fast enough (the buffer is bounded; the connection never waits for a slow
///   reader, which would stall every other request behind it); the stream goes on;
/// - `Err(Error::Revoked { .. })` as the last item if the router revoked it.
///
/// The stream ends when the session ends. Dropping it unsubscribes (without waiting);
/// [`unsubscribe`](Subscription::unsubscribe) waits for the router.
///
/// ```no_run
/// # async fn example(session: wamp_runtime::Session) -> Result<(), wamp_runtime::Error> {
/// use futures::StreamExt;
///
/// let mut ticks = session.subscribe("com.example.tick").await?;
/// while let Some(event) = ticks.next().await {
///     let (n,): (u64,) = event?.args()?;
///     println!("tick {n}");
/// }
/// # Ok(()) }
/// ```
#[must_use = "dropping a Subscription unsubscribes"]
pub struct Subscription {
    session: Session,
    id: SubscriptionId,
    key: u64,
    topic: Uri,
    rx: QueueRx<Event>,
    active: bool,
}

debug_fields!(Subscription { id, topic, .. });

impl Subscription {
    /// The subscription ID (shared by every subscription of this session to the same
    /// topic and policy).
    pub fn id(&self) -> SubscriptionId {
        self.id
    }

    /// The subscribed topic (or pattern).
    pub fn topic(&self) -> &Uri {
        &self.topic
    }

    /// The session it belongs to.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Unsubscribes and waits for the router's answer.
    pub async fn unsubscribe(mut self) -> Result<(), Error> {
        self.active = false;
        let (reply, rx) = oneshot::channel();
        self.session
            .send(Command::Unsubscribe {
                key: self.key,
                subscription: self.id,
                reply,
            })
            .await?;
        self.session.reply(rx).await
    }
}

impl Stream for Subscription {
    type Item = Result<Event, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.rx).poll_next(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if self.active {
            self.session.notify(Control::Unsubscribe {
                key: self.key,
                subscription: self.id,
            });
        }
    }
}

pub(crate) async fn subscribe(
    session: &Session,
    topic: Uri,
    options: SubscribeOptions,
) -> Result<Subscription, Error> {
    let key = session.next_key();
    let buffer = options.buffer.unwrap_or(session.inner.stream_buffer);
    let (sink, rx) = queue(buffer);
    let (reply, reply_rx) = oneshot::channel();
    session
        .send(Command::Subscribe {
            key,
            topic: topic.clone(),
            options: options.options,
            sink,
            reply,
        })
        .await?;
    let id = session.reply(reply_rx).await?;
    Ok(Subscription {
        session: session.clone(),
        id,
        key,
        topic,
        rx,
        active: true,
    })
}
