//! Serving procedures: [`Handler`], the [`Invocation`] it receives, the [`Yield`] it
//! returns, and the [`Registration`] handle.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::SinkExt;
use serde::Serialize;
use wamp_proto::{
    serializer::SerializerKind, Details, InvokePolicy, MatchPolicy, Options, Payload,
    RegistrationId, RequestId, SessionId, Uri, Value,
};

use crate::command::{Answer, Command, Control};
use crate::error::{encode_payload, Error, WampError};
use crate::session::Session;

/// A procedure implementation: an async function from an [`Invocation`] to a
/// [`Yield`] or a [`WampError`].
///
/// Any `Fn(Invocation) -> impl Future<Output = Result<Yield, WampError>>` closure is a
/// handler. Each invocation runs in its own task, so a slow one does not hold up the
/// connection or other invocations. `?` on an [`Error`] inside a handler turns it into
/// a [`WampError`] (arguments that do not decode become `wamp.error.invalid_argument`).
///
/// ```no_run
/// # async fn example(session: wamp_runtime::Session) -> Result<(), wamp_runtime::Error> {
/// use wamp_runtime::{Invocation, WampError, Yield};
///
/// let registration = session
///     .register("com.example.add", |inv: Invocation| async move {
///         let (a, b): (i64, i64) = inv.args()?;
///         if a < 0 {
///             return Err(WampError::with_message("com.example.negative", "a < 0"));
///         }
///         Ok(Yield::args(&(a + b,))?)
///     })
///     .await?;
/// # Ok(()) }
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Runs one invocation.
    fn call(&self, invocation: Invocation) -> BoxFuture<'static, Result<Yield, WampError>>;
}

impl<F, Fut> Handler for F
where
    F: Fn(Invocation) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Yield, WampError>> + Send + 'static,
{
    fn call(&self, invocation: Invocation) -> BoxFuture<'static, Result<Yield, WampError>> {
        self(invocation).boxed()
    }
}

/// A procedure's result: positional and keyword arguments.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Yield {
    pub(crate) payload: Payload,
}

impl Yield {
    /// No results.
    pub fn empty() -> Yield {
        Yield::default()
    }

    /// Positional results (anything that serializes as a list).
    pub fn args<A: Serialize + ?Sized>(args: &A) -> Result<Yield, Error> {
        Ok(Yield {
            payload: encode_payload::<A, ()>(DEFAULT, Some(args), None)?,
        })
    }

    /// Keyword results (anything that serializes as a map).
    pub fn kwargs<K: Serialize + ?Sized>(kwargs: &K) -> Result<Yield, Error> {
        Ok(Yield {
            payload: encode_payload::<(), K>(DEFAULT, None, Some(kwargs))?,
        })
    }

    /// Positional and keyword results.
    pub fn new<A: Serialize + ?Sized, K: Serialize + ?Sized>(
        args: &A,
        kwargs: &K,
    ) -> Result<Yield, Error> {
        Ok(Yield {
            payload: encode_payload(DEFAULT, Some(args), Some(kwargs))?,
        })
    }

    /// Results already encoded (for example the invocation's own arguments, to echo
    /// them).
    pub fn from_payload(payload: Payload) -> Yield {
        Yield { payload }
    }

    /// The results as encoded.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }
}

/// A [`Yield`] does not know the session's serializer, so it is encoded in the default
/// one and converted once if the session uses another; encode with
/// [`Invocation::serializer`] and use [`Yield::from_payload`] to avoid that.
const DEFAULT: SerializerKind = wamp_proto::Payload::DEFAULT_FORMAT;

/// Resolves when the router interrupts the invocation (the caller canceled, or the
/// call timed out). Clone it into work the handler starts elsewhere. It never resolves
/// for an invocation that ends without an interrupt.
#[derive(Clone)]
pub struct Interrupted {
    inner: Shared<oneshot::Receiver<()>>,
}

impl Interrupted {
    pub(crate) fn new() -> (oneshot::Sender<()>, Interrupted) {
        let (tx, rx) = oneshot::channel();
        (tx, Interrupted { inner: rx.shared() })
    }

    /// Whether the interrupt has come.
    pub fn is_interrupted(&self) -> bool {
        matches!(self.inner.clone().now_or_never(), Some(Ok(())))
    }
}

impl Future for Interrupted {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.inner.poll_unpin(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(()),
            // The invocation ended without an interrupt: this never resolves.
            Poll::Ready(Err(_)) | Poll::Pending => Poll::Pending,
        }
    }
}

impl fmt::Debug for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interrupted")
            .field("interrupted", &self.is_interrupted())
            .finish()
    }
}

/// One call of a registered procedure, as the handler sees it.
///
/// # Interrupts
///
/// When the router sends INTERRUPT (the caller canceled, or its timeout passed), the
/// connection loop first resolves [`interrupted`](Invocation::interrupted), then drops
/// the handler's future (so every `.await` in the handler is a cancellation point) and
/// answers ERROR `wamp.error.canceled`. Work the handler started elsewhere can watch a
/// clone of [`Interrupted`] to stop too.
pub struct Invocation {
    pub(crate) request: RequestId,
    pub(crate) registration: RegistrationId,
    pub(crate) procedure: Uri,
    pub(crate) details: Details,
    pub(crate) payload: Payload,
    pub(crate) serializer: SerializerKind,
    pub(crate) answers: mpsc::Sender<Answer>,
    pub(crate) interrupted: Interrupted,
}

