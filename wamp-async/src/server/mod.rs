//! The embedded router (its docs are on [`RouterBuilder`]).

mod config;
mod connection;
mod gate;
mod hooks;
mod hub;
mod listener;
mod local;
mod outlet;
mod pipe;
mod tls;
mod web;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use futures::channel::oneshot;
use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, SinkExt};
use tracing::Instrument;
use wamp_router::{ConfigError, Router, RouterConfig};

pub use config::{
    BindAddress, HttpBridge, ListenTransport, ListenerConfig, ServerOptions, WebService,
    DEFAULT_MESSAGE_TIMEOUT,
};
pub use hooks::{AuthGrant, AuthRequest, Authenticate, Authorize, AuthzDecision, AuthzRequest};
pub use tls::ServerTls;

use wamp_proto::Uri;

use crate::error::ConnectError;
use crate::join::JoinConfig;
use crate::runtime::{Runtime, SocketAddress};
use crate::session::Session;
use hub::{Hub, HubChannels, ToRouter};

/// Why a router could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// The router configuration cannot work (a realm defined twice, a principal with an
    /// unknown role, a key that does not parse, ...).
    #[error("router configuration: {0}")]
    Config(#[from] ConfigError),
    /// A listener's settings are wrong.
    #[error("listener {0}")]
    Listener(String),
    /// A listener could not bind (the address is in use, no permission, ...).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The listener, as a URL.
        addr: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The TLS certificate or key could not be loaded: `what` says which, the PEM, file
    /// or `rustls` error is the source.
    #[error("TLS {what}: {source}")]
    Tls {
        /// What was being loaded (`certificate chain`, `private key`, a file name, ...).
        what: String,
        /// Why it failed.
        #[source]
        source: crate::error::BoxError,
    },
    /// There is no runtime to run on (for example, a Tokio builder made outside a
    /// Tokio runtime).
    #[error("no runtime: {0}")]
    Runtime(String),
}

