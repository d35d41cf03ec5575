//! Why a connection failed, or why a frame was refused.

use std::fmt;

use wamp_proto::serializer::SerializerKind;

use crate::config::MaxMessageLen;

/// The error code of a handshake error reply, `7F | EEEE 0000 | 00 | 00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeErrorCode {
    /// 1: the requested serializer is not supported.
    SerializerUnsupported,
    /// 2: the announced maximum message length is not acceptable.
    MaxMessageLenUnacceptable,
    /// 3: the handshake used reserved bits (an unsupported feature).
    ReservedBitsUsed,
    /// 4: the router has reached its maximum connection count.
    MaxConnectionsReached,
    /// 0 (illegal) or 5..=15 (reserved): a code the spec gives no meaning.
    Unknown(u8),
}

impl HandshakeErrorCode {
    /// The code for the 4-bit value `EEEE` (only the low 4 bits of `code` are used).
    pub const fn from_code(code: u8) -> Self {
        match code & 0x0f {
            1 => Self::SerializerUnsupported,
            2 => Self::MaxMessageLenUnacceptable,
            3 => Self::ReservedBitsUsed,
            4 => Self::MaxConnectionsReached,
            other => Self::Unknown(other),
        }
    }

    /// The 4-bit value `EEEE`.
    pub const fn code(self) -> u8 {
        match self {
            Self::SerializerUnsupported => 1,
            Self::MaxMessageLenUnacceptable => 2,
            Self::ReservedBitsUsed => 3,
            Self::MaxConnectionsReached => 4,
            Self::Unknown(code) => code & 0x0f,
        }
    }
}

impl fmt::Display for HandshakeErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let meaning = match self {
            Self::SerializerUnsupported => "serializer unsupported",
            Self::MaxMessageLenUnacceptable => "maximum message length unacceptable",
            Self::ReservedBitsUsed => "use of reserved bits (unsupported feature)",
            Self::MaxConnectionsReached => "maximum connection count reached",
            Self::Unknown(0) => "illegal error code",
            Self::Unknown(_) => "reserved error code",
        };
        write!(f, "{meaning} (error {})", self.code())
    }
}

