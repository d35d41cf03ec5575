//! RFC 6455 framing over plain buffers, for the open connection.
//!
//! tungstenite's [`FrameHeader`] parses frame headers (ours are written here); the payloads never
//! pass through an `io::Read`/`io::Write` pair. Input is appended once to the reader's
//! buffer and each payload is split off it in place (unmasked in place on the server),
//! so a received message costs one copy, where driving `WebSocket` over an in-memory
//! stream cost two (into the stream, then into tungstenite's read buffer).

use std::io::Cursor;

use bytes::{Buf, Bytes, BytesMut};
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

use crate::error::{CloseCode, FrameKind, WsError};

/// Which end of the connection this is: it decides who masks (RFC 6455 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Masks what it sends; refuses masked frames.
    Client,
    /// Sends unmasked; refuses unmasked frames.
    Server,
}

/// The size limits a reader enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_message_size: Option<usize>,
    pub(crate) max_frame_size: Option<usize>,
}

/// One unit of what the peer sent: a complete (reassembled) data message or a control
/// frame.
#[derive(Debug)]
pub(crate) enum Incoming {
    Data(FrameKind, Bytes),
    Ping(Bytes),
    Pong(Bytes),
    /// A Close frame: its code and reason, or `None` for an empty one.
    Close(Option<(CloseCode, String)>),
}

/// Splits buffered input into frames and reassembles fragmented messages.
#[derive(Debug, Default)]
pub(crate) struct FrameReader {
    input: BytesMut,
    /// The fragments of a message whose final frame has not arrived.
    partial: Option<(FrameKind, BytesMut)>,
}

impl FrameReader {
    /// Whether a message has begun to arrive and is not whole yet: part of a frame is
    /// buffered, or fragments wait for their final frame.
    pub(crate) fn is_mid_message(&self) -> bool {
        !self.input.is_empty() || self.partial.is_some()
    }

    /// Appends bytes received from the peer.
    pub(crate) fn feed(&mut self, data: &[u8]) {
        self.input.extend_from_slice(data);
    }

    /// The next complete message or control frame, `None` until more input arrives, or
    /// the peer's framing fault. After an error the reader is not used again.
    pub(crate) fn next(&mut self, role: Role, limits: Limits) -> Result<Option<Incoming>, WsError> {
        loop {
            let Some(incoming) = self.next_frame(role, limits)? else {
                if self.input.is_empty() {
                    // An idle connection keeps no input buffer.
                    self.input = BytesMut::new();
                }
                return Ok(None);
            };
            if let Some(incoming) = incoming {
                return Ok(Some(incoming));
            }
            // A non-final fragment: keep reading.
        }
    }

    /// Reads one frame: `None` if it has not fully arrived, `Some(None)` for a fragment
    /// that does not complete a message.
    fn next_frame(
        &mut self,
        role: Role,
        limits: Limits,
    ) -> Result<Option<Option<Incoming>>, WsError> {
        let mut cursor = Cursor::new(&self.input[..]);
        let Some((header, length)) =
            FrameHeader::parse(&mut cursor).map_err(|e| WsError::Protocol(e.to_string()))?
        else {
            return Ok(None);
        };
        let header_len = cursor.position() as usize;
        // Every check that the header alone settles comes before waiting for the
        // payload, so a bad frame is refused as soon as its header is in.
        check_header(&header, role)?;
        let too_big = |max: usize| WsError::MessageTooBig {
            size: usize::try_from(length).unwrap_or(usize::MAX),
            max,
        };
        let length = match limits.max_frame_size {
            Some(max) if length > max as u64 => return Err(too_big(max)),
            _ => usize::try_from(length).map_err(|_| too_big(usize::MAX))?,
        };
        if let OpCode::Control(_) = header.opcode {
            if length > 125 {
                return Err(WsError::Protocol(
                    "a control frame longer than 125 bytes".into(),
                ));
            }
        }
        if self.input.len() - header_len < length {
            return Ok(None);
        }
        self.input.advance(header_len);
        let mut payload = self.input.split_to(length);
        if let Some(mask) = header.mask {
            apply_mask(&mut payload, mask);
        }
        match header.opcode {
            OpCode::Control(Control::Ping) => Ok(Some(Some(Incoming::Ping(payload.freeze())))),
            OpCode::Control(Control::Pong) => Ok(Some(Some(Incoming::Pong(payload.freeze())))),
            OpCode::Control(Control::Close) => Ok(Some(Some(close_frame(payload.freeze())?))),
            OpCode::Data(data) => self.on_data(data, header.is_final, payload, limits),
            // `FrameHeader::parse` refuses reserved opcodes.
            OpCode::Control(Control::Reserved(op)) => Err(WsError::Protocol(format!(
                "unknown control frame type {op}"
            ))),
        }
    }

