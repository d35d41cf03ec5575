//! Errors by blame ([`WsError`]: the connection failed; [`UsageError`]: local misuse) and
//! WebSocket close codes.

use std::fmt;
use std::time::Duration;

use wamp_proto::{serializer::SerializerKind, DecodeError};

/// A WebSocket close status code (RFC 6455 §7.4).
///
/// The constants are the codes this crate sends or reports. 1005 and 1006 are never sent
/// on the wire: they only appear in [`CloseInfo`](crate::CloseInfo) to say "the peer's
/// Close frame had no code" and "no Close frame was exchanged at all".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: protocol error: an RFC 6455 violation, or (as Autobahn|Python does) a WAMP
    /// message that does not decode.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: unsupported data: a text frame where the serializer needs binary, or the
    /// other way round.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: reported when the peer's Close frame carried no code (never sent).
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: reported when the connection ended without a Close frame (never sent).
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: invalid payload data: invalid UTF-8 in a text message.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: policy violation.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message or frame larger than the configured limit.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1011: internal error.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);

    /// Whether the code may be sent in a Close frame (RFC 6455 §7.4: the defined codes
    /// except 1005, 1006 and 1015, and the registered/private range 3000..=4999).
    pub fn is_sendable(self) -> bool {
        tungstenite::protocol::frame::coding::CloseCode::from(self.0).is_allowed()
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

/// The kind of a WebSocket data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// A text message (UTF-8).
    Text,
    /// A binary message.
    Binary,
}

impl FrameKind {
    /// The frame kind a serializer's messages travel in: text for JSON, binary for
    /// MessagePack and CBOR.
    pub const fn for_serializer(serializer: SerializerKind) -> FrameKind {
        if serializer.is_binary() {
            FrameKind::Binary
        } else {
            FrameKind::Text
        }
    }
}

impl fmt::Display for FrameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FrameKind::Text => "text",
            FrameKind::Binary => "binary",
        })
    }
}

/// Why a connection failed. Reported in [`CloseInfo::error`](crate::CloseInfo::error),
/// never returned from an input method: a peer's misbehaviour is a transition to closed,
/// not an `Err`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
    /// Client: the server answered the upgrade with an HTTP status other than 101
    /// (Crossbar answers 400 when no offered subprotocol is supported).
    #[error("the server refused the WebSocket upgrade: HTTP {status}{}", body_suffix(.body))]
    HandshakeRejected {
        /// The HTTP status code.
        status: u16,
        /// The start of the response body, as far as it arrived with the head (lossy
        /// UTF-8, at most 1 KiB).
        body: String,
    },
    /// Server: the client offered no WAMP subprotocol this server speaks. The client got
    /// HTTP 400 listing the supported ones.
    #[error(
        "no common WAMP subprotocol: the client offered [{}], this server speaks [{}]",
        .offered.join(", "),
        .supported.join(", ")
    )]
    NoCommonSubprotocol {
        /// What the client offered, in its order.
        offered: Vec<String>,
        /// What this server speaks, in its order.
        supported: Vec<String>,
    },
    /// Server: the request was for a path this endpoint does not serve; the client got
    /// HTTP 404.
    #[error("no WAMP endpoint at {path} (it is at {served})")]
    NotFound {
        /// The path the client asked for.
        path: String,
        /// The path this endpoint serves.
        served: String,
    },
    /// Server: the request came from a web page whose origin is not allowed
    /// ([`ServerConfig::allowed_origins`](crate::ServerConfig::allowed_origins)); the
    /// client got HTTP 403.
    #[error("origin {0:?} is not allowed")]
    ForbiddenOrigin(String),
    /// Server: the server is at its connection limit; the client got HTTP 503.
    #[error("the server is at its connection limit")]
    Unavailable,
    /// Client: the server chose no subprotocol, or one the client did not offer.
    #[error("subprotocol negotiation failed: {0}")]
    SubprotocolMismatch(String),
    /// The opening handshake was malformed (server: the client got HTTP 400 or 426).
    #[error("invalid WebSocket opening handshake: {0}")]
    Handshake(String),
    /// The opening handshake did not complete within the configured time.
    #[error("the opening handshake did not complete within {0:?}")]
    OpenTimeout(Duration),
    /// The peer broke RFC 6455 framing (close code 1002).
    #[error("WebSocket protocol error: {0}")]
    Protocol(String),
    /// A text message was not valid UTF-8 (close code 1007).
    #[error("invalid UTF-8 in a text message")]
    InvalidUtf8,
    /// A message or a single frame exceeded the configured limit (close code 1009).
    #[error("message too big: {size} bytes, the limit is {max}")]
    MessageTooBig {
        /// The size announced or reached.
        size: usize,
        /// The configured limit (`max_message_size` or `max_frame_size`).
        max: usize,
    },
    /// A message arrived in the wrong frame kind for the negotiated serializer (close
    /// code 1003).
    #[error("{serializer} messages travel in {} frames, received a {received} message", FrameKind::for_serializer(*.serializer))]
    WrongFrameKind {
        /// The negotiated serializer.
        serializer: SerializerKind,
        /// What arrived.
        received: FrameKind,
    },
    /// A message did not decode with the negotiated serializer (close code 1002, as
    /// Autobahn|Python does for WAMP protocol errors).
    #[error("WAMP protocol error: {0}")]
    InvalidMessage(DecodeError),
    /// Auto-ping: neither a Pong nor any other data arrived within the timeout after a
    /// Ping. No Close frame is sent: the peer is presumed gone.
    #[error("no pong or other data from the peer within {0:?} after a ping")]
    PingTimeout(Duration),
    /// A message that had begun to arrive did not arrive whole within the message
    /// timeout (close code 1008).
    #[error("a message took longer than {0:?} to arrive")]
    MessageTimeout(Duration),
    /// The peer did not answer our Close frame within the close timeout.
    #[error("the peer did not answer the closing handshake within {0:?}")]
    CloseTimeout(Duration),
    /// The byte stream ended without a closing handshake.
    #[error("the connection ended without a closing handshake")]
    ConnectionReset,
    /// A failure inside the WebSocket implementation that is nobody's fault on the wire
    /// (close code 1011).
    #[error("internal error: {0}")]
    Internal(String),
}

