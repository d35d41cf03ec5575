//! What a [`Router`](super::Router) tells the code that runs it, through
//! [`poll_event`](super::Router::poll_event).

use std::fmt;

use crate::id::SessionId;
use crate::uri::Uri;

/// A transport connection, as the router knows it. Assigned by
/// [`Router::open`](super::Router::open); never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub(crate) u64);

impl ConnectionId {
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
    /// The connection's outbound queue reached its limit (the client reads too slowly):
    /// the session was closed and the transport must be dropped.
    SlowConsumer {
        /// The queue limit, in messages.
        limit: usize,
    },
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
            LeaveReason::SlowConsumer { limit } => write!(
                f,
                "the client reads too slowly: {limit} messages were waiting for it"
            ),
        }
    }
}
