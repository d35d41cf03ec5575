//! `wamp-web`: a WAMP client in a web page. The [`wamp_runtime`] session API (calls
//! with typed arguments, progressive results, registrations, subscriptions,
//! publications, authentication, the reconnecting [`Component`]) on the browser's
//! `WebSocket`, timers and `crypto.getRandomValues`, for `wasm32-unknown-unknown`.
//!
//! This crate is an adapter, as `wamp-tokio` is: `WebRuntime` gives the connection
//! loop of [`wamp_runtime`] the page's event loop (`wasm-bindgen-futures`), its timers
//! (`setTimeout`, through `gloo-timers`) and its WebSocket; everything else is the same
//! code as on a native runtime, re-exported here.
//!
//! ```no_run
//! # #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use wamp_web::JoinConfig;
//!
//! let session = wamp_web::connect("ws://127.0.0.1:8080/ws", JoinConfig::new("realm1")).await?;
//! let (sum,): (i64,) = session.call("com.example.add2").args(&(2, 3)).await?.args()?;
//! assert_eq!(sum, 5);
//! session.leave().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # What a browser cannot do
//!
//! These are errors, not silently skipped settings:
//!
//! - **No RawSocket** (`rs://`, `rss://`, Unix sockets): a page cannot open TCP
//!   connections. `connect` fails with [`ConnectError::Io`] (`Unsupported`).
//! - **No handshake headers and no HTTP proxy of ours**: the browser builds the upgrade
//!   request itself (cookies and `Origin` are its own). A [`TransportConfig`] with
//!   headers or a proxy is a [`ConnectError::Config`].
//! - **No TLS settings and no channel binding**: for `wss://` the browser verifies the
//!   certificate against its own trust store; a [`TransportConfig`] with other
//!   [`TlsRoots`] or a server name is a [`ConnectError::Config`], and `tls-unique`
//!   channel binding (which needs the TLS session) is unavailable.
//! - **No WebSocket ping/pong**: the browser answers the router's pings itself and never
//!   shows them to the page, so the WebSocket auto-ping setting cannot drive pings here.
//!   The keepalive runs at the WAMP level instead: the WebSocket auto-ping setting
//!   ([`WebSocketOptions::auto_ping`]) becomes the session's liveness probe
//!   ([`SessionConfig::liveness_probe`](wamp_runtime::wamp_proto::session::SessionConfig::liveness_probe)),
//!   which ends a session whose router has gone silent.
//! - **No process signals**: `ctrl_c` and `run_until_signal` do not exist on this
//!   target; stop a [`Component`] with [`run`]'s `stop` future.
//!
//! Futures given to the session (procedure handlers, the main function of an
//! [`ApplicationRunner`]) must be `Send`, as on native runtimes. A page has one thread,
//! so a handler that holds JavaScript values (which are not `Send`) can wrap them in
//! `send_wrapper::SendWrapper`.
//!
//! On every other target this crate holds only the re-exports of [`wamp_runtime`]
//! (`WebRuntime`, `connect`, `start` and `BrowserSocket` exist on
//! `wasm32-unknown-unknown` only), so a workspace that builds for native targets builds
//! it too. The README shows how to build a page and what the module weighs.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod runtime;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod socket;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub use runtime::{connect, start, WebRuntime};
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub use socket::BrowserSocket;

/// The runtime-agnostic crate this one adapts.
pub use wamp_runtime;
pub use wamp_runtime::*;
