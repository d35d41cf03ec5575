//! `wamp-runtime`: a WAMP client and an embedded WAMP router on any async runtime.
//!
//! This crate holds the client's connection loop and the router's tasks, written once
//! against [`futures::io`] streams and the small [`Runtime`] trait (spawn, a timer, a
//! clock, connecting and listening sockets). The runtime crates are thin adapters that
//! implement [`Runtime`] and re-export this crate: `wamp-tokio` for Tokio,
//! `wamp-async-std` for async-std (and other futures-io runtimes). Use one of those;
//! the API below is the same in both.
//!
//! The router side is [`RouterBuilder`] and [`RouterHandle`]: the sans-IO router of
//! `wamp-proto` served over WebSocket and RawSocket on TCP, TLS and Unix sockets, with
//! in-process sessions for the application's own components (see [`RouterBuilder`]
//! for an example).
//!
//! # Connecting
//!
//! [`connect`] opens a transport from a [`TransportConfig`] (parsed from a URL, refined
//! with builder methods) and joins a realm from a [`JoinConfig`]:
//!
//! | URL | transport |
//! |---|---|
//! | `ws://host[:port]/path`, `wss://...` | WebSocket, over TLS for `wss` |
//! | `rs://host:port`, `rss://host:port` | RawSocket over TCP, over TLS for `rss` |
//! | `unix:///path/to/socket` | RawSocket over a Unix domain socket |
//!
//! TLS is rustls (ring) with the system's roots or given PEM roots. WebSocket takes
//! extra headers, size limits, auto-ping and an HTTP `CONNECT` proxy. Serializers
//! (JSON, MessagePack, CBOR) are a preference list. Authentication ([`Auth`]):
//! anonymous, ticket, WAMP-CRA, cryptosign, WAMP-SCRAM.
//!
//! # The session
//!
//! [`Session`] is a cheap, cloneable handle. One task owns the protocol state; handles
//! send it commands and get answers back, so every method is usable from any task.
//! Arguments and results are typed through `serde`.
//!
//! - [`Session::call`] builds a call (`.args`, `.kwargs`, `.timeout`, ...); `.await`
//!   it for a [`CallResult`], or call `.progress()` for a stream of progressive
//!   results. Dropping the future cancels the call.
//! - [`Session::register`] serves a procedure with an async [`Handler`]; each
//!   [`Invocation`] runs in its own task, can send progressive results and sees
//!   interrupts.
//! - [`Session::subscribe`] returns a [`Subscription`], a stream of [`Event`]s.
//! - [`Session::publish`] builds a publication (`.acknowledge(true)` to wait for the
//!   router).
//! - [`Session::leave`], [`Session::closed`].
//!
//! Registrations and subscriptions end when their handle is dropped. A failed request
//! is an [`Error`]; a WAMP ERROR is [`Error::Wamp`] with the URI, arguments and details.
//!
//! # Example
//!
//! ```no_run
//! use futures::StreamExt;
//! use wamp_runtime::{connect, Auth, Invocation, JoinConfig, Runtime, TransportConfig, Yield};
//!
//! async fn run(rt: impl Runtime) -> Result<(), Box<dyn std::error::Error>> {
//!     let transport: TransportConfig = "ws://127.0.0.1:8080/ws".parse()?;
//!     let join = JoinConfig::new("realm1").auth(Auth::ticket("joe", "secret"));
//!     let session = connect(&rt, &transport, &join).await?;
//!     println!("joined as {:?}", session.details().authid);
//!
//!     // A procedure.
//!     let _add = session
//!         .register("com.example.add", |inv: Invocation| async move {
//!             let (a, b): (i64, i64) = inv.args()?;
//!             Ok(Yield::args(&(a + b,))?)
//!         })
//!         .await?;
//!
//!     // A call.
//!     let sum: i64 = session.call("com.example.add").args(&(2, 3)).await?.first()?;
//!     assert_eq!(sum, 5);
//!
//!     // Pub/sub.
//!     let mut events = session.subscribe("com.example.news").await?;
//!     session
//!         .publish("com.example.news")
//!         .args(&("hello",))
//!         .exclude_me(false)
//!         .acknowledge(true)
//!         .await?;
//!     if let Some(event) = events.next().await {
//!         let (text,): (String,) = event?.args()?;
//!         println!("{text}");
//!     }
//!
//!     // Errors carry the WAMP URI.
//!     match session.call("com.example.nothing").await {
//!         Err(wamp_runtime::Error::Wamp(e)) => assert_eq!(e.uri(), "wamp.error.no_such_procedure"),
//!         other => panic!("{other:?}"),
//!     }
//!
//!     session.leave().await?;
//!     Ok(())
//! }
//! ```
//!
//! # Logging
//!
//! The loop emits [`tracing`] events in a `wamp.connect` span (URL, transport, realm)
//! and a `wamp.session` span (transport, realm, session ID): connection failures, the
//! join (session, authid, authrole, serializer), leaving, the close reason, protocol
//! errors, and (at debug level) interrupts, cancels and dropped stream items.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[macro_use]
mod macros;