/// Builds and starts a router.
///
/// The embedded router: the sans-IO [`wamp_router::Router`] served over
/// WebSocket and RawSocket, on TCP, TLS and Unix sockets, written once against the
/// [`Runtime`] trait.
///
/// # Embedding a router
///
/// [`RouterBuilder`] takes the router's configuration (realms, roles, principals,
/// limits: [`RouterConfig`]) and the listeners; [`start`](RouterBuilder::start) binds
/// them and returns a [`RouterHandle`]. The runtime crates shorten it to
/// `wamp_tokio::Router::builder(config)` and `wamp_async_std::Router::builder(config)`.
///
/// ```no_run
/// use wamp_runtime::{
///     Invocation, JoinConfig, ListenerConfig, RouterBuilder, Runtime, ServerTls, Yield,
/// };
/// use wamp_runtime::wamp_router::{RealmConfig, RouterConfig};
///
/// async fn serve(rt: impl Runtime) -> Result<(), Box<dyn std::error::Error>> {
///     let config = RouterConfig::new().realm(RealmConfig::anonymous("realm1")?);
///     let tls = ServerTls::from_pem_files("server.pem", "server.key")?;
///     let router = RouterBuilder::new(rt, config)
///         .listen_ws("127.0.0.1:8080", "/ws")             // ws://127.0.0.1:8080/ws
///         .listen_rawsocket("127.0.0.1:8081")             // rs://127.0.0.1:8081
///         .listen(ListenerConfig::websocket("127.0.0.1:8443", "/ws").tls(tls)) // wss://
///         .listen_unix("/tmp/wamp.sock")                  // unix:///tmp/wamp.sock
///         .start()
///         .await?;
///     for listener in router.listeners() {
///         println!("listening on {}", listener.addr);
///     }
///
///     // The application's own component, joined without a socket.
///     let session = router.connect_local(JoinConfig::new("realm1")).await?;
///     let _add = session
///         .register("com.example.add", |inv: Invocation| async move {
///             let (a, b): (i64, i64) = inv.args()?;
///             Ok(Yield::args(&(a + b,))?)
///         })
///         .await?;
///
///     // ... until it is time to stop: every session gets GOODBYE
///     // `wamp.close.system_shutdown`, then the listeners close.
///     wamp_runtime::ctrl_c().await?;
///     router.shutdown().await;
///     Ok(())
/// }
/// ```
///
/// # How it runs
///
/// - **One router task** owns the [`Router`] by value (no
///   lock): it takes every connection's messages from one bounded channel, feeds them to
///   the router, and hands each connection's output to that connection's bounded
///   channel. Deadlines (handshakes, call timeouts, GOODBYE replies) run on the
///   runtime's timer. Session IDs and challenges come from the operating system's RNG.
/// - **One task per listener** accepts connections; **one task per connection** owns
///   its stream and framer: TLS, then the WebSocket upgrade (subprotocol
///   `wamp.2.json`/`wamp.2.msgpack`/`wamp.2.cbor`, the configured path, otherwise HTTP
///   404) or the RawSocket handshake, then WAMP messages both ways.
/// - **Backpressure, never unbounded buffers**: a connection whose writer falls behind
///   is paused in the router, whose queue for it is counted in bytes
///   ([`Limits`](wamp_router::Limits)). Past its high-water mark the sessions that
///   feed it (publishers, callers, callees answering) stop being read until it drains,
///   so a reader that keeps up loses nothing however fast the publisher. A connection is
///   cut as a slow consumer only when its writer makes no progress for `write_timeout`
///   (default 10 s) or its backlog passes `max_transmit_bytes`; it gets ABORT
///   `wamp.close.slow_consumer` (and WebSocket close code 1008 with that reason), and
///   nobody else waits for it. A connection that closes abruptly leaves at once. When
///   the router task is busy, connections stop reading their sockets.
/// - **Cores**: connection tasks frame, decode and write; the router task routes and
///   encodes, and wakes each connection task once per turn with everything the turn
///   produced for it (one batch, one write). On a multi-threaded runtime they spread
///   over the cores, while the router's state has one owner and no lock. That is the
///   choice over sharding by realm (one realm, the common case, would still be one
///   core) and over a router behind a lock (every connection task would contend for
///   it). The split costs a handoff per message, which pays only with cores to spare:
///   on two cores shared with busy clients one thread measured faster, which is why
///   `wamp router` defaults to one thread there (its `--threads`; BENCHMARKS.md).
/// - **In-process sessions** ([`RouterHandle::connect_local`]) talk RawSocket over an
///   in-memory pipe, so they take the same path as networked ones.
/// - **Stopping**: [`RouterHandle::shutdown`], or dropping every handle. Sessions get
///   GOODBYE `wamp.close.system_shutdown` and have the router's `goodbye_timeout` to
///   answer; then the listeners close (a Unix socket file is removed) and `shutdown`
///   returns.
///
/// # Logging
///
/// [`tracing`] events: where each listener listens (info), connections accepted, opened
/// and closed (debug, in a `wamp.connection` span with the peer address), sessions
/// joined and left with realm, authid, authrole and reason (info), slow consumers
/// (warn), refusals, and shutdown.
#[must_use = "a builder does nothing until started"]
pub struct RouterBuilder<R> {
    runtime: Result<R, String>,
    config: RouterConfig,
    listeners: Vec<ListenerConfig>,
    options: ServerOptions,
    hooks: std::collections::HashMap<wamp_proto::Uri, hooks::Hook>,
}

