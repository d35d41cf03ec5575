//! The router task: the one task that owns the sans-IO [`Router`] by value.
//!
//! Connection tasks send it what they receive over one bounded channel (a full channel
//! makes them stop reading their sockets). It hands each connection's messages to that
//! connection's [`Outlet`], bounded in bytes. When an outlet is full, the connection is
//! paused in the router (its messages wait in the router's own queue, bounded in bytes)
//! and resumed when its task reports room. When that queue passes
//! its high-water mark, the router holds the input of the connections that feed it
//! ([`RouterEvent::InputPaused`]): their tasks stop reading their sockets (an
//! [`InputGate`]) until it drains. A connection is cut as a slow consumer only when its
//! writer makes no progress for the write timeout, or its backlog passes the byte
//! budget, and it is told why. Other connections are never held up.
//!
//! Frames are decoded into messages by the connection tasks, so with a multi-threaded
//! runtime decoding runs on other cores beside this task; the routing decisions (and
//! the encoding of what the router sends) stay here, in the one owner of the router.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use wamp_proto::Instant;

use bytes::Bytes;
use futures::channel::{mpsc, oneshot};
use futures::future::Shared;
use futures::{FutureExt, StreamExt};
use wamp_proto::auth::ChannelBinding;
use wamp_proto::{message::Message, serializer::SerializerKind, SessionId, Uri};
use wamp_proto::{IdHashMap, Map};
use wamp_router::{ConnectionId, LeaveReason, Router, RouterEvent};
use wamp_transport_ws::CloseCode;

use super::gate::InputGate;
use super::listener::ListenerSpec;
use super::outlet::{Outlet, Pushed};
use super::{local, RouterStats, ServerOptions};
use crate::error::ConnectError;
use crate::join::JoinConfig;
use crate::pump::{run_turns, Alarm, Turn};
use crate::runtime::{Runtime, SocketAddress};
use crate::session::Session;

/// Inputs taken in one turn.
const BATCH: usize = 64;

/// What the router task receives: from connection tasks, listeners and handles.
pub(crate) enum ToRouter {
    /// A connection's transport handshake completed.
    Open(Box<Opened>),
    /// The WAMP messages one read brought on a connection, decoded by its task (or why
    /// one did not decode).
    Frames {
        key: u64,
        messages: Vec<Result<Message, String>>,
        /// Their encoded size, for the metrics.
        bytes: usize,
    },
    /// A connection's transport is gone (its task is ending).
    Closed { key: u64 },
    /// A listener stopped accepting.
    ListenerClosed,
    /// A handle wants an in-process session.
    ConnectLocal {
        join: JoinConfig,
        reply: oneshot::Sender<Result<Session, ConnectError>>,
    },
    /// A handle wants the numbers.
    Stats { reply: oneshot::Sender<RouterStats> },
    /// The metrics, in the Prometheus text format.
    Metrics { reply: oneshot::Sender<String> },
    /// A hook answered the router's question.
    Answer {
        request: wamp_proto::RequestId,
        answer: super::hooks::HookAnswer,
    },
    /// A handle asked the router to stop.
    Shutdown,
}

/// Asks the router task for something (`request` wraps the reply channel); the
/// default once the router task is gone.
pub(crate) async fn ask<T: Default>(
    to_router: &mpsc::Sender<ToRouter>,
    request: impl FnOnce(oneshot::Sender<T>) -> ToRouter,
) -> T {
    let (reply, answer) = oneshot::channel();
    if futures::SinkExt::send(&mut to_router.clone(), request(reply))
        .await
        .is_err()
    {
        return T::default();
    }
    answer.await.unwrap_or_default()
}

