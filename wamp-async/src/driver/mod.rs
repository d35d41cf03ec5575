//! The connection loop: one task that owns the byte stream, the framer and the core
//! session by value, written once against futures-io and the [`Runtime`] trait.
//!
//! Each turn it takes input (bytes from the socket, commands from handles, answers
//! from procedure handlers, notices from dropped handles, an expired deadline), then
//! drains every machine's output (`poll_event`, `poll_message`, `poll_transmit`,
//! `poll_timeout`) and writes what is queued. It stops taking new work while more than
//! [`OUT_HIGH_WATER`] bytes wait to be written, so a slow socket pushes back on the
//! application through the bounded command channel.

mod dispatch;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::channel::{mpsc, oneshot};
use futures::future::BoxFuture;
use futures::io::{AsyncRead, AsyncWrite};
use futures::{FutureExt, StreamExt};
use wamp_core::session::{CloseReason, Session as CoreSession};
use wamp_core::{RegistrationId, RequestId, SerializerKind, SubscriptionId, Uri};

use crate::command::{Answer, Control, Queued};
use crate::error::{ConnectError, Error, TransportError};
use crate::framer::{Framer, FramerEvent, SendError};
use crate::join::JoinConfig;
use crate::outbox::Outbox;
use crate::queue::QueueTx;
use crate::read_buf::with_read_buf;
use crate::register::Handler;
use crate::runtime::{BoxStream, Runtime};
use crate::session::SessionDetails;
use crate::subscribe::Event;

use dispatch::{PendingLeave, Running, Waiting};

/// Above this many bytes waiting to be written, no new work is taken.
const OUT_HIGH_WATER: usize = 256 * 1024;
/// Turns of the loop before it yields to other tasks.
const BUDGET: usize = 64;
/// Commands (or answers) taken in one turn.
const BATCH: usize = 32;
/// Capacity of the channel procedure handlers answer through.
const ANSWER_BUFFER: usize = 64;
/// How long closing the byte stream (a TLS close_notify) may take at the end.
const LINGER: Duration = Duration::from_secs(1);

/// What `connect` waits for: the joined session, or why not and whether the transport
/// had opened (a RawSocket refusal before that may be the serializer's).
pub(crate) type JoinReply = oneshot::Sender<Result<SessionDetails, (ConnectError, bool)>>;

/// The channels between the handles and the loop.
pub(crate) struct Channels {
    pub(crate) commands: mpsc::Receiver<Queued>,
    pub(crate) control: mpsc::UnboundedReceiver<Control>,
    pub(crate) joined: JoinReply,
    pub(crate) closed: oneshot::Sender<CloseReason>,
}

/// Where the loop is connected, and until when the transport handshake may run.
pub(crate) struct Target {
    /// The transport URL, for logs and [`SessionDetails`].
    pub(crate) transport: String,
    pub(crate) connect_deadline: Instant,
    pub(crate) connect_timeout: Duration,
}

/// How the loop ends.
enum Shutdown {
    /// Running.
    No,
    /// The transport is over: write what is left, then close the stream.
    Flushing { deadline: Instant },
    /// Finished.
    Done,
}

pub(crate) struct Driver<R: Runtime> {
    rt: R,
    io: BoxStream,
    framer: Framer,
    join: JoinConfig,
    transport: String,
    session: Option<CoreSession>,
    serializer: Option<SerializerKind>,
    /// The RawSocket peer's message limit, once open.
    peer_max: Option<usize>,

    commands: mpsc::Receiver<Queued>,
    commands_open: bool,
    control: mpsc::UnboundedReceiver<Control>,
    answers_tx: mpsc::Sender<Answer>,
    answers: mpsc::Receiver<Answer>,

    joined: Option<JoinReply>,
    /// The connect deadline for the transport handshake.
    open_deadline: Option<Instant>,
    connect_timeout: Duration,
    transport_error: Option<TransportError>,
    transport_closed: bool,
    closed_tx: Option<oneshot::Sender<CloseReason>>,
    close_reason: Option<CloseReason>,
    leave_waiters: Vec<oneshot::Sender<Result<CloseReason, Error>>>,
    /// A leave asked for while handlers were still running: GOODBYE waits for their
    /// answers (so it cannot overtake a YIELD) until the deadline.
    pending_leave: Option<PendingLeave>,