impl<R> fmt::Debug for RouterBuilder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterBuilder")
            .field("config", &self.config)
            .field("listeners", &self.listeners)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> RouterBuilder<R> {
    /// A router on `rt` with `config`, no listeners yet (it can still serve in-process
    /// sessions) and default [`ServerOptions`].
    pub fn new(rt: R, config: RouterConfig) -> Self {
        RouterBuilder {
            runtime: Ok(rt),
            config,
            listeners: Vec::new(),
            options: ServerOptions::default(),
            hooks: std::collections::HashMap::new(),
        }
    }

    /// A builder without a runtime, whose [`start`](RouterBuilder::start) fails with
    /// [`RouterError::Runtime`] and `why`: for runtime adapters asked to build a router
    /// where their runtime is missing.
    pub fn without_runtime(config: RouterConfig, why: impl Into<String>) -> Self {
        RouterBuilder {
            runtime: Err(why.into()),
            config,
            listeners: Vec::new(),
            options: ServerOptions::default(),
            hooks: std::collections::HashMap::new(),
        }
    }

    /// Answers the authenticator `procedure` with `hook`, written in Rust, instead of a
    /// callee: name `procedure` as the authenticator in the realm's (or a transport's)
    /// `auth.authenticators`, as for a procedure a session registers. The router asks
    /// it what it would ask the procedure, and takes its answer alike (see
    /// [`Authenticate`]).
    ///
    /// ```
    /// use wamp_runtime::wamp_router::Authenticator;
    /// use wamp_runtime::{AuthGrant, AuthRequest, RealmConfig, RouterBuilder, Runtime, Uri, WampError};
    ///
    /// /// Where `realm` will accept tickets checked in Rust.
    /// fn ticket_realm(mut realm: RealmConfig) -> Result<RealmConfig, wamp_runtime::wamp_proto::InvalidUri> {
    ///     realm.auth.authenticators.ticket = Some(Authenticator::new("com.example.authenticate")?);
    ///     Ok(realm)
    /// }
    ///
    /// /// The check itself, on a builder made with such a realm.
    /// fn with_tickets<R: Runtime>(builder: RouterBuilder<R>) -> RouterBuilder<R> {
    ///     let hook = |request: AuthRequest| async move {
    ///         match request.ticket() {
    ///             Some("let me in") => Ok(AuthGrant::role("user")),
    ///             _ => Err(WampError::new("wamp.error.not_authorized")),
    ///         }
    ///     };
    ///     builder.authenticator(Uri::from_static("com.example.authenticate"), hook)
    /// }
    /// ```
    pub fn authenticator(mut self, procedure: Uri, hook: impl Authenticate) -> Self {
        self.config = self.config.hook(procedure.clone());
        self.hooks.insert(procedure, hooks::authenticator(hook));
        self
    }

    /// Answers the authorizer `procedure` with `hook`, written in Rust, instead of a
    /// callee: name `procedure` as a role's `authorizer` (see [`Authorize`]).
    pub fn authorizer(mut self, procedure: Uri, hook: impl Authorize) -> Self {
        self.config = self.config.hook(procedure.clone());
        self.hooks.insert(procedure, hooks::authorizer(hook));
        self
    }

    /// Adds a listener.
    pub fn listen(mut self, listener: ListenerConfig) -> Self {
        self.listeners.push(listener);
        self
    }

    /// Adds a WebSocket listener on a TCP address (`"127.0.0.1:8080"`; port 0 picks a
    /// free port) at `path` (`"/ws"`).
    pub fn listen_ws(self, addr: impl Into<String>, path: impl Into<String>) -> Self {
        self.listen(ListenerConfig::websocket(addr, path))
    }

    /// Adds a RawSocket listener on a TCP address.
    pub fn listen_rawsocket(self, addr: impl Into<String>) -> Self {
        self.listen(ListenerConfig::rawsocket(addr))
    }

    /// Adds a RawSocket listener on a Unix domain socket.
    pub fn listen_unix(self, path: impl Into<PathBuf>) -> Self {
        self.listen(ListenerConfig::unix(path))
    }

    /// Sets the connection and queue bounds.
    pub fn options(mut self, options: ServerOptions) -> Self {
        self.options = options;
        self
    }

    /// Checks the configuration as [`start`](RouterBuilder::start) would, short of
    /// binding: the router's configuration (realms, roles, principals), each listener's
    /// settings, and the transport authentication each names.
    pub fn check(&self) -> Result<(), RouterError> {
        let rt = self
            .runtime
            .as_ref()
            .map_err(|e| RouterError::Runtime(e.clone()))?;
        let config = with_bridges(self.config.clone(), &self.listeners);
        let router = Router::new(config, rt.rng())?;
        check_listeners(&router, &self.listeners)
    }

    /// Builds the router, binds every listener and starts serving. Returns once every
    /// listener is bound (or the first that failed: none stays bound then).
    ///
    /// Deriving WAMP-SCRAM credentials from passwords happens here and may take a
    /// moment (it is meant to be slow).
    pub async fn start(self) -> Result<RouterHandle, RouterError> {
        let rt = self.runtime.map_err(RouterError::Runtime)?;
        let router = Router::new(with_bridges(self.config, &self.listeners), rt.rng())?;
        check_listeners(&router, &self.listeners)?;
        let mut bound = Vec::with_capacity(self.listeners.len());
        for config in &self.listeners {
            // On an error the listeners bound so far are dropped, which closes them.
            bound.push(listener::bind(&rt, config).await?);
        }
        let (ctx, inbound, room, stop) = hub::context(rt.clone(), self.options);
        let (alive, handles) = oneshot::channel();
        let (done, stopped) = oneshot::channel();
        let infos: Vec<ListenerInfo> = bound.iter().map(|b| b.info.clone()).collect();
        let hub = Hub::new(
            ctx.clone(),
            router,
            HubChannels {
                inbound,
                room,
                handles,
                done,
                stop,
                hooks: self.hooks,
            },
            bound.len(),
        );
        rt.spawn(hub.instrument(tracing::info_span!("wamp.router")).boxed());
        for b in bound {
            tracing::info!(listener = %b.spec.label, addr = %b.info.addr, "listening");
            rt.spawn(listener::accept_loop(ctx.clone(), b).boxed());
        }
        Ok(RouterHandle {
            inner: Arc::new(Inner {
                to_router: ctx.to_router.clone(),
                listeners: infos,
                stopped: stopped.map(|_| ()).boxed().shared(),
                _alive: alive,
            }),
        })
    }
}

