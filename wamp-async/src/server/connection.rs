//! One task per connection: it owns the byte stream and the server-side framer
//! (WebSocket or RawSocket) by value, passes received WAMP messages to the router task
//! and writes what the router task sends back.
//!
//! Both directions are bounded: received messages go into the router task's bounded
//! channel (when it is full, the task stops reading the socket), and outgoing ones come
//! from this connection's bounded channel, taken only while less than
//! [`OUT_HIGH_WATER`] bytes wait to be written. When the router closes the connection,
//! its sender is dropped after the last message: the task writes what is left, closes
//! the transport (the WebSocket closing handshake) and reports that it is gone, within
//! `close_timeout` of the router's decision even if the peer stopped reading.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::channel::{mpsc, oneshot};
use futures::future::{select, BoxFuture, Either};
use futures::io::{AsyncRead, AsyncWrite};
use futures::{FutureExt, StreamExt};
use tracing::Instrument;
use wamp_core::auth::ChannelBinding;
use wamp_core::value::Map;
use wamp_core::SerializerKind;

use super::config::{ListenTransport, ServerOptions};
use super::gate::InputGate;
use super::http::{RequestGate, Verdict};
use super::hub::{ActiveGuard, Admission, CloseNote, Opened, ServerCtx, ToRouter};
use super::listener::ListenerSpec;
use crate::framer::{Framer, FramerEvent, SendError};
use crate::outbox::Outbox;
use crate::read_buf::with_read_buf;
use crate::runtime::{with_deadline, BoxStream, Runtime, SocketAddress};

/// Above this many bytes waiting to be written, no more messages are taken from the
/// router task (they wait in the bounded channel, then in the router).
const OUT_HIGH_WATER: usize = 64 * 1024;

/// Turns of the task before it yields to other tasks.
const BUDGET: usize = 64;
/// Outgoing messages taken in one turn.
const BATCH: usize = 64;
/// How long closing the byte stream (a TLS close_notify) may take at the end.
const LINGER: Duration = Duration::from_secs(1);

/// Starts the task for an accepted stream.
pub(crate) fn spawn<R: Runtime>(
    ctx: &ServerCtx<R>,
    spec: Arc<ListenerSpec>,
    stream: BoxStream,
    peer: SocketAddress,
) {
    let (guard, full) = match ctx.admit() {
        Admission::Serve(guard) => (guard, false),
        Admission::Refuse(guard) => (guard, true),
        Admission::Drop => {
            tracing::warn!(
                %peer,
                max = ctx.options.max_connections,
                "far over the connection limit: dropping a connection"
            );
            return;
        }
    };
    let key = ctx.next_key();
    let span = tracing::debug_span!("wamp.connection", listener = %spec.label, %peer, key);
    let deadline = ctx.rt.now() + ctx.options.handshake_timeout;
    let start = Start {
        ctx: ctx.clone(),
        spec,
        peer,
        key,
        full,
        guard,
        deadline,
    };
    // The task is the connection itself where there is no TLS: a spawned future is as
    // large as its largest state for as long as it lives, and this one lives as long as
    // the connection, so nothing but `Conn` is in it.
    let task = match start.spec.tls.is_some() {
        false => match start.into_conn(stream, None) {
            Some(conn) => conn.instrument(span).boxed(),
            None => return,
        },
        true => tls_then_serve(start, stream).instrument(span).boxed(),
    };
    ctx.rt.spawn(task);
}

/// What a connection task needs before its stream is ready.
struct Start<R: Runtime> {
    ctx: ServerCtx<R>,
    spec: Arc<ListenerSpec>,
    peer: SocketAddress,
    key: u64,
    /// Over the connection limit: refuse it in the transport handshake.
    full: bool,
    /// Counts the connection until its task is over.
    guard: ActiveGuard,
    /// For TLS and the transport handshake together.
    deadline: Instant,
}