    eof: bool,
    out: Outbox,
    shutdown: Shutdown,
    sleep: Option<(Instant, BoxFuture<'static, ()>)>,

    pending: HashMap<RequestId, Waiting>,
    /// Call handle keys to the requests they made.
    calls: HashMap<u64, RequestId>,
    registrations: HashMap<RegistrationId, std::sync::Arc<dyn Handler>>,
    subscriptions: HashMap<SubscriptionId, Vec<(u64, QueueTx<Event>)>>,
    running: HashMap<RequestId, Running>,

    span: tracing::Span,
}

impl<R: Runtime> Driver<R> {
    pub(crate) fn new(
        rt: R,
        io: BoxStream,
        framer: Framer,
        join: JoinConfig,
        target: Target,
        channels: Channels,
    ) -> Self {
        let Target {
            transport,
            connect_deadline,
            connect_timeout,
        } = target;
        let (answers_tx, answers) = mpsc::channel(ANSWER_BUFFER);
        let span = tracing::info_span!(
            "wamp.session",
            transport = %transport,
            realm = %join.realm,
            session = tracing::field::Empty,
        );
        Driver {
            rt,
            io,
            framer,
            join,
            transport,
            session: None,
            serializer: None,
            peer_max: None,
            commands: channels.commands,
            commands_open: true,
            control: channels.control,
            answers_tx,
            answers,
            joined: Some(channels.joined),
            open_deadline: Some(connect_deadline),
            connect_timeout,
            transport_error: None,
            transport_closed: false,
            closed_tx: Some(channels.closed),
            close_reason: None,
            leave_waiters: Vec::new(),
            pending_leave: None,
            eof: false,
            out: Outbox::default(),
            shutdown: Shutdown::No,
            sleep: None,
            pending: HashMap::new(),
            calls: HashMap::new(),
            registrations: HashMap::new(),
            subscriptions: HashMap::new(),
            running: HashMap::new(),
            span,
        }
    }

    /// One turn: returns whether anything happened.
    fn turn(&mut self, cx: &mut Context<'_>) -> bool {
        let now = self.rt.now();
        let mut progress = false;
        if let Some(joined) = &mut self.joined {
            // `connect` gave up (timeout, dropped): nobody will use this session.
            if joined.poll_canceled(cx).is_ready() {
                self.joined = None;
                tracing::debug!("connect was abandoned; closing");
                self.abandon(now);
                progress = true;
            }
        }
        if matches!(self.shutdown, Shutdown::No) {
            if self.out.len() < OUT_HIGH_WATER {
                progress |= self.poll_read(cx, now);
                // Handler answers first: an application that leaves right after its
                // handler returned must not have GOODBYE overtake that YIELD.
                progress |= self.poll_answers(cx, now);
                let drained = self.poll_commands(cx, now, &mut progress);
                // Notices from dropped handles come after every command sent before
                // them: a call's cancel must find the call already made.
                if drained {
                    progress |= self.poll_control(cx, now);
                }
            }
            self.pump(now);
        }
        progress |= self.poll_write(cx, now);
        progress |= self.poll_timer(cx);
        progress
    }

    // ---- input -------------------------------------------------------------------

    fn poll_read(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        if self.eof || self.framer.is_done() {
            return false;
        }
        with_read_buf(|buf| self.read_into(cx, now, buf))
    }

    fn read_into(&mut self, cx: &mut Context<'_>, now: Instant, buf: &mut [u8]) -> bool {
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Pending => false,
            Poll::Ready(Ok(0)) => {
                self.eof = true;
                self.framer.handle_eof(now, None);
                true
            }
            Poll::Ready(Ok(n)) => {
                let data = &buf[..n.min(buf.len())];
                self.framer.handle_input(now, data);
                true
            }
            Poll::Ready(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => true,
            Poll::Ready(Err(e)) => {
                self.eof = true;
                self.framer.handle_eof(now, Some(e.to_string()));
                true
            }
        }
    }

    /// Takes commands; returns whether the channel is drained (nothing more now).
    fn poll_commands(&mut self, cx: &mut Context<'_>, now: Instant, progress: &mut bool) -> bool {
        if !self.commands_open {
            return true;
        }
        for _ in 0..BATCH {
            match self.commands.poll_next_unpin(cx) {
                Poll::Ready(Some(Queued { command, _permit })) => {
                    *progress = true;
                    self.on_command(now, command);
                    self.pump(now);
                    // Its bytes are in the output now (bounded by the high-water mark):
                    // the permit goes back to the budget here.
                }
                Poll::Ready(None) => {
                    *progress = true;
                    self.commands_open = false;
                    self.on_handles_gone(now);
                    return true;
                }
                Poll::Pending => return true,
            }
        }
        false
    }

