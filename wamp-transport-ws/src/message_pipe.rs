//! The message pipe: a WebSocket that the platform implements itself (a web browser),
//! handed to a connection loop as a byte stream.
//!
//! A browser never shows a page the WebSocket frames: it opens the connection, takes
//! whole messages to send, and gives whole messages back. A runtime on such a platform
//! gives the loop a byte stream (`wamp_runtime::Runtime::open_websocket`) that carries
//! [`Record`]s in both directions, each written as one tag byte, a 4-byte big-endian
//! length and the body:
//!
//! - from the platform to the loop: [`Record::Open`] once the socket opened (with the
//!   subprotocol the server chose), then [`Record::Text`] / [`Record::Binary`] for each
//!   message, and [`Record::Close`] when the socket closed (then the stream ends);
//! - from the loop to the platform: messages to send, and at most one
//!   [`Record::Close`] asking to close with a code and reason.
//!
//! [`PipeMachine`] is the loop's end, a sans-IO machine like [`WebSocket`](crate::WebSocket):
//! bytes in, messages and events out, and the decisions the platform leaves to the page
//! (the subprotocol was one offered, a message is within the limit).

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};
use wamp_proto::serializer::SerializerKind;

use crate::CloseCode;

const OPEN: u8 = 0;
const TEXT: u8 = 1;
const BINARY: u8 = 2;
const CLOSE: u8 = 3;
const HEADER: usize = 5;

/// One unit on the pipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// The socket opened; the subprotocol the server chose (empty if none).
    Open {
        /// `wamp.2.json`, `wamp.2.msgpack` or `wamp.2.cbor`.
        protocol: String,
    },
    /// A text message (JSON).
    Text(Bytes),
    /// A binary message (MessagePack, CBOR).
    Binary(Bytes),
    /// The socket closed (from the platform), or should close (from the loop).
    Close {
        /// The WebSocket close code (1000 normal; 1006 when the connection was lost).
        code: u16,
        /// The close reason, possibly empty.
        reason: String,
    },
}

impl Record {
    /// Appends the record's bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let (tag, body): (u8, &[u8]) = match self {
            Record::Open { protocol } => (OPEN, protocol.as_bytes()),
            Record::Text(b) => (TEXT, b),
            Record::Binary(b) => (BINARY, b),
            Record::Close { code, reason } => {
                let len = 2 + reason.len();
                out.push(CLOSE);
                out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
                out.extend_from_slice(&code.to_be_bytes());
                out.extend_from_slice(reason.as_bytes());
                return;
            }
        };
        out.push(tag);
        out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(body);
    }

    /// The record as bytes.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        Bytes::from(out)
    }
}

/// A record that cannot be read: the other end does not speak the pipe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("message pipe: {0}")]
pub struct PipeError(String);

/// Reads records from bytes that arrive in pieces of any size.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Takes more bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Whether part of a record waits for the rest.
    pub fn is_partial(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The next complete record, if one has arrived.
    ///
    /// # Errors
    ///
    /// An unknown tag, a close record shorter than its code, or text that is not
    /// UTF-8 where the pipe carries text (a subprotocol, a close reason).
    pub fn next_record(&mut self) -> Result<Option<Record>, PipeError> {
        if self.buf.len() < HEADER {
            return Ok(None);
        }
        let mut len = [0u8; 4];
        len.copy_from_slice(&self.buf[1..HEADER]);
        let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
        // No `HEADER + len`: on a 32-bit target it could overflow.
        if self.buf.len() - HEADER < len {
            return Ok(None);
        }
        let tag = self.buf[0];
        self.buf.advance(HEADER);
        let body = self.buf.split_to(len).freeze();
        let text = |b: &[u8]| {
            String::from_utf8(b.to_vec()).map_err(|_| PipeError("text that is not UTF-8".into()))
        };
        match tag {
            OPEN => Ok(Some(Record::Open {
                protocol: text(&body)?,
            })),
            TEXT => Ok(Some(Record::Text(body))),
            BINARY => Ok(Some(Record::Binary(body))),
            CLOSE if body.len() >= 2 => Ok(Some(Record::Close {
                code: u16::from_be_bytes([body[0], body[1]]),
                reason: text(&body[2..])?,
            })),
            CLOSE => Err(PipeError("a close record without a code".into())),
            other => Err(PipeError(format!("unknown record tag {other}"))),
        }
    }
}

/// What the loop must react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipeEvent {
    /// The socket opened with this serializer's subprotocol.
    Open(SerializerKind),
    /// The socket is over; the last event.
    Closed(PipeEnd),
}

/// How the socket ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipeEnd {
    /// Closed normally (code 1000), or by this side.
    Normal,
    /// Closed by the peer or the platform with another code (1006: the connection was
    /// lost).
    Closed {
        /// The WebSocket close code.
        code: u16,
        /// The close reason.
        reason: String,
    },
    /// The byte stream ended without a close record.
    Eof,
    /// Something this side refuses: a subprotocol it did not offer, a message over the
    /// limit, a record out of place (a close record asking the platform to close has
    /// been queued where it makes sense).
    Failed(String),
}