/// Completes the TLS handshake (within the handshake deadline, or until the router
/// stops), then serves the connection.
async fn tls_then_serve<R: Runtime>(start: Start<R>, stream: BoxStream) {
    let Some(tls) = start.spec.tls.clone() else {
        return;
    };
    // Boxed: a TLS handshake's state is large, and this future keeps its largest state
    // for as long as the connection lives.
    let handshake = Box::pin(with_deadline(
        &start.ctx.rt,
        start.deadline,
        tls.accept(stream),
    ));
    let (stream, binding) = match select(handshake, start.ctx.stopped()).await {
        Either::Left((Some(Ok(accepted)), _)) => accepted,
        Either::Left((Some(Err(error)), _)) => {
            tracing::debug!(%error, "TLS handshake failed");
            return;
        }
        Either::Left((None, _)) => {
            tracing::debug!("TLS handshake timed out");
            return;
        }
        Either::Right(_) => return,
    };
    if let Some(conn) = start.into_conn(stream, binding) {
        conn.await;
    }
}

impl<R: Runtime> Start<R> {
    /// The connection task for a ready stream (`None` if no framer can be made).
    fn into_conn(self, stream: BoxStream, binding: Option<ChannelBinding>) -> Option<Conn<R>> {
        let Start {
            ctx,
            spec,
            peer,
            key,
            full,
            guard,
            deadline,
        } = self;
        if full {
            tracing::warn!(
                max = ctx.options.max_connections,
                "at the connection limit: refusing a connection"
            );
        }
        let framer = match spec.framer(ctx.rt.now(), full) {
            Ok(framer) => framer,
            Err(error) => {
                // Checked when the listener was made, so this does not happen.
                tracing::error!(%error, "cannot make the framer");
                return None;
            }
        };
        let request = match &spec.transport {
            ListenTransport::WebSocket { path } => Some(RequestGate::new(path.clone(), full)),
            ListenTransport::RawSocket => None,
        };
        let stop = Some(Box::pin(ctx.stopped()) as Pin<Box<dyn Future<Output = ()> + Send>>);
        // The context is taken apart, not cloned: what this task holds is what an idle
        // connection costs.
        let ServerCtx {
            rt,
            to_router,
            options,
            ..
        } = ctx;
        Some(Conn {
            rt,
            options,
            stop,
            to_router,
            spec,
            key,
            peer,
            binding,
            io: stream,
            framer,
            request,
            pending: VecDeque::new(),
            outbound: None,
            close: None,
            close_note: None,
            gate: None,
            serializer: None,
            opened: false,
            reported: false,
            handshake_deadline: Some(deadline),
            linger_deadline: None,
            eof: false,
            out: Outbox::default(),
            phase: Phase::Running,
            sleep: None,
            _guard: guard,
        })
    }
}

/// How the task ends.
enum Phase {
    Running,
    /// The transport is over: write what is left, then close the stream.
    Flushing {
        deadline: Instant,
    },
    /// Tell the router task (after the messages still waiting for it).
    Reporting,
    Done,
}

struct Conn<R: Runtime> {
    rt: R,
    options: Arc<ServerOptions>,
    /// Until open: the router stopping ends the connection.
    stop: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    to_router: mpsc::Sender<ToRouter>,
    spec: Arc<ListenerSpec>,
    key: u64,
    peer: SocketAddress,
    binding: Option<ChannelBinding>,

    io: BoxStream,
    framer: Framer,
    /// A WebSocket's request head, held until its path is checked.
    request: Option<RequestGate>,
    /// Inputs for the router task waiting for room in its channel.
    pending: VecDeque<ToRouter>,
    /// The router task's messages for this connection, once open.
    outbound: Option<mpsc::Receiver<Bytes>>,
    /// Fires when the router closes the connection.
    close: Option<oneshot::Receiver<CloseNote>>,
    /// The WebSocket close code and reason the router asked for.
    close_note: CloseNote,
    /// Held by the router task while this connection's input is paused.
    gate: Option<Arc<InputGate>>,
    /// What received frames are decoded with, once open.
    serializer: Option<SerializerKind>,
    opened: bool,
    reported: bool,