/// A connection that completed its transport handshake.
pub(crate) struct Opened {
    /// The connection task's own name for it (it does not know the router's yet).
    pub(crate) key: u64,
    pub(crate) serializer: SerializerKind,
    pub(crate) peer: SocketAddress,
    /// For the session meta API.
    pub(crate) details: Map,
    pub(crate) binding: Option<ChannelBinding>,
    /// The transport authentication of its listener, if it has one.
    pub(crate) auth: Option<Arc<str>>,
    /// The SHA-1 fingerprint of the client's verified TLS certificate.
    pub(crate) client_cert: Option<String>,
    /// Where the router task puts the connection's messages; closing it (after the last
    /// message) tells the task to close the transport.
    pub(crate) outlet: Outlet,
    /// Fired when the router closes the connection: from then on its task gives the
    /// peer `close_timeout` to take what is left. It carries the WebSocket close code
    /// and reason to use, if not a normal close.
    pub(crate) close: oneshot::Sender<CloseNote>,
    /// Held while the connection's input is paused by backpressure.
    pub(crate) gate: Arc<InputGate>,
}

/// How the router wants a transport closed: `None` normally, else a WebSocket close
/// code and reason (RawSocket has neither; its peer was told with ABORT).
pub(crate) type CloseNote = Option<(CloseCode, String)>;

/// What the accept loops, connection tasks and the router task share.
pub(crate) struct ServerCtx<R> {
    pub(crate) rt: R,
    pub(crate) to_router: mpsc::Sender<ToRouter>,
    /// Connection tasks report here (by key) that their full outlet has room again.
    pub(crate) room: mpsc::UnboundedSender<u64>,
    /// Resolves when the router stops: listeners stop accepting, connections still in
    /// their transport handshake give up.
    stop: Shared<oneshot::Receiver<()>>,
    next_key: Arc<AtomicU64>,
    active: Arc<AtomicUsize>,
    pub(crate) options: Arc<ServerOptions>,
    pub(crate) local_spec: Arc<ListenerSpec>,
}

impl<R: Clone> Clone for ServerCtx<R> {
    fn clone(&self) -> Self {
        ServerCtx {
            rt: self.rt.clone(),
            to_router: self.to_router.clone(),
            room: self.room.clone(),
            stop: self.stop.clone(),
            next_key: self.next_key.clone(),
            active: self.active.clone(),
            options: self.options.clone(),
            local_spec: self.local_spec.clone(),
        }
    }
}

impl<R> ServerCtx<R> {
    /// Resolves when the router stops.
    pub(crate) fn stopped(&self) -> impl Future<Output = ()> + Unpin + Send + 'static {
        self.stop.clone().map(|_| ())
    }

    pub(crate) fn next_key(&self) -> u64 {
        self.next_key.fetch_add(1, Ordering::Relaxed)
    }

    /// Counts a new connection, and says whether it may be served.
    pub(crate) fn admit(&self) -> Admission {
        let before = self.active.fetch_add(1, Ordering::Relaxed);
        let guard = ActiveGuard(self.active.clone());
        let max = self.options.max_connections;
        if before < max {
            Admission::Serve(guard)
        } else if before < max.saturating_add(max.max(64)) {
            Admission::Refuse(guard)
        } else {
            Admission::Drop
        }
    }
}

/// What happens to a new connection.
pub(crate) enum Admission {
    /// Served; it counts until the guard is dropped.
    Serve(ActiveGuard),
    /// Over the limit: told so (RawSocket error 4, HTTP 503), which costs a task until
    /// its handshake ends, so it counts too.
    Refuse(ActiveGuard),
    /// Far over the limit (a flood): dropped at once, without a word.
    Drop,
}