    fn on_data(
        &mut self,
        data: Data,
        is_final: bool,
        payload: BytesMut,
        limits: Limits,
    ) -> Result<Option<Option<Incoming>>, WsError> {
        let check_size = |size: usize| match limits.max_message_size {
            Some(max) if size > max => Err(WsError::MessageTooBig { size, max }),
            _ => Ok(()),
        };
        let (kind, message) = match (data, self.partial.take()) {
            (Data::Continue, None) => {
                return Err(WsError::Protocol(
                    "a continuation frame with no message to continue".into(),
                ))
            }
            (Data::Continue, Some((kind, mut message))) => {
                check_size(message.len().saturating_add(payload.len()))?;
                message.extend_from_slice(&payload);
                (kind, message)
            }
            (_, Some(_)) => {
                return Err(WsError::Protocol(
                    "a new data frame while a fragmented message is incomplete".into(),
                ))
            }
            (Data::Text, None) => (FrameKind::Text, payload),
            (Data::Binary, None) => (FrameKind::Binary, payload),
            (Data::Reserved(op), None) => {
                return Err(WsError::Protocol(format!("unknown data frame type {op}")))
            }
        };
        check_size(message.len())?;
        if !is_final {
            self.partial = Some((kind, message));
            return Ok(Some(None));
        }
        if kind == FrameKind::Text && std::str::from_utf8(&message).is_err() {
            return Err(WsError::InvalidUtf8);
        }
        Ok(Some(Some(Incoming::Data(kind, message.freeze()))))
    }
}

fn check_header(header: &FrameHeader, role: Role) -> Result<(), WsError> {
    // No extension is negotiated, so no reserved bit has a meaning.
    if header.rsv1 || header.rsv2 || header.rsv3 {
        return Err(WsError::Protocol("a reserved bit is set".into()));
    }
    match (role, header.mask.is_some()) {
        (Role::Server, false) => {
            return Err(WsError::Protocol(
                "an unmasked frame from the client".into(),
            ))
        }
        (Role::Client, true) => {
            return Err(WsError::Protocol("a masked frame from the server".into()))
        }
        _ => {}
    }
    if matches!(header.opcode, OpCode::Control(_)) && !header.is_final {
        return Err(WsError::Protocol("a fragmented control frame".into()));
    }
    Ok(())
}

fn close_frame(payload: Bytes) -> Result<Incoming, WsError> {
    match payload.len() {
        0 => Ok(Incoming::Close(None)),
        1 => Err(WsError::Protocol(
            "a close frame with a 1-byte payload".into(),
        )),
        _ => {
            let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
            let reason = std::str::from_utf8(&payload[2..]).map_err(|_| WsError::InvalidUtf8)?;
            Ok(Incoming::Close(Some((code, reason.to_owned()))))
        }
    }
}

/// XORs `buf` with the masking key, in place (RFC 6455 §5.3), eight bytes at a time.
fn apply_mask(buf: &mut [u8], mask: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ wide).to_ne_bytes());
    }
    // The remainder starts at a multiple of 8, so the key starts over.
    for (byte, key) in chunks.into_remainder().iter_mut().zip(mask.iter().cycle()) {
        *byte ^= key;
    }
}

/// Payloads up to this size go out in one buffer with their frame header (one
/// allocation and a small copy, instead of a header buffer beside a shared payload).
const SMALL_FRAME: usize = 512;

