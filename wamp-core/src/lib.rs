//! `wamp-proto`: the sans-IO heart of a WAMP (Web Application Messaging Protocol) stack.
//!
//! This crate holds pure data and state machines: no sockets, no clocks, no threads, no
//! async runtime. The runtime crates (`wamp-tokio`, `wamp-async-std`) and the transports
//! (`wamp-transport-rawsocket`, `wamp-transport-ws`) move bytes; this crate decides what
//! the bytes mean.
//!
//! # The wire layer
//!
//! - [`message::Message`] and its per-type structs in [`message`]: every message of the basic and
//!   advanced profiles, plus Autobahn's `EVENT_RECEIVED`.
//! - [`serializer::SerializerKind`] (run time) and the [`serializer::Serializer`] trait (compile
//!   time): JSON (with the `"\0"`+base64 binary convention), MessagePack and CBOR, each
//!   with its WebSocket subprotocol and RawSocket ID.
//! - [`Payload`]: `Arguments`/`ArgumentsKw` kept as encoded bytes, decoded on demand into
//!   any `serde` type, forwarded without re-encoding between peers of one serializer.
//! - [`Dict`] (`Options`/`Details`) with typed accessors for the well-known keys, [`Value`]
//!   for dynamic data, [`Uri`] and the [`Id`] family.
//! - [`DecodeError`] tells "not WAMP at all" from "WAMP that breaks a rule", and names the
//!   message type and field; decoding never panics.
//!
//! ```
//! use wamp_proto::{message::Message, serializer::SerializerKind};
//! let frame = bytes::Bytes::from_static(br#"[36,5512315355,4429313566,{},["Hello, event!"]]"#);
//! let Message::Event(event) = SerializerKind::Json.decode(frame).unwrap() else { panic!() };
//! let (greeting,): (String,) = event.payload.args().unwrap();
//! assert_eq!(greeting, "Hello, event!");
//! // Forward to a MessagePack peer: the payload is converted once, on encoding.
//! let bytes = SerializerKind::MsgPack.encode(&Message::Event(event)).unwrap();
//! assert_eq!(bytes[0], 0x95); // a five-element array
//! ```

//! # The state machines
//!
//! - [`session::Session`]: the client side of WAMP (caller, callee, publisher,
//!   subscriber), with authentication.
//! - [`component`]: a long-lived client's reconnect decisions.
//! - The router side (realms, broker, dealer, authentication, authorization, the meta
//!   API) is its own crate, `wamp-router`, on this one, so a client never compiles it.
//!   [`auth`] holds both sides of each authentication method.
//!
//! The machines are driven the same way: input with `now`, then `poll_transmit`,
//! `poll_event` and `poll_timeout` drained after every input.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

// Every public item has one path. The modules below that hold a few core types are
// private, and their types are at the crate root; `message` and `serializer` hold many
// items and are the only path to them (`message::Message`, `serializer::SerializerKind`),
// as are the state machines' modules.
pub mod auth;
pub mod backoff;
pub mod component;
mod dict;
mod error;
mod id;
pub mod liveness;
pub mod message;
mod payload;
pub mod serializer;
pub mod session;
mod uri;
mod value;

pub use dict::{CancelMode, Details, Dict, InvokePolicy, Options};
pub use error::{DecodeError, DecodeErrorKind, EncodeError, PayloadError, PayloadPart};
pub use id::{
    BuildIdHasher, Id, IdHashMap, IdHasher, IdOutOfRange, PeerHashMap, PublicationId,
    RegistrationId, RequestId, RequestIdGenerator, SessionId, SubscriptionId, MAX_ID,
};
pub use payload::Payload;
pub use uri::{InvalidUri, MatchPolicy, Uri, UriRule};
pub use value::{Map, Value};

/// The clock every machine takes `now` from the caller as. It is `std::time::Instant`,
/// except in a web page (`wasm32-unknown-unknown`), where the standard library has no
/// clock and `web-time`'s `Instant` (the page's `performance.now()`) stands in with the
/// same interface. The core never reads it itself.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use std::time::Instant;
/// The clock every machine takes `now` from the caller as (`web-time`'s, in a web
/// page). The core never reads it itself.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub use web_time::Instant;