/// A bound listener of a running router.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenerInfo {
    /// The address it is bound to (with the port the OS picked for port 0).
    pub addr: SocketAddress,
    /// What it speaks.
    pub transport: ListenTransport,
    /// Whether it serves TLS.
    pub tls: bool,
}

impl ListenerInfo {
    /// The URL a client connects to (`ws://127.0.0.1:8080/ws`, `rss://[::1]:8081`,
    /// `unix:///tmp/wamp.sock`); an unspecified address (`0.0.0.0`, `::`) becomes the
    /// loopback. `None` for a WebSocket on a Unix socket, which has no client URL.
    pub fn url(&self) -> Option<String> {
        match (&self.addr, &self.transport) {
            (SocketAddress::Tcp(addr), ListenTransport::WebSocket { path }) => {
                let scheme = if self.tls { "wss" } else { "ws" };
                let path = path.as_deref().unwrap_or("/");
                Some(format!("{scheme}://{}{path}", reachable(*addr)))
            }
            (SocketAddress::Tcp(addr), ListenTransport::RawSocket) => {
                let scheme = if self.tls { "rss" } else { "rs" };
                Some(format!("{scheme}://{}", reachable(*addr)))
            }
            (SocketAddress::Unix(Some(path)), ListenTransport::RawSocket) if !self.tls => {
                Some(format!("unix://{}", path.display()))
            }
            _ => None,
        }
    }
}

/// Where a client can reach a listener bound to `addr`.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

/// How busy a router is; see [`RouterHandle::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RouterStats {
    /// Open connections (with or without a session), in-process ones included.
    pub connections: usize,
    /// Joined sessions, over all realms.
    pub sessions: usize,
    /// Bytes the router holds for connections whose writers are full (bounded by the
    /// byte budgets of [`Limits`](wamp_router::Limits)).
    pub queued_bytes: usize,
    /// The bytes held for the one connection with the most (backpressure keeps it near
    /// `transmit_high_water` for a reader that makes progress).
    pub largest_queue: usize,
}

struct Inner {
    to_router: futures::channel::mpsc::Sender<ToRouter>,
    listeners: Vec<ListenerInfo>,
    /// Resolves (with an error: the sender is dropped) when the router task ends.
    stopped: Shared<BoxFuture<'static, ()>>,
    /// Dropped with the last handle: the router then shuts down.
    _alive: oneshot::Sender<()>,
}

