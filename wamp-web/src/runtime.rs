//! [`WebRuntime`]: the page's event loop, timers and WebSocket as a [`Runtime`].

use std::io;
use std::time::Duration;

use futures::future::BoxFuture;
use send_wrapper::SendWrapper;
use wamp_runtime::wamp_proto::Instant;
use wamp_runtime::{
    BoxStream, Component, ComponentError, ConnectError, IntoTransport, JoinConfig, Runtime, Session,
};

use crate::socket::BrowserSocket;

/// The longest `setTimeout` a browser honours (2^31 - 1 ms, about 24.8 days); a longer
/// wait is several.
const LONGEST_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

/// The browser as a [`Runtime`]: tasks on the page's event loop
/// (`wasm_bindgen_futures::spawn_local`), timers with `setTimeout`, the clock from
/// `performance.now()`, randomness from `crypto.getRandomValues`, and WebSockets
/// opened by the browser.
///
/// A page has one thread: the `Send` the runtime interface asks of futures and
/// streams holds trivially, and the browser objects inside them are wrapped in
/// `SendWrapper`, which would panic if one ever moved to another thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebRuntime;

impl Runtime for WebRuntime {
    fn spawn(&self, future: BoxFuture<'static, ()>) {
        wasm_bindgen_futures::spawn_local(future);
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return;
                }
                // Rounded up: a timer may not end before the deadline it was set for.
                let ms = left.min(LONGEST_TIMEOUT).as_micros().div_ceil(1000);
                let ms = u32::try_from(ms).unwrap_or(u32::MAX);
                SendWrapper::new(gloo_timers::future::TimeoutFuture::new(ms)).await;
            }
        })
    }

    fn connect_tcp(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<BoxStream>> {
        Box::pin(async move {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "a web page cannot open TCP connections (to {host}:{port}): RawSocket is not \
                     available in a browser; use a ws:// or wss:// URL"
                ),
            ))
        })
    }

    fn open_websocket(
        &self,
        url: &str,
        protocols: &[&'static str],
    ) -> Option<BoxFuture<'static, io::Result<BoxStream>>> {
        // Opened when polled, not here: a connect that refuses the configuration first
        // must not have touched the network.
        let url = url.to_owned();
        let protocols = protocols.to_vec();
        Some(Box::pin(async move {
            BrowserSocket::open(&url, &protocols).map(|s| Box::new(s) as BoxStream)
        }))
    }
}

/// Connects and joins with the [`WebRuntime`]; see [`wamp_runtime::connect`].
///
/// `transport` is a URL (`"ws://127.0.0.1:8080/ws"`, `"wss://example.com/ws"`) or a
/// [`TransportConfig`](wamp_runtime::TransportConfig); `join` a realm name or a
/// [`JoinConfig`].
///
/// # Errors
///
/// As [`wamp_runtime::connect`], and a RawSocket URL is [`ConnectError::Io`]
/// (`Unsupported`).
pub async fn connect(
    transport: impl IntoTransport,
    join: impl Into<JoinConfig>,
) -> Result<Session, ConnectError> {
    wamp_runtime::connect(&WebRuntime, &transport.into_transport()?, &join.into()).await
}

/// Runs `component` with the [`WebRuntime`] until it is done; see
/// [`Component::start`].
///
/// # Errors
///
/// As [`Component::start`].
pub async fn start(component: &Component) -> Result<(), ComponentError> {
    component.start(&WebRuntime).await
}
