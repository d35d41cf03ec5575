//! Calling procedures: the [`Call`] builder, its [`CallResult`], and
//! [`ProgressStream`] for progressive results.

use std::future::IntoFuture;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::BoxFuture;
use futures::{FutureExt, Stream};
use wamp_proto::{CancelMode, Details, Options, Payload, Uri, Value};

use crate::args::ArgsBuilder;
use crate::command::{Command, Control, ReplySink};
use crate::error::Error;
use crate::queue::{queue, QueueRx};
use crate::session::Session;

/// The result of a call (or one progressive result).
#[derive(Debug, Clone, PartialEq)]
pub struct CallResult {
    pub(crate) details: Details,
    pub(crate) payload: Payload,
    pub(crate) progress: bool,
}

impl CallResult {
    payload_decoders!(
        "Decodes the positional results (a tuple, `Vec`, or a struct read from a list).",
        "Decodes the keyword results (a struct or map).",
        "Decodes the first positional result, the common case of a procedure returning \
         one value."
    );

    /// The RESULT details.
    pub fn details(&self) -> &Details {
        &self.details
    }

    /// The results as encoded.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// Whether this is a progressive (non-final) result.
    pub fn is_progress(&self) -> bool {
        self.progress
    }
}

/// A call being built; `.await` it for the result.
///
/// ```no_run
/// # async fn example(session: wamp_runtime::Session) -> Result<(), wamp_runtime::Error> {
/// use std::time::Duration;
/// use wamp_runtime::CancelMode;
///
/// let result = session
///     .call("com.example.add")
///     .args(&(2, 3))
///     .kwargs(&std::collections::HashMap::from([("round", true)]))
///     .timeout(Duration::from_secs(5))
///     .cancel_mode(CancelMode::Kill)
///     .await?;
/// let sum: i64 = result.first()?;
/// # Ok(()) }
/// ```
///
/// # Cancellation
///
/// Dropping the future (or the [`ProgressStream`]) before the result arrives sends
/// CANCEL with the [`cancel_mode`](Call::cancel_mode), `killnowait` by default: the
/// router interrupts the callee and nobody waits for its answer. (Crossbar.io never
/// answers a `skip` cancel; that is harmless here, since the outcome is discarded.)
#[must_use = "a call does nothing until awaited"]
pub struct Call {
    session: Session,
    procedure: Result<Uri, Error>,
    args: ArgsBuilder,
    options: Options,
    cancel_mode: CancelMode,
}

debug_fields!(Call {
    procedure,
    options,
    cancel_mode,
    ..
});

impl Call {
    pub(crate) fn new(session: Session, procedure: Result<Uri, Error>) -> Call {
        let args = ArgsBuilder::new(session.serializer());
        Call {
            session,
            procedure,
            args,
            options: Options::new(),
            cancel_mode: CancelMode::KillNoWait,
        }
    }

    args_setters!(
        "Sets the positional arguments: anything that serializes as a list (a tuple, \
         array or `Vec`).",
        "Sets the keyword arguments: anything that serializes as a map (a struct or map)."
    );

    /// Asks the router to cancel the call after `timeout` (the `timeout` option, in
    /// whole milliseconds); the call then fails with `wamp.error.canceled` or
    /// `wamp.error.timeout`, as the router says.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        let millis = u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.options = self.options.with_timeout(millis);
        self
    }

    /// Asks the router to disclose this caller's identity to the callee.
    pub fn disclose_me(mut self, disclose: bool) -> Self {
        self.options = self.options.with_disclose_me(disclose);
        self
    }

    /// The CANCEL mode used when the future is dropped before the result: `killnowait`
    /// (the default), `kill`, or `skip`.
    pub fn cancel_mode(mut self, mode: CancelMode) -> Self {
        self.cancel_mode = mode;
        self
    }

    /// Sets any other CALL option.
    pub fn option(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.options.insert(key, value);
        self
    }

    /// Asks for progressive results: the stream yields each of them
    /// ([`CallResult::is_progress`]), then the final result, then ends. A failed call
    /// yields its error last. Results the application does not read in time are
    /// dropped and reported as [`Error::Lagged`]; the final result is never dropped.
    pub fn progress(self) -> ProgressStream {
        let session = self.session;
        let key = session.next_key();
        let (tx, rx) = queue(session.inner.stream_buffer);
        let (procedure, args) = (self.procedure, self.args);
        let options = self.options.with_receive_progress(true);
        let sender = session.clone();
        let send = async move {
            let procedure = procedure?;
            let payload = args.build()?;
            sender
                .send(Command::Call {
                    key,
                    procedure,
                    payload,
                    options,
                    reply: ReplySink::Stream(tx),
                })
                .await
        }
        .boxed();
        ProgressStream {
            session,
            key,
            cancel_mode: self.cancel_mode,
            send: Some(send),
            rx,
            sent: false,
            done: false,
        }
    }
}

/// Sends CANCEL when dropped while armed.
struct CancelOnDrop {
    session: Session,
    key: u64,
    mode: CancelMode,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.session.notify(Control::CancelCall {
                key: self.key,
                mode: self.mode,
            });
        }
    }
}

impl IntoFuture for Call {
    type Output = Result<CallResult, Error>;
    type IntoFuture = BoxFuture<'static, Result<CallResult, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        let Call {
            session,
            procedure,
            args,
            options,
            cancel_mode,
        } = self;
        async move {
            let procedure = procedure?;
            let payload = args.build()?;
            let key = session.next_key();
            let (reply, rx) = oneshot::channel();
            let mut guard = CancelOnDrop {
                session: session.clone(),
                key,
                mode: cancel_mode,
                armed: false,
            };
            session
                .send(Command::Call {
                    key,
                    procedure,
                    payload,
                    options,
                    reply: ReplySink::Once(reply),
                })
                .await?;
            // From here the loop knows the call: dropping this future cancels it.
            guard.armed = true;
            let result = session.reply(rx).await;
            guard.armed = false;
            result
        }
        .boxed()
    }
}

/// The progressive results of a call, then its final result; see [`Call::progress`].
/// Dropping it before the end cancels the call.
#[must_use = "streams do nothing unless polled"]
pub struct ProgressStream {
    session: Session,
    key: u64,
    cancel_mode: CancelMode,
    /// Sends the CALL command; `None` once sent (or failed).
    send: Option<BoxFuture<'static, Result<(), Error>>>,
    rx: QueueRx<CallResult>,
    /// The loop has the call: dropping the stream now cancels it.
    sent: bool,
    done: bool,
}

debug_fields!(ProgressStream { cancel_mode, .. });

impl Stream for ProgressStream {
    type Item = Result<CallResult, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Some(send) = &mut self.send {
            let sent = std::task::ready!(send.as_mut().poll(cx));
            self.send = None;
            if let Err(e) = sent {
                self.done = true;
                return Poll::Ready(Some(Err(e)));
            }
            self.sent = true;
        }
        let item = std::task::ready!(Pin::new(&mut self.rx).poll_next(cx));
        if item.is_none() {
            self.done = true;
        }
        Poll::Ready(item)
    }
}

impl Drop for ProgressStream {
    fn drop(&mut self) {
        if self.sent && !self.done && !self.rx.is_terminated() {
            self.session.notify(Control::CancelCall {
                key: self.key,
                mode: self.cancel_mode,
            });
        }
    }
}
