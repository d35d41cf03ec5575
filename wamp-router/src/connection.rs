//! Per-connection state: where the connection is in its session's life, and its bounded
//! queue of encoded messages waiting for the transport.

use super::metrics::Counters;
use std::collections::VecDeque;
use std::time::Instant;
use wamp_proto::message::MessageType;

use bytes::Bytes;

use wamp_proto::auth::ChannelBinding;
use wamp_proto::message::Message;
use wamp_proto::serializer::SerializerKind;
use wamp_proto::{EncodeError, IdHashMap, Map, SessionId};

use super::event::ConnectionId;
use super::handshake::Pending;

/// Where a connection is.
pub(crate) enum ConnState {
    /// Open, no session: waiting for HELLO (under the handshake deadline).
    AwaitingHello,
    /// CHALLENGE sent, waiting for AUTHENTICATE. The session ID is reserved.
    Authenticating {
        /// The realm the HELLO asked for, if it exists (a transport's principal may
        /// name another).
        realm: Option<usize>,
        session: SessionId,
        roles: wamp_proto::Details,
        pending: Box<Pending>,
    },
    /// Joined.
    Established { realm: usize, session: SessionId },
    /// The router sent GOODBYE (the session has already left) and waits for the reply.
    Closing,
    /// Done: the runtime was told to close the transport. Input is ignored.
    Closed,
}

pub(crate) struct Connection {
    pub serializer: SerializerKind,
    pub state: ConnState,
    pub channel_binding: Option<ChannelBinding>,
    /// The transport's own authentication (an index into the router's), if it has one.
    pub transport_auth: Option<usize>,
    /// The SHA-1 fingerprint of the client's verified TLS certificate, normalized.
    pub client_cert: Option<String>,
    /// The authentication method of its handshake (for the metrics of refusals).
    pub auth_method: &'static str,
    /// Implementation-defined transport details for the session meta API.
    pub transport: Map,
    queue: VecDeque<Bytes>,
    /// Bytes in `queue`.
    queued_bytes: usize,
    /// The runtime's writer is full ([`Connections::set_paused`]).
    paused: bool,
    /// Since when the writer has been full without a break: the write deadline counts
    /// from here.
    stalled_since: Option<Instant>,
    /// In `Connections::ready` (so it is not listed twice).
    scheduled: bool,
    /// Its queue overflowed or stalled; it is being closed.
    overflowed: bool,
    /// More than the high-water mark waits for it (until it drains to the low-water
    /// mark).
    congested: bool,
    /// The connections whose input is held because they fed this one while it was
    /// congested (each listed once).
    feeders: Vec<ConnectionId>,
    /// How many congested connections hold this one's input (0: it may be read).
    held_by: u32,
}

/// The byte budgets of every connection's queue (from [`super::Limits`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budgets {
    pub high_water: usize,
    pub low_water: usize,
    pub max_bytes: usize,
}

/// Why a connection must lose its session as a slow consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow {
    pub conn: ConnectionId,
    /// Bytes that were waiting (now discarded).
    pub queued_bytes: usize,
    /// When its writer stalled, if this is a stall rather than a budget overrun.
    pub stalled_since: Option<Instant>,
}

/// All connections and their outbound queues. Realm code sends through this, so a full
/// queue is noticed where the message is produced and handled once the input is done.
///
/// Backpressure lives here too: a message that leaves a connection over the high-water
/// mark makes the connection whose input is being processed (the *feeder*) held until
/// that queue drains; the runtime hears of it through [`Connections::poll_flow`].
pub(crate) struct Connections {
    map: IdHashMap<ConnectionId, Connection>,
    /// Connections that may have output, in the order they got it: `poll_transmit`
    /// takes one message from the front one and moves it to the back (fairness).
    ready: VecDeque<ConnectionId>,
    /// Connections whose queue overflowed since this was last drained.
    overflowed: Vec<Overflow>,
    budgets: Budgets,
    /// The connection whose message is being processed, if any: whatever is sent while
    /// it is set was caused by it.
    feeding: Option<ConnectionId>,
    /// Input holds that changed, for the runtime: `(conn, held)`.
    flow: VecDeque<(ConnectionId, bool)>,
    /// Bytes queued over all connections.
    total_bytes: usize,
    /// What the router counts for monitoring (kept here, where every message out and
    /// every input passes).
    pub counters: Counters,
}

impl Connections {
    pub fn new(budgets: Budgets) -> Self {
        Connections {
            map: IdHashMap::default(),
            ready: VecDeque::new(),
            overflowed: Vec::new(),
            budgets,
            feeding: None,
            flow: VecDeque::new(),
            total_bytes: 0,
            counters: Counters::default(),
        }
    }

    pub fn insert(&mut self, id: ConnectionId, serializer: SerializerKind) {
        self.map.insert(
            id,
            Connection {
                serializer,
                state: ConnState::AwaitingHello,
                channel_binding: None,
                transport_auth: None,
                client_cert: None,
                auth_method: "none",
                transport: Map::new(),
                queue: VecDeque::new(),
                queued_bytes: 0,
                paused: false,
                stalled_since: None,
                scheduled: false,
                overflowed: false,
                congested: false,
                feeders: Vec::new(),
                held_by: 0,
            },
        );
    }

