//! One task per connection: it owns the byte stream and the server-side framer
//! (WebSocket or RawSocket) by value, passes received WAMP messages to the router task
//! and writes what the router task sends back.
//!
//! Both directions are bounded: received messages go into the router task's bounded
//! channel, a batch per read (when it is full, or when the router holds this
//! connection's input, the task stops reading the socket), and outgoing ones come from
//! this connection's [outlet](super::outlet), bounded in bytes, taken only while less
//! than [`OUT_HIGH_WATER`] bytes wait to be written. When the router closes the
//! connection, its outlet is closed after the last message: the task writes what is
//! left, closes the transport (the WebSocket closing handshake) and reports that it is
//! gone, within `close_timeout` of the router's decision even if the peer stopped
//! reading.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use wamp_proto::Instant;

use bytes::Bytes;
use futures::channel::{mpsc, oneshot};
use futures::future::{select, Either};
use futures::FutureExt;
use tracing::Instrument;
use wamp_proto::auth::ChannelBinding;
use wamp_proto::serializer::SerializerKind;
use wamp_proto::Map;

use super::config::{ListenTransport, ServerOptions};
use super::gate::InputGate;
use super::hub::{ActiveGuard, Admission, CloseNote, Opened, ServerCtx, ToRouter};
use super::listener::ListenerSpec;
use super::outlet::{Outlet, OutletReceiver, Taken};
use crate::framer::{FramerEvent, SendError};
use crate::pump::{run_turns, Pump, Turn};
use crate::runtime::{with_deadline, BoxStream, Runtime, SocketAddress};

/// Above this many bytes waiting to be written, no more messages are taken from the
/// router task (they wait in the outlet, then in the router).
const OUT_HIGH_WATER: usize = 64 * 1024;

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
        client_cert: None,
    };
    // The task is the connection itself where there is no TLS: a spawned future is as
    // large as its largest state for as long as it lives, and this one lives as long as
    // the connection, so nothing but `Conn` is in it.
    let task = match (start.spec.tls.is_some(), start.spec.web.clone()) {
        (false, None) => match start.into_conn(stream, None) {
            Some(conn) => conn.instrument(span).boxed(),
            None => return,
        },
        (false, Some(web)) => super::web::serve(start, stream, None, web)
            .instrument(span)
            .boxed(),
        (true, _) => tls_then_serve(start, stream).instrument(span).boxed(),
    };
    ctx.rt.spawn(task);
}

/// What a connection task needs before its stream is ready.
pub(crate) struct Start<R: Runtime> {
    pub(crate) ctx: ServerCtx<R>,
    pub(crate) spec: Arc<ListenerSpec>,
    pub(crate) peer: SocketAddress,
    key: u64,
    /// Over the connection limit: refuse it in the transport handshake.
    full: bool,
    /// Counts the connection until its task is over.
    guard: ActiveGuard,
    /// For TLS and the transport handshake together.
    pub(crate) deadline: Instant,
    /// The SHA-1 fingerprint of the client's verified TLS certificate, if it sent one.
    client_cert: Option<String>,
}