/// Everything that can go wrong on a RawSocket connection.
///
/// Most variants mean the connection has failed for good: they arrive as
/// [`Closed::Failed`](crate::Closed::Failed) in the last event, later sends return the
/// same error, and the runtime should write what [`crate::Connection::poll_transmit`]
/// still yields (a handshake error reply, if any) and close the stream. Three variants
/// only refuse one locally submitted frame and leave the connection usable:
/// [`MessageTooLong`](Self::MessageTooLong), [`OutputFull`](Self::OutputFull) and
/// [`NotOpen`](Self::NotOpen). [`RawSocketError::fails_connection`] tells them apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RawSocketError {
    /// The peer's first octet is not the RawSocket magic `0x7F`. A server sends no reply
    /// (the spec says it MUST fail the connection; the bytes may not be RawSocket at all).
    #[error("not a RawSocket peer: the first handshake octet is 0x{got:02x}, expected 0x7f")]
    BadMagic {
        /// The octet received.
        got: u8,
    },
    /// The handshake's octets 2 and 3 are not zero. A server answers with error 3.
    #[error("the peer's handshake sets reserved bits: octets 2-3 are {octets:02x?}, must be zero")]
    HandshakeReservedBits {
        /// Octets 2 and 3 of the handshake.
        octets: [u8; 2],
    },
    /// The client asked for a serializer this server does not accept (or an ID with no
    /// serializer: 0, 4..=15). The server answers with error 1.
    #[error("the client requested serializer ID {id}, which this server does not accept")]
    UnsupportedSerializer {
        /// The serializer ID `SSSS` requested.
        id: u8,
    },
    /// The client's receive limit is below the server's
    /// [`min_peer_max_message_len`](crate::ServerConfig::min_peer_max_message_len). The
    /// server answers with error 2.
    #[error(
        "the client accepts messages of at most {client}; this server requires at least {required}"
    )]
    PeerMaxMessageLenUnacceptable {
        /// What the client announced.
        client: MaxMessageLen,
        /// What the server requires.
        required: MaxMessageLen,
    },
    /// The server was configured with
    /// [`max_connections_reached`](crate::ServerConfig::max_connections_reached). It answers
    /// with error 4.
    #[error("refused the client: this server has reached its maximum connection count")]
    MaxConnectionsReached,
    /// The router answered the client's handshake with an error reply.
    #[error("the router refused the RawSocket handshake: {code}")]
    HandshakeRejected {
        /// The error code of the reply.
        code: HandshakeErrorCode,
    },
    /// The router's handshake reply names another serializer than the one requested.
    #[error(
        "the router answered with serializer ID {echoed}, but {} (ID {}) was requested",
        requested.name(),
        requested.rawsocket_id()
    )]
    SerializerMismatch {
        /// The serializer the client requested.
        requested: SerializerKind,
        /// The serializer ID in the router's reply.
        echoed: u8,
    },
    /// A frame header sets the reserved bits `RRRR`.
    #[error("frame header starting 0x{first_octet:02x} sets reserved bits (RRRR must be zero)")]
    ReservedFrameBits {
        /// The header's first octet.
        first_octet: u8,
    },
    /// A frame header has a reserved message type (3..=7).
    #[error(
        "frame header has reserved message type {ty} (only 0 regular, 1 PING and 2 PONG exist)"
    )]
    ReservedFrameType {
        /// The message type `TTT`.
        ty: u8,
    },
    /// A frame header announces more than this side's maximum message length. Nothing of
    /// its payload is waited for.
    #[error("received a frame header announcing {len} bytes, more than the {max} bytes this side accepts")]
    FrameTooLong {
        /// The announced payload length (25 bits with the X bit).
        len: usize,
        /// This side's limit.
        max: usize,
    },
    /// The peer sent a PING longer than the limit it announced, so the PONG that must
    /// echo it could not be sent.
    #[error("received a PING of {len} bytes, but the peer accepts at most {peer_max}, so no PONG can echo it")]
    UnanswerablePing {
        /// The PING payload length.
        len: usize,
        /// The peer's limit.
        peer_max: usize,
    },
    /// A PING arrived while the output queue held more than its bound: the peer sends
    /// faster than the runtime drains [`crate::Connection::poll_transmit`].
    #[error(
        "output queue limit exceeded: {queued} bytes queued, more than the limit of {limit}, \
         when a PONG of {frame} bytes was due (the peer sends PINGs faster than transmits are drained)"
    )]
    OutputLimitExceeded {
        /// Bytes queued when the PONG was due.
        queued: usize,
        /// The size of the PONG frame, header included.
        frame: usize,
        /// The configured bound.
        limit: usize,
    },
    /// The stream ended before the handshake completed. Crossbar does this instead of
    /// sending an error reply (for an unsupported serializer or a bad magic octet).
    #[error(
        "the peer closed the connection during the RawSocket handshake \
         (some routers, such as Crossbar, close instead of sending an error reply)"
    )]
    ClosedDuringHandshake,
    /// The stream ended in the middle of a frame.
    #[error("the peer closed the connection in the middle of a frame ({received} of {expected} bytes received)")]
    TruncatedFrame {
        /// The bytes of the frame received, header included.
        received: usize,
        /// The bytes expected: the whole frame, or 4 if the header was incomplete.
        expected: usize,
    },
    /// The connection is closed: the stream ended cleanly between frames, or this side
    /// closed it ([`crate::Connection::close`]).
    #[error("the RawSocket connection is closed")]
    Closed,
    /// The handshake did not complete within the configured `open_timeout`.
    #[error("the RawSocket handshake did not complete within {0:?}")]
    HandshakeTimeout(std::time::Duration),
    /// A frame that had begun to arrive did not arrive whole within the message
    /// timeout.
    #[error("a frame took longer than {0:?} to arrive")]
    MessageTimeout(std::time::Duration),
    /// Keepalive: nothing arrived within the timeout after a PING, so the peer is
    /// presumed gone.
    #[error("no answer to a PING within {0:?}: the peer is presumed gone")]
    PingTimeout(std::time::Duration),
    /// A message payload longer than the peer's announced limit, or a PING payload longer
    /// than the peer's or this side's limit. Nothing was sent; the connection stays usable.
    #[error(
        "a payload of {len} bytes exceeds the limit of {max} bytes (the peer's announced maximum; \
         for a PING, the smaller of both sides' maxima); nothing was sent"
    )]
    MessageTooLong {
        /// The payload length.
        len: usize,
        /// The peer's limit.
        max: usize,
    },
    /// The output queue holds more than its bound. Nothing was queued; drain
    /// [`crate::Connection::poll_transmit`] and retry. The connection stays usable.
    #[error(
        "output queue full: {queued} bytes queued, more than the limit of {limit}; the frame of \
         {frame} bytes was not queued; drain poll_transmit and retry"
    )]
    OutputFull {
        /// Bytes queued.
        queued: usize,
        /// The size of the refused frame, header included.
        frame: usize,
        /// The configured bound.
        limit: usize,
    },
    /// A message or PING was submitted before the handshake completed. Nothing was sent;
    /// wait for [`crate::Event::Handshaken`].
    #[error("the RawSocket handshake has not completed; nothing was sent")]
    NotOpen,
}

