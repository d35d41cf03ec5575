//! The RawSocket framer under arbitrary bytes and arbitrary chunking.
//!
//! Input layout: `[control] [limits] body`.
//! - `control` bit 0: client (1) or server (0); bit 1: start with a valid handshake so
//!   the fuzzer reaches framing at once; bit 2: small output bound; bit 3: send each chunk
//!   back as a message too; bits 4-5: the serializer; bit 6: structured body.
//! - `limits`: this side's limit exponent (low nibble), the peer's (high nibble).
//! - Raw body: `([len] [chunk of len bytes])*`, fed as is.
//! - Structured body: `([first octet] [length selector] [split])*`, each a frame built
//!   here with a length near 0, this side's limit or the peer's (so the boundaries are
//!   reached without guessing 24-bit lengths), fed in two chunks cut at `split`. At most
//!   256 KiB of payload is built per input.
//!
//! Checked, besides "no panic":
//! - no message or PONG payload exceeds this side's limit; queued output stays within
//!   the bound plus one frame;
//! - a failure is told once, in the last event (`Closed`), kept by `error()`, and
//!   nothing follows it;
//! - chunking does not matter: feeding everything at once gives the same messages,
//!   events, error and (without an error) the same bytes out;
//! - what the connection writes is valid RawSocket: a peer of the other role parses it
//!   without error and receives exactly the messages sent.

#![no_main]

use std::time::Instant;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use wamp_proto::serializer::SerializerKind;
use wamp_transport_rawsocket::{
    ClientConfig, Closed, Connection, Event, MaxMessageLen, RawSocketError, Role, ServerConfig,
};

const SERIALIZERS: [SerializerKind; 3] = [
    SerializerKind::Json,
    SerializerKind::MsgPack,
    SerializerKind::Cbor,
];

#[derive(Clone, Copy)]
struct Setup {
    role: Role,
    serializer: SerializerKind,
    own: MaxMessageLen,
    peer: MaxMessageLen,
    handshake_first: bool,
    max_queued_bytes: usize,
    echo_chunks: bool,
}

impl Setup {
    fn connection(&self, max_queued_bytes: usize) -> Connection {
        match self.role {
            Role::Client => Connection::client(
                ClientConfig {
                    max_message_len: self.own,
                    max_queued_bytes,
                    ..ClientConfig::new(self.serializer)
                },
                Instant::now(),
            ),
            Role::Server => Connection::server(
                ServerConfig {
                    max_message_len: self.own,
                    max_queued_bytes,
                    ..ServerConfig::default()
                },
                Instant::now(),
            ),
        }
    }

    /// The peer's valid handshake (a request to a server, a success reply to a client).
    fn peer_handshake(&self) -> [u8; 4] {
        [
            0x7f,
            (self.peer.exp() << 4) | self.serializer.rawsocket_id(),
            0,
            0,
        ]
    }

    /// A peer of the other role that accepts what this side sends.
    fn checker(&self) -> Connection {
        match self.role {
            Role::Server => Connection::client(
                ClientConfig {
                    max_message_len: self.peer,
                    max_queued_bytes: usize::MAX,
                    ..ClientConfig::new(self.serializer)
                },
                Instant::now(),
            ),
            Role::Client => Connection::server(
                ServerConfig {
                    max_message_len: self.peer,
                    max_queued_bytes: usize::MAX,
                    ..ServerConfig::default()
                },
                Instant::now(),
            ),
        }
    }
}

#[derive(Debug, Default, PartialEq)]
struct Outcome {
    transmit: Vec<u8>,
    messages: Vec<Bytes>,
    events: Vec<Event>,
    error: Option<RawSocketError>,
}

impl Outcome {
    fn drain(&mut self, conn: &mut Connection, own: MaxMessageLen) {
        while let Some(bytes) = conn.poll_transmit() {
            assert!(!bytes.is_empty());
            self.transmit.extend_from_slice(&bytes);
        }
        while let Some(event) = conn.poll_event() {
            assert!(
                !matches!(self.events.last(), Some(Event::Closed(_))),
                "an event after Closed: {event:?}"
            );
            match &event {
                Event::Pong(payload) => assert!(payload.len() <= own.bytes()),
                Event::Closed(Closed::Failed(error)) => {
                    assert!(error.fails_connection());
                    assert!(conn.is_failed() && !conn.is_open());
                    assert_eq!(conn.error(), Some(error));
                    self.error = Some(error.clone());
                }
                Event::Closed(_) => assert!(conn.is_closed() && !conn.is_failed()),
                _ => {}
            }
            self.events.push(event);
        }
        while let Some(message) = conn.poll_message() {
            assert!(message.len() <= own.bytes());
            self.messages.push(message);
        }
        assert_eq!(conn.queued_bytes(), 0);
    }
}