/// Completes the TLS handshake (within the handshake deadline, or until the router
/// stops), then serves the connection.
async fn tls_then_serve<R: Runtime>(mut start: Start<R>, stream: BoxStream) {
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
    let (stream, binding, client_cert) = match select(handshake, start.ctx.stopped()).await {
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
    start.client_cert = client_cert;
    if let Some(web) = start.spec.web.clone() {
        return super::web::serve(start, stream, binding, web).await;
    }
    if let Some(conn) = start.into_conn(stream, binding) {
        conn.await;
    }
}

impl<R: Runtime> Start<R> {
    /// Serves a ready stream as a WAMP connection until it ends.
    pub(crate) async fn serve(self, stream: BoxStream, binding: Option<ChannelBinding>) {
        if let Some(conn) = self.into_conn(stream, binding) {
            conn.await;
        }
    }

    /// The connection task for a ready stream (`None` if no framer can be made).
    fn into_conn(self, stream: BoxStream, binding: Option<ChannelBinding>) -> Option<Conn<R>> {
        let ctx = self.ctx;
        if self.full {
            tracing::warn!(
                max = ctx.options.max_connections,
                "at the connection limit: refusing a connection"
            );
        }
        let framer = match self.spec.framer(ctx.rt.now(), self.full) {
            Ok(framer) => framer,
            Err(error) => {
                // Checked when the listener was made, so this does not happen.
                tracing::error!(%error, "cannot make the framer");
                return None;
            }
        };
        let stop = Some(Box::pin(ctx.stopped()) as Pin<Box<dyn Future<Output = ()> + Send>>);
        // The context is taken apart, not cloned: what this task holds is what an idle
        // connection costs.
        let ServerCtx {
            rt,
            to_router,
            room,
            options,
            ..
        } = ctx;
        Some(Conn {
            rt,
            options,
            stop,
            to_router,
            spec: self.spec,
            key: self.key,
            peer: self.peer,
            binding,
            client_cert: self.client_cert,
            pump: Pump::new(stream, framer),
            pending: VecDeque::new(),
            outbound: None,
            taken: VecDeque::new(),
            room,
            close: None,
            close_note: None,
            gate: None,
            serializer: None,
            opened: false,
            reported: false,
            handshake_deadline: Some(self.deadline),
            linger_deadline: None,
            phase: Phase::Serving,
            _guard: self.guard,
        })
    }
}

/// How the task ends.
enum Phase {
    /// The transport is up, or (once the pump is flushing) over and being flushed.
    Serving,
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
    /// The SHA-1 fingerprint of the client's verified TLS certificate.
    client_cert: Option<String>,

    /// The byte stream, the framer and what waits to be written.
    pump: Pump,
    /// Inputs for the router task waiting for room in its channel.
    pending: VecDeque<ToRouter>,
    /// The router task's messages for this connection, once open.
    outbound: Option<OutletReceiver>,
    /// Where taken messages go on their way to the framer (kept between takes).
    taken: VecDeque<Bytes>,
    /// Tells the router task that a full outlet has room again.
    room: mpsc::UnboundedSender<u64>,
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
    phase: Phase,
    /// The connection counts until its task is over.
    _guard: ActiveGuard,
}

impl<R: Runtime> Conn<R> {
    /// One turn: returns whether anything happened.
    fn turn(&mut self, cx: &mut Context<'_>) -> bool {
        let now = self.rt.now();
        let mut progress = false;
        if self.is_running() {
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
                progress |= self.pump.poll_read(cx, now);
            }
            if self.pump.out.len() < OUT_HIGH_WATER {
                progress |= self.poll_outbound(cx, now);
            }
            self.settle(now);
        }
        if let Phase::Serving = self.phase {
            progress |= self.poll_write(cx, now);
        }
        progress |= self.poll_timer(cx);
        if let Phase::Reporting = self.phase {
            progress |= self.poll_report(cx);
        }
        progress
    }

    // ---- input -------------------------------------------------------------------

    /// Whether the transport is up (not flushing, not ending).
    fn is_running(&self) -> bool {
        matches!(self.phase, Phase::Serving) && !self.pump.is_flushing()
    }

    /// Takes the router task's messages for this connection: everything its outlet
    /// holds, in one go.
    fn poll_outbound(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let Some(outlet) = &mut self.outbound else {
            return false;
        };
        let mut taken = std::mem::take(&mut self.taken);
        let Poll::Ready(Taken { room, closed }) = outlet.poll_take(cx, &mut taken) else {
            self.taken = taken;
            return false;
        };
        for message in taken.drain(..) {
            self.send(now, message);
        }
        // Kept for the next take, unless a burst grew it.
        if taken.capacity() <= 64 {
            self.taken = taken;
        }
        self.collect_output();
        if room {
            // The router task holds this connection's messages until told.
            let _ = self.room.unbounded_send(self.key);
        }
        if closed {
            // The router is done with the connection and everything it sent is taken:
            // close the transport.
            self.outbound = None;
            match self.close_note.take() {
                None => self.pump.framer.close(now),
                Some((code, reason)) => self.pump.framer.close_with(now, code, &reason),
            }
        }
        true
    }

    fn send(&mut self, now: Instant, message: Bytes) {
        match self.pump.framer.send_message(message) {
            Ok(()) => {}
            Err(SendError::TooLarge { size, max }) => {
                // The router cannot know a RawSocket client's limit; a message the client
                // refuses to take cannot be skipped silently either.
                tracing::warn!(
                    size,
                    max,
                    "a message exceeds the client's announced limit; closing the connection"
                );
                self.pump.framer.close(now);
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
    fn settle(&mut self, now: Instant) {
        while let Some(event) = self.pump.framer.poll_event() {
            match event {
                FramerEvent::Open(serializer) => self.on_open(serializer),
                FramerEvent::Closed(error) => match error {
                    Some(error) => tracing::debug!(%error, "transport closed"),
                    None => tracing::debug!("transport closed"),
                },
            }
        }
        // Everything one read brought goes to the router task as one batch (one channel
        // operation and one wake-up for many messages), decoded here, beside the router
        // task rather than in it.
        let mut messages = Vec::new();
        let mut size = 0;
        while let Some(bytes) = self.pump.framer.poll_message() {
            size += bytes.len();
            if let Some(serializer) = self.serializer {
                messages.push(serializer.decode(bytes).map_err(|e| e.to_string()));
            }
        }
        if !messages.is_empty() {
            self.send_to_router(ToRouter::Frames {
                key: self.key,
                messages,
                bytes: size,
            });
        }
        self.collect_output();
        if self.pump.framer.is_done() && self.is_running() {
            self.pump.begin_flush(now);
        }
    }

    fn collect_output(&mut self) {
        self.pump.collect_output();
    }

    fn on_open(&mut self, serializer: SerializerKind) {
        self.opened = true;
        self.serializer = Some(serializer);
        self.handshake_deadline = None;
        self.stop = None;
        let (outlet, outbound) = Outlet::new(self.options.outbound_bytes);
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
            client_cert: self.client_cert.take(),
            auth: self.spec.auth.clone(),
            outlet,
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
        let progress = match self.pump.poll_write(cx, now) {
            Ok(progress) => progress,
            Err(_) => {
                // The framer has been told: the router hears the transport is gone.
                self.settle(now);
                true
            }
        };
        if self.pump.is_finished() {
            self.phase = Phase::Reporting;
            return true;
        }
        progress
    }

    // ---- time --------------------------------------------------------------------

    fn next_deadline(&self) -> Option<Instant> {
        let framer = match self.is_running() {
            true => self.pump.framer.poll_timeout(),
            false => None,
        };
        [framer, self.handshake_deadline, self.linger_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        if !matches!(self.phase, Phase::Serving) {
            return false;
        }
        let deadline = self.next_deadline();
        let Some(now) = self.pump.poll_timer(cx, &self.rt, deadline) else {
            return false;
        };
        if self.pump.is_finished() {
            // The flush ran out of time.
            self.phase = Phase::Reporting;
        } else {
            self.on_deadline(now);
        }
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
        if self.is_running() {
            self.pump.framer.handle_timeout(now);
            self.settle(now);
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
        run_turns(cx, |cx| {
            let progress = this.turn(cx);
            Turn {
                progress,
                done: matches!(this.phase, Phase::Done),
            }
        })
    }
}
