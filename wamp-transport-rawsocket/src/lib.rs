//! Sans-IO WAMP over RawSocket: the 4-octet handshake, length-prefixed frames, PING/PONG.
//!
//! [`Connection`] is a state machine for one end of a RawSocket stream (TCP, TLS, Unix
//! socket, anything reliable). It never touches a socket, a clock or an executor: the
//! runtime hands it the bytes it read and writes the bytes it is given. The same machine
//! serves clients ([`Connection::client`]) and routers ([`Connection::server`]).
//!
//! # Driving a connection
//!
//! The machine has the shape of the WebSocket machines in `wamp-transport-ws`, so one
//! runtime loop drives both. Its inputs are
//! [`Connection::handle_input`]`(now, bytes)`, [`Connection::handle_transport_closed`]
//! (the stream ended) and [`Connection::handle_timeout`] (when
//! [`Connection::poll_timeout`] is due: the open timeout and the keepalive). After
//! *every* input (and every send), drain the outputs:
//!
//! 1. [`Connection::poll_transmit`]: bytes to write, in order. A client's handshake
//!    request is queued from the start, so drain this before the first read.
//! 2. [`Connection::poll_event`]: [`Event::Handshaken`] (the serializer and the peer's
//!    limit), [`Event::Pong`], and last [`Event::Closed`].
//! 3. [`Connection::poll_message`]: each WAMP message payload received, in order, to be
//!    decoded with the negotiated serializer.
//!
//! PINGs are answered automatically (one PONG each, queued for `poll_transmit`). A
//! peer's fault is an event, not an error: [`Event::Closed`] with
//! [`Closed::Failed`] ends the connection for good; write what `poll_transmit` still
//! yields (a router's handshake error reply), handle the messages already received,
//! then close the stream. Only local misuse (a send that does not fit) returns `Err`.
//!
//! A blocking client over TCP (no timers: a blocking read cannot wait for them):
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use std::time::Instant;
//!
//! use bytes::Bytes;
//! use wamp_proto::serializer::SerializerKind;
//! use wamp_transport_rawsocket::{ClientConfig, Closed, Connection, Event};
//!
//! fn run() -> Result<(), Box<dyn std::error::Error>> {
//!     let mut stream = TcpStream::connect("127.0.0.1:8080")?;
//!     let mut conn = Connection::client(ClientConfig::new(SerializerKind::Json), Instant::now());
//!     let mut buf = vec![0u8; 64 * 1024];
//!     loop {
//!         // 1. Write everything queued (the handshake first, then frames and PONGs).
//!         while let Some(bytes) = conn.poll_transmit() {
//!             stream.write_all(&bytes)?;
//!         }
//!         // 2. Events, then 3. messages.
//!         while let Some(event) = conn.poll_event() {
//!             match event {
//!                 Event::Handshaken { serializer, .. } => {
//!                     let hello = br#"[1,"realm1",{"roles":{"caller":{}}}]"#;
//!                     assert_eq!(serializer, SerializerKind::Json);
//!                     conn.send_message(Bytes::from_static(hello))?;
//!                 }
//!                 Event::Closed(Closed::Failed(error)) => return Err(error.into()),
//!                 Event::Closed(_) => return Ok(()),
//!                 _ => {}
//!             }
//!         }
//!         while let Some(message) = conn.poll_message() {
//!             let _ = message; // decode with the negotiated serializer
//!         }
//!         if conn.queued_bytes() > 0 {
//!             continue; // a send above queued output: write it before blocking on read
//!         }
//!         // Then wait for input.
//!         let n = stream.read(&mut buf)?;
//!         match buf.get(..n) {
//!             Some([]) | None => conn.handle_transport_closed(Instant::now()),
//!             Some(bytes) => conn.handle_input(Instant::now(), bytes),
//!         }
//!     }
//! }
//! ```
//!
//! The same loop in memory, a client and a router passing bytes directly:
//!
//! ```
//! use std::time::Instant;
//!
//! use bytes::Bytes;
//! use wamp_proto::serializer::SerializerKind;
//! use wamp_transport_rawsocket::{ClientConfig, Connection, Event, ServerConfig};
//!
//! let now = Instant::now();
//! let mut client = Connection::client(ClientConfig::new(SerializerKind::MsgPack), now);
//! let mut router = Connection::server(ServerConfig::default(), now);
//!
//! // Move every transmit from one side to the other until both are quiet.
//! fn pump(a: &mut Connection, b: &mut Connection, now: Instant) {
//!     loop {
//!         let mut moved = false;
//!         while let Some(bytes) = a.poll_transmit() {
//!             b.handle_input(now, &bytes);
//!             moved = true;
//!         }
//!         while let Some(bytes) = b.poll_transmit() {
//!             a.handle_input(now, &bytes);
//!             moved = true;
//!         }
//!         if !moved {
//!             return;
//!         }
//!     }
//! }
//!
//! pump(&mut client, &mut router, now);
//! assert!(matches!(
//!     router.poll_event(),
//!     Some(Event::Handshaken { serializer: SerializerKind::MsgPack, .. })
//! ));
//! assert!(matches!(client.poll_event(), Some(Event::Handshaken { .. })));
//!
//! client.send_message(Bytes::from_static(b"\x93\x01\xa6realm1\x80"))?;
//! client.send_ping(Bytes::from_static(b"are you there?"))?;
//! pump(&mut client, &mut router, now);
//! assert_eq!(router.poll_message().as_deref(), Some(&b"\x93\x01\xa6realm1\x80"[..]));
//! assert_eq!(client.poll_event(), Some(Event::Pong(Bytes::from_static(b"are you there?"))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Decisions where the spec is silent
//!
//! - **Handshake checks** run in the order magic, reserved octets (error 3), serializer
//!   (error 1; also for IDs 0 and 4..=15, which name no serializer here), client limit
//!   (error 2), connection count (error 4). The first failure is the one reported.
//! - **Bad magic**: a server fails the connection *without* a reply, since the peer
//!   is not speaking RawSocket. A client receiving a reply without the magic fails too.
//! - **Error 2** is sent only when [`ServerConfig::min_peer_max_message_len`] is raised
//!   above its default: every exponent 0..=15 is valid, so by default no client limit
//!   is refused.
//! - **Oversize sends** are refused with [`RawSocketError::MessageTooLong`] and nothing is
//!   queued; the application decides (an ERROR `wamp.error.payload_size_exceeded`, a
//!   dropped EVENT). A PING must fit both limits, since its PONG comes back.
//! - **A received PING longer than the peer's own limit** fails the connection
//!   ([`RawSocketError::UnanswerablePing`]): its PONG can neither be skipped nor sent.
//! - **The X bit** with nonzero length bits reads as a 25-bit length above 2^24, so it
//!   fails as [`RawSocketError::FrameTooLong`].
//! - **A client's reply** with an error code but nonzero reserved octets reports the
//!   error code; a success reply with nonzero reserved octets fails the connection.
//!
//! # Interop
//!
//! Crossbar and Autobahn|Python do not implement PING/PONG (a PING makes them read the
//! header as a 16 MiB length and drop the connection), and Autobahn|Python's Twisted
//! transport does not handle the X bit. Crossbar resets the stream instead of sending an
//! error reply; [`Connection::handle_transport_closed`] reports that as
//! [`RawSocketError::ClosedDuringHandshake`]. Crossbar answers `7f f1 00 00` with
//! `7f b1 00 00` (a 1 MiB limit), which a client here accepts.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod connection;
mod error;
mod frame;
mod handshake;
mod output;

pub use config::{ClientConfig, KeepAlive, MaxMessageLen, ServerConfig, DEFAULT_MAX_QUEUED_BYTES};
pub use connection::{Closed, Connection, Event, Role};
pub use error::{HandshakeErrorCode, RawSocketError};
pub use handshake::MAGIC;