    pub fn remove(&mut self, id: ConnectionId) -> Option<Connection> {
        // A stale entry in `ready` is skipped by `pop`; a stale feeder in another
        // connection's list is skipped when it is released.
        let mut conn = self.map.remove(&id)?;
        self.total_bytes -= conn.queued_bytes;
        self.release_feeders(&mut conn.feeders);
        if conn.held_by > 0 {
            self.flow.retain(|(c, _)| *c != id);
        }
        Some(conn)
    }

    pub fn get(&self, id: ConnectionId) -> Option<&Connection> {
        self.map.get(&id)
    }

    pub fn get_mut(&mut self, id: ConnectionId) -> Option<&mut Connection> {
        self.map.get_mut(&id)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn ids(&self) -> Vec<ConnectionId> {
        let mut ids: Vec<ConnectionId> = self.map.keys().copied().collect();
        ids.sort();
        ids
    }

    /// From now until [`end_input`](Self::end_input), what is sent was caused by a
    /// message from `conn`.
    pub fn begin_input(&mut self, conn: ConnectionId) {
        self.feeding = Some(conn);
    }

    pub fn end_input(&mut self) {
        self.feeding = None;
    }

    /// Encodes `message` for the connection and queues it. A connection that is gone or
    /// closing takes nothing; a queue over the byte budget marks the connection
    /// overflowed (its session is then closed, so the message is not lost unnoticed).
    /// Only a payload that cannot be converted to the connection's serializer is an
    /// error.
    pub fn send(&mut self, id: ConnectionId, message: &Message) -> Result<(), EncodeError> {
        self.push(id, message, false)
    }

    /// Like [`send`](Self::send), beyond the budget: for the last message of a session
    /// (ABORT, GOODBYE), which is bounded by the peer's own messages.
    pub fn send_final(&mut self, id: ConnectionId, message: &Message) {
        // Router-made ABORT and GOODBYE carry no payload, so they always encode.
        let _ = self.push(id, message, true);
    }

    /// Queues a message already encoded in the connection's serializer (an EVENT encoded
    /// once for many subscribers).
    pub fn send_encoded(&mut self, id: ConnectionId, bytes: Bytes) {
        self.counters.sent(MessageType::Event, bytes.len());
        self.enqueue(id, bytes, false);
    }

    fn push(&mut self, id: ConnectionId, message: &Message, last: bool) -> Result<(), EncodeError> {
        let Some(conn) = self.map.get(&id) else {
            return Ok(());
        };
        // A slow consumer's queue is discarded, but its final ABORT still goes out.
        if (conn.overflowed && !last) || matches!(conn.state, ConnState::Closed) {
            return Ok(());
        }
        let serializer = conn.serializer;
        let bytes = serializer.encode(message)?;
        self.counters.sent(message.message_type(), bytes.len());
        self.enqueue(id, bytes, last);
        Ok(())
    }

    fn enqueue(&mut self, id: ConnectionId, bytes: Bytes, last: bool) {
        let Some(conn) = self.map.get_mut(&id) else {
            return;
        };
        if (conn.overflowed && !last) || matches!(conn.state, ConnState::Closed) {
            return;
        }
        conn.queued_bytes += bytes.len();
        self.total_bytes += bytes.len();
        conn.queue.push_back(bytes);
        if !last && conn.queued_bytes > self.budgets.max_bytes {
            let queued_bytes = conn.queued_bytes;
            self.discard(id);
            self.overflowed.push(Overflow {
                conn: id,
                queued_bytes,
                stalled_since: None,
            });
            return;
        }
        if !conn.scheduled && !conn.paused {
            conn.scheduled = true;
            self.ready.push_back(id);
        }
        if conn.queued_bytes >= self.budgets.high_water {
            conn.congested = true;
        }
        if conn.congested {
            if let Some(feeder) = self.feeding {
                self.hold(id, feeder);
            }
        }
    }

    /// `feeder` sent to congested `target`: hold its input until `target` drains.
    fn hold(&mut self, target: ConnectionId, feeder: ConnectionId) {
        let Some(conn) = self.map.get_mut(&target) else {
            return;
        };
        if conn.feeders.contains(&feeder) {
            return;
        }
        conn.feeders.push(feeder);
        if let Some(f) = self.map.get_mut(&feeder) {
            f.held_by += 1;
            if f.held_by == 1 {
                self.flow.push_back((feeder, true));
            }
        }
    }

    fn release_feeders(&mut self, feeders: &mut Vec<ConnectionId>) {
        for feeder in feeders.drain(..) {
            if let Some(f) = self.map.get_mut(&feeder) {
                f.held_by = f.held_by.saturating_sub(1);
                if f.held_by == 0 {
                    self.flow.push_back((feeder, false));
                }
            }
        }
    }

    /// Drops everything waiting for `id` and marks it overflowed (its session is being
    /// closed); the connections it held may send again.
    fn discard(&mut self, id: ConnectionId) {
        let Some(conn) = self.map.get_mut(&id) else {
            return;
        };
        conn.overflowed = true;
        conn.queue = VecDeque::new();
        self.total_bytes -= conn.queued_bytes;
        conn.queued_bytes = 0;
        conn.congested = false;
        let mut feeders = std::mem::take(&mut conn.feeders);
        self.release_feeders(&mut feeders);
    }

    /// The next message to send, from the connections in turn.
    pub fn pop(&mut self) -> Option<(ConnectionId, Bytes)> {
        while let Some(id) = self.ready.pop_front() {
            let Some(conn) = self.map.get_mut(&id) else {
                continue;
            };
            if conn.paused {
                conn.scheduled = false;
                continue;
            }
            let Some(bytes) = conn.queue.pop_front() else {
                conn.scheduled = false;
                continue;
            };
            conn.queued_bytes -= bytes.len();
            self.total_bytes -= bytes.len();
            if conn.queue.is_empty() {
                conn.scheduled = false;
                // A burst's queue can be large; an idle connection keeps none of it.
                if conn.queue.capacity() > 16 {
                    conn.queue = VecDeque::new();
                }
            } else {
                self.ready.push_back(id);
            }
            if conn.congested && conn.queued_bytes <= self.budgets.low_water {
                conn.congested = false;
                let mut feeders = std::mem::take(&mut conn.feeders);
                self.release_feeders(&mut feeders);
                if let Some(conn) = self.map.get_mut(&id) {
                    // Keep the (empty) list's allocation for the next burst.
                    conn.feeders = feeders;
                }
            }
            return Some((id, bytes));
        }
        None
    }

    /// Pauses or resumes the connection's output. Returns `None` for an unknown
    /// connection, else whether the pause is new (the write deadline starts).
    pub fn set_paused(&mut self, id: ConnectionId, paused: bool, now: Instant) -> Option<bool> {
        let conn = self.map.get_mut(&id)?;
        let started = paused && !conn.paused;
        conn.paused = paused;
        if paused {
            if conn.stalled_since.is_none() {
                conn.stalled_since = Some(now);
            }
        } else {
            conn.stalled_since = None;
            if !conn.scheduled && !conn.queue.is_empty() {
                conn.scheduled = true;
                self.ready.push_back(id);
            }
        }
        Some(started)
    }

    /// Since when the connection's writer has been full, if it is.
    pub fn stalled_since(&self, id: ConnectionId) -> Option<Instant> {
        self.map.get(&id)?.stalled_since
    }

    /// The connection's writer made no progress for too long: drop what waits and have
    /// its session closed.
    pub fn stall(&mut self, id: ConnectionId) {
        let Some(conn) = self.map.get(&id) else {
            return;
        };
        if conn.overflowed || matches!(conn.state, ConnState::Closed) {
            return;
        }
        let overflow = Overflow {
            conn: id,
            queued_bytes: conn.queued_bytes,
            stalled_since: conn.stalled_since,
        };
        self.discard(id);
        self.overflowed.push(overflow);
    }

    /// Messages waiting for `id`.
    pub fn queued(&self, id: ConnectionId) -> usize {
        self.map.get(&id).map_or(0, |c| c.queue.len())
    }

    /// Bytes waiting for `id`.
    pub fn queued_bytes(&self, id: ConnectionId) -> usize {
        self.map.get(&id).map_or(0, |c| c.queued_bytes)
    }

    /// The most bytes queued for one connection.
    pub fn largest_queue(&self) -> usize {
        self.map.values().map(|c| c.queued_bytes).max().unwrap_or(0)
    }

    /// Bytes queued over all connections.
    pub fn total_bytes(&self) -> usize {
        self.total_bytes
    }

    /// Holds `id`'s input while the router waits on something for it (an authorizer's
    /// decision); [`release_input`](Connections::release_input) ends it.
    pub fn hold_input(&mut self, id: ConnectionId) {
        if let Some(c) = self.map.get_mut(&id) {
            c.held_by += 1;
            if c.held_by == 1 {
                self.flow.push_back((id, true));
            }
        }
    }

    pub fn release_input(&mut self, id: ConnectionId) {
        if let Some(c) = self.map.get_mut(&id) {
            c.held_by = c.held_by.saturating_sub(1);
            if c.held_by == 0 {
                self.flow.push_back((id, false));
            }
        }
    }

    /// Whether `id`'s input is held by backpressure.
    pub fn is_input_held(&self, id: ConnectionId) -> bool {
        self.map.get(&id).is_some_and(|c| c.held_by > 0)
    }

    pub fn take_overflowed(&mut self) -> Option<Overflow> {
        self.overflowed.pop()
    }

    /// The next change of an input hold: `(conn, held)`.
    pub fn poll_flow(&mut self) -> Option<(ConnectionId, bool)> {
        self.flow.pop_front()
    }
}
