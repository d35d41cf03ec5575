//! The Component: a long-lived client (its docs are on [`Component`]).

mod config;
mod runner;
#[cfg(not(target_arch = "wasm32"))]
mod signal;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::{self, Either, FutureExt};
use futures::StreamExt;
use tracing::{error, info, info_span, warn, Instrument};
use wamp_proto::component::{after_close, is_fatal_abort, AfterClose, Schedule};
use wamp_proto::session::CloseReason;
use wamp_proto::Uri;

pub use config::{RetryPolicy, TransportSpec};
pub use runner::ApplicationRunner;
#[cfg(not(target_arch = "wasm32"))]
pub use signal::ctrl_c;

use crate::{connect, Auth, BoxError, ConnectError, JoinConfig, Runtime, Session};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
/// `main` and the session hooks: an async function of the joined session.
type SessionFn = Arc<dyn Fn(Session) -> BoxFuture<Result<(), BoxError>> + Send + Sync>;

fn session_fn<F, Fut>(f: F) -> SessionFn
where
    F: Fn(Session) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    Arc::new(move |session| Box::pin(f(session)))
}
type LeaveHook = Arc<dyn Fn(&CloseReason) + Send + Sync>;
type FailureHook = Arc<dyn Fn(&ConnectFailure) + Send + Sync>;
type RetryHook = Arc<dyn Fn(&Retry) + Send + Sync>;
type DisconnectHook = Arc<dyn Fn(bool) + Send + Sync>;
type FatalFn = Arc<dyn Fn(&Failure) -> bool + Send + Sync>;
type EventHandler = Arc<dyn Fn(crate::Event) -> BoxFuture<()> + Send + Sync>;

/// Why a connection attempt or a session ended, as `is_fatal` sees it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// Connecting or joining failed.
    Connect(ConnectError),
    /// The session ended for a reason that is not "done".
    Closed(CloseReason),
    /// A declared registration or subscription was refused.
    Setup(crate::Error),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Connect(e) => write!(f, "connect failed: {e}"),
            Failure::Closed(reason) => write!(f, "session closed: {reason}"),
            Failure::Setup(e) => write!(f, "setting up registrations/subscriptions failed: {e}"),
        }
    }
}

/// The default `is_fatal`: the router rejected the credentials, the authentication
/// method, the role or the realm ([`wamp_proto::component::is_fatal_abort`]), or this side
/// could not authenticate.
pub fn is_auth_rejection(failure: &Failure) -> bool {
    match failure {
        Failure::Connect(error) => {
            error.is_auth_rejection() || error.abort_reason().is_some_and(is_fatal_abort)
        }
        Failure::Closed(CloseReason::Aborted { reason, .. }) => is_fatal_abort(reason),
        _ => false,
    }
}

/// What `on_connect_failure` sees: a failed attempt and what happens next.
#[derive(Debug)]
#[non_exhaustive]
pub struct ConnectFailure {
    /// The transport's index in the component's list.
    pub transport: usize,
    /// What went wrong.
    pub failure: Failure,
    /// Whether `is_fatal` took the transport out for good.
    pub fatal: bool,
}

/// A retry about to happen, as `on_retry` sees it (the reconnect delays a test or a log
/// can check against the policy).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Retry {
    /// The transport's index in the component's list.
    pub transport: usize,
    /// 1 for the first retry on this transport since it last joined, then 2, 3, ...
    pub retry: u32,
    /// How long the component waits before connecting.
    pub delay: Duration,
}

/// Why [`Component::start`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ComponentError {
    /// Every transport gave up: out of retries or marked fatal.
    #[error("component failed: every transport gave up; last failure: {last}")]
    Exhausted {
        /// The last failure seen.
        last: Failure,
    },
    /// `main` returned an error.
    #[error("component main failed: {0}")]
    Main(#[source] BoxError),
    /// A hook returned an error.
    #[error("component hook `{hook}` failed: {error}")]
    Hook {
        /// Which hook.
        hook: &'static str,
        /// Its error.
        #[source]
        error: BoxError,
    },
    /// The component has no transport, or a transport is misconfigured.
    #[error("component configuration: {0}")]
    Config(String),
}