/// Holds one place in the connection count until dropped.
pub(crate) struct ActiveGuard(Arc<AtomicUsize>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The ends of the channels between the handles and the router task.
pub(crate) struct HubChannels {
    pub(crate) inbound: mpsc::Receiver<ToRouter>,
    /// Keys of connections whose full outlet has room again.
    pub(crate) room: mpsc::UnboundedReceiver<u64>,
    /// Canceled when the last handle is dropped.
    pub(crate) handles: oneshot::Receiver<()>,
    /// Dropped when the router task ends.
    pub(crate) done: oneshot::Sender<()>,
    /// Dropped to stop the listeners.
    pub(crate) stop: oneshot::Sender<()>,
    /// The application's authenticators and authorizers, by procedure.
    pub(crate) hooks: std::collections::HashMap<wamp_proto::Uri, super::hooks::Hook>,
}

/// Makes the context and the stop signal.
#[allow(clippy::type_complexity)] // the context and the ends only the router task holds
pub(crate) fn context<R: Runtime>(
    rt: R,
    options: ServerOptions,
) -> (
    ServerCtx<R>,
    mpsc::Receiver<ToRouter>,
    mpsc::UnboundedReceiver<u64>,
    oneshot::Sender<()>,
) {
    let (to_router, inbound) = mpsc::channel(options.inbound_buffer.max(1));
    let (room_tx, room) = mpsc::unbounded();
    let (stop_tx, stop) = oneshot::channel();
    let ctx = ServerCtx {
        rt,
        to_router,
        room: room_tx,
        stop: stop.shared(),
        next_key: Arc::new(AtomicU64::new(1)),
        active: Arc::new(AtomicUsize::new(0)),
        options: Arc::new(options),
        local_spec: Arc::new(ListenerSpec::in_process()),
    };
    (ctx, inbound, room, stop_tx)
}

/// A connection as the router task sees it.
struct Slot {
    peer: SocketAddress,
    /// Its messages go here; `None` once its task no longer takes them, or the router is
    /// done with it.
    outlet: Option<Outlet>,
    /// The outlet is full: the connection is paused in the router until its task
    /// reports room.
    waiting: bool,
    close: Option<oneshot::Sender<CloseNote>>,
    /// Why the router closes it, when it is not a normal close.
    close_note: CloseNote,
    gate: Arc<InputGate>,
    /// Messages it sent that arrived while the router held its input (they were on the
    /// way when the gate closed): bounded by the router task's inbound channel.
    held: VecDeque<Result<Message, String>>,
    /// The router closed it: close the outlet once everything queued is handed over.
    closing: bool,
}

pub(crate) struct Hub<R: Runtime> {
    ctx: ServerCtx<R>,
    router: Router,
    inbound: mpsc::Receiver<ToRouter>,
    conns: IdHashMap<ConnectionId, Slot>,
    keys: IdHashMap<u64, ConnectionId>,
    /// Keys of connections whose full outlet has room again.
    room: mpsc::UnboundedReceiver<u64>,
    /// Connections whose input was resumed with messages held for them.
    resumed: Vec<ConnectionId>,
    /// Connections given messages this turn: their tasks are woken once it ends.
    unannounced: Vec<ConnectionId>,
    alarm: Alarm,
    handles: Option<oneshot::Receiver<()>>,
    done: Option<oneshot::Sender<()>>,
    stop: Option<oneshot::Sender<()>>,
    listeners: usize,
    shutting_down: bool,
    hooks: std::collections::HashMap<wamp_proto::Uri, super::hooks::Hook>,
}

impl<R: Runtime> Hub<R> {
    pub(crate) fn new(
        ctx: ServerCtx<R>,
        router: Router,
        channels: HubChannels,
        listeners: usize,
    ) -> Self {
        Hub {
            ctx,
            router,
            inbound: channels.inbound,
            conns: IdHashMap::default(),
            keys: IdHashMap::default(),
            room: channels.room,
            resumed: Vec::new(),
            unannounced: Vec::new(),
            alarm: Alarm::default(),
            handles: Some(channels.handles),
            done: Some(channels.done),
            stop: Some(channels.stop),
            listeners,
            shutting_down: false,
            hooks: channels.hooks,
        }
    }

    /// One turn: returns whether anything happened.
    fn turn(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        if let Some(handles) = &mut self.handles {
            if handles.poll_unpin(cx).is_ready() {
                self.handles = None;
                tracing::info!("every router handle was dropped; shutting down");
                let now = self.ctx.rt.now();
                self.begin_shutdown(now);
                progress = true;
            }
        }
        // The task holds a sender itself (in `ctx`), so this channel never ends either.
        while let Poll::Ready(Some(key)) = self.room.poll_next_unpin(cx) {
            self.on_room(key);
            progress = true;
        }
        for _ in 0..BATCH {
            // The task holds a sender itself (in `ctx`), so the channel never ends.
            let Poll::Ready(Some(input)) = self.inbound.poll_next_unpin(cx) else {
                break;
            };
            let now = self.ctx.rt.now();
            self.on_input(now, input);
            progress = true;
        }
        progress |= self.poll_timer(cx);
        self.announce();
        progress
    }

    /// Wakes the tasks of the connections given messages this turn, each once, so that
    /// each takes the whole turn's output in one batch (and one write).
    fn announce(&mut self) {
        for conn in self.unannounced.drain(..) {
            if let Some(outlet) = self.conns.get_mut(&conn).and_then(|s| s.outlet.as_mut()) {
                outlet.wake();
            }
        }
    }

    fn is_finished(&self) -> bool {
        self.shutting_down && self.router.connection_count() == 0 && self.listeners == 0
    }

    // ---- input -------------------------------------------------------------------

    fn on_input(&mut self, now: Instant, input: ToRouter) {
        match input {
            ToRouter::Open(opened) => self.on_open(now, *opened),
            ToRouter::Frames {
                key,
                messages,
                bytes,
            } => {
                self.router.count_received_bytes(bytes);
                if let Some(&conn) = self.keys.get(&key) {
                    for message in messages {
                        self.feed(now, conn, message);
                    }
                }
            }
            ToRouter::Closed { key } => {
                if let Some(conn) = self.keys.remove(&key) {
                    // What it sent before it went is still its input.
                    let held = self
                        .conns
                        .get_mut(&conn)
                        .map(|slot| std::mem::take(&mut slot.held))
                        .unwrap_or_default();
                    for message in held {
                        self.handle_frame(now, conn, message);
                    }
                    self.router.handle_transport_closed(now, conn);
                    // Its session's `Left` is logged with the peer while the slot is
                    // still there.
                    self.drain();
                    if let Some(slot) = self.conns.remove(&conn) {
                        tracing::debug!(peer = %slot.peer, %conn, "connection closed");
                    }
                }
            }
            ToRouter::ListenerClosed => self.listeners = self.listeners.saturating_sub(1),
            ToRouter::ConnectLocal { join, reply } => {
                if self.shutting_down {
                    let _ = reply.send(Err(ConnectError::Aborted {
                        reason: Uri::CLOSE_SYSTEM_SHUTDOWN,
                        message: Some("the router is shutting down".into()),
                    }));
                } else {
                    local::connect(&self.ctx, join, reply);
                }
            }
            ToRouter::Stats { reply } => {
                let _ = reply.send(RouterStats {
                    connections: self.router.connection_count(),
                    sessions: self.router.session_count(),
                    queued_bytes: self.router.total_queued_bytes(),
                    largest_queue: self.router.largest_queued_bytes(),
                });
            }
            ToRouter::Metrics { reply } => {
                let _ = reply.send(self.router.metrics());
            }
            ToRouter::Answer { request, answer } => {
                let answer = answer.map_err(|e| super::hooks::error_parts(&e));
                self.router.answer(now, request, answer);
            }
            ToRouter::Shutdown => self.begin_shutdown(now),
        }
        self.drain();
    }

    /// A message from `conn`: to the router, unless the router holds its input (then
    /// it waits in the slot, behind any others that wait, until the input is resumed).
    fn feed(&mut self, now: Instant, conn: ConnectionId, message: Result<Message, String>) {
        let paused = self.router.is_input_paused(conn);
        if let Some(slot) = self.conns.get_mut(&conn) {
            if !slot.closing && (paused || !slot.held.is_empty()) {
                slot.held.push_back(message);
                return;
            }
        }
        self.handle_frame(now, conn, message);
    }

    fn handle_frame(&mut self, now: Instant, conn: ConnectionId, message: Result<Message, String>) {
        match message {
            Ok(message) => self.router.handle_message(now, conn, message),
            Err(why) => self.router.handle_undecodable(now, conn, why),
        }
    }

    /// The router resumed `conn`'s input: what waited for it goes in, in order, as long
    /// as the router takes it.
    fn release_held(&mut self, conn: ConnectionId) {
        let now = self.ctx.rt.now();
        while !self.router.is_input_paused(conn) {
            let Some(message) = self.conns.get_mut(&conn).and_then(|s| s.held.pop_front()) else {
                break;
            };
            self.handle_frame(now, conn, message);
        }
        let paused = self.router.is_input_paused(conn);
        if let Some(slot) = self.conns.get_mut(&conn) {
            if slot.held.is_empty() {
                if slot.held.capacity() > 0 {
                    slot.held = VecDeque::new();
                }
                if !paused {
                    slot.gate.release();
                }
            }
        }
    }

    fn on_open(&mut self, now: Instant, opened: Opened) {
        let Opened {
            key,
            serializer,
            peer,
            details,
            binding,
            auth,
            client_cert,
            outlet,
            close,
            gate,
        } = opened;
        let conn = self.router.open(now, serializer);
        // The connection was just opened (and `start` checked the listeners' auth
        // names), so these cannot fail.
        let _ = self.router.set_transport_details(conn, details);
        if let Some(binding) = binding {
            let _ = self.router.set_channel_binding(conn, binding);
        }
        if let Some(auth) = auth {
            let _ = self.router.set_transport_auth(conn, &auth);
        }
        if let Some(sha1) = client_cert {
            let _ = self.router.set_client_certificate(conn, &sha1);
        }
        tracing::debug!(%peer, %conn, %serializer, "connection open");
        self.keys.insert(key, conn);
        self.conns.insert(
            conn,
            Slot {
                peer,
                outlet: Some(outlet),
                waiting: false,
                close: Some(close),
                close_note: None,
                gate,
                held: VecDeque::new(),
                closing: false,
            },
        );
        if self.shutting_down {
            // Opened while the router stops: closed at once (no HELLO is taken).
            self.router.shutdown(now);
        }
    }

    fn begin_shutdown(&mut self, now: Instant) {
        if self.shutting_down {
            return;
        }
        self.shutting_down = true;
        tracing::info!(
            sessions = self.router.session_count(),
            "shutting down: every session gets GOODBYE wamp.close.system_shutdown"
        );
        self.router.shutdown(now);
        self.drain();
        // The listeners stop accepting.
        self.stop = None;
    }

    // ---- output ------------------------------------------------------------------

    /// Everything the router has to say after an input, and the held input of the
    /// connections it resumed meanwhile (which may make it say more).
    fn drain(&mut self) {
        loop {
            while let Some((conn, bytes)) = self.router.poll_transmit() {
                self.deliver(conn, bytes);
            }
            while let Some(event) = self.router.poll_event() {
                self.on_event(event);
            }
            let Some(conn) = self.resumed.pop() else {
                break;
            };
            self.release_held(conn);
        }
    }

    fn deliver(&mut self, conn: ConnectionId, bytes: Bytes) {
        let Some(slot) = self.conns.get_mut(&conn) else {
            return;
        };
        let Some(outlet) = &mut slot.outlet else {
            return;
        };
        let pushed = outlet.push(bytes);
        if let Pushed::Queued { first: true } | Pushed::Full { first: true } = pushed {
            self.unannounced.push(conn);
        }
        match pushed {
            Pushed::Queued { .. } => {}
            Pushed::Full { .. } => {
                // Its messages wait in the router (bounded in bytes, with backpressure on
                // whoever feeds it) until its task has room; nobody else waits for it.
                slot.waiting = true;
                let _ = self.router.pause_transmit(self.ctx.rt.now(), conn);
            }
            // Its task is ending; its `Closed` is on the way.
            Pushed::Gone => slot.outlet = None,
        }
    }

    /// A connection's task took what its full outlet held.
    fn on_room(&mut self, key: u64) {
        let Some(&conn) = self.keys.get(&key) else {
            return;
        };
        let Some(slot) = self.conns.get_mut(&conn) else {
            return;
        };
        if !std::mem::take(&mut slot.waiting) {
            return;
        }
        let _ = self.router.resume_transmit(self.ctx.rt.now(), conn);
        self.drain();
        self.release_if_flushed(conn);
    }

    fn on_event(&mut self, event: RouterEvent) {
        match event {
            RouterEvent::Ask {
                request,
                procedure,
                args,
            } => {
                // The hook runs as its own task; its answer comes back as input.
                let Some(hook) = self.hooks.get(&procedure).cloned() else {
                    let why = format!("no hook answers {procedure}");
                    let now = self.ctx.rt.now();
                    return self
                        .router
                        .answer(now, request, Err((Uri::NO_SUCH_PROCEDURE, why)));
                };
                let mut to_router = self.ctx.to_router.clone();
                self.ctx.rt.spawn(
                    async move {
                        let answer = hook(args).await;
                        let _ = futures::SinkExt::send(
                            &mut to_router,
                            ToRouter::Answer { request, answer },
                        )
                        .await;
                    }
                    .boxed(),
                );
            }
            RouterEvent::Joined {
                conn,
                session,
                realm,
                authid,
                authrole,
                authmethod,
            } => {
                let peer = self.peer(conn);
                tracing::info!(%session, %realm, %authid, %authrole, %authmethod, %peer, "session joined");
            }
            RouterEvent::Left {
                conn,
                session,
                realm,
                reason,
            } => {
                let peer = self.peer(conn);
                match &reason {
                    LeaveReason::SlowConsumer { .. } => {
                        tracing::warn!(%session, %realm, %peer, %reason, "session closed")
                    }
                    _ => tracing::info!(%session, %realm, %peer, %reason, "session left"),
                }
            }
            RouterEvent::Aborted {
                conn,
                session,
                reason,
                message,
            } => {
                let peer = self.peer(conn);
                let session = session.map(SessionId::get);
                tracing::info!(?session, %reason, %message, %peer, "session aborted");
                // A slow consumer, joined or not: the WebSocket close says so too.
                if reason == Uri::CLOSE_SLOW_CONSUMER {
                    if let Some(slot) = self.conns.get_mut(&conn) {
                        slot.close_note = Some((CloseCode::POLICY_VIOLATION, reason.to_string()));
                    }
                }
            }
            RouterEvent::CloseConnection { conn } => {
                if let Some(slot) = self.conns.get_mut(&conn) {
                    slot.closing = true;
                    // The router takes nothing more from it, so nothing is held back:
                    // the task reads again (a WebSocket peer's Close, or its end).
                    slot.held.clear();
                    slot.gate.release();
                    if let Some(close) = slot.close.take() {
                        let _ = close.send(slot.close_note.take());
                    }
                }
                self.release_if_flushed(conn);
            }
            RouterEvent::InputPaused { conn } => {
                // A closing connection is read to its end (the router ignores its input).
                if let Some(slot) = self.conns.get(&conn).filter(|slot| !slot.closing) {
                    tracing::trace!(%conn, "input paused: it feeds a congested connection");
                    slot.gate.hold();
                }
            }
            RouterEvent::InputResumed { conn } => {
                if let Some(slot) = self.conns.get(&conn) {
                    tracing::trace!(%conn, "input resumed");
                    if slot.held.is_empty() {
                        slot.gate.release();
                    } else {
                        // The gate opens once what waited has gone in (`release_held`).
                        self.resumed.push(conn);
                    }
                }
            }
            _ => {}
        }
    }

    /// A closing connection whose every message is with its task: close its outlet,
    /// so the task closes the transport once it has written them.
    fn release_if_flushed(&mut self, conn: ConnectionId) {
        let queued = self.router.queued(conn);
        if let Some(slot) = self.conns.get_mut(&conn) {
            if slot.closing && queued == 0 {
                if let Some(mut outlet) = slot.outlet.take() {
                    outlet.close();
                }
            }
        }
    }

    fn peer(&self, conn: ConnectionId) -> String {
        self.conns
            .get(&conn)
            .map_or_else(|| "?".to_owned(), |slot| slot.peer.to_string())
    }

    // ---- time --------------------------------------------------------------------

    /// Arms the timer for the router's next deadline; when it fires, acts on it.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = self.router.poll_timeout();
        let Some(now) = self.alarm.poll(cx, &self.ctx.rt, deadline) else {
            return false;
        };
        self.router.handle_timeout(now);
        self.drain();
        true
    }
}

// The task never relies on its own address.
impl<R: Runtime> Unpin for Hub<R> {}

impl<R: Runtime> Future for Hub<R> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let poll = run_turns(cx, |cx| {
            let progress = this.turn(cx);
            Turn {
                progress,
                done: this.is_finished(),
            }
        });
        if poll.is_ready() {
            tracing::info!("the router has stopped");
            // Wakes everyone waiting in `shutdown()`.
            this.done = None;
        }
        poll
    }
}
