//! The application's handle on a joined session.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::channel::{mpsc, oneshot};
use futures::future::{FutureExt, Shared};
use futures::SinkExt;
use wamp_proto::session::CloseReason;
use wamp_proto::{serializer::SerializerKind, Details, SessionId, Uri};

use crate::budget::ByteBudget;
use crate::call::Call;
use crate::command::{Command, Control, Queued};
use crate::error::{Error, IntoUri};
use crate::publish::Publish;
use crate::register::{Handler, RegisterOptions, Registration};
use crate::subscribe::{SubscribeOptions, Subscription};

/// Who the session is, as the router's WELCOME said.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SessionDetails {
    /// The session ID.
    pub id: SessionId,
    /// The realm joined.
    pub realm: Uri,
    /// The authid the router assigned.
    pub authid: Option<String>,
    /// The authrole the router assigned.
    pub authrole: Option<String>,
    /// The authentication method used.
    pub authmethod: Option<String>,
    /// Who authenticated the session.
    pub authprovider: Option<String>,
    /// The serializer of the connection.
    pub serializer: SerializerKind,
    /// The transport URL.
    pub transport: String,
    /// The complete WELCOME details (router roles and features, `authextra`, ...).
    pub welcome: Details,
}

/// Resolves when the session has ended, with why; see [`Session::closed`].
#[derive(Clone)]
pub struct Closed {
    inner: Shared<oneshot::Receiver<CloseReason>>,
}

impl Future for Closed {
    type Output = CloseReason;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CloseReason> {
        // A loop that vanished without a word (its runtime shut down) lost the transport.
        self.inner
            .poll_unpin(cx)
            .map(|r| r.unwrap_or(CloseReason::TransportLost))
    }
}

impl fmt::Debug for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Closed").finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) commands: mpsc::Sender<Queued>,
    /// Bounds the bytes of the commands waiting for the loop.
    pub(crate) budget: Arc<ByteBudget>,
    pub(crate) control: mpsc::UnboundedSender<Control>,
    pub(crate) details: SessionDetails,
    pub(crate) closed: Closed,
    pub(crate) stream_buffer: usize,
    keys: AtomicU64,
}

