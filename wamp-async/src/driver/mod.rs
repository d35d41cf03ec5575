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
use std::time::Duration;

use wamp_proto::Instant;

use bytes::Bytes;
use futures::channel::{mpsc, oneshot};
use futures::StreamExt;
use wamp_proto::session::{CloseReason, Session as CoreSession};
use wamp_proto::{serializer::SerializerKind, RegistrationId, RequestId, SubscriptionId, Uri};

use crate::command::{Answer, Control, Queued};
use crate::error::{ConnectError, Error, IoError, TransportError};
use crate::framer::{Framer, FramerEvent, SendError};
use crate::join::JoinConfig;
use crate::pump::{run_turns, Pump, Turn};
use crate::queue::QueueTx;
use crate::register::Handler;
use crate::runtime::{BoxStream, Runtime};
use crate::session::SessionDetails;
use crate::subscribe::Event;

use dispatch::{Running, Waiting};

/// Above this many bytes waiting to be written, no new work is taken.
const OUT_HIGH_WATER: usize = 256 * 1024;
/// Commands (or answers) taken in one turn.
const BATCH: usize = 32;
/// Capacity of the channel procedure handlers answer through.
const ANSWER_BUFFER: usize = 64;

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

pub(crate) struct Driver<R: Runtime> {
    rt: R,
    /// The byte stream, the framer and what waits to be written.
    pump: Pump,
    join: JoinConfig,
    transport: String,
    /// The core session; each request carries the handle waiting for it as its token
    /// (`None` for what needs no answer), so the loop keeps no map of requests.
    session: Option<CoreSession<Option<Waiting>>>,
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
            pump: Pump::new(io, framer),
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
        if !self.pump.is_flushing() {
            // Reading is never held back by a full output: what arrives (results,
            // events, invocations) makes no output of its own beyond the bounded
            // handlers, and a client that stopped reading while the router stopped
            // reading it would hold both ends until one was cut as a slow consumer.
            progress |= self.pump.poll_read(cx, now);
            if self.pump.out.len() < OUT_HIGH_WATER {
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
            self.settle(now);
        }
        progress |= self.poll_write(cx, now);
        progress |= self.poll_timer(cx);
        progress
    }

    // ---- input -------------------------------------------------------------------

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
                    self.settle(now);
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
            self.settle(now);
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
            self.settle(now);
        }
        progress
    }

    // ---- the machines ------------------------------------------------------------

    /// Moves everything between the framer, the session and the handles until quiet.
    fn settle(&mut self, now: Instant) {
        loop {
            while let Some(event) = self.pump.framer.poll_event() {
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
            while let Some(message) = self.pump.framer.poll_message() {
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
                for bytes in frames {
                    self.send_frame(now, bytes);
                }
                // One at a time: a request's token stays with the session until its
                // Reply is polled, and the events before it (progressive results) need it.
                while let Some(event) = self.session.as_mut().and_then(|s| s.poll_event()) {
                    more = true;
                    self.on_event(now, event);
                }
            }
            self.pump.collect_output();
            if !more {
                break;
            }
        }
        if self.close_reason.is_some() && self.pump.framer.is_done() {
            self.pump.begin_flush(now);
        }
    }

    fn on_transport_open(&mut self, now: Instant, serializer: SerializerKind) {
        self.open_deadline = None;
        self.peer_max = self.pump.framer.peer_max_message_len();
        tracing::debug!(serializer = %serializer, "transport open");
        let config = match self.join.session_config(serializer) {
            Ok(mut config) => {
                if let Some(probe) = self.pump.framer.session_probe() {
                    config.liveness_probe = Some(probe);
                }
                config
            }
            Err(e) => {
                self.fail_connect(e);
                self.pump.framer.close(now);
                return;
            }
        };
        let mut session = CoreSession::with_tokens(config, self.rt.rng());
        session.set_peer_max_message_len(self.peer_max);
        if let Err(e) = session.connect(now) {
            self.fail_connect(ConnectError::Config(e.to_string()));
            self.pump.framer.close(now);
            return;
        }
        self.serializer = Some(serializer);
        self.session = Some(session);
    }

    /// Hands an encoded message to the framer.
    fn send_frame(&mut self, now: Instant, bytes: Bytes) {
        match self.pump.framer.send_message(bytes) {
            Ok(()) => {}
            Err(SendError::TooLarge { size, max }) => {
                // Requests are size-checked before they reach the session; only large
                // options can end up here, and the message's request cannot be told
                // from its bytes. Failing the connection is the only honest answer.
                tracing::error!(size, max, "a message exceeds the router's limit; closing");
                self.transport_error = Some(TransportError::Io(IoError::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("a message of {size} bytes exceeds the router's limit of {max}"),
                )));
                self.pump.framer.close(now);
            }
            Err(SendError::Failed(why)) => {
                tracing::debug!(%why, "the transport refused a message");
            }
        }
    }

    // ---- output ------------------------------------------------------------------

    fn poll_write(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        match self.pump.poll_write(cx, now) {
            Ok(progress) => progress,
            Err(_) => {
                // The framer has been told: the session hears the transport is lost.
                self.settle(now);
                true
            }
        }
    }

    // ---- time --------------------------------------------------------------------

    fn next_deadline(&self) -> Option<Instant> {
        [
            self.pump.framer.poll_timeout(),
            self.session.as_ref().and_then(CoreSession::poll_timeout),
            self.open_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Arms the timer for the next deadline; when it fires, acts on it.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = self.next_deadline();
        match self.pump.poll_timer(cx, &self.rt, deadline) {
            Some(now) => {
                self.on_deadline(now);
                true
            }
            None => false,
        }
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
            self.pump.framer.close(now);
        }
        self.pump.framer.handle_timeout(now);
        if let Some(session) = &mut self.session {
            session.handle_timeout(now);
        }
        if !self.pump.is_flushing() {
            self.settle(now);
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
            _ => self.pump.framer.close(now),
        }
        self.settle(now);
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
        run_turns(cx, |cx| {
            let progress = this.turn(cx);
            Turn {
                progress,
                done: this.pump.is_finished(),
            }
        })
    }
}