    fn poll_control(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut progress = false;
        while let Poll::Ready(Some(control)) = self.control.poll_next_unpin(cx) {
            progress = true;
            self.on_control(now, control);
            self.pump(now);
        }
        progress
    }

    fn poll_answers(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut progress = false;
        for _ in 0..BATCH {
            // The loop holds a sender itself, so this channel never ends.
            let Poll::Ready(Some(answer)) = self.answers.poll_next_unpin(cx) else {
                break;
            };
            progress = true;
            self.on_answer(now, answer);
            self.pump(now);
        }
        progress
    }

    // ---- the machines ------------------------------------------------------------

    /// Moves everything between the framer, the session and the handles until quiet.
    fn pump(&mut self, now: Instant) {
        self.leave_when_drained(now);
        loop {
            while let Some(event) = self.framer.poll_event() {
                match event {
                    FramerEvent::Open(serializer) => self.on_transport_open(now, serializer),
                    FramerEvent::Closed(error) => {
                        if let Some(error) = &error {
                            tracing::debug!(%error, "transport closed");
                        }
                        self.transport_error = self.transport_error.take().or(error);
                        self.transport_closed = true;
                    }
                }
            }
            while let Some(message) = self.framer.poll_message() {
                if let Some(session) = &mut self.session {
                    session.handle_bytes(now, message);
                }
            }
            if self.transport_closed && self.close_reason.is_none() {
                match &mut self.session {
                    Some(session) => session.handle_transport_closed(now),
                    None => {
                        let error = self.transport_error.clone().unwrap_or(TransportError::Eof);
                        self.fail_connect(ConnectError::Transport(error));
                        self.finish_session(now, CloseReason::TransportLost);
                    }
                }
            }
            let mut more = false;
            if let Some(session) = &mut self.session {
                let mut frames = Vec::new();
                while let Some(bytes) = session.poll_transmit() {
                    frames.push(bytes);
                }
                let mut events = Vec::new();
                while let Some(event) = session.poll_event() {
                    events.push(event);
                }
                for bytes in frames {
                    self.send_frame(now, bytes);
                }
                more = !events.is_empty();
                for event in events {
                    self.on_event(now, event);
                }
            }
            while let Some(bytes) = self.framer.poll_transmit() {
                self.out.push(bytes);
            }
            if !more {
                break;
            }
        }
        if self.close_reason.is_some() && self.framer.is_done() {
            if let Shutdown::No = self.shutdown {
                self.shutdown = Shutdown::Flushing {
                    deadline: now + LINGER,
                };
            }
        }
    }

    fn on_transport_open(&mut self, now: Instant, serializer: SerializerKind) {
        self.open_deadline = None;
        self.peer_max = self.framer.peer_max_message_len();
        tracing::debug!(serializer = %serializer, "transport open");
        let config = match self.join.session_config(serializer) {
            Ok(config) => config,
            Err(e) => {
                self.fail_connect(e);
                self.framer.close(now);
                return;
            }
        };
        let rng = Box::new(rand_core::UnwrapErr(rand_core::OsRng));
        let mut session = CoreSession::new(config, rng);
        if let Err(e) = session.connect(now) {
            self.fail_connect(ConnectError::Config(e.to_string()));
            self.framer.close(now);
            return;
        }
        self.serializer = Some(serializer);
        self.session = Some(session);
    }

    /// Hands an encoded message to the framer.
    fn send_frame(&mut self, now: Instant, bytes: Bytes) {
        match self.framer.send_message(bytes) {
            Ok(()) => {}
            Err(SendError::TooLarge { size, max }) => {
                // Requests are size-checked before they reach the session; only large
                // options can end up here, and the message's request cannot be told
                // from its bytes. Failing the connection is the only honest answer.
                tracing::error!(size, max, "a message exceeds the router's limit; closing");
                self.transport_error = Some(TransportError::Io(format!(
                    "a message of {size} bytes exceeds the router's limit of {max}"
                )));
                self.framer.close(now);
            }
            Err(SendError::Failed(why)) => {
                tracing::debug!(%why, "the transport refused a message");
            }
        }
    }