/// A joined WAMP session: cheap to clone, usable from any task.
///
/// Every method sends a command to the connection loop that owns the protocol state and
/// returns a future for the outcome. Requests made after the session ended fail with
/// [`Error::SessionClosed`]. When the last handle (including registrations,
/// subscriptions and pending calls) is dropped, the loop leaves the realm.
///
/// ```no_run
/// # async fn example(session: wamp_runtime::Session) -> Result<(), wamp_runtime::Error> {
/// let sum: i64 = session.call("com.example.add").args(&(2, 3)).await?.first()?;
/// session.publish("com.example.sum").args(&(sum,)).acknowledge(true).await?;
/// session.leave().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.inner.details.id)
            .field("realm", &self.inner.details.realm)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(
        commands: mpsc::Sender<Queued>,
        budget: Arc<ByteBudget>,
        control: mpsc::UnboundedSender<Control>,
        details: SessionDetails,
        closed: oneshot::Receiver<CloseReason>,
        stream_buffer: usize,
    ) -> Session {
        Session {
            inner: Arc::new(Inner {
                commands,
                budget,
                control,
                details,
                closed: Closed {
                    inner: closed.shared(),
                },
                stream_buffer,
                keys: AtomicU64::new(1),
            }),
        }
    }

    /// The session ID.
    pub fn id(&self) -> SessionId {
        self.inner.details.id
    }

    /// Who the session is (authid, authrole, realm, ...).
    pub fn details(&self) -> &SessionDetails {
        &self.inner.details
    }

    /// The serializer of the connection.
    pub fn serializer(&self) -> SerializerKind {
        self.inner.details.serializer
    }

    /// Calls `procedure`; set arguments and options on the returned builder, then
    /// `.await` it (or turn it into a stream of progressive results with
    /// [`Call::progress`]).
    pub fn call(&self, procedure: impl IntoUri) -> Call {
        Call::new(self.clone(), procedure.into_uri())
    }

    /// Publishes to `topic`; set arguments and options on the returned builder, then
    /// `.await` it.
    pub fn publish(&self, topic: impl IntoUri) -> Publish {
        Publish::new(self.clone(), topic.into_uri())
    }

    /// Registers `handler` for `procedure`. The registration lasts until the returned
    /// [`Registration`] is dropped or unregistered, or the session ends.
    pub async fn register<H: Handler>(
        &self,
        procedure: impl IntoUri,
        handler: H,
    ) -> Result<Registration, Error> {
        self.register_shared(procedure, RegisterOptions::default(), Arc::new(handler))
            .await
    }

    /// Registers `handler` for `procedure` with options (match policy, invocation
    /// policy, ...).
    pub async fn register_with<H: Handler>(
        &self,
        procedure: impl IntoUri,
        options: RegisterOptions,
        handler: H,
    ) -> Result<Registration, Error> {
        self.register_shared(procedure, options, Arc::new(handler))
            .await
    }

    /// Registers a shared handler: a component keeps one `Arc` and registers it again
    /// on every new session.
    pub async fn register_shared(
        &self,
        procedure: impl IntoUri,
        options: RegisterOptions,
        handler: Arc<dyn Handler>,
    ) -> Result<Registration, Error> {
        crate::register::register(self, procedure.into_uri()?, options, handler).await
    }

    /// Subscribes to `topic`. The subscription lasts until the returned
    /// [`Subscription`] is dropped or unsubscribed, or the session ends.
    pub async fn subscribe(&self, topic: impl IntoUri) -> Result<Subscription, Error> {
        self.subscribe_with(topic, SubscribeOptions::default())
            .await
    }

    /// Subscribes to `topic` with options (match policy, buffer size, ...).
    pub async fn subscribe_with(
        &self,
        topic: impl IntoUri,
        options: SubscribeOptions,
    ) -> Result<Subscription, Error> {
        crate::subscribe::subscribe(self, topic.into_uri()?, options).await
    }

    /// Leaves the realm (`wamp.close.normal`) and resolves when the GOODBYE exchange
    /// has ended (or timed out), with how the session closed.
    ///
    /// Procedure handlers still running get to answer first: GOODBYE is sent once they
    /// have (so it never overtakes their YIELD), or after the join's `goodbye_timeout`
    /// if one does not.
    pub async fn leave(&self) -> Result<CloseReason, Error> {
        self.leave_with(Uri::CLOSE_NORMAL, None).await
    }

    /// Leaves the realm with a reason URI and an optional message.
    pub async fn leave_with(
        &self,
        reason: impl IntoUri,
        message: Option<&str>,
    ) -> Result<CloseReason, Error> {
        let reason = reason.into_uri()?;
        let (reply, rx) = oneshot::channel();
        let command = Command::Leave {
            reason,
            message: message.map(str::to_owned),
            reply,
        };
        if self.send(command).await.is_err() {
            // Already over: leaving is done.
            return Ok(self.closed().await);
        }
        match rx.await {
            Ok(result) => result,
            Err(_) => Ok(self.closed().await),
        }
    }

    /// A future that resolves when the session (and its connection) has ended, for any
    /// reason, with the reason. Any number of them can be taken, from any clone.
    pub fn closed(&self) -> Closed {
        self.inner.closed.clone()
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.close_reason().is_some()
    }

    /// Why the session ended, if it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.closed().now_or_never()
    }

    pub(crate) fn next_key(&self) -> u64 {
        self.inner.keys.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends a command, waiting for room in the byte budget, then in the channel.
    pub(crate) async fn send(&self, command: Command) -> Result<(), Error> {
        let permit = self.inner.budget.acquire(command.queued_bytes()).await;
        let mut commands = self.inner.commands.clone();
        let queued = Queued {
            command,
            _permit: permit,
        };
        match commands.send(queued).await {
            Ok(()) => Ok(()),
            Err(_) => Err(self.closed_error().await),
        }
    }

    /// The error for a request the loop can no longer take.
    pub(crate) async fn closed_error(&self) -> Error {
        Error::SessionClosed(self.closed().await)
    }

    /// Sends a notice from a `Drop`.
    pub(crate) fn notify(&self, control: Control) {
        // If the loop is gone, so is what the notice would undo.
        let _ = self.inner.control.unbounded_send(control);
    }

    /// The reply of the loop, or the session's end if it dropped the reply.
    pub(crate) async fn reply<T>(
        &self,
        rx: oneshot::Receiver<Result<T, Error>>,
    ) -> Result<T, Error> {
        match rx.await {
            Ok(result) => result,
            Err(_) => Err(self.closed_error().await),
        }
    }
}