fn body_suffix(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

impl WsError {
    /// The close code this failure is reported (and, where a Close frame is sent, sent)
    /// with.
    pub fn close_code(&self) -> CloseCode {
        match self {
            WsError::Protocol(_) | WsError::InvalidMessage(_) => CloseCode::PROTOCOL_ERROR,
            WsError::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            WsError::MessageTooBig { .. } => CloseCode::MESSAGE_TOO_BIG,
            WsError::WrongFrameKind { .. } => CloseCode::UNSUPPORTED_DATA,
            WsError::MessageTimeout(_) => CloseCode::POLICY_VIOLATION,
            WsError::Internal(_) => CloseCode::INTERNAL_ERROR,
            WsError::HandshakeRejected { .. }
            | WsError::NoCommonSubprotocol { .. }
            | WsError::NotFound { .. }
            | WsError::ForbiddenOrigin(_)
            | WsError::Unavailable
            | WsError::SubprotocolMismatch(_)
            | WsError::Handshake(_)
            | WsError::OpenTimeout(_)
            | WsError::PingTimeout(_)
            | WsError::CloseTimeout(_)
            | WsError::ConnectionReset => CloseCode::ABNORMAL,
        }
    }
}

/// Local misuse: the call changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The configuration is invalid (no serializers, a zero timeout, a reserved header,
    /// a URL that is not `ws://` or `wss://`, ...).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The opening handshake has not completed yet.
    #[error("the WebSocket is not open yet")]
    NotOpen,
    /// The WebSocket is closing or closed; no more messages can be sent.
    #[error("the WebSocket is closed{}", closed_suffix(.0))]
    Closed(Option<String>),
    /// A JSON message (text frame) that is not valid UTF-8.
    #[error("a text message must be valid UTF-8")]
    NotUtf8,
    /// A close code that may not be sent (1005, 1006, 1015, or outside the defined
    /// ranges).
    #[error("close code {0} may not be sent")]
    InvalidCloseCode(u16),
    /// A ping payload over 125 bytes.
    #[error("a ping payload is at most 125 bytes, got {0}")]
    PingTooLong(usize),
}

fn closed_suffix(reason: &Option<String>) -> String {
    match reason {
        Some(reason) => format!(": {reason}"),
        None => String::new(),
    }
}
