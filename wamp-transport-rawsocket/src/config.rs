//! What each side of a connection announces and accepts.

use std::fmt;
use std::time::Duration;

use wamp_proto::serializer::SerializerKind;

/// A RawSocket maximum message length: `2^(9 + L)` bytes for the 4-bit exponent
/// `L` in `0..=15`, so 512 bytes to 16 MiB.
///
/// This is the only form the handshake can carry, so a value of this type is always
/// announceable. Each side announces the length it is willing to *receive*; the other
/// side must not send more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MaxMessageLen(u8);

impl MaxMessageLen {
    /// 512 bytes (`L = 0`).
    pub const MIN: Self = Self(0);
    /// 16 MiB, `2^24` bytes (`L = 15`). A frame of exactly this size needs the X bit.
    pub const MAX: Self = Self(15);

    /// The length for the exponent `L` (`2^(9 + L)` bytes), or `None` if `L > 15`.
    pub const fn from_exp(exp: u8) -> Option<Self> {
        if exp <= 15 {
            Some(Self(exp))
        } else {
            None
        }
    }

    /// The smallest announceable length of at least `bytes` bytes, or `None` above
    /// 16 MiB.
    pub const fn at_least(bytes: usize) -> Option<Self> {
        let mut exp = 0;
        while exp <= 15 {
            if Self(exp).bytes() >= bytes {
                return Some(Self(exp));
            }
            exp += 1;
        }
        None
    }

    /// The exponent `L` sent in the handshake.
    pub const fn exp(self) -> u8 {
        self.0
    }

    /// The length in bytes, `2^(9 + L)`.
    pub const fn bytes(self) -> usize {
        1usize << (9 + self.0 as u32)
    }
}

impl Default for MaxMessageLen {
    /// 16 MiB, what Autobahn|Python and Autobahn|JS announce by default.
    fn default() -> Self {
        Self::MAX
    }
}

impl fmt::Display for MaxMessageLen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes (2^{})", self.bytes(), 9 + u32::from(self.0))
    }
}

/// The default bound on queued output bytes: 4 MiB.
///
/// It is a high-water mark: a frame is queued while the queue holds at most this many
/// bytes, whatever the frame's size (see [`crate::Connection`]).
pub const DEFAULT_MAX_QUEUED_BYTES: usize = 4 * 1024 * 1024;

/// Keepalive with RawSocket PING/PONG: detects a dead peer on an idle connection.
///
/// When nothing has arrived from the peer for `interval`, a PING is sent. If neither its
/// PONG nor any other byte arrives within `timeout` after it, the connection fails with
/// [`RawSocketError::PingTimeout`](crate::RawSocketError::PingTimeout). Only for peers
/// known to answer PINGs: Crossbar.io and Autobahn|Python drop a connection that sends
/// one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlive {
    /// How long the connection may be idle (nothing received) before a PING is sent.
    pub interval: Duration,
    /// How long to wait for the PONG (or any byte) after a PING.
    pub timeout: Duration,
}

impl KeepAlive {
    /// Pings after `interval` of silence and gives up `timeout` after the PING.
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        KeepAlive { interval, timeout }
    }
}

/// Configuration of the client side ([`crate::Connection::client`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The serializer to request; the router must echo it.
    pub serializer: SerializerKind,
    /// The largest message this client accepts, announced in the handshake. A longer
    /// frame from the router fails the connection.
    pub max_message_len: MaxMessageLen,
    /// The bound on output queued for [`crate::Connection::poll_transmit`].
    pub max_queued_bytes: usize,
    /// How long the router may take to answer the handshake; then the connection fails
    /// with [`RawSocketError::HandshakeTimeout`](crate::RawSocketError::HandshakeTimeout).
    /// `None` (the default): no limit here.
    pub open_timeout: Option<Duration>,
    /// PING/PONG keepalive; off by default.
    pub keepalive: Option<KeepAlive>,
    /// How long a frame that has begun to arrive may take to arrive whole; then the
    /// connection fails with [`RawSocketError::MessageTimeout`](crate::RawSocketError::MessageTimeout).
    /// Default: none.
    pub message_timeout: Option<Duration>,
}