/// Encodes one final frame: the bytes to write, in one or two buffers. A server's
/// payload goes out as it is (behind its header, without a copy when it is large); a
/// client's is masked with a fresh key, which is a copy by nature.
pub(crate) fn encode_frame(role: Role, opcode: OpCode, payload: Bytes) -> (Bytes, Option<Bytes>) {
    let mask = match role {
        Role::Client => Some(rand::random::<[u8; 4]>()),
        Role::Server => None,
    };
    let mut head = [0; MAX_HEADER];
    let head_len = write_header(&mut head, opcode, payload.len(), mask);
    let head = &head[..head_len];
    if mask.is_none() && payload.len() > SMALL_FRAME {
        return (Bytes::copy_from_slice(head), Some(payload));
    }
    let mut frame = Vec::with_capacity(head_len + payload.len());
    frame.extend_from_slice(head);
    frame.extend_from_slice(&payload);
    if let Some(mask) = mask {
        apply_mask(&mut frame[head_len..], mask);
    }
    (Bytes::from(frame), None)
}

/// The longest frame header: 2 bytes, a 64-bit length and a masking key.
const MAX_HEADER: usize = 14;

/// Writes the header of a final frame of `len` bytes (RFC 6455 §5.2) into `head`;
/// returns its length.
fn write_header(
    head: &mut [u8; MAX_HEADER],
    opcode: OpCode,
    len: usize,
    mask: Option<[u8; 4]>,
) -> usize {
    head[0] = 0x80 | u8::from(opcode);
    let masked = if mask.is_some() { 0x80 } else { 0 };
    let mut at = match len {
        0..=125 => {
            head[1] = masked | len as u8;
            2
        }
        126..=0xFFFF => {
            head[1] = masked | 126;
            head[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            4
        }
        _ => {
            head[1] = masked | 127;
            head[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            10
        }
    };
    if let Some(mask) = mask {
        head[at..at + 4].copy_from_slice(&mask);
        at += 4;
    }
    at
}

/// The payload of a Close frame: the code and a reason.
pub(crate) fn close_payload(code: CloseCode, reason: &str) -> Bytes {
    let mut payload = Vec::with_capacity(2 + reason.len());
    payload.extend_from_slice(&code.0.to_be_bytes());
    payload.extend_from_slice(reason.as_bytes());
    Bytes::from(payload)
}

pub(crate) const TEXT: OpCode = OpCode::Data(Data::Text);
pub(crate) const BINARY: OpCode = OpCode::Data(Data::Binary);
pub(crate) const PING: OpCode = OpCode::Control(Control::Ping);
pub(crate) const PONG: OpCode = OpCode::Control(Control::Pong);
pub(crate) const CLOSE: OpCode = OpCode::Control(Control::Close);

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_message_size: Some(100),
        max_frame_size: Some(60),
    };

    fn frames(role: Role, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        let (head, rest) = encode_frame(role, opcode, Bytes::copy_from_slice(payload));
        [head, rest.unwrap_or_default()].concat()
    }

    /// A frame as a client writes it, with `fin` and `opcode` as given.
    fn raw(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![
            if fin { 0x80 } else { 0 } | opcode,
            0x80 | payload.len() as u8,
        ];
        let mask = [1, 2, 3, 4];
        frame.extend_from_slice(&mask);
        let mut body = payload.to_vec();
        apply_mask(&mut body, mask);
        frame.extend_from_slice(&body);
        frame
    }

    #[test]
    fn a_masked_frame_round_trips_at_every_split() {
        let wire = frames(Role::Client, BINARY, b"hello, server");
        for split in 0..=wire.len() {
            let mut reader = FrameReader::default();
            reader.feed(&wire[..split]);
            let first = reader.next(Role::Server, LIMITS).expect("well framed");
            reader.feed(&wire[split..]);
            let got = first.or_else(|| reader.next(Role::Server, LIMITS).expect("well framed"));
            match got {
                Some(Incoming::Data(FrameKind::Binary, data)) => {
                    assert_eq!(&data[..], b"hello, server", "split at {split}")
                }
                other => panic!("split at {split}: {other:?}"),
            }
            assert!(reader
                .next(Role::Server, LIMITS)
                .expect("well framed")
                .is_none());
        }
    }

    #[test]
    fn frames_of_every_length_encoding_round_trip_both_ways() {
        let unlimited = Limits {
            max_message_size: None,
            max_frame_size: None,
        };
        for len in [
            0, 1, 7, 8, 9, 125, 126, 127, 512, 513, 65_535, 65_536, 70_001,
        ] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for (sender, receiver) in [(Role::Client, Role::Server), (Role::Server, Role::Client)] {
                let mut reader = FrameReader::default();
                reader.feed(&frames(sender, BINARY, &payload));
                match reader.next(receiver, unlimited).expect("well framed") {
                    Some(Incoming::Data(FrameKind::Binary, data)) => {
                        assert!(data[..] == payload[..], "{len} bytes from {sender:?}")
                    }
                    other => panic!("{len} bytes from {sender:?}: {other:?}"),
                }
                assert!(
                    reader.input.is_empty(),
                    "{len} bytes: the whole frame was read"
                );
            }
        }
    }

    #[test]
    fn fragments_are_reassembled_around_a_ping() {
        let mut wire = raw(false, 0x1, b"hel");
        wire.extend(raw(true, 0x9, b"p"));
        wire.extend(raw(true, 0x0, "lo ü".as_bytes()));
        let mut reader = FrameReader::default();
        reader.feed(&wire);
        assert!(matches!(
            reader.next(Role::Server, LIMITS).expect("well framed"),
            Some(Incoming::Ping(p)) if &p[..] == b"p"
        ));
        assert!(matches!(
            reader.next(Role::Server, LIMITS).expect("well framed"),
            Some(Incoming::Data(FrameKind::Text, t)) if &t[..] == "hello ü".as_bytes()
        ));
    }

    #[test]
    fn framing_faults_are_errors() {
        let fault = |wire: Vec<u8>, role: Role| {
            let mut reader = FrameReader::default();
            reader.feed(&wire);
            reader.next(role, LIMITS).expect_err("a fault")
        };
        let protocol_faults = [
            // Unmasked to a server, masked to a client.
            (frames(Role::Server, BINARY, b"x"), Role::Server),
            (raw(true, 0x2, b"x"), Role::Client),
            // A continuation of nothing, a fragmented ping, a reserved opcode, a
            // 1-byte close payload.
            (raw(true, 0x0, b"x"), Role::Server),
            (raw(false, 0x9, b""), Role::Server),
            (raw(true, 0x3, b""), Role::Server),
            (raw(true, 0x8, b"x"), Role::Server),
        ];
        for (i, (wire, role)) in protocol_faults.into_iter().enumerate() {
            assert!(
                matches!(fault(wire, role), WsError::Protocol(_)),
                "fault {i}"
            );
        }
        assert!(matches!(
            fault(raw(true, 0x1, &[0xff]), Role::Server),
            WsError::InvalidUtf8
        ));
        let mut rsv = raw(true, 0x2, b"x");
        rsv[0] |= 0x40;
        assert!(matches!(fault(rsv, Role::Server), WsError::Protocol(_)));
        let mut interleaved = raw(false, 0x2, b"x");
        interleaved.extend(raw(true, 0x2, b"y"));
        assert!(matches!(
            fault(interleaved, Role::Server),
            WsError::Protocol(_)
        ));
    }

    #[test]
    fn limits_hold_for_frames_and_reassembled_messages() {
        let mut reader = FrameReader::default();
        // Refused on the header alone: the payload never has to arrive.
        reader.feed(&frames(Role::Client, BINARY, &[0; 61])[..8]);
        assert_eq!(
            reader.next(Role::Server, LIMITS).expect_err("a fault"),
            WsError::MessageTooBig { size: 61, max: 60 }
        );
        let mut reader = FrameReader::default();
        reader.feed(&raw(false, 0x2, &[0; 60]));
        reader.feed(&raw(true, 0x0, &[0; 41]));
        assert_eq!(
            reader.next(Role::Server, LIMITS).expect_err("a fault"),
            WsError::MessageTooBig {
                size: 101,
                max: 100
            }
        );
    }

    #[test]
    fn close_frames_carry_code_and_reason() {
        let mut reader = FrameReader::default();
        let payload = close_payload(CloseCode(1001), "going away");
        reader.feed(&frames(Role::Client, CLOSE, &payload));
        match reader.next(Role::Server, LIMITS).expect("well framed") {
            Some(Incoming::Close(Some((code, reason)))) => {
                assert_eq!((code, reason.as_str()), (CloseCode(1001), "going away"))
            }
            other => panic!("{other:?}"),
        }
    }
}
