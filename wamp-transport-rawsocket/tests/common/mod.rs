//! Test helpers: an independent frame encoder, split feeding, and an in-memory link.

#![allow(dead_code)] // each test file uses a different subset

use std::time::Instant;

use bytes::Bytes;
use wamp_proto::serializer::SerializerKind;
use wamp_transport_rawsocket::{
    ClientConfig, Closed, Connection, Event, MaxMessageLen, RawSocketError, ServerConfig,
};

/// A client started now (these tests set no timers).
pub fn new_client(config: ClientConfig) -> Connection {
    Connection::client(config, Instant::now())
}

/// A server started now.
pub fn new_server(config: ServerConfig) -> Connection {
    Connection::server(config, Instant::now())
}

/// The machine's inputs as results, for assertions: `Err` once the connection has
/// failed (the reason its `Closed` event carries), as every later call then does.
pub trait Drive {
    /// [`Connection::handle_input`], then whether the connection failed.
    fn input(&mut self, bytes: &[u8]) -> Result<(), RawSocketError>;
    /// [`Connection::handle_transport_closed`], then whether the connection failed.
    fn eof(&mut self) -> Result<(), RawSocketError>;
}

impl Drive for Connection {
    fn input(&mut self, bytes: &[u8]) -> Result<(), RawSocketError> {
        let was_closed = self.is_closed();
        self.handle_input(Instant::now(), bytes);
        outcome(self, was_closed)
    }

    fn eof(&mut self) -> Result<(), RawSocketError> {
        let was_closed = self.is_closed();
        self.handle_transport_closed(Instant::now());
        outcome(self, was_closed)
    }
}

fn outcome(conn: &Connection, was_closed: bool) -> Result<(), RawSocketError> {
    match conn.error() {
        Some(error) => Err(error.clone()),
        None if was_closed => Err(RawSocketError::Closed),
        None => Ok(()),
    }
}

pub const REGULAR: u8 = 0;
pub const PING: u8 = 1;
pub const PONG: u8 = 2;

/// A frame, encoded here independently of the crate: `RRRR XTTT | 24-bit length`.
pub fn frame(ty: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    assert!(len <= 1 << 24);
    let x = if len == 1 << 24 { 0x08 } else { 0 };
    let mut out = vec![x | ty, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    out.extend_from_slice(payload);
    out
}

/// The handshake `7F | LLLL SSSS | 00 | 00`.
pub fn handshake(exp: u8, serializer_id: u8) -> [u8; 4] {
    [0x7f, (exp << 4) | serializer_id, 0, 0]
}

/// A payload whose bytes depend on their position, so a misplaced byte is noticed.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8) ^ (i >> 16)) as u8)
        .collect()
}

/// A small deterministic PRNG (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// Everything a connection produced while being fed.
#[derive(Debug, Default)]
pub struct Outcome {
    pub transmit: Vec<u8>,
    pub messages: Vec<Bytes>,
    /// Every event but the last, `Closed`, which goes to `closed`.
    pub events: Vec<Event>,
    pub closed: Option<Closed>,
    pub error: Option<RawSocketError>,
}

impl Outcome {
    /// Drains every output of `conn` into this outcome.
    pub fn drain(&mut self, conn: &mut Connection) {
        while let Some(bytes) = conn.poll_transmit() {
            assert!(!bytes.is_empty(), "poll_transmit yielded an empty chunk");
            self.transmit.extend_from_slice(&bytes);
        }
        while let Some(event) = conn.poll_event() {
            assert!(self.closed.is_none(), "an event after Closed: {event:?}");
            match event {
                Event::Closed(how) => self.closed = Some(how),
                event => self.events.push(event),
            }
        }
        while let Some(message) = conn.poll_message() {
            self.messages.push(message);
        }
    }
}