    handshake_deadline: Option<Instant>,
    /// Set when the router closed the connection: by then it must be gone.
    linger_deadline: Option<Instant>,
    eof: bool,
    out: Outbox,
    phase: Phase,
    sleep: Option<(Instant, BoxFuture<'static, ()>)>,
    /// The connection counts until its task is over.
    _guard: ActiveGuard,
}

impl<R: Runtime> Conn<R> {
    /// One turn: returns whether anything happened.
    fn turn(&mut self, cx: &mut Context<'_>) -> bool {
        let now = self.rt.now();
        let mut progress = false;
        if let Phase::Running = self.phase {
            if let Some(stop) = &mut self.stop {
                if stop.poll_unpin(cx).is_ready() {
                    tracing::debug!(
                        "the router is stopping; dropping a connection in its handshake"
                    );
                    self.phase = Phase::Done;
                    return true;
                }
            }
            if let Some(close) = &mut self.close {
                if let Poll::Ready(note) = close.poll_unpin(cx) {
                    self.close = None;
                    self.close_note = note.ok().flatten();
                    self.linger_deadline = Some(now + self.options.close_timeout);
                    progress = true;
                }
            }
            progress |= self.poll_to_router(cx);
            // Backpressure: nothing more is read while the router task has no room, or
            // while what this connection sends feeds a congested one.
            if self.pending.is_empty() && self.gate.as_ref().is_none_or(|g| g.poll_open(cx)) {
                progress |= with_read_buf(|buf| self.poll_read(cx, now, buf));
            }
            if self.out.len() < OUT_HIGH_WATER {
                progress |= self.poll_outbound(cx, now);
            }
            self.pump(now);
        }
        if let Phase::Running | Phase::Flushing { .. } = self.phase {
            progress |= self.poll_write(cx, now);
        }
        progress |= self.poll_timer(cx);
        if let Phase::Reporting = self.phase {
            progress |= self.poll_report(cx);
        }
        progress
    }

    // ---- input -------------------------------------------------------------------

