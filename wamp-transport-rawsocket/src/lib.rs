//! Sans-IO WAMP over RawSocket: the 4-octet handshake, length-prefixed frames, PING/PONG.
//!
//! [`Connection`] is a state machine for one end of a RawSocket stream (TCP, TLS, Unix
//! socket, anything reliable). It never touches a socket, a clock or an executor: the
//! runtime hands it the bytes it read and writes the bytes it is given. The same machine
//! serves clients ([`Connection::client`]) and routers ([`Connection::server`]).
//!
//! # Driving a connection
//!
//! After *every* input (bytes read, end of stream, or a send), drain the outputs:
//!
//! 1. [`Connection::poll_transmit`]: bytes to write, in order. A client's handshake
//!    request is queued from the start, so drain this before the first read.
//! 2. [`Connection::poll_event`]: [`Event::Handshaken`] (the serializer and the peer's
//!    limit), [`Event::Pong`].
//! 3. [`Connection::poll_message`]: each WAMP message payload received, in order, to be
//!    decoded with the negotiated serializer.
//!
//! PINGs are answered automatically (one PONG each, queued for `poll_transmit`). Any error
//! from [`Connection::handle_input`] or [`Connection::handle_eof`] fails the connection
//! for good: write what `poll_transmit` still yields (a router's handshake error reply),
//! handle the messages already received, then close the stream.
//!
//! A blocking client over TCP:
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//!
//! use bytes::Bytes;
//! use wamp_core::SerializerKind;
//! use wamp_transport_rawsocket::{ClientConfig, Connection, Event};
//!
//! fn run() -> Result<(), Box<dyn std::error::Error>> {
//!     let mut stream = TcpStream::connect("127.0.0.1:8080")?;
//!     let mut conn = Connection::client(ClientConfig::new(SerializerKind::Json));
//!     let mut buf = vec![0u8; 64 * 1024];
//!     loop {
//!         // 1. Write everything queued (the handshake first, then frames and PONGs).
//!         while let Some(bytes) = conn.poll_transmit() {
//!             stream.write_all(&bytes)?;
//!         }
//!         // 2. Events, then 3. messages.
//!         while let Some(event) = conn.poll_event() {
//!             if let Event::Handshaken { serializer, .. } = event {
//!                 let hello = br#"[1,"realm1",{"roles":{"caller":{}}}]"#;
//!                 assert_eq!(serializer, SerializerKind::Json);
//!                 conn.send_message(Bytes::from_static(hello))?;
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
//!         let result = match buf.get(..n) {
//!             Some([]) | None => conn.handle_eof(),
//!             Some(bytes) => conn.handle_input(bytes),
//!         };
//!         if let Err(error) = result {
//!             while let Some(bytes) = conn.poll_transmit() {
//!                 stream.write_all(&bytes)?;
//!             }
//!             return Err(error.into());
//!         }
//!     }
//! }
//! ```
//!
//! The same loop in memory, a client and a router passing bytes directly:
//!
//! ```
//! use bytes::Bytes;
//! use wamp_core::SerializerKind;
//! use wamp_transport_rawsocket::{ClientConfig, Connection, Event, ServerConfig};
//!
//! let mut client = Connection::client(ClientConfig::new(SerializerKind::MsgPack));
//! let mut router = Connection::server(ServerConfig::default());
//!
//! // Move every transmit from one side to the other until both are quiet.
//! fn pump(a: &mut Connection, b: &mut Connection) -> Result<(), Box<dyn std::error::Error>> {
//!     loop {
//!         let mut moved = false;
//!         while let Some(bytes) = a.poll_transmit() {
//!             b.handle_input(&bytes)?;
//!             moved = true;
//!         }
//!         while let Some(bytes) = b.poll_transmit() {
//!             a.handle_input(&bytes)?;
//!             moved = true;
//!         }
//!         if !moved {
//!             return Ok(());
//!         }
//!     }
//! }
//!
//! pump(&mut client, &mut router)?;
//! assert!(matches!(
//!     router.poll_event(),
//!     Some(Event::Handshaken { serializer: SerializerKind::MsgPack, .. })
//! ));
//! assert!(matches!(client.poll_event(), Some(Event::Handshaken { .. })));
//!
//! client.send_message(Bytes::from_static(b"\x93\x01\xa6realm1\x80"))?;
//! client.send_ping(Bytes::from_static(b"are you there?"))?;
//! pump(&mut client, &mut router)?;
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
//! error reply; [`Connection::handle_eof`] reports that as
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

pub use config::{ClientConfig, MaxMessageLen, ServerConfig, DEFAULT_MAX_QUEUED_BYTES};
pub use connection::{Connection, Event, Role};
pub use error::{HandshakeErrorCode, RawSocketError};
pub use handshake::MAGIC;