/// Feeds `stream` to `conn` in chunks ending at each offset of `cuts` (ascending; the
/// end of the stream is implied), draining all outputs after every chunk. After an error
/// the remaining chunks must return the same error.
pub fn feed(conn: &mut Connection, stream: &[u8], cuts: &[usize]) -> Outcome {
    let mut outcome = Outcome::default();
    outcome.drain(conn);
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&stream.len())) {
        let end = end.clamp(start, stream.len());
        let chunk = stream.get(start..end).expect("chunk in range");
        start = end;
        let result = conn.input(chunk);
        match (&outcome.error, result) {
            (None, Ok(())) => {}
            (None, Err(error)) => {
                assert!(error.fails_connection());
                assert!(conn.is_failed());
                assert_eq!(conn.error(), Some(&error));
                outcome.error = Some(error);
            }
            (Some(first), result) => assert_eq!(result.as_ref(), Err(first), "not sticky"),
        }
        outcome.drain(conn);
    }
    // A failure is told once, in the last event.
    if let Some(error) = &outcome.error {
        assert_eq!(outcome.closed, Some(Closed::Failed(error.clone())));
    }
    outcome
}

/// Feeds `stream` in one-byte chunks.
pub fn feed_bytewise(conn: &mut Connection, stream: &[u8]) -> Outcome {
    let cuts: Vec<usize> = (1..stream.len()).collect();
    feed(conn, stream, &cuts)
}

/// A server config accepting every serializer with limit exponent `exp`.
pub fn server_config(exp: u8) -> ServerConfig {
    ServerConfig {
        max_message_len: MaxMessageLen::from_exp(exp).expect("exponent"),
        ..ServerConfig::default()
    }
}

/// A client config for `serializer` with limit exponent `exp`.
pub fn client_config(serializer: SerializerKind, exp: u8) -> ClientConfig {
    ClientConfig {
        max_message_len: MaxMessageLen::from_exp(exp).expect("exponent"),
        ..ClientConfig::new(serializer)
    }
}

/// A server that has completed the handshake with a JSON client announcing
/// `client_exp`.
pub fn open_server(config: ServerConfig, client_exp: u8) -> Connection {
    let mut server = new_server(config);
    server.input(&handshake(client_exp, 1)).expect("handshake");
    let mut out = Outcome::default();
    out.drain(&mut server);
    assert!(server.is_open());
    server
}

/// A JSON client that has received a success reply announcing `server_exp`.
pub fn open_client(config: ClientConfig, server_exp: u8) -> Connection {
    let id = config.serializer.rawsocket_id();
    let mut client = new_client(config);
    let mut out = Outcome::default();
    out.drain(&mut client);
    client.input(&handshake(server_exp, id)).expect("handshake");
    out.drain(&mut client);
    assert!(client.is_open());
    client
}

/// Moves transmits both ways until both sides are quiet, chunking each transmit at
/// `chunk` bytes. Returns the first error of either side.
pub fn pump(a: &mut Connection, b: &mut Connection, chunk: usize) -> Result<(), RawSocketError> {
    loop {
        let mut moved = false;
        while let Some(bytes) = a.poll_transmit() {
            for piece in bytes.chunks(chunk) {
                b.input(piece)?;
            }
            moved = true;
        }
        while let Some(bytes) = b.poll_transmit() {
            for piece in bytes.chunks(chunk) {
                a.input(piece)?;
            }
            moved = true;
        }
        if !moved {
            return Ok(());
        }
    }
}

/// Cut offsets for splitting a stream of `len` bytes in two: every offset up to
/// `dense`, then a sample, then the last `dense` offsets.
pub fn cut_points(len: usize, dense: usize) -> Vec<usize> {
    if len <= 4 * dense {
        return (0..=len).collect();
    }
    let mut cuts: Vec<usize> = (0..=dense).collect();
    let mut rng = Rng::new(len as u64);
    cuts.extend((0..16).map(|_| dense + rng.below(len - 2 * dense)));
    cuts.extend([len / 2, len / 2 + 1, len - dense / 2]);
    cuts.extend(len - dense..=len);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}