/// The loop's end of the pipe: what a connection loop drives where it would drive the
/// [`WebSocket`](crate::WebSocket) machine on a socket of its own.
#[derive(Debug)]
pub struct PipeMachine {
    decoder: Decoder,
    /// The subprotocols offered, in preference order.
    offered: Vec<SerializerKind>,
    /// The largest message taken from the peer, if limited.
    max_message: Option<usize>,
    serializer: Option<SerializerKind>,
    messages: VecDeque<Bytes>,
    transmit: VecDeque<Bytes>,
    events: VecDeque<PipeEvent>,
    closed: bool,
}

impl PipeMachine {
    /// A machine that offered `offered` and takes messages of at most `max_message`
    /// bytes.
    pub fn new(offered: Vec<SerializerKind>, max_message: Option<usize>) -> PipeMachine {
        PipeMachine {
            decoder: Decoder::new(),
            offered,
            max_message,
            serializer: None,
            messages: VecDeque::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            closed: false,
        }
    }

    fn end(&mut self, how: PipeEnd) {
        if !self.closed {
            self.closed = true;
            self.events.push_back(PipeEvent::Closed(how));
        }
    }

    /// Asks the platform to close with `code` and fails with `why`.
    fn refuse(&mut self, code: u16, reason: &str, why: String) {
        self.transmit.push_back(
            Record::Close {
                code,
                reason: reason.to_owned(),
            }
            .encode(),
        );
        self.end(PipeEnd::Failed(why));
    }

    fn on_record(&mut self, record: Record) {
        match record {
            Record::Open { protocol } => {
                match SerializerKind::from_subprotocol(&protocol)
                    .filter(|s| self.offered.contains(s))
                {
                    Some(serializer) if self.serializer.is_none() => {
                        self.serializer = Some(serializer);
                        self.events.push_back(PipeEvent::Open(serializer));
                    }
                    Some(_) => self.end(PipeEnd::Failed("the socket opened twice".into())),
                    // What a browser does not check itself: a server that picked no WAMP
                    // subprotocol (or one that was not offered). The codes are the
                    // WebSocket ones; a platform that may not send one (a browser only
                    // sends 1000 and 3000-4999) says it its own way.
                    None => self.refuse(
                        1002,
                        "no WAMP subprotocol",
                        format!(
                            "the server chose the subprotocol {protocol:?}, not one of those offered"
                        ),
                    ),
                }
            }
            Record::Text(message) | Record::Binary(message) => {
                if let Some(max) = self.max_message.filter(|&max| message.len() > max) {
                    // The platform has taken it whole already; what is left is not to
                    // pass it on, as the WebSocket machine would not.
                    let why = format!(
                        "a message of {} bytes is over the limit of {max}",
                        message.len()
                    );
                    self.refuse(1009, "message too big", why);
                } else if self.serializer.is_some() {
                    self.messages.push_back(message);
                } else {
                    self.end(PipeEnd::Failed("a message before the socket opened".into()));
                }
            }
            Record::Close { code: 1000, .. } => self.end(PipeEnd::Normal),
            Record::Close { code, reason } => self.end(PipeEnd::Closed { code, reason }),
        }
    }

    /// Bytes from the platform's stream.
    pub fn handle_input(&mut self, data: &[u8]) {
        if self.closed {
            return;
        }
        self.decoder.push(data);
        while !self.closed {
            match self.decoder.next_record() {
                Ok(Some(record)) => self.on_record(record),
                Ok(None) => break,
                Err(e) => self.end(PipeEnd::Failed(e.to_string())),
            }
        }
    }

    /// The platform's stream ended.
    pub fn handle_transport_closed(&mut self) {
        self.end(PipeEnd::Eof);
    }