debug_fields!(Invocation {
    request,
    procedure,
    details,
    payload,
    ..
});

impl Invocation {
    /// The procedure called: for a pattern registration the concrete URI the caller
    /// used.
    pub fn procedure(&self) -> &Uri {
        &self.procedure
    }

    /// The registration invoked.
    pub fn registration(&self) -> RegistrationId {
        self.registration
    }

    /// The INVOCATION's request ID.
    pub fn request(&self) -> RequestId {
        self.request
    }

    payload_decoders!(
        "Decodes the positional arguments.",
        "Decodes the keyword arguments.",
        "Decodes the first positional argument."
    );

    /// The arguments as encoded.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// The INVOCATION details.
    pub fn details(&self) -> &Details {
        &self.details
    }

    /// The caller's session, if disclosed.
    pub fn caller(&self) -> Option<SessionId> {
        self.details.caller()
    }

    /// The caller's authid, if disclosed.
    pub fn caller_authid(&self) -> Option<&str> {
        self.details.caller_authid()
    }

    /// The caller's authrole, if disclosed.
    pub fn caller_authrole(&self) -> Option<&str> {
        self.details.caller_authrole()
    }

    /// The caller's timeout, if the router forwards it.
    pub fn timeout(&self) -> Option<Duration> {
        self.details.timeout().map(Duration::from_millis)
    }

    /// Whether the caller accepts progressive results.
    pub fn receive_progress(&self) -> bool {
        self.details.receive_progress() == Some(true)
    }

    /// The session's serializer (to encode results without a conversion).
    pub fn serializer(&self) -> SerializerKind {
        self.serializer
    }

    /// A future that resolves if the router interrupts this invocation.
    pub fn interrupted(&self) -> Interrupted {
        self.interrupted.clone()
    }

    /// Sends a progressive result (pass `&()` for no kwargs). Fails with
    /// [`Error::Usage`] if the caller did not ask for progressive results. Waits while
    /// the connection is busy writing.
    pub async fn progress<A, K>(&self, args: &A, kwargs: &K) -> Result<(), Error>
    where
        A: Serialize + ?Sized,
        K: Serialize + ?Sized,
    {
        if !self.receive_progress() {
            return Err(Error::Usage(wamp_proto::session::UsageError::Invalid(
                "the caller did not ask for progressive results",
            )));
        }
        let payload = encode_payload(self.serializer, Some(args), Some(kwargs))?;
        let mut answers = self.answers.clone();
        answers
            .send(Answer::Progress {
                invocation: self.request,
                payload,
            })
            .await
            .map_err(|_| Error::SessionClosed(wamp_proto::session::CloseReason::TransportLost))
    }
}

/// Options for [`Session::register_with`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RegisterOptions {
    /// The REGISTER options sent.
    pub options: Options,
}

impl RegisterOptions {
    /// Default options: exact match, the router's default invocation policy.
    pub fn new() -> Self {
        RegisterOptions::default()
    }

    /// Matches procedures by prefix or wildcard pattern.
    #[must_use]
    pub fn match_policy(mut self, policy: MatchPolicy) -> Self {
        self.options = self.options.with_match_policy(policy);
        self
    }

    /// Shares the procedure with other callees, invoked by `policy`.
    #[must_use]
    pub fn invoke(mut self, policy: InvokePolicy) -> Self {
        self.options = self.options.with_invoke(policy);
        self
    }

    /// Asks the router to disclose callers to this callee.
    #[must_use]
    pub fn disclose_caller(mut self, disclose: bool) -> Self {
        self.options = self.options.with_disclose_caller(disclose);
        self
    }

    /// Asks the router to forward callers' timeouts.
    #[must_use]
    pub fn forward_timeout(mut self, forward: bool) -> Self {
        self.options = self.options.with_forward_timeout(forward);
        self
    }

    /// Sets any other REGISTER option.
    #[must_use]
    pub fn option(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.options.insert(key, value);
        self
    }
}

/// A registered procedure. Dropping it unregisters (without waiting); so does
/// [`unregister`](Registration::unregister), which waits for the router.
#[must_use = "dropping a Registration unregisters the procedure"]
pub struct Registration {
    session: Session,
    id: RegistrationId,
    procedure: Uri,
    active: bool,
}

debug_fields!(Registration { id, procedure });

impl Registration {
    /// The registration ID.
    pub fn id(&self) -> RegistrationId {
        self.id
    }

    /// The registered procedure (or pattern).
    pub fn procedure(&self) -> &Uri {
        &self.procedure
    }

    /// The session it belongs to.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Unregisters and waits for the router's answer.
    pub async fn unregister(mut self) -> Result<(), Error> {
        self.active = false;
        let (reply, rx) = oneshot::channel();
        self.session
            .send(Command::Unregister {
                registration: self.id,
                reply,
            })
            .await?;
        self.session.reply(rx).await
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.active {
            self.session.notify(Control::Unregister {
                registration: self.id,
            });
        }
    }
}

pub(crate) async fn register(
    session: &Session,
    procedure: Uri,
    options: RegisterOptions,
    handler: Arc<dyn Handler>,
) -> Result<Registration, Error> {
    let (reply, rx) = oneshot::channel();
    session
        .send(Command::Register {
            procedure: procedure.clone(),
            options: options.options,
            handler,
            reply,
        })
        .await?;
    let id = session.reply(rx).await?;
    Ok(Registration {
        session: session.clone(),
        id,
        procedure,
        active: true,
    })
}