    fn poll_read(&mut self, cx: &mut Context<'_>, now: Instant, buf: &mut [u8]) -> bool {
        if self.eof || self.framer.is_done() {
            return false;
        }
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Pending => false,
            Poll::Ready(Ok(0)) => {
                self.eof = true;
                if self.request.is_some() {
                    // Gone before its request was complete.
                    self.phase = Phase::Reporting;
                } else {
                    self.framer.handle_eof(now, None);
                }
                true
            }
            Poll::Ready(Ok(n)) => {
                let n = n.min(buf.len());
                match &mut self.request {
                    None => self.framer.handle_input(now, &buf[..n]),
                    Some(request) => match request.input(&buf[..n]) {
                        Verdict::NeedMore => {}
                        Verdict::Pass(head) => {
                            self.request = None;
                            self.framer.handle_input(now, &head);
                        }
                        Verdict::Refuse { response, why } => {
                            tracing::debug!(%why, "refused the upgrade request");
                            self.request = None;
                            self.out.push(response);
                            self.phase = Phase::Flushing {
                                deadline: now + LINGER,
                            };
                        }
                    },
                }
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

    /// Takes the router task's messages for this connection.
    fn poll_outbound(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut progress = false;
        for _ in 0..BATCH {
            let Some(outbound) = &mut self.outbound else {
                break;
            };
            match outbound.poll_next_unpin(cx) {
                Poll::Ready(Some(message)) => {
                    progress = true;
                    self.send(now, message);
                    self.collect_output();
                    if self.out.len() >= OUT_HIGH_WATER {
                        break;
                    }
                }
                Poll::Ready(None) => {
                    // The router is done with the connection and everything it sent is
                    // taken: close the transport.
                    progress = true;
                    self.outbound = None;
                    match self.close_note.take() {
                        None => self.framer.close(now),
                        Some((code, reason)) => self.framer.close_with(now, code, &reason),
                    }
                }
                Poll::Pending => break,
            }
        }
        progress
    }

    fn send(&mut self, now: Instant, message: Bytes) {
        match self.framer.send_message(message) {
            Ok(()) => {}
            Err(SendError::TooLarge { size, max }) => {
                // The router cannot know a RawSocket client's limit; a message the client
                // refuses to take cannot be skipped silently either.
                tracing::warn!(
                    size,
                    max,
                    "a message exceeds the client's announced limit; closing the connection"
                );
                self.framer.close(now);
            }
            Err(SendError::Failed(why)) => {
                tracing::debug!(%why, "the transport refused a message");
            }
        }
    }

    /// Hands `input` to the router task at once if its channel has room, else queues it
    /// behind what already waits (so a connection that keeps up holds no queue).
    fn send_to_router(&mut self, input: ToRouter) {
        if !self.pending.is_empty() {
            self.pending.push_back(input);
            return;
        }
        match self.to_router.try_send(input) {
            Ok(()) => {}
            Err(e) if e.is_full() => self.pending.push_back(e.into_inner()),
            // The router task is gone; `poll_to_router` finds out on the next turn.
            Err(e) => self.pending.push_back(e.into_inner()),
        }
    }

    /// Sends what waits for the router task, as far as its channel has room.
    fn poll_to_router(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while !self.pending.is_empty() {
            match self.to_router.poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    if let Some(input) = self.pending.pop_front() {
                        // Room was just reserved, so this succeeds.
                        let _ = self.to_router.start_send(input);
                    }
                    progress = true;
                }
                Poll::Ready(Err(_)) => {
                    // The router task is gone: nobody is left to serve this connection.
                    self.pending.clear();
                    self.phase = Phase::Done;
                    return true;
                }
                Poll::Pending => break,
            }
        }
        if self.pending.is_empty() && self.pending.capacity() > 0 {
            self.pending = VecDeque::new();
        }
        progress
    }

    // ---- the framer --------------------------------------------------------------

    /// Moves the framer's output where it goes.
    fn pump(&mut self, now: Instant) {
        while let Some(event) = self.framer.poll_event() {
            match event {
                FramerEvent::Open(serializer) => self.on_open(serializer),
                FramerEvent::Closed(error) => match error {
                    Some(error) => tracing::debug!(%error, "transport closed"),
                    None => tracing::debug!("transport closed"),
                },
            }
        }
        while let Some(bytes) = self.framer.poll_message() {
            if let Some(serializer) = self.serializer {
                // Decoded here, beside the router task rather than in it.
                let message = serializer.decode(bytes).map_err(|e| e.to_string());
                let frame = ToRouter::Frame {
                    key: self.key,
                    message,
                };
                self.send_to_router(frame);
            }
        }
        self.collect_output();
        if self.framer.is_done() {
            if let Phase::Running = self.phase {
                self.phase = Phase::Flushing {
                    deadline: now + LINGER,
                };
            }
        }
    }

    fn collect_output(&mut self) {
        while let Some(bytes) = self.framer.poll_transmit() {
            self.out.push(bytes);
        }
    }

    fn on_open(&mut self, serializer: SerializerKind) {
        self.opened = true;
        self.serializer = Some(serializer);
        self.handshake_deadline = None;
        self.stop = None;
        let (outbound_tx, outbound) = mpsc::channel(self.options.outbound_buffer);
        let (close_tx, close) = oneshot::channel();
        let gate = Arc::new(InputGate::default());
        self.outbound = Some(outbound);
        self.close = Some(close);
        self.gate = Some(gate.clone());
        tracing::debug!(%serializer, "transport open");
        self.pending.push_back(ToRouter::Open(Box::new(Opened {
            key: self.key,
            serializer,
            peer: self.peer.clone(),
            details: self.transport_details(serializer),
            binding: self.binding.take(),
            outbound: outbound_tx,
            close: close_tx,
            gate,
        })));
    }

