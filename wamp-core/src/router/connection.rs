//! Per-connection state: where the connection is in its session's life, and its bounded
//! queue of encoded messages waiting for the transport.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use crate::auth::ChannelBinding;
use crate::error::EncodeError;
use crate::id::SessionId;
use crate::message::Message;
use crate::serializer::SerializerKind;
use crate::value::Map;

use super::event::ConnectionId;
use super::handshake::Pending;

/// Where a connection is.
pub(crate) enum ConnState {
    /// Open, no session: waiting for HELLO (under the handshake deadline).
    AwaitingHello,
    /// CHALLENGE sent, waiting for AUTHENTICATE. The session ID is reserved.
    Authenticating {
        realm: usize,
        session: SessionId,
        roles: crate::dict::Details,
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
    /// Implementation-defined transport details for the session meta API.
    pub transport: Map,
    queue: VecDeque<Bytes>,
    paused: bool,
    /// In `Connections::ready` (so it is not listed twice).
    scheduled: bool,
    /// Its queue overflowed; it is being closed.
    overflowed: bool,
}

/// All connections and their outbound queues. Realm code sends through this, so a full
/// queue is noticed where the message is produced and handled once the input is done.
pub(crate) struct Connections {
    map: HashMap<ConnectionId, Connection>,
    /// Connections that may have output, in the order they got it: `poll_transmit`
    /// takes one message from the front one and moves it to the back (fairness).
    ready: VecDeque<ConnectionId>,
    /// Connections whose queue overflowed since this was last drained.
    overflowed: Vec<ConnectionId>,
    max_queue: usize,
}

impl Connections {
    pub fn new(max_queue: usize) -> Self {
        Connections {
            map: HashMap::new(),
            ready: VecDeque::new(),
            overflowed: Vec::new(),
            max_queue,
        }
    }

    pub fn max_queue(&self) -> usize {
        self.max_queue
    }

    pub fn insert(&mut self, id: ConnectionId, serializer: SerializerKind) {
        self.map.insert(
            id,
            Connection {
                serializer,
                state: ConnState::AwaitingHello,
                channel_binding: None,
                transport: Map::new(),
                queue: VecDeque::new(),
                paused: false,
                scheduled: false,
                overflowed: false,
            },
        );
    }

    pub fn remove(&mut self, id: ConnectionId) -> Option<Connection> {
        // A stale entry in `ready` is skipped by `pop`.
        self.map.remove(&id)
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

    /// Encodes `message` for the connection and queues it. A connection that is gone or
    /// closing takes nothing; a full queue marks the connection overflowed (its session is
    /// then closed, so the message is not lost unnoticed). Only a payload that cannot be
    /// converted to the connection's serializer is an error.
    pub fn send(&mut self, id: ConnectionId, message: &Message) -> Result<(), EncodeError> {
        self.push(id, message, false)
    }

    /// Like [`send`](Self::send), beyond the queue limit: for the last message of a
    /// session (ABORT, GOODBYE), which is bounded by the peer's own messages.
    pub fn send_final(&mut self, id: ConnectionId, message: &Message) {
        // Router-made ABORT and GOODBYE carry no payload, so they always encode.
        let _ = self.push(id, message, true);
    }

    fn push(&mut self, id: ConnectionId, message: &Message, last: bool) -> Result<(), EncodeError> {
        let Some(conn) = self.map.get_mut(&id) else {
            return Ok(());
        };
        if conn.overflowed || matches!(conn.state, ConnState::Closed) {
            return Ok(());
        }
        let bytes = conn.serializer.encode(message)?;
        if !last && conn.queue.len() >= self.max_queue {
            conn.overflowed = true;
            conn.queue.clear();
            self.overflowed.push(id);
            return Ok(());
        }
        conn.queue.push_back(bytes);
        if !conn.scheduled && !conn.paused {
            conn.scheduled = true;
            self.ready.push_back(id);
        }
        Ok(())
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
            if conn.queue.is_empty() {
                conn.scheduled = false;
            } else {
                self.ready.push_back(id);
            }
            return Some((id, bytes));
        }
        None
    }

    pub fn set_paused(&mut self, id: ConnectionId, paused: bool) -> bool {
        let Some(conn) = self.map.get_mut(&id) else {
            return false;
        };
        conn.paused = paused;
        if !paused && !conn.scheduled && !conn.queue.is_empty() {
            conn.scheduled = true;
            self.ready.push_back(id);
        }
        true
    }

    /// Messages waiting for `id`.
    pub fn queued(&self, id: ConnectionId) -> usize {
        self.map.get(&id).map_or(0, |c| c.queue.len())
    }

    pub fn take_overflowed(&mut self) -> Option<ConnectionId> {
        self.overflowed.pop()
    }
}
