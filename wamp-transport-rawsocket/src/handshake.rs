//! The 4-octet handshake: the client's request and the server's reply.

use wamp_proto::serializer::SerializerKind;

use crate::config::MaxMessageLen;
use crate::error::{HandshakeErrorCode, RawSocketError};
use crate::frame::HEADER_LEN;

/// The first octet of every RawSocket handshake. No HTTP request starts with it, so a
/// server can offer RawSocket and WebSocket on one port by looking at the first octet.
pub const MAGIC: u8 = 0x7f;

/// What a server checks a client's request against.
#[derive(Debug, Clone)]
pub(crate) struct ServerPolicy {
    pub(crate) serializers: Vec<SerializerKind>,
    pub(crate) min_peer_max_message_len: MaxMessageLen,
    pub(crate) max_connections_reached: bool,
}

/// `7F | LLLL SSSS | 00 | 00`: the request, or a server's success reply.
pub(crate) fn encode(serializer: SerializerKind, max: MaxMessageLen) -> [u8; HEADER_LEN] {
    [MAGIC, (max.exp() << 4) | serializer.rawsocket_id(), 0, 0]
}

/// `7F | EEEE 0000 | 00 | 00`: a server's error reply.
pub(crate) fn encode_error(code: HandshakeErrorCode) -> [u8; HEADER_LEN] {
    [MAGIC, code.code() << 4, 0, 0]
}

/// Checks a client's request. On an error that has a reply code, the caller (a server)
/// sends that reply. The checks run in this order, and the first failure is reported:
/// magic (no reply), reserved octets (3), serializer (1), client limit (2), connection
/// count (4).
pub(crate) fn check_request(
    octets: [u8; HEADER_LEN],
    policy: &ServerPolicy,
) -> Result<(SerializerKind, MaxMessageLen), RawSocketError> {
    let [magic, ls, r0, r1] = octets;
    if magic != MAGIC {
        return Err(RawSocketError::BadMagic { got: magic });
    }
    if r0 != 0 || r1 != 0 {
        return Err(RawSocketError::HandshakeReservedBits { octets: [r0, r1] });
    }
    let id = ls & 0x0f;
    let serializer = SerializerKind::from_rawsocket_id(id)
        .filter(|s| policy.serializers.contains(s))
        .ok_or(RawSocketError::UnsupportedSerializer { id })?;
    let client = MaxMessageLen::from_exp(ls >> 4).unwrap_or(MaxMessageLen::MAX);
    if client < policy.min_peer_max_message_len {
        return Err(RawSocketError::PeerMaxMessageLenUnacceptable {
            client,
            required: policy.min_peer_max_message_len,
        });
    }
    if policy.max_connections_reached {
        return Err(RawSocketError::MaxConnectionsReached);
    }
    Ok((serializer, client))
}

/// Checks a server's reply to a request for `requested`; returns the server's limit.
/// Checks, in order: magic, error reply, reserved octets, echoed serializer.
pub(crate) fn check_reply(
    octets: [u8; HEADER_LEN],
    requested: SerializerKind,
) -> Result<MaxMessageLen, RawSocketError> {
    let [magic, ls, r0, r1] = octets;
    if magic != MAGIC {
        return Err(RawSocketError::BadMagic { got: magic });
    }
    let echoed = ls & 0x0f;
    if echoed == 0 {
        return Err(RawSocketError::HandshakeRejected {
            code: HandshakeErrorCode::from_code(ls >> 4),
        });
    }
    if r0 != 0 || r1 != 0 {
        return Err(RawSocketError::HandshakeReservedBits { octets: [r0, r1] });
    }
    if echoed != requested.rawsocket_id() {
        return Err(RawSocketError::SerializerMismatch { requested, echoed });
    }
    // A nibble is always in 0..=15.
    Ok(MaxMessageLen::from_exp(ls >> 4).unwrap_or(MaxMessageLen::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ServerPolicy {
        ServerPolicy {
            serializers: SerializerKind::ALL.to_vec(),
            min_peer_max_message_len: MaxMessageLen::MIN,
            max_connections_reached: false,
        }
    }

    #[test]
    fn request_bytes() {
        assert_eq!(
            encode(SerializerKind::Json, MaxMessageLen::MAX),
            [0x7f, 0xf1, 0, 0]
        );
        assert_eq!(
            encode(SerializerKind::Cbor, MaxMessageLen::MIN),
            [0x7f, 0x03, 0, 0]
        );
        assert_eq!(
            encode_error(HandshakeErrorCode::SerializerUnsupported),
            [0x7f, 0x10, 0, 0]
        );
    }

    #[test]
    fn crossbar_reply_is_accepted() {
        // Crossbar answers 7f f1 00 00 with 7f b1 00 00: a 2^20 limit.
        let limit = check_reply([0x7f, 0xb1, 0, 0], SerializerKind::Json);
        assert_eq!(limit.map(MaxMessageLen::bytes), Ok(1 << 20));
    }

    #[test]
    fn request_checks_in_order() {
        let mut p = policy();
        p.max_connections_reached = true;
        p.serializers = vec![SerializerKind::Json];
        p.min_peer_max_message_len = MaxMessageLen::MAX;
        assert_eq!(
            check_request([0x00, 0x00, 1, 1], &p),
            Err(RawSocketError::BadMagic { got: 0 })
        );
        assert_eq!(
            check_request([0x7f, 0x00, 1, 0], &p),
            Err(RawSocketError::HandshakeReservedBits { octets: [1, 0] })
        );
        assert_eq!(
            check_request([0x7f, 0x02, 0, 0], &p),
            Err(RawSocketError::UnsupportedSerializer { id: 2 })
        );
        assert!(matches!(
            check_request([0x7f, 0xe1, 0, 0], &p),
            Err(RawSocketError::PeerMaxMessageLenUnacceptable { .. })
        ));
        assert_eq!(
            check_request([0x7f, 0xf1, 0, 0], &p),
            Err(RawSocketError::MaxConnectionsReached)
        );
        p.max_connections_reached = false;
        assert_eq!(
            check_request([0x7f, 0xf1, 0, 0], &p),
            Ok((SerializerKind::Json, MaxMessageLen::MAX))
        );
    }

    #[test]
    fn reply_checks() {
        let json = SerializerKind::Json;
        assert_eq!(
            check_reply([0x7e, 0xf1, 0, 0], json),
            Err(RawSocketError::BadMagic { got: 0x7e })
        );
        assert_eq!(
            check_reply([0x7f, 0x30, 0, 0], json),
            Err(RawSocketError::HandshakeRejected {
                code: HandshakeErrorCode::ReservedBitsUsed
            })
        );
        assert_eq!(
            check_reply([0x7f, 0xf1, 0, 2], json),
            Err(RawSocketError::HandshakeReservedBits { octets: [0, 2] })
        );
        assert_eq!(
            check_reply([0x7f, 0xf2, 0, 0], json),
            Err(RawSocketError::SerializerMismatch {
                requested: json,
                echoed: 2
            })
        );
    }
}