mod args;
mod budget;
mod call;
mod command;
mod component;
mod connect;
mod driver;
mod error;
mod framer;
mod join;
mod outbox;
mod proxy;
mod publish;
mod pump;
mod queue;
mod register;
mod runtime;
#[cfg(feature = "router")]
mod server;
mod session;
mod subscribe;
mod thread_buf;
#[cfg(not(target_arch = "wasm32"))]
mod tls;
mod transport;

pub use call::{Call, CallResult, ProgressStream};
#[cfg(not(target_arch = "wasm32"))]
pub use component::{ctrl_c, run_until_signal};
pub use component::{
    is_auth_rejection, run, ApplicationRunner, Component, ComponentBuilder, ComponentError,
    ConnectFailure, Failure, Retry, RetryPolicy, TransportSpec,
};
pub use connect::connect;
pub use error::{
    BoxError, ConnectError, Error, IntoUri, IoError, TransportError, WampError, RUNTIME_ERROR,
};
pub use join::{Auth, JoinConfig};
pub use publish::Publish;
pub use register::{Handler, Interrupted, Invocation, RegisterOptions, Registration, Yield};
pub use runtime::{AsyncStream, BoxListener, BoxStream, Listener, Runtime, SocketAddress};
#[cfg(feature = "router")]
pub use server::{
    AuthGrant, AuthRequest, Authenticate, Authorize, AuthzDecision, AuthzRequest, BindAddress,
    HttpBridge, ListenTransport, ListenerConfig, ListenerInfo, RouterBuilder, RouterError,
    RouterHandle, RouterStats, ServerOptions, ServerTls, WebService, DEFAULT_MESSAGE_TIMEOUT,
};
pub use session::{Closed, Session, SessionDetails};
pub use subscribe::{Event, SubscribeOptions, Subscription};
#[cfg(not(target_arch = "wasm32"))]
pub use transport::{bind_std_tcp, tune_tcp};
pub use transport::{
    Endpoint, IntoTransport, ProxyConfig, TcpKeepalive, TlsOptions, TlsRoots, TransportConfig,
    WebSocketOptions, DEFAULT_KEEPALIVE, TCP_KEEPALIVE, TCP_UNSENT_LIMIT,
};

pub use wamp_proto::session::CloseReason;
pub use wamp_proto::{
    serializer::SerializerKind, CancelMode, Details, Dict, InvokePolicy, MatchPolicy, Options,
    Payload, PublicationId, RegistrationId, RequestId, SessionId, SubscriptionId, Uri, Value,
};
#[cfg(feature = "router")]
pub use wamp_router::{
    Allow, CraSalt, Disclose, Limits, Permission, RealmConfig, RoleConfig, RouterConfig, ScramKdf,
};
pub use wamp_transport_rawsocket::MaxMessageLen;
/// The records a runtime whose platform implements WebSocket itself (a browser) speaks
/// on the stream it returns from [`Runtime::open_websocket`].
pub use wamp_transport_ws::message_pipe;

/// The rustls version used for TLS, for [`TlsRoots::Rustls`].
#[cfg(not(target_arch = "wasm32"))]
pub use futures_rustls::rustls;
/// The core crate, for what this API does not wrap.
pub use wamp_proto;
/// The sans-IO router this crate serves, for what this API does not wrap.
#[cfg(feature = "router")]
pub use wamp_router;
