//! What a [`Router`](super::Router) tells the code that runs it, through
//! [`poll_event`](super::Router::poll_event).

use std::fmt;
use std::time::Duration;

use wamp_proto::{SessionId, Uri};

/// A transport connection, as the router knows it. Assigned by
/// [`Router::open`](super::Router::open); never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub(crate) u64);

impl ConnectionId {
    /// The router itself, as the caller of authenticators (no transport has it: the
    /// first connection is 1).
    pub(crate) const ROUTER: ConnectionId = ConnectionId(0);

    /// The number behind the ID (for logs and maps).
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}

/// Something the runtime must act on or may log.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RouterEvent {
    /// A session joined a realm (WELCOME was queued).
    Joined {
        /// Its connection.
        conn: ConnectionId,
        /// The session ID.
        session: SessionId,
        /// The realm.
        realm: Uri,
        /// The authenticated identity.
        authid: String,
        /// The role it was given.
        authrole: String,
        /// The method that authenticated it.
        authmethod: String,
    },
    /// A session left its realm; its subscriptions and registrations are gone.
    Left {
        /// Its connection.
        conn: ConnectionId,
        /// The session ID.
        session: SessionId,
        /// The realm.
        realm: Uri,
        /// Why.
        reason: LeaveReason,
    },
    /// The router refused or aborted a session with ABORT (an unknown realm, failed
    /// authentication, a protocol violation, a handshake timeout, ...). A
    /// [`CloseConnection`](RouterEvent::CloseConnection) follows.
    Aborted {
        /// The connection.
        conn: ConnectionId,
        /// The session, if it had joined.
        session: Option<SessionId>,
        /// The ABORT reason.
        reason: Uri,
        /// The ABORT message: what went wrong.
        message: String,
    },
    /// The runtime must close this transport once it has sent what
    /// [`poll_transmit`](super::Router::poll_transmit) gave it for the connection, and then
    /// report [`handle_transport_closed`](super::Router::handle_transport_closed). The
    /// router sends nothing more on it.
    CloseConnection {
        /// The connection.
        conn: ConnectionId,
    },
    /// Backpressure: stop reading from this connection's transport. What it sent feeds
    /// a connection that is congested (more than
    /// [`Limits::transmit_high_water`](super::Limits::transmit_high_water) bytes wait for
    /// it). Messages already received may still be handed in; they are processed. An
    /// [`InputResumed`](RouterEvent::InputResumed) follows when every connection it fed
    /// has drained, or is gone.
    InputPaused {
        /// The connection to stop reading from.
        conn: ConnectionId,
    },
    /// Backpressure is over for this connection: read from its transport again.
    InputResumed {
        /// The connection to read from again.
        conn: ConnectionId,
    },
    /// The router asks one of the runtime's own procedures
    /// ([`RouterConfig::hooks`](super::RouterConfig::hooks): an authenticator or
    /// authorizer written in the application's language) what a WAMP callee of that
    /// procedure would be asked; answer with [`Router::answer`](super::Router::answer)
    /// within [`Limits::authenticator_timeout`](super::Limits::authenticator_timeout).
    Ask {
        /// The question's ID, for the answer.
        request: wamp_proto::RequestId,
        /// The procedure.
        procedure: Uri,
        /// Its positional arguments, as a callee would get them.
        args: Vec<wamp_proto::Value>,
    },
}

/// Why a session left its realm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaveReason {
    /// The client sent GOODBYE (with this reason) and got `wamp.close.goodbye_and_out`.
    Goodbye(Uri),
    /// The router closed the session with GOODBYE: [`Router::close`](super::Router::close),
    /// or `wamp.session.kill` by another session.
    Closed(Uri),
    /// The router is shutting down ([`Router::shutdown`](super::Router::shutdown)).
    Shutdown,
    /// The client sent ABORT.
    AbortedByClient(Uri),
    /// The client broke the protocol; the router sent ABORT
    /// `wamp.error.protocol_violation`.
    ProtocolViolation(String),
    /// The transport closed.
    TransportClosed,
    /// The client reads too slowly: its writer made no progress at all for the write
    /// timeout, or more than the byte budget waited for it. The router discarded what
    /// waited, sent ABORT `wamp.close.slow_consumer` and dropped the transport.
    SlowConsumer {
        /// Bytes that were waiting in the router for the connection.
        queued_bytes: usize,
        /// `Some`: how long its writer had made no progress
        /// ([`Limits::write_timeout`](super::Limits::write_timeout)); `None`: the backlog
        /// passed [`Limits::max_transmit_bytes`](super::Limits::max_transmit_bytes).
        stalled_for: Option<Duration>,
    },
}

impl LeaveReason {
    /// The URI that names this reason (what the meta API's `on_leave` reports as
    /// `reason`).
    pub fn uri(&self) -> Uri {
        match self {
            LeaveReason::Goodbye(uri) | LeaveReason::Closed(uri) => uri.clone(),
            LeaveReason::AbortedByClient(uri) => uri.clone(),
            LeaveReason::Shutdown => Uri::CLOSE_SYSTEM_SHUTDOWN,
            LeaveReason::ProtocolViolation(_) => Uri::PROTOCOL_VIOLATION,
            LeaveReason::TransportClosed => Uri::CLOSE_TRANSPORT_LOST,
            LeaveReason::SlowConsumer { .. } => Uri::CLOSE_SLOW_CONSUMER,
        }
    }
}

impl fmt::Display for LeaveReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaveReason::Goodbye(reason) => write!(f, "left with GOODBYE ({reason})"),
            LeaveReason::Closed(reason) => write!(f, "closed by the router ({reason})"),
            LeaveReason::Shutdown => f.write_str("the router is shutting down"),
            LeaveReason::AbortedByClient(reason) => write!(f, "the client aborted ({reason})"),
            LeaveReason::ProtocolViolation(why) => write!(f, "protocol violation: {why}"),
            LeaveReason::TransportClosed => f.write_str("the transport closed"),
            LeaveReason::SlowConsumer {
                queued_bytes,
                stalled_for: Some(stalled),
            } => write!(
                f,
                "slow consumer: the client read nothing for {stalled:?} \
                 while {queued_bytes} bytes waited for it"
            ),
            LeaveReason::SlowConsumer {
                queued_bytes,
                stalled_for: None,
            } => write!(
                f,
                "slow consumer: {queued_bytes} bytes waited for the client, over the budget"
            ),
        }
    }
}