impl RawSocketError {
    /// Whether this error means the connection has failed (or is closed) for good.
    /// `false` only for the errors that refuse one local frame: [`Self::MessageTooLong`],
    /// [`Self::OutputFull`] and [`Self::NotOpen`].
    pub fn fails_connection(&self) -> bool {
        !matches!(
            self,
            Self::MessageTooLong { .. } | Self::OutputFull { .. } | Self::NotOpen
        )
    }

    /// The error reply a server sends for this error, if any.
    pub(crate) fn reply_code(&self) -> Option<HandshakeErrorCode> {
        match self {
            Self::UnsupportedSerializer { .. } => Some(HandshakeErrorCode::SerializerUnsupported),
            Self::PeerMaxMessageLenUnacceptable { .. } => {
                Some(HandshakeErrorCode::MaxMessageLenUnacceptable)
            }
            Self::HandshakeReservedBits { .. } => Some(HandshakeErrorCode::ReservedBitsUsed),
            Self::MaxConnectionsReached => Some(HandshakeErrorCode::MaxConnectionsReached),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in 0..16 {
            assert_eq!(HandshakeErrorCode::from_code(code).code(), code);
        }
        assert_eq!(
            HandshakeErrorCode::from_code(1),
            HandshakeErrorCode::SerializerUnsupported
        );
        assert_eq!(
            HandshakeErrorCode::from_code(4),
            HandshakeErrorCode::MaxConnectionsReached
        );
        assert_eq!(
            HandshakeErrorCode::from_code(9),
            HandshakeErrorCode::Unknown(9)
        );
    }

    #[test]
    fn messages_are_precise() {
        let e = RawSocketError::SerializerMismatch {
            requested: SerializerKind::Cbor,
            echoed: 1,
        };
        assert_eq!(
            e.to_string(),
            "the router answered with serializer ID 1, but cbor (ID 3) was requested"
        );
        let e = RawSocketError::HandshakeRejected {
            code: HandshakeErrorCode::MaxConnectionsReached,
        };
        assert_eq!(
            e.to_string(),
            "the router refused the RawSocket handshake: maximum connection count reached (error 4)"
        );
        assert!(!RawSocketError::NotOpen.fails_connection());
        assert!(RawSocketError::Closed.fails_connection());
    }
}