fn parse(data: &[u8]) -> Option<(Setup, Vec<Vec<u8>>)> {
    let (&control, rest) = data.split_first()?;
    let (&limits, rest) = rest.split_first()?;
    let setup = Setup {
        role: if control & 1 == 1 {
            Role::Client
        } else {
            Role::Server
        },
        handshake_first: control & 2 != 0,
        max_queued_bytes: if control & 4 != 0 { 64 } else { 1 << 20 },
        echo_chunks: control & 8 != 0,
        serializer: SERIALIZERS
            .get(usize::from((control >> 4) & 3) % SERIALIZERS.len())
            .copied()?,
        own: MaxMessageLen::from_exp(limits & 0x0f)?,
        peer: MaxMessageLen::from_exp(limits >> 4)?,
    };
    let chunks = if control & 0x40 == 0 {
        raw_chunks(rest)
    } else {
        structured_chunks(&setup, rest)
    };
    Some((setup, chunks))
}

fn raw_chunks(mut rest: &[u8]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let (chunk, tail) = tail.split_at(len);
        chunks.push(chunk.to_vec());
        rest = tail;
    }
    chunks
}

fn structured_chunks(setup: &Setup, body: &[u8]) -> Vec<Vec<u8>> {
    // Payload bytes built in all, to keep executions fast: beyond it a frame gets its
    // header but a short payload (the next frame's bytes, or the end, follow). The X bit
    // and 2^24 payloads are covered by the crate's tests; here their headers are enough.
    let mut budget: usize = 1 << 18;
    let mut chunks = Vec::new();
    for op in body.chunks_exact(3) {
        let &[first, selector, split] = op else {
            continue;
        };
        let delta = usize::from(selector & 63);
        let len = match selector >> 6 {
            0 => delta,
            1 => setup.own.bytes().saturating_sub(delta),
            2 => setup.own.bytes() + delta,
            _ => (setup.peer.bytes() + delta).saturating_sub(32),
        };
        let payload_len = len.min(budget);
        budget -= payload_len;
        // 25 length bits: the X bit is bit 24 of the length.
        let [_, b1, b2, b3] = ((len & 0x00ff_ffff) as u32).to_be_bytes();
        let x = if len & (1 << 24) != 0 { 0x08 } else { 0 };
        let mut frame = vec![(first & !0x08) | x, b1, b2, b3];
        frame.extend((0..payload_len).map(|i| (i ^ (i >> 8)) as u8));
        let cut = if split < 8 {
            usize::from(split)
        } else {
            frame.len() * usize::from(split) / 255
        }
        .min(frame.len());
        let (a, b) = frame.split_at(cut);
        chunks.push(a.to_vec());
        chunks.push(b.to_vec());
    }
    chunks
}

/// Feeds every chunk, draining after each; optionally sends each chunk as a message.
/// Returns the outcome and the messages accepted by `send_message`.
fn run(setup: &Setup, chunks: &[Vec<u8>], max_queued: usize, echo: bool) -> (Outcome, Vec<Bytes>) {
    let mut conn = setup.connection(max_queued);
    let mut out = Outcome::default();
    let mut sent = Vec::new();
    out.drain(&mut conn, setup.own);
    let prefix = if setup.handshake_first {
        vec![setup.peer_handshake().to_vec()]
    } else {
        Vec::new()
    };
    // Bound on queued output: the mark plus one frame (at most this side's limit, since
    // a PONG echoes a PING this side accepted, or the peer's limit for a local send).
    let frame_max = setup.own.bytes().max(setup.peer.bytes()) + 4;
    for chunk in prefix.iter().chain(chunks) {
        conn.handle_input(Instant::now(), chunk);
        assert!(conn.queued_bytes() <= max_queued.saturating_add(frame_max));
        if echo && !conn.is_closed() {
            let message = Bytes::copy_from_slice(chunk);
            let before = conn.queued_bytes();
            match conn.send_message(message.clone()) {
                Ok(()) => sent.push(message),
                Err(error) => {
                    assert!(!error.fails_connection(), "{error}");
                    assert_eq!(conn.queued_bytes(), before);
                }
            }
        }
        out.drain(&mut conn, setup.own);
    }
    conn.handle_transport_closed(Instant::now());
    out.drain(&mut conn, setup.own);
    (out, sent)
}

fuzz_target!(|data: &[u8]| {
    let Some((setup, chunks)) = parse(data) else {
        return;
    };

    // 1. Chunked, with the configured bound and optional sends.
    let (out, sent) = run(&setup, &chunks, setup.max_queued_bytes, setup.echo_chunks);

    // What it wrote parses as RawSocket on the other side. Only with the handshake from
    // the setup: otherwise the fuzzed handshake names limits the checker does not know.
    if setup.handshake_first {
        let mut checker = setup.checker();
        let _ = checker.poll_transmit();
        checker.handle_input(Instant::now(), &out.transmit);
        if let Some(error) = checker.error() {
            panic!("the connection wrote invalid RawSocket: {error}");
        }
        let received: Vec<Bytes> = std::iter::from_fn(|| checker.poll_message()).collect();
        assert_eq!(received, sent);
    }

    // 2. Chunking does not matter (no sends; no output bound, so draining does not either).
    let whole = vec![chunks.concat()];
    let (chunked, _) = run(&setup, &chunks, usize::MAX, false);
    let (at_once, _) = run(&setup, &whole, usize::MAX, false);
    assert_eq!(chunked.messages, at_once.messages);
    assert_eq!(chunked.events, at_once.events);
    assert_eq!(chunked.error, at_once.error);
    if chunked.error.is_none() {
        assert_eq!(chunked.transmit, at_once.transmit);
    }
});
