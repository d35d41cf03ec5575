//! Publishing events: the [`Publish`] builder.

use std::future::IntoFuture;

use futures::channel::oneshot;
use futures::future::{BoxFuture, FutureExt};
use wamp_proto::{Options, PublicationId, SessionId, Uri, Value};

use crate::args::ArgsBuilder;
use crate::command::Command;
use crate::error::Error;
use crate::session::Session;

/// A publication being built; `.await` it to send.
///
/// Without [`acknowledge`](Publish::acknowledge) the future resolves to `Ok(None)` once
/// the event is queued for sending (the router says nothing back, not even when it
/// refuses); with it, to the publication ID once the router has accepted it, or to the
/// router's ERROR.
///
/// ```no_run
/// # async fn example(session: wamp_runtime::Session) -> Result<(), wamp_runtime::Error> {
/// session.publish("com.example.news").args(&("hello",)).await?;
/// let id = session
///     .publish("com.example.news")
///     .kwargs(&std::collections::HashMap::from([("text", "hi")]))
///     .acknowledge(true)
///     .exclude_me(false)
///     .await?;
/// assert!(id.is_some());
/// # Ok(()) }
/// ```
#[must_use = "a publication does nothing until awaited"]
pub struct Publish {
    session: Session,
    topic: Result<Uri, Error>,
    args: ArgsBuilder,
    options: Options,
}

debug_fields!(Publish { topic, options, .. });

impl Publish {
    pub(crate) fn new(session: Session, topic: Result<Uri, Error>) -> Publish {
        let args = ArgsBuilder::new(session.serializer());
        Publish {
            session,
            topic,
            args,
            options: Options::new(),
        }
    }

    args_setters!(
        "Sets the positional arguments (anything that serializes as a list).",
        "Sets the keyword arguments (anything that serializes as a map)."
    );

    /// Asks the router to acknowledge (or refuse) the publication.
    pub fn acknowledge(mut self, acknowledge: bool) -> Self {
        self.options = self.options.with_acknowledge(acknowledge);
        self
    }

    /// `false` lets this session receive its own event (the router excludes the
    /// publisher by default).
    pub fn exclude_me(mut self, exclude: bool) -> Self {
        self.options = self.options.with_exclude_me(exclude);
        self
    }

    /// Sessions that must not receive the event.
    pub fn exclude(mut self, sessions: impl IntoIterator<Item = SessionId>) -> Self {
        self.options = self.options.with_exclude(sessions);
        self
    }

    /// Only these sessions may receive the event.
    pub fn eligible(mut self, sessions: impl IntoIterator<Item = SessionId>) -> Self {
        self.options = self.options.with_eligible(sessions);
        self
    }

    /// Authids that must not receive the event.
    pub fn exclude_authid<S: Into<String>>(mut self, authids: impl IntoIterator<Item = S>) -> Self {
        self.options = self.options.with_exclude_authid(authids);
        self
    }

    /// Only these authids may receive the event.
    pub fn eligible_authid<S: Into<String>>(
        mut self,
        authids: impl IntoIterator<Item = S>,
    ) -> Self {
        self.options = self.options.with_eligible_authid(authids);
        self
    }

    /// Asks the router to disclose this publisher to subscribers.
    pub fn disclose_me(mut self, disclose: bool) -> Self {
        self.options = self.options.with_disclose_me(disclose);
        self
    }

    /// Asks the router to keep this event as the topic's retained event.
    pub fn retain(mut self, retain: bool) -> Self {
        self.options = self.options.with_retain(retain);
        self
    }

    /// Sets any other PUBLISH option.
    pub fn option(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.options.insert(key, value);
        self
    }
}

impl IntoFuture for Publish {
    type Output = Result<Option<PublicationId>, Error>;
    type IntoFuture = BoxFuture<'static, Result<Option<PublicationId>, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        let Publish {
            session,
            topic,
            args,
            options,
        } = self;
        async move {
            let topic = topic?;
            let payload = args.build()?;
            let (reply, rx) = oneshot::channel();
            session
                .send(Command::Publish {
                    topic,
                    payload,
                    options,
                    reply,
                })
                .await?;
            session.reply(rx).await
        }
        .boxed()
    }
}
