//! `wamp-transport-ws`: the WebSocket side of WAMP as sans-IO state machines.
//!
//! [`WsClient`] and [`WsServer`] speak RFC 6455 with [`tungstenite`]'s handshake types
//! (the client's handshake runs over an in-memory stream) and its frame-header parser;
//! frames of the open connection are cut from the buffered input in place and written
//! here, so a received message is copied once. They never touch a socket, a clock or a
//! thread. On top of that they do what WAMP asks of a WebSocket:
//!
//! - **Subprotocol negotiation.** The client offers its serializers as
//!   `Sec-WebSocket-Protocol: wamp.2.cbor, wamp.2.json` in preference order; the server
//!   picks the *first client-offered* subprotocol it speaks (Autobahn's rule, and what
//!   Crossbar does); a client offering none the server speaks gets HTTP 400 listing the
//!   supported ones (as Crossbar answers); a client whose server chose something it did
//!   not offer fails. The batched variants (`wamp.2.json.batched`, ...) are not spoken.
//! - **One WAMP message per WebSocket message**, fragments reassembled: JSON in text
//!   frames, MessagePack and CBOR in binary frames.
//! - **Failures as close codes** (see below), limits on message and frame size, and
//!   auto-ping with a timeout (Autobahn's `autoPingInterval`/`autoPingTimeout`).
//! - **The server's own refusals in plain HTTP**: a request for another path than
//!   [`ServerConfig::path()`] gets 404, and every request gets 503 while
//!   [`ServerConfig::max_connections_reached`] is set.
//!
//! # Driving the machine
//!
//! - **Input**: [`handle_input`](WebSocket::handle_input) with the bytes read from the
//!   socket, in chunks of any size; [`handle_timeout`](WebSocket::handle_timeout) when the
//!   deadline from [`poll_timeout`](WebSocket::poll_timeout) passes;
//!   [`handle_transport_closed`](WebSocket::handle_transport_closed) at end of stream; and
//!   commands: [`send_message`](WebSocket::send_message), [`close`](WebSocket::close),
//!   [`send_ping`](WebSocket::send_ping).
//! - **Output**, drained after *every* input and command, in this order:
//!   [`poll_transmit`](WebSocket::poll_transmit) (bytes to write),
//!   [`poll_event`](WebSocket::poll_event) ([`WsEvent::Open`] first, [`WsEvent::Closed`]
//!   last), [`poll_message`](WebSocket::poll_message) or
//!   [`poll_decoded`](WebSocket::poll_decoded) (received WAMP messages), then
//!   [`poll_timeout`](WebSocket::poll_timeout). Once [`is_closed`](WebSocket::is_closed),
//!   write what `poll_transmit` still holds and close the socket.
//!
//! Time is an argument (`now`), so tests run on a virtual clock. (The
//! `Sec-WebSocket-Key` (tungstenite's) and the client's masking keys come from `rand`'s
//! thread RNG; nothing else here is random.)
//!
//! A client and a server talking in memory:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use wamp_proto::{message::Message, serializer::SerializerKind};
//! use wamp_transport_ws::{ClientConfig, CloseCode, Initiator, ServerConfig, WsClient, WsEvent, WsServer};
//!
//! /// Moves bytes both ways until both sides are quiet.
//! fn pump(client: &mut WsClient, server: &mut WsServer, now: Instant) {
//!     loop {
//!         let mut moved = false;
//!         while let Some(bytes) = client.poll_transmit() {
//!             server.handle_input(now, &bytes);
//!             moved = true;
//!         }
//!         while let Some(bytes) = server.poll_transmit() {
//!             client.handle_input(now, &bytes);
//!             moved = true;
//!         }
//!         if !moved {
//!             return;
//!         }
//!     }
//! }
//!
//! let now = Instant::now(); // the only clock read: the machines take time as an argument
//! let config = ClientConfig::new("ws://localhost:8080/ws")?
//!     .serializers([SerializerKind::MsgPack, SerializerKind::Json]);
//! let mut client = WsClient::new(config, now)?; // queues the upgrade request
//! let mut server = WsServer::new(ServerConfig::new().serializers([SerializerKind::Json]), now)?;
//! pump(&mut client, &mut server, now);
//!
//! // The server spoke only JSON, the client's second choice.
//! let Some(WsEvent::Open(open)) = client.poll_event() else { panic!("not open") };
//! assert_eq!(open.serializer, SerializerKind::Json);
//! let Some(WsEvent::Open(open)) = server.poll_event() else { panic!("not open") };
//! assert_eq!(open.uri.path(), "/ws");
//!
//! // WAMP messages travel one per WebSocket message (text frames for JSON).
//! client.send_message(Bytes::from_static(br#"[1,"realm1",{"roles":{"caller":{}}}]"#))?;
//! pump(&mut client, &mut server, now);
//! let Some(Message::Hello(hello)) = server.poll_decoded() else { panic!("no HELLO") };
//! assert_eq!(hello.realm.as_str(), "realm1");
//! server.send_message(Bytes::from_static(br#"[2,9129137332,{"roles":{"dealer":{}}}]"#))?;
//! pump(&mut client, &mut server, now);
//! assert!(client.poll_message().is_some());
//!
//! // The closing handshake.
//! let later = now + Duration::from_millis(5);
//! client.close(later, CloseCode::NORMAL, "bye")?;
//! pump(&mut client, &mut server, later);
//! let Some(WsEvent::Closed(closed)) = server.poll_event() else { panic!("not closed") };
//! assert_eq!((closed.code, closed.reason.as_str()), (CloseCode::NORMAL, "bye"));
//! assert_eq!(closed.initiator, Initiator::Peer);
//! let Some(WsEvent::Closed(closed)) = client.poll_event() else { panic!("not closed") };
//! assert!(closed.is_clean() && client.is_closed() && server.is_closed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A run loop over a real socket looks like this (the runtime crates write it once,
//! against async I/O; here blocking calls stand in for it):
//!
//! ```no_run
//! use std::time::Instant;
//! use wamp_transport_ws::{ClientConfig, WsClient, WsEvent};
//!
//! # fn socket_write(_: &[u8]) {}
//! # enum Input { Bytes(Vec<u8>), Eof, Deadline }
//! # fn socket_read_until(_: Option<Instant>) -> Input { Input::Eof }
//! # fn socket_close() {}
//! let mut ws = WsClient::new(ClientConfig::new("ws://127.0.0.1:8080/ws")?, Instant::now())?;
//! loop {
//!     while let Some(bytes) = ws.poll_transmit() {
//!         socket_write(&bytes);
//!     }
//!     while let Some(event) = ws.poll_event() {
//!         match event {
//!             // Start the WAMP session with `open.serializer`, e.g. send HELLO.
//!             WsEvent::Open(open) => println!("open with {}", open.serializer),
//!             WsEvent::Closed(closed) => println!("closed: {} {}", closed.code, closed.reason),
//!             _ => {}
//!         }
//!     }
//!     while let Some(message) = ws.poll_decoded() {
//!         // Hand it to the session: `session.handle_message(now, message)`; then send
//!         // what the session transmits with `ws.send_message(bytes)`.
//!         let _ = message;
//!     }
//!     if ws.is_closed() {
//!         if let Some(bytes) = ws.poll_transmit() {
//!             socket_write(&bytes);
//!         }
//!         socket_close();
//!         break;
//!     }
//!     match socket_read_until(ws.poll_timeout()) {
//!         Input::Bytes(bytes) => ws.handle_input(Instant::now(), &bytes),
//!         Input::Eof => ws.handle_transport_closed(Instant::now()),
//!         Input::Deadline => ws.handle_timeout(Instant::now()),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Close codes
//!
//! | Failure | Code | [`WsError`] |
//! |---|---|---|
//! | RFC 6455 framing violation (unmasked client frame, bad opcode, ...) | 1002 | [`Protocol`](WsError::Protocol) |
//! | a message that does not decode with the serializer | 1002 | [`InvalidMessage`](WsError::InvalidMessage) |
//! | a binary message on JSON, a text message on MessagePack/CBOR | 1003 | [`WrongFrameKind`](WsError::WrongFrameKind) |
//! | invalid UTF-8 in a text message | 1007 | [`InvalidUtf8`](WsError::InvalidUtf8) |
//! | a message over `max_message_size` or a frame over `max_frame_size` | 1009 | [`MessageTooBig`](WsError::MessageTooBig) |
//!
//! An undecodable WAMP message gets 1002 rather than 1007 because it is a WAMP protocol
//! error, not bad UTF-8, and Autobahn|Python closes with 1002 for WAMP protocol errors
//! (reason `"WAMP protocol error: ..."`). For these failures a Close frame with the code
//! and a reason is sent and the connection counts as closed at once (RFC 6455 "fail the
//! WebSocket connection": the runtime then drops the socket). A ping timeout sends
//! nothing (the peer is presumed gone) and reports 1006, like the other failures with no
//! Close frame: handshake failures, timeouts and a reset byte stream.
//!
//! # A plain (non-WAMP) WebSocket
//!
//! This crate only speaks WAMP. A plain WebSocket client or server, the job of
//! Autobahn's `WebSocketClientProtocol`/`WebSocketServerProtocol`, is
//! [async-tungstenite](https://docs.rs/async-tungstenite)'s job: use it directly rather
//! than through a wrapper of ours. It runs on Tokio (`tokio-runtime` feature), async-std
//! and smol, and its [`tungstenite`] is the same version as this crate's, so the types
//! match (`wamp_transport_ws::tungstenite::Message` is its `Message`):
//!
//! ```ignore
//! // Cargo.toml: async-tungstenite = { version = "0.35", features = ["tokio-runtime"] }
//! //             futures-util = "0.3"
//! use async_tungstenite::tungstenite::Message;
//! use futures_util::StreamExt;
//!
//! // Client
//! let (mut ws, _response) = async_tungstenite::tokio::connect_async("ws://127.0.0.1:9001/echo").await?;
//! ws.send(Message::text("hello")).await?;
//! if let Some(reply) = ws.next().await {
//!     println!("{}", reply?);
//! }
//! ws.close(None).await?;
//!
//! // Server: an echo
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! let (tcp, _) = listener.accept().await?;
//! let mut ws = async_tungstenite::tokio::accept_async(tcp).await?;
//! while let Some(message) = ws.next().await {
//!     let message = message?;
//!     if message.is_text() || message.is_binary() {
//!         ws.send(message).await?;
//!     }
//! }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod config;
mod endpoint;
mod error;
mod event;
mod frames;
pub mod message_pipe;
mod pipe;
mod server;

pub use client::WsClient;
pub use config::{AutoPing, ClientConfig, ServerConfig, Validation, WsOptions};
pub use endpoint::WebSocket;
pub use error::{CloseCode, FrameKind, UsageError, WsError};
pub use event::{CloseInfo, Initiator, OpenInfo, WsEvent};
pub use server::WsServer;

/// The tungstenite this crate drives, for plain WebSocket work beside WAMP.
pub use tungstenite;
/// The `http` crate (request, response, header types) as tungstenite uses it.
pub use tungstenite::http;
