//! The 4-octet frame prefix: `RRRR XTTT | LLLLLLLL LLLLLLLL LLLLLLLL`.

use crate::error::RawSocketError;

/// The size of a frame header (and of a handshake).
pub(crate) const HEADER_LEN: usize = 4;

/// The largest payload a frame can carry: `2^24`, with the X bit set and the 24 length
/// bits zero.
pub(crate) const MAX_PAYLOAD: usize = 1 << 24;

/// The X bit: a 25th length bit, set only for a payload of exactly `2^24` octets.
const X_BIT: u8 = 0b0000_1000;

/// A transport message type `TTT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameType {
    /// 0: a WAMP message.
    Regular,
    /// 1: PING, to be answered with one PONG echoing the payload.
    Ping,
    /// 2: PONG.
    Pong,
}

impl FrameType {
    const fn bits(self) -> u8 {
        match self {
            Self::Regular => 0,
            Self::Ping => 1,
            Self::Pong => 2,
        }
    }
}

/// A parsed, validated frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) ty: FrameType,
    pub(crate) len: usize,
}

/// Encodes the header of a frame with a payload of `len` bytes. `len` must be at most
/// [`MAX_PAYLOAD`] (callers check it against a peer limit, which is never larger); larger
/// lengths are truncated to 25 bits rather than panicking.
pub(crate) fn encode_header(ty: FrameType, len: usize) -> [u8; HEADER_LEN] {
    debug_assert!(len <= MAX_PAYLOAD);
    let x = if len == MAX_PAYLOAD { X_BIT } else { 0 };
    // The low 24 bits; zero for exactly 2^24, where the X bit carries the length.
    let [_, b1, b2, b3] = ((len & 0x00ff_ffff) as u32).to_be_bytes();
    [x | ty.bits(), b1, b2, b3]
}

/// Decodes and checks a header against this side's limit `max` (bytes).
pub(crate) fn decode_header(
    octets: [u8; HEADER_LEN],
    max: usize,
) -> Result<Header, RawSocketError> {
    let [b0, b1, b2, b3] = octets;
    if b0 & 0xf0 != 0 {
        return Err(RawSocketError::ReservedFrameBits { first_octet: b0 });
    }
    let ty = match b0 & 0b111 {
        0 => FrameType::Regular,
        1 => FrameType::Ping,
        2 => FrameType::Pong,
        ty => return Err(RawSocketError::ReservedFrameType { ty }),
    };
    // The X bit is a 25th length bit. The spec sets it only with the 24 low bits zero;
    // any other combination is longer than 2^24 and so above every limit.
    let high = usize::from(b0 & X_BIT != 0) << 24;
    let len = high | (usize::from(b1) << 16) | (usize::from(b2) << 8) | usize::from(b3);
    if len > max {
        return Err(RawSocketError::FrameTooLong { len, max });
    }
    Ok(Header { ty, len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_encode_big_endian() {
        assert_eq!(encode_header(FrameType::Regular, 0), [0, 0, 0, 0]);
        assert_eq!(encode_header(FrameType::Ping, 12), [1, 0, 0, 12]);
        assert_eq!(encode_header(FrameType::Pong, 0x01_0203), [2, 1, 2, 3]);
        assert_eq!(
            encode_header(FrameType::Regular, MAX_PAYLOAD - 1),
            [0, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn x_bit_both_ways() {
        let header = encode_header(FrameType::Regular, MAX_PAYLOAD);
        assert_eq!(header, [0x08, 0, 0, 0]);
        assert_eq!(
            decode_header(header, MAX_PAYLOAD),
            Ok(Header {
                ty: FrameType::Regular,
                len: MAX_PAYLOAD
            })
        );
        assert_eq!(encode_header(FrameType::Ping, MAX_PAYLOAD), [0x09, 0, 0, 0]);
        // X with nonzero low bits: longer than 2^24, so above every limit.
        assert_eq!(
            decode_header([0x08, 0, 0, 1], MAX_PAYLOAD),
            Err(RawSocketError::FrameTooLong {
                len: MAX_PAYLOAD + 1,
                max: MAX_PAYLOAD
            })
        );
    }

    #[test]
    fn every_first_octet_is_classified() {
        for b0 in 0..=255u8 {
            let result = decode_header([b0, 0, 0, 1], MAX_PAYLOAD);
            match (b0 >> 4, b0 & 0b111, b0 & X_BIT != 0) {
                (1.., _, _) => assert_eq!(
                    result,
                    Err(RawSocketError::ReservedFrameBits { first_octet: b0 })
                ),
                (0, ty @ 3.., _) => {
                    assert_eq!(result, Err(RawSocketError::ReservedFrameType { ty }))
                }
                (0, _, true) => assert!(matches!(result, Err(RawSocketError::FrameTooLong { .. }))),
                (0, _, false) => assert_eq!(result.map(|h| h.len), Ok(1)),
            }
        }
    }

    #[test]
    fn limit_is_inclusive() {
        assert!(decode_header(encode_header(FrameType::Regular, 512), 512).is_ok());
        assert_eq!(
            decode_header(encode_header(FrameType::Regular, 513), 512),
            Err(RawSocketError::FrameTooLong { len: 513, max: 512 })
        );
    }
}