    /// What the session meta API reports about the transport (Crossbar's keys).
    fn transport_details(&self, serializer: SerializerKind) -> Map {
        let mut details = Map::new();
        details.insert("channel_type".into(), self.spec.channel_type.into());
        details.insert("channel_framing".into(), self.spec.framing().into());
        details.insert("channel_serializer".into(), serializer.name().into());
        details.insert("peer".into(), self.peer.to_string().into());
        details.insert("is_server".into(), true.into());
        details.insert("is_secure".into(), self.spec.tls.is_some().into());
        if let ListenTransport::WebSocket { .. } = self.spec.transport {
            details.insert("websocket_protocol".into(), serializer.subprotocol().into());
        }
        details
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
        if let Phase::Flushing { .. } = self.phase {
            if Pin::new(&mut self.io).poll_close(cx).is_ready() {
                self.phase = Phase::Reporting;
                return true;
            }
        }
        progress
    }

    fn write_failed(&mut self, now: Instant, why: String) {
        self.out.clear();
        if let Phase::Running = self.phase {
            self.eof = true;
            self.framer.handle_eof(now, Some(why));
            self.pump(now);
        } else {
            self.phase = Phase::Reporting;
        }
    }

    // ---- time --------------------------------------------------------------------

    fn next_deadline(&self) -> Option<Instant> {
        let flushing = match self.phase {
            Phase::Flushing { deadline } => Some(deadline),
            _ => None,
        };
        let framer = match self.phase {
            Phase::Running => self.framer.poll_timeout(),
            _ => None,
        };
        [
            framer,
            self.handshake_deadline,
            self.linger_deadline,
            flushing,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        if let Phase::Reporting | Phase::Done = self.phase {
            self.sleep = None;
            return false;
        }
        let Some(deadline) = self.next_deadline() else {
            self.sleep = None;
            return false;
        };
        // A timer that fires no later than the deadline is kept (auto-ping's deadline
        // moves with every message).
        if self.sleep.as_ref().is_none_or(|(at, _)| *at > deadline) {
            self.sleep = Some((deadline, self.rt.sleep_until(deadline)));
        }
        let Some((at, sleep)) = &mut self.sleep else {
            return false;
        };
        if sleep.poll_unpin(cx).is_pending() {
            return false;
        }
        let now = self.rt.now().max(*at);
        self.sleep = None;
        self.on_deadline(now);
        true
    }

    fn on_deadline(&mut self, now: Instant) {
        if self.handshake_deadline.is_some_and(|d| d <= now) {
            tracing::debug!(after = ?self.options.handshake_timeout, "transport handshake timed out");
            self.phase = Phase::Reporting;
            return;
        }
        if self.linger_deadline.is_some_and(|d| d <= now) {
            tracing::debug!(
                after = ?self.options.close_timeout,
                "the peer did not take its last messages in time; dropping the connection"
            );
            self.phase = Phase::Reporting;
            return;
        }
        match self.phase {
            Phase::Flushing { deadline } if deadline <= now => self.phase = Phase::Reporting,
            Phase::Running => {
                self.framer.handle_timeout(now);
                self.pump(now);
            }
            _ => {}
        }
    }

    // ---- the end -----------------------------------------------------------------

    /// Tells the router task the transport is gone, after everything received before.
    fn poll_report(&mut self, cx: &mut Context<'_>) -> bool {
        if self.opened && !self.reported {
            self.reported = true;
            self.pending.push_back(ToRouter::Closed { key: self.key });
        }
        let progress = self.poll_to_router(cx);
        if self.pending.is_empty() {
            self.phase = Phase::Done;
            return true;
        }
        progress
    }
}

// The task never relies on its own address.
impl<R: Runtime> Unpin for Conn<R> {}

impl<R: Runtime> Future for Conn<R> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        for _ in 0..BUDGET {
            let progress = this.turn(cx);
            if let Phase::Done = this.phase {
                return Poll::Ready(());
            }
            if !progress {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