impl ClientConfig {
    /// A client requesting `serializer`, accepting messages up to 16 MiB, with the
    /// default output bound.
    pub fn new(serializer: SerializerKind) -> Self {
        Self {
            serializer,
            max_message_len: MaxMessageLen::MAX,
            max_queued_bytes: DEFAULT_MAX_QUEUED_BYTES,
            open_timeout: None,
            keepalive: None,
            message_timeout: None,
        }
    }
}

/// Configuration of the server (router) side ([`crate::Connection::server`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The serializers this server accepts. A client asking for another one gets error
    /// reply 1 (serializer unsupported).
    pub serializers: Vec<SerializerKind>,
    /// The largest message this server accepts, announced in its handshake reply.
    pub max_message_len: MaxMessageLen,
    /// Clients announcing a smaller receive limit than this get error reply 2 (maximum
    /// message length unacceptable). The default, [`MaxMessageLen::MIN`], accepts every
    /// client.
    pub min_peer_max_message_len: MaxMessageLen,
    /// Answer a well-formed handshake with error reply 4 (maximum connection count
    /// reached). The runtime sets it when it is at its connection limit.
    pub max_connections_reached: bool,
    /// The bound on output queued for [`crate::Connection::poll_transmit`].
    pub max_queued_bytes: usize,
    /// How long the client may take to send its handshake request; then the connection
    /// fails with [`RawSocketError::HandshakeTimeout`](crate::RawSocketError::HandshakeTimeout).
    /// `None` (the default): no limit here.
    pub open_timeout: Option<Duration>,
    /// PING/PONG keepalive; off by default.
    pub keepalive: Option<KeepAlive>,
    /// How long a frame that has begun to arrive may take to arrive whole; then the
    /// connection fails with [`RawSocketError::MessageTimeout`](crate::RawSocketError::MessageTimeout).
    /// It stops a client that trickles a large frame to hold a connection and its
    /// buffer (the keepalive cannot: any byte counts as life). Default: none.
    pub message_timeout: Option<Duration>,
}

impl Default for ServerConfig {
    /// Every serializer, 16 MiB limit, every client limit accepted, default output bound.
    fn default() -> Self {
        Self {
            serializers: SerializerKind::ALL.to_vec(),
            max_message_len: MaxMessageLen::MAX,
            min_peer_max_message_len: MaxMessageLen::MIN,
            max_connections_reached: false,
            max_queued_bytes: DEFAULT_MAX_QUEUED_BYTES,
            open_timeout: None,
            keepalive: None,
            message_timeout: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_map_to_lengths() {
        assert_eq!(MaxMessageLen::MIN.bytes(), 512);
        assert_eq!(MaxMessageLen::MAX.bytes(), 1 << 24);
        assert_eq!(
            MaxMessageLen::from_exp(11).map(MaxMessageLen::bytes),
            Some(1 << 20)
        );
        assert_eq!(MaxMessageLen::from_exp(16), None);
        assert_eq!(MaxMessageLen::from_exp(255), None);
    }

    #[test]
    fn at_least_rounds_up() {
        assert_eq!(MaxMessageLen::at_least(0), Some(MaxMessageLen::MIN));
        assert_eq!(MaxMessageLen::at_least(512), Some(MaxMessageLen::MIN));
        assert_eq!(MaxMessageLen::at_least(513), MaxMessageLen::from_exp(1));
        assert_eq!(MaxMessageLen::at_least(1 << 24), Some(MaxMessageLen::MAX));
        assert_eq!(MaxMessageLen::at_least((1 << 24) + 1), None);
    }

    #[test]
    fn display_names_bytes_and_power() {
        assert_eq!(MaxMessageLen::MIN.to_string(), "512 bytes (2^9)");
    }
}