#[derive(Default, Clone)]
struct Hooks {
    on_connect: Vec<SessionFn>,
    on_join: Vec<SessionFn>,
    on_ready: Vec<SessionFn>,
    on_leave: Vec<LeaveHook>,
    on_disconnect: Vec<DisconnectHook>,
    on_connect_failure: Vec<FailureHook>,
    on_retry: Vec<RetryHook>,
}

struct Declared<O, H> {
    uri: String,
    options: O,
    handler: H,
}

struct Inner {
    transports: Vec<TransportSpec>,
    join: JoinConfig,
    extra: wamp_proto::Value,
    is_fatal: FatalFn,
    main: Option<SessionFn>,
    hooks: Hooks,
    registrations: Vec<Declared<crate::RegisterOptions, Arc<dyn crate::Handler>>>,
    subscriptions: Vec<Declared<crate::SubscribeOptions, EventHandler>>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

/// A WAMP component. Build one with [`Component::builder`], then [`start`](Self::start) it
/// on a runtime (or use your runtime crate's `start`/`run`). Cheap to clone: clones share
/// the configuration and [`stop`](Self::stop).
///
/// Component: a long-lived WAMP client that connects, joins, keeps its registrations and
/// subscriptions across reconnects, and retries with backoff. The model is Autobahn's
/// `Component`, with what its users complain about fixed.
///
/// # Lifecycle
///
/// For every connection: `on_connect` → the declared registrations and subscriptions →
/// `on_join` → `on_ready` → `main` (if any) … `on_leave` → `on_disconnect`. Hooks run in
/// that order, one at a time. Transports are tried round-robin; each has its own
/// [`RetryPolicy`].
///
/// [`Component::start`] resolves:
/// - `Ok(())` when `main` returned `Ok` (the component then leaves), when the session
///   left with `wamp.close.normal` or `wamp.close.goodbye_and_out` (a `leave()` from the
///   application, or the router saying goodbye normally), or when [`Component::stop`]
///   was called;
/// - `Err(ComponentError::Main)` when `main` failed, `Err(ComponentError::Hook)` when a
///   hook failed (errors in hooks are never swallowed);
/// - `Err(ComponentError::Exhausted)` when every transport gave up: out of retries, or
///   marked failed because [`is_fatal`](ComponentBuilder::is_fatal) said so.
///
/// Anything else (a refused connection, a lost transport, a router shutdown, a failed
/// registration) is retried after the transport's backoff delay.
///
/// # Fixed relative to Autobahn
///
/// - The backoff resets after every successful join (with or without `main`), so delays
///   do not accumulate across healthy sessions (autobahn-python#1597).
/// - The first retry waits `initial_retry_delay`, not `initial_retry_delay * growth`; the
///   jitter is bounded (uniform within `±jitter`), never a compounding random walk.
/// - Authentication and authorization rejections (`wamp.error.not_authorized`,
///   `authentication_failed`, `no_auth_method`, `no_such_realm`, `no_such_role`) are
///   fatal by default: retrying wrong credentials forever helps nobody. Set `is_fatal`
///   to change that.
/// - A failing `on_join`/`on_ready` ends the component with the error instead of being
///   logged and forgotten (crossbar#632).
#[derive(Clone)]
pub struct Component {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Component")
            .field("transports", &self.inner.transports)
            .field("realm", &self.inner.join.realm)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Component`].
pub struct ComponentBuilder {
    /// The component being built (never running yet, so `stop` stays empty).
    inner: Inner,
    errors: Vec<String>,
}

/// What one connected session ended with.
enum SessionEnd {
    /// The component is done.
    Done(Result<(), ComponentError>),
    /// Reconnect (or give up if nothing can retry).
    Retry(Failure),
}

impl Component {
    /// Starts building a component for `realm1` with no transport yet.
    pub fn builder() -> ComponentBuilder {
        ComponentBuilder {
            inner: Inner {
                transports: Vec::new(),
                join: JoinConfig::new("realm1"),
                extra: wamp_proto::Value::Null,
                is_fatal: Arc::new(is_auth_rejection),
                main: None,
                hooks: Hooks::default(),
                registrations: Vec::new(),
                subscriptions: Vec::new(),
                stop: Mutex::new(None),
            },
            errors: Vec::new(),
        }
    }

    /// The `extra` value given to the builder (Autobahn's `ComponentConfig.extra`).
    pub fn extra(&self) -> &wamp_proto::Value {
        &self.inner.extra
    }

    /// Asks a running [`start`](Self::start) to finish: a joined session leaves
    /// (`wamp.close.normal`), a pending backoff wait or connection attempt is abandoned, and
    /// `start` resolves `Ok(())`. Does nothing when the component is not running.
    pub fn stop(&self) {
        if let Some(stop) = self.inner.stop.lock().ok().and_then(|mut s| s.take()) {
            let _ = stop.send(());
        }
    }

    /// Runs the component on `rt` until it is done (see the module docs for what that
    /// means). Starting a component that is already running stops nothing: both runs
    /// share the configuration but `stop` reaches only the newest.
    pub async fn start<R: Runtime>(&self, rt: &R) -> Result<(), ComponentError> {
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        if let Ok(mut slot) = self.inner.stop.lock() {
            *slot = Some(stop_tx);
        }
        let stop = stop_rx.map(|_| ()).shared();
        let span = info_span!("component", realm = %self.inner.join.realm);
        self.run(rt, stop).instrument(span).await
    }

    async fn run<R: Runtime, S>(&self, rt: &R, stop: S) -> Result<(), ComponentError>
    where
        S: Future<Output = ()> + Clone + Unpin,
    {
        let inner = &self.inner;
        if inner.transports.is_empty() {
            return Err(ComponentError::Config("no transport configured".into()));
        }
        let mut schedule = Schedule::new(inner.transports.iter().map(|t| t.retry.backoff()));
        let mut rng = rt.rng();
        let mut last: Option<Failure> = None;
        loop {
            let Some(attempt) = schedule.next_attempt(&mut rng) else {
                let last = last.unwrap_or(Failure::Closed(CloseReason::TransportLost));
                error!(%last, "every transport gave up");
                return Err(ComponentError::Exhausted { last });
            };
            let spec = &inner.transports[attempt.transport];
            if attempt.retry > 0 {
                let retry = Retry {
                    transport: attempt.transport,
                    retry: attempt.retry,
                    delay: attempt.delay,
                };
                info!(
                    transport = attempt.transport,
                    retry = retry.retry,
                    delay_ms = attempt.delay.as_millis() as u64,
                    "retrying after backoff"
                );
                for hook in &inner.hooks.on_retry {
                    hook(&retry);
                }
                let wake = rt.now() + attempt.delay;
                if let Either::Right(_) = future::select(rt.sleep_until(wake), stop.clone()).await {
                    info!("stopped while waiting to retry");
                    return Ok(());
                }
            }
            let connecting = connect(rt, &spec.transport, &inner.join);
            let session = match future::select(std::pin::pin!(connecting), stop.clone()).await {
                Either::Left((Ok(session), _)) => session,
                Either::Left((Err(error), _)) => {
                    self.failed(
                        &mut schedule,
                        attempt.transport,
                        Failure::Connect(error),
                        &mut last,
                    );
                    continue;
                }
                Either::Right(_) => {
                    info!("stopped while connecting");
                    return Ok(());
                }
            };
            schedule.joined(attempt.transport);
            match self.serve(rt, session, stop.clone()).await {
                SessionEnd::Done(result) => return result,
                SessionEnd::Retry(failure) => {
                    self.failed(&mut schedule, attempt.transport, failure, &mut last)
                }
            }
        }
    }

    fn failed(
        &self,
        schedule: &mut Schedule,
        transport: usize,
        failure: Failure,
        last: &mut Option<Failure>,
    ) {
        let fatal = (self.inner.is_fatal)(&failure);
        schedule.failed(transport, fatal);
        warn!(transport, fatal, %failure, "connection failed");
        let report = ConnectFailure {
            transport,
            failure,
            fatal,
        };
        for hook in &self.inner.hooks.on_connect_failure {
            hook(&report);
        }
        *last = Some(report.failure);
    }

    /// Drives one joined session to its end.
    async fn serve<R: Runtime, S>(&self, rt: &R, session: Session, stop: S) -> SessionEnd
    where
        S: Future<Output = ()> + Clone + Unpin,
    {
        let inner = &self.inner;
        let closed = session.closed().shared();
        let stop_requested = stop.clone();
        // Everything that happens while joined; it ends early only by error or `main`.
        let work = async {
            for hook in &inner.hooks.on_connect {
                hook(session.clone()).await.map_err(|error| {
                    Err(ComponentError::Hook {
                        hook: "on_connect",
                        error,
                    })
                })?;
            }
            // The declared registrations and subscriptions; the registration handles live
            // as long as this session (dropping one unregisters).
            let mut registrations = Vec::new();
            for declared in &inner.registrations {
                let registration = session
                    .register_shared(
                        declared.uri.as_str(),
                        declared.options.clone(),
                        declared.handler.clone(),
                    )
                    .await
                    .map_err(|e| Ok(Failure::Setup(e)))?;
                registrations.push(registration);
            }
            for declared in &inner.subscriptions {
                let mut subscription = session
                    .subscribe_with(declared.uri.as_str(), declared.options.clone())
                    .await
                    .map_err(|e| Ok(Failure::Setup(e)))?;
                let handler = declared.handler.clone();
                rt.spawn(Box::pin(async move {
                    while let Some(item) = subscription.next().await {
                        match item {
                            Ok(event) => handler(event).await,
                            Err(error) => warn!(%error, "subscription"),
                        }
                    }
                }));
            }
            for (name, hooks) in [
                ("on_join", &inner.hooks.on_join),
                ("on_ready", &inner.hooks.on_ready),
            ] {
                for hook in hooks {
                    hook(session.clone())
                        .await
                        .map_err(|error| Err(ComponentError::Hook { hook: name, error }))?;
                }
            }
            match &inner.main {
                Some(main) => main(session.clone())
                    .await
                    .map_err(|e| Err(ComponentError::Main(e)))?,
                None => future::pending::<()>().await,
            }
            drop(registrations);
            Ok::<(), Result<Failure, ComponentError>>(())
        };
        let work = std::pin::pin!(work);
        let outcome = future::select(work, future::select(closed.clone(), stop_requested)).await;
        let end = match outcome {
            // `main` finished: leave, done.
            Either::Left((Ok(()), _)) => {
                let _ = session.leave().await;
                SessionEnd::Done(Ok(()))
            }
            Either::Left((Err(Err(error)), _)) => {
                let _ = session.leave().await;
                SessionEnd::Done(Err(error))
            }
            Either::Left((Err(Ok(failure)), _)) => {
                let _ = session.leave().await;
                SessionEnd::Retry(failure)
            }
            Either::Right((Either::Left((reason, _)), _)) => Self::ended(reason),
            Either::Right((Either::Right(_), _)) => {
                info!("stopping: leaving");
                let _ = session.leave().await;
                SessionEnd::Done(Ok(()))
            }
        };
        let reason = closed.await;
        for hook in &inner.hooks.on_leave {
            hook(&reason);
        }
        for hook in &inner.hooks.on_disconnect {
            hook(reason.is_clean());
        }
        end
    }

    /// Done or retry, for a session that closed on its own.
    fn ended(reason: CloseReason) -> SessionEnd {
        match after_close(&reason) {
            AfterClose::Done => {
                info!(%reason, "session left: done");
                SessionEnd::Done(Ok(()))
            }
            AfterClose::Reconnect => SessionEnd::Retry(Failure::Closed(reason)),
        }
    }
}

/// A [`ComponentBuilder`] method that adds a session hook to the list of the same name
/// (with the bounds of every session function, as for `main`).
macro_rules! session_hook {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[must_use]
        pub fn $name<F, Fut>(mut self, hook: F) -> Self
        where
            F: Fn(Session) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
        {
            self.inner.hooks.$name.push(session_fn(hook));
            self
        }
    };
}

impl ComponentBuilder {
    /// Adds a transport: a URL (`"ws://host:port/path"`, `"rs://host:port"`, `"wss://…"`,
    /// `"rss://…"`, `"unix:///path"`), a [`TransportConfig`](crate::TransportConfig) or a
    /// [`TransportSpec`] with its retry policy. Transports are tried round-robin.
    #[must_use]
    pub fn transport<T>(mut self, transport: T) -> Self
    where
        T: TryInto<TransportSpec>,
        T::Error: std::fmt::Display,
    {
        match transport.try_into() {
            Ok(spec) => self.inner.transports.push(spec),
            Err(error) => self.errors.push(format!("transport: {error}")),
        }
        self
    }

    /// Sets the realm (default `realm1`).
    #[must_use]
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.inner.join.realm = realm.into();
        self
    }

    /// Adds an authentication method (Autobahn's `authentication`); several are offered
    /// in the order added.
    #[must_use]
    pub fn auth(mut self, auth: Auth) -> Self {
        self.inner.join.auth.push(auth);
        self
    }

    /// Replaces the whole join configuration (realm, authentication, timeouts, buffers).
    #[must_use]
    pub fn join_config(mut self, join: JoinConfig) -> Self {
        self.inner.join = join;
        self
    }

    /// Application data for hooks and `main` to read back with [`Component::extra`].
    #[must_use]
    pub fn extra(mut self, extra: impl Into<wamp_proto::Value>) -> Self {
        self.inner.extra = extra.into();
        self
    }

    /// Decides which failures take a transport out for good (Autobahn's `is_fatal`).
    /// The default, [`is_auth_rejection`], makes authentication and authorization
    /// rejections fatal; `|_| false` retries everything, as Autobahn does by default.
    #[must_use]
    pub fn is_fatal(mut self, is_fatal: impl Fn(&Failure) -> bool + Send + Sync + 'static) -> Self {
        self.inner.is_fatal = Arc::new(is_fatal);
        self
    }

    /// The component's main function: it runs after every join (once the declared
    /// registrations and subscriptions are in place and `on_join`/`on_ready` ran). When it
    /// returns `Ok`, the session leaves and the component is done; `Err` ends the
    /// component with [`ComponentError::Main`]. If the connection is lost while it runs,
    /// it is dropped and runs again after the reconnect.
    #[must_use]
    pub fn main<F, Fut>(mut self, main: F) -> Self
    where
        F: Fn(Session) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.inner.main = Some(session_fn(main));
        self
    }

    session_hook!(
        /// Runs when the transport is up and the session joined, before the declared
        /// registrations and subscriptions.
        on_connect
    );

    session_hook!(
        /// Runs after every join, once the declared registrations and subscriptions are in
        /// place. An `Err` ends the component ([`ComponentError::Hook`]).
        on_join
    );

    session_hook!(
        /// Runs after every `on_join` hook finished.
        on_ready
    );

    /// Called when a session ends, with why.
    #[must_use]
    pub fn on_leave(mut self, hook: impl Fn(&CloseReason) + Send + Sync + 'static) -> Self {
        self.inner.hooks.on_leave.push(Arc::new(hook));
        self
    }

    /// Called after `on_leave`, with whether the session ended by a clean GOODBYE.
    #[must_use]
    pub fn on_disconnect(mut self, hook: impl Fn(bool) + Send + Sync + 'static) -> Self {
        self.inner.hooks.on_disconnect.push(Arc::new(hook));
        self
    }

    /// Called for every failed attempt or session that will be retried (or not, when
    /// fatal).
    #[must_use]
    pub fn on_connect_failure(
        mut self,
        hook: impl Fn(&ConnectFailure) + Send + Sync + 'static,
    ) -> Self {
        self.inner.hooks.on_connect_failure.push(Arc::new(hook));
        self
    }

    /// Called before each backoff wait, with the delay.
    #[must_use]
    pub fn on_retry(mut self, hook: impl Fn(&Retry) + Send + Sync + 'static) -> Self {
        self.inner.hooks.on_retry.push(Arc::new(hook));
        self
    }

    /// Declares a procedure, registered again on every session.
    #[must_use]
    pub fn register<H: crate::Handler + 'static>(
        self,
        procedure: impl Into<String>,
        handler: H,
    ) -> Self {
        self.register_with(procedure, crate::RegisterOptions::default(), handler)
    }

    /// Declares a procedure with registration options (match policy, invocation policy).
    #[must_use]
    pub fn register_with<H: crate::Handler + 'static>(
        mut self,
        procedure: impl Into<String>,
        options: crate::RegisterOptions,
        handler: H,
    ) -> Self {
        self.inner.registrations.push(Declared {
            uri: procedure.into(),
            options,
            handler: Arc::new(handler),
        });
        self
    }

    /// Declares a subscription, made again on every session; `handler` runs for each
    /// event, one at a time.
    #[must_use]
    pub fn subscribe<F, Fut>(self, topic: impl Into<String>, handler: F) -> Self
    where
        F: Fn(crate::Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.subscribe_with(topic, crate::SubscribeOptions::default(), handler)
    }

    /// Declares a subscription with options (match policy).
    #[must_use]
    pub fn subscribe_with<F, Fut>(
        mut self,
        topic: impl Into<String>,
        options: crate::SubscribeOptions,
        handler: F,
    ) -> Self
    where
        F: Fn(crate::Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.inner.subscriptions.push(Declared {
            uri: topic.into(),
            options,
            handler: Arc::new(move |event| Box::pin(handler(event))),
        });
        self
    }

    /// The component, or the first configuration error (a bad transport URL, a bad
    /// realm or URI, no transport).
    pub fn build(self) -> Result<Component, ComponentError> {
        if let Some(error) = self.errors.into_iter().next() {
            return Err(ComponentError::Config(error));
        }
        if self.inner.transports.is_empty() {
            return Err(ComponentError::Config(
                "no transport: add one with .transport(url)".into(),
            ));
        }
        Uri::parse(&self.inner.join.realm).map_err(|e| {
            ComponentError::Config(format!("realm {:?}: {e}", self.inner.join.realm))
        })?;
        Ok(Component {
            inner: Arc::new(self.inner),
        })
    }
}

/// Runs `components` at once until all are done; when `shutdown` resolves first (the
/// runtime crates pass Ctrl-C), every component is stopped (leaving gracefully) and
/// awaited. Returns each component's result, in order; one component failing does not
/// stop the others (autobahn-python#1078).
pub async fn run<R: Runtime>(
    rt: &R,
    components: &[Component],
    shutdown: impl Future<Output = ()>,
) -> Vec<Result<(), ComponentError>> {
    let all = future::join_all(components.iter().map(|c| c.start(rt)));
    let mut all = std::pin::pin!(all);
    match future::select(all.as_mut(), std::pin::pin!(shutdown)).await {
        Either::Left((results, _)) => results,
        Either::Right(((), _)) => {
            info!("shutting down: stopping every component");
            for component in components {
                component.stop();
            }
            all.await
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
/// [`run`] until every component is done, or Ctrl-C / SIGTERM stops them (each leaving
/// its realm gracefully). Without a process-wide signal handler (another library
/// installed one first), it runs until the components are done.
pub async fn run_until_signal<R: Runtime>(
    rt: &R,
    components: &[Component],
) -> Vec<Result<(), ComponentError>> {
    let signal = async {
        if ctrl_c().await.is_err() {
            future::pending::<()>().await;
        }
    };
    run(rt, components, signal).await
}