    /// Bytes to write to the platform's stream.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmit.pop_front()
    }

    /// The next message from the peer.
    #[must_use]
    pub fn poll_message(&mut self) -> Option<Bytes> {
        self.messages.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<PipeEvent> {
        self.events.pop_front()
    }

    /// Sends a message: text for JSON, binary otherwise.
    ///
    /// # Errors
    ///
    /// The socket is not open yet, or is over.
    pub fn send_message(&mut self, message: Bytes) -> Result<(), String> {
        let record = match self.serializer {
            _ if self.closed => return Err("the socket is closed".into()),
            Some(SerializerKind::Json) => Record::Text(message),
            Some(_) => Record::Binary(message),
            None => return Err("the socket is not open yet".into()),
        };
        self.transmit.push_back(record.encode());
        Ok(())
    }

    /// Asks the platform to close with `code` and `reason`. Like RawSocket's local
    /// close, the socket is over at once for this side; the platform closes it once it
    /// has sent what came before.
    pub fn close(&mut self, code: CloseCode, reason: &str) {
        if self.closed {
            return;
        }
        self.transmit.push_back(
            Record::Close {
                code: code.0,
                reason: reason.to_owned(),
            }
            .encode(),
        );
        self.end(PipeEnd::Normal);
    }

    /// Whether the socket is over.
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_any_split() {
        let records = [
            Record::Open {
                protocol: "wamp.2.json".into(),
            },
            Record::Text(Bytes::from_static(b"[1,\"realm1\",{}]")),
            Record::Binary(Bytes::from_static(&[0x93, 1, 2, 3])),
            Record::Binary(Bytes::new()),
            Record::Close {
                code: 3000,
                reason: "wamp.close.normal".into(),
            },
        ];
        let mut wire = Vec::new();
        for r in &records {
            r.encode_into(&mut wire);
        }
        for step in 1..wire.len() {
            let mut decoder = Decoder::new();
            let mut got = Vec::new();
            for chunk in wire.chunks(step) {
                decoder.push(chunk);
                while let Some(r) = decoder.next_record().expect("valid") {
                    got.push(r);
                }
            }
            assert_eq!(got, records, "split every {step} bytes");
            assert!(!decoder.is_partial());
        }
    }

    fn wire(records: &[Record]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            r.encode_into(&mut out);
        }
        out
    }

    fn sent(machine: &mut PipeMachine) -> Vec<Record> {
        let mut decoder = Decoder::new();
        while let Some(bytes) = machine.poll_transmit() {
            decoder.push(&bytes);
        }
        std::iter::from_fn(|| decoder.next_record().expect("valid")).collect()
    }

    #[test]
    fn the_machine_opens_carries_messages_both_ways_and_closes() {
        let mut m = PipeMachine::new(vec![SerializerKind::Cbor, SerializerKind::Json], None);
        assert!(m.send_message(Bytes::from_static(b"early")).is_err());
        m.handle_input(&wire(&[
            Record::Open {
                protocol: "wamp.2.json".into(),
            },
            Record::Text(Bytes::from_static(b"[2,1,{}]")),
        ]));
        assert!(matches!(
            m.poll_event(),
            Some(PipeEvent::Open(SerializerKind::Json))
        ));
        assert_eq!(m.poll_message(), Some(Bytes::from_static(b"[2,1,{}]")));
        m.send_message(Bytes::from_static(b"[6,{},\"x\"]"))
            .expect("open");
        m.close(CloseCode::NORMAL, "bye");
        assert_eq!(
            sent(&mut m),
            vec![
                Record::Text(Bytes::from_static(b"[6,{},\"x\"]")),
                Record::Close {
                    code: 1000,
                    reason: "bye".into()
                }
            ]
        );
        assert!(matches!(
            m.poll_event(),
            Some(PipeEvent::Closed(PipeEnd::Normal))
        ));
        assert!(m.is_closed());
    }

    #[test]
    fn a_peer_close_an_unoffered_protocol_and_an_oversize_message_end_it() {
        let mut m = PipeMachine::new(vec![SerializerKind::MsgPack], None);
        m.handle_input(&wire(&[Record::Close {
            code: 1006,
            reason: String::new(),
        }]));
        assert!(matches!(
            m.poll_event(),
            Some(PipeEvent::Closed(PipeEnd::Closed { code: 1006, .. }))
        ));

        let mut m = PipeMachine::new(vec![SerializerKind::MsgPack], None);
        m.handle_input(&wire(&[Record::Open {
            protocol: "wamp.2.json".into(),
        }]));
        assert!(matches!(
            m.poll_event(),
            Some(PipeEvent::Closed(PipeEnd::Failed(_)))
        ));
        assert!(matches!(
            sent(&mut m)[..],
            [Record::Close { code: 1002, .. }]
        ));

        let mut m = PipeMachine::new(vec![SerializerKind::MsgPack], Some(4));
        m.handle_input(&wire(&[
            Record::Open {
                protocol: "wamp.2.msgpack".into(),
            },
            Record::Binary(Bytes::from_static(&[1, 2, 3, 4, 5])),
        ]));
        assert!(matches!(m.poll_event(), Some(PipeEvent::Open(_))));
        assert!(matches!(
            m.poll_event(),
            Some(PipeEvent::Closed(PipeEnd::Failed(_)))
        ));
        assert_eq!(m.poll_message(), None);
        assert!(matches!(
            sent(&mut m)[..],
            [Record::Close { code: 1009, .. }]
        ));
    }

    #[test]
    fn a_huge_length_waits_for_its_bytes_without_overflowing() {
        let mut decoder = Decoder::new();
        decoder.push(&[TEXT, 0xff, 0xff, 0xff, 0xff, 1, 2]);
        assert_eq!(decoder.next_record(), Ok(None));
        assert!(decoder.is_partial());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut decoder = Decoder::new();
        decoder.push(&[9, 0, 0, 0, 0]);
        assert!(decoder.next_record().is_err());
        let mut decoder = Decoder::new();
        decoder.push(&[CLOSE, 0, 0, 0, 1, 7]);
        assert!(decoder.next_record().is_err());
        let mut decoder = Decoder::new();
        decoder.push(&[OPEN, 0, 0, 0, 1, 0xff]);
        assert!(decoder.next_record().is_err());
    }
}
