//! What the owner of a [`WsClient`](crate::WsClient) or [`WsServer`](crate::WsServer)
//! must see.

use bytes::Bytes;
use tungstenite::http::{HeaderMap, Uri};
use wamp_proto::serializer::SerializerKind;

use crate::error::{CloseCode, WsError};

/// An event, drained with `poll_event`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WsEvent {
    /// The opening handshake completed: WAMP messages may flow.
    Open(OpenInfo),
    /// A Pong arrived (an auto-ping answer or an unsolicited heartbeat), with its payload.
    Pong(Bytes),
    /// The connection is closed: after this event, drain `poll_transmit` (a Close frame
    /// or an HTTP error response may be queued), then close the byte stream. The last
    /// event.
    Closed(CloseInfo),
}

/// The outcome of the opening handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenInfo {
    /// The negotiated serializer (from the `Sec-WebSocket-Protocol` the server chose).
    pub serializer: SerializerKind,
    /// The request target: for a server, what the client asked for (path and query);
    /// for a client, the URL it connected to.
    pub uri: Uri,
    /// The peer's handshake headers: the client's request headers on a server, the
    /// server's response headers on a client.
    pub headers: HeaderMap,
}

/// Who started the closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Initiator {
    /// This side: `close()`, a failure it detected, or a timeout.
    Local,
    /// The peer: its Close frame, its HTTP refusal, or the end of the byte stream.
    Peer,
}

/// How the connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloseInfo {
    /// The close code of the closing handshake: the initiator's code, 1005
    /// ([`CloseCode::NO_STATUS`]) if the peer's Close frame carried none, 1006
    /// ([`CloseCode::ABNORMAL`]) if no Close frame was exchanged (handshake failure,
    /// ping timeout, connection reset).
    pub code: CloseCode,
    /// The close reason (the Close frame's text, or a description).
    pub reason: String,
    /// Who started it.
    pub initiator: Initiator,
    /// Why, when the connection failed rather than closed cleanly.
    pub error: Option<WsError>,
}

impl CloseInfo {
    /// Whether the closing handshake completed without failure.
    pub fn is_clean(&self) -> bool {
        self.error.is_none()
    }
}