    // ---- output ------------------------------------------------------------------

    fn poll_write(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let progress = match self.out.poll_write(&mut self.io, cx) {
            Ok(progress) => progress,
            Err(why) => {
                self.write_failed(now, why);
                return true;
            }
        };
        if let Shutdown::Flushing { deadline } = self.shutdown {
            let closed = Pin::new(&mut self.io).poll_close(cx).is_ready();
            if closed || self.rt.now() >= deadline {
                self.shutdown = Shutdown::Done;
                return true;
            }
        }
        progress
    }

    fn write_failed(&mut self, now: Instant, why: String) {
        self.out.clear();
        if matches!(self.shutdown, Shutdown::Flushing { .. }) {
            self.shutdown = Shutdown::Done;
            return;
        }
        self.eof = true;
        self.framer.handle_eof(now, Some(why));
        self.pump(now);
    }

    // ---- time --------------------------------------------------------------------

    fn next_deadline(&self) -> Option<Instant> {
        let flushing = match self.shutdown {
            Shutdown::Flushing { deadline } => Some(deadline),
            _ => None,
        };
        [
            self.framer.poll_timeout(),
            self.session.as_ref().and_then(CoreSession::poll_timeout),
            self.open_deadline,
            self.pending_leave.as_ref().map(|leave| leave.deadline),
            flushing,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Arms the timer for the next deadline; when it fires, acts on it.
    ///
    /// A timer that fires no later than the next deadline is kept: a deadline that
    /// moves later on every message (auto-ping's idle interval) then costs one early
    /// wake-up per interval instead of a new timer per message.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.next_deadline() else {
            self.sleep = None;
            return false;
        };
        let keep = self.sleep.as_ref().is_some_and(|(at, _)| *at <= deadline);
        if !keep {
            self.sleep = Some((deadline, self.rt.sleep_until(deadline)));
        }
        let Some((at, sleep)) = &mut self.sleep else {
            return false;
        };
        if sleep.poll_unpin(cx).is_pending() {
            return false;
        }
        let at = *at;
        self.sleep = None;
        // A timer may fire a hair early; the machines compare with `now`, and act only
        // on deadlines that have passed.
        let now = self.rt.now().max(at);
        self.on_deadline(now);
        true
    }

    fn on_deadline(&mut self, now: Instant) {
        if self.open_deadline.is_some_and(|d| d <= now) {
            self.open_deadline = None;
            tracing::debug!(after = ?self.connect_timeout, "transport handshake timed out");
            self.transport_error = Some(TransportError::HandshakeTimeout(self.connect_timeout));
            self.fail_connect(ConnectError::Timeout {
                stage: "connecting",
                after: self.connect_timeout,
            });
            self.framer.close(now);
        }
        self.framer.handle_timeout(now);
        if let Some(session) = &mut self.session {
            session.handle_timeout(now);
        }
        if matches!(self.shutdown, Shutdown::No) {
            self.pump(now);
        }
    }

    // ---- the end -----------------------------------------------------------------

    /// `connect` failed: tell it, once.
    fn fail_connect(&mut self, error: ConnectError) {
        if let Some(joined) = self.joined.take() {
            tracing::info!(%error, "connect failed");
            let _ = joined.send(Err((error, self.session.is_some())));
        }
    }

    /// `connect` was abandoned before the session was handed out.
    fn abandon(&mut self, now: Instant) {
        match &mut self.session {
            Some(session) if session.is_established() => {
                let _ = session.leave(now, Uri::CLOSE_NORMAL, None);
            }
            _ => self.framer.close(now),
        }
        self.pump(now);
    }

    /// Every handle is gone: leave the realm.
    fn on_handles_gone(&mut self, now: Instant) {
        tracing::debug!("every session handle was dropped; leaving");
        if self.joined.is_some() {
            return;
        }
        self.abandon(now);
    }
}

// The loop never relies on its own address (nothing is pinned structurally).
impl<R: Runtime> Unpin for Driver<R> {}

impl<R: Runtime> Future for Driver<R> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let span = this.span.clone();
        let _entered = span.enter();
        for _ in 0..BUDGET {
            let progress = this.turn(cx);
            if matches!(this.shutdown, Shutdown::Done) {
                return Poll::Ready(());
            }
            if !progress {
                return Poll::Pending;
            }
        }
        // Still busy: let other tasks run, then continue.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