/// `config` with a transport authentication for each HTTP bridge's session: anonymous,
/// with the bridge's role.
fn with_bridges(mut config: RouterConfig, listeners: &[ListenerConfig]) -> RouterConfig {
    for listener in listeners {
        for service in &listener.web {
            if let WebService::Publisher(bridge) | WebService::Caller(bridge) = service {
                let name = web::bridge_auth_name(&listener::label(listener), &bridge.path);
                let auth = wamp_router::AuthConfig::new().anonymous(&bridge.role);
                config = config.transport_auth(&name, auth);
            }
        }
    }
    config
}

/// Each listener's settings, and the transport authentication it names.
fn check_listeners(router: &Router, listeners: &[ListenerConfig]) -> Result<(), RouterError> {
    for config in listeners {
        listener::ListenerSpec::new(config)?;
        if let Some(name) = config
            .auth
            .as_deref()
            .filter(|n| !router.has_transport_auth(n))
        {
            return Err(RouterError::Listener(format!(
                "{}: its auth {name:?} is not among the configuration's transport_auth",
                listener::label(config)
            )));
        }
    }
    Ok(())
}

/// A running router: its listeners' addresses, in-process sessions, shutdown.
///
/// Cheap to clone. The router runs until [`shutdown`](RouterHandle::shutdown) is
/// called or the last clone is dropped (which shuts it down the same way, in the
/// background).
#[derive(Clone)]
pub struct RouterHandle {
    inner: Arc<Inner>,
}

impl fmt::Debug for RouterHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterHandle")
            .field("listeners", &self.inner.listeners)
            .finish_non_exhaustive()
    }
}

impl RouterHandle {
    /// The bound listeners, in the order they were added.
    pub fn listeners(&self) -> &[ListenerInfo] {
        &self.inner.listeners
    }

    /// The address of the first TCP listener, if any (handy with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.listeners.iter().find_map(|l| l.addr.tcp())
    }

    /// Joins a session to the router in this process, without a socket, and returns it
    /// once welcomed: the application's own components use the router like any client
    /// (authentication included, so an in-process component can be given a role).
    ///
    /// # Errors
    ///
    /// As [`connect`](crate::connect): the router's refusal
    /// ([`ConnectError::Aborted`], e.g. `wamp.close.system_shutdown` once the router is
    /// stopping), configuration mistakes, a handshake timeout.
    pub async fn connect_local(
        &self,
        join: impl Into<JoinConfig>,
    ) -> Result<Session, ConnectError> {
        let (reply, answer) = oneshot::channel();
        let request = ToRouter::ConnectLocal {
            join: join.into(),
            reply,
        };
        if self.inner.to_router.clone().send(request).await.is_err() {
            return Err(stopped());
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// The number of connections and sessions (zeros once the router has stopped).
    pub async fn stats(&self) -> RouterStats {
        hub::ask(&self.inner.to_router, |reply| ToRouter::Stats { reply }).await
    }

    /// The router's metrics in the Prometheus text exposition format (see
    /// `wamp_router::Router::metrics`); empty once the router has stopped. A listener
    /// can serve them over HTTP too ([`WebService::Metrics`]).
    pub async fn metrics(&self) -> String {
        hub::ask(&self.inner.to_router, |reply| ToRouter::Metrics { reply }).await
    }

    /// Stops the router and waits until it has stopped: every session gets GOODBYE
    /// `wamp.close.system_shutdown` (and the router's `goodbye_timeout` to answer),
    /// handshakes in progress are aborted, new sessions are refused, then the listeners
    /// close. Calling it again (or from another clone) waits for the same end.
    pub async fn shutdown(&self) {
        // An error means the router task is already gone.
        let _ = self.inner.to_router.clone().send(ToRouter::Shutdown).await;
        self.stopped().await;
    }

    /// Resolves when the router has stopped (after [`shutdown`](RouterHandle::shutdown)
    /// from any clone).
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.inner.stopped.clone()
    }
}

fn stopped() -> ConnectError {
    ConnectError::Aborted {
        reason: wamp_proto::Uri::CLOSE_SYSTEM_SHUTDOWN,
        message: Some("the router has stopped".into()),
    }
}
