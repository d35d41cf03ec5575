//! [`ApplicationRunner`]: Autobahn's one-URL convenience, as a thin layer over
//! [`Component`].

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use wamp_proto::serializer::SerializerKind;

use super::{BoxError, Component, ComponentError, RetryPolicy, TransportSpec};
use crate::{Auth, JoinConfig, Runtime, Session, TransportConfig};

/// Connects to one router URL, joins a realm and runs an application function, with or
/// without automatic reconnection: Autobahn's `ApplicationRunner(url, realm, extra,
/// serializers, ssl, proxy, headers, websocket_options, max_retries, ...)`.
///
/// ```no_run
/// # async fn example<R: wamp_runtime::Runtime>(rt: R) -> Result<(), Box<dyn std::error::Error>> {
/// use wamp_runtime::{ApplicationRunner, Session};
///
/// let runner = ApplicationRunner::new("ws://127.0.0.1:8080/ws", "realm1")
///     .header("X-Client", "example")
///     .auto_ping(std::time::Duration::from_secs(10), std::time::Duration::from_secs(5));
/// runner
///     .run(&rt, |session: Session| async move {
///         let sum: i64 = session.call("com.example.add").args(&(2, 3)).await?.first()?;
///         println!("2 + 3 = {sum}");
///         Ok(())
///     }, false)
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ApplicationRunner {
    url: String,
    join: JoinConfig,
    extra: wamp_proto::Value,
    serializers: Option<Vec<SerializerKind>>,
    tls_roots_pem: Option<Vec<u8>>,
    proxy: Option<(String, u16)>,
    headers: Vec<(String, String)>,
    max_message_size: Option<usize>,
    auto_ping: Option<(Duration, Duration)>,
    connect_timeout: Option<Duration>,
    retry: RetryPolicy,
    running: Mutex<Option<Component>>,
}

impl ApplicationRunner {
    /// A runner for `url` and `realm`, with Autobahn's retry defaults (used only with
    /// `auto_reconnect`).
    pub fn new(url: impl Into<String>, realm: impl Into<String>) -> Self {
        ApplicationRunner {
            url: url.into(),
            join: JoinConfig::new(realm),
            extra: wamp_proto::Value::Null,
            serializers: None,
            tls_roots_pem: None,
            proxy: None,
            headers: Vec::new(),
            max_message_size: None,
            auto_ping: None,
            connect_timeout: None,
            retry: RetryPolicy::default(),
            running: Mutex::new(None),
        }
    }

    /// Application data (Autobahn's `extra`), read back with
    /// [`extra_value`](Self::extra_value) and by the component the runner builds
    /// ([`Component::extra`]).
    #[must_use]
    pub fn extra(mut self, extra: impl Into<wamp_proto::Value>) -> Self {
        self.extra = extra.into();
        self
    }

    /// The application data given to [`extra`](Self::extra).
    pub fn extra_value(&self) -> &wamp_proto::Value {
        &self.extra
    }

    /// Serializers in order of preference.
    #[must_use]
    pub fn serializers(mut self, serializers: impl IntoIterator<Item = SerializerKind>) -> Self {
        self.serializers = Some(serializers.into_iter().collect());
        self
    }

    /// An authentication method.
    #[must_use]
    pub fn auth(mut self, auth: Auth) -> Self {
        self.join.auth.push(auth);
        self
    }

    /// Trust these PEM roots for `wss://`/`rss://` instead of the system's.
    #[must_use]
    pub fn tls_roots_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_roots_pem = Some(pem.into());
        self
    }

    /// Reach the router through an HTTP CONNECT proxy (WebSocket only).
    #[must_use]
    pub fn proxy(mut self, host: impl Into<String>, port: u16) -> Self {
        self.proxy = Some((host.into(), port));
        self
    }

    /// An extra header for the WebSocket opening handshake.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The largest WebSocket message accepted.
    #[must_use]
    pub fn max_message_size(mut self, max: usize) -> Self {
        self.max_message_size = Some(max);
        self
    }

    /// WebSocket auto-ping: a ping every `interval`, fail if no pong within `timeout`.
    #[must_use]
    pub fn auto_ping(mut self, interval: Duration, timeout: Duration) -> Self {
        self.auto_ping = Some((interval, timeout));
        self
    }

    /// How long one connection attempt (TCP, TLS, transport handshake) may take.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The retry settings used with `auto_reconnect`.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    fn transport(&self, auto_reconnect: bool) -> Result<TransportSpec, ComponentError> {
        let config_error = |e: crate::ConnectError| ComponentError::Config(e.to_string());
        let mut transport = TransportConfig::new(&self.url).map_err(config_error)?;
        if let Some(serializers) = &self.serializers {
            transport = transport.serializers(serializers.iter().copied());
        }
        if let Some(pem) = &self.tls_roots_pem {
            transport = transport.tls_roots_pem(pem.clone());
        }
        if let Some((host, port)) = &self.proxy {
            transport = transport.proxy(host.clone(), *port);
        }
        for (name, value) in &self.headers {
            transport = transport.header(name.clone(), value.clone());
        }
        if let Some(max) = self.max_message_size {
            transport = transport.max_message_size(Some(max));
        }
        if let Some((interval, timeout)) = self.auto_ping {
            transport = transport.auto_ping(interval, timeout);
        }
        if let Some(timeout) = self.connect_timeout {
            transport = transport.connect_timeout(timeout);
        }
        let retry = if auto_reconnect {
            self.retry.clone()
        } else {
            RetryPolicy::never()
        };
        Ok(TransportSpec::new(transport).retry(retry))
    }

    /// Connects, joins and runs `main` with the session; resolves when `main` returns
    /// (the session then leaves) or [`stop`](Self::stop) is called. With
    /// `auto_reconnect`, a lost connection is retried with backoff and `main` runs again
    /// on the new session; without it, a failed connection or a lost session is an error.
    /// Authentication rejections are never retried.
    pub async fn run<R, F, Fut>(
        &self,
        rt: &R,
        main: F,
        auto_reconnect: bool,
    ) -> Result<(), ComponentError>
    where
        R: Runtime,
        F: Fn(Session) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let component = Component::builder()
            .transport(self.transport(auto_reconnect)?)
            .join_config(self.join.clone())
            .extra(self.extra.clone())
            .main(main)
            .build()?;
        if let Ok(mut running) = self.running.lock() {
            *running = Some(component.clone());
        }
        let result = component.start(rt).await;
        if let Ok(mut running) = self.running.lock() {
            *running = None;
        }
        result
    }

    /// Stops a running [`run`](Self::run): the session leaves and `run` resolves `Ok`.
    pub fn stop(&self) {
        if let Some(component) = self.running.lock().ok().and_then(|r| r.clone()) {
            component.stop();
        }
    }
}
