//! The client side: sends the upgrade request, checks the server's answer.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::Instant;

use tungstenite::client::IntoClientRequest;
use tungstenite::http::{header, HeaderValue};

use crate::config::ClientConfig;
use crate::endpoint::WebSocket;
use crate::error::UsageError;

/// The client side of WAMP over WebSocket, as a sans-IO state machine.
///
/// [`WsClient::new`] queues the HTTP upgrade request at once: drain
/// [`poll_transmit`](WebSocket::poll_transmit) and write it to the connected socket. See the
/// [crate docs](crate) for the run loop.
pub struct WsClient {
    endpoint: WebSocket,
}

impl fmt::Debug for WsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsClient")
            .field("open", &self.is_open())
            .field("closed", &self.is_closed())
            .field("serializer", &self.serializer())
            .finish_non_exhaustive()
    }
}

impl WsClient {
    /// Starts a client: builds the upgrade request (a fresh `Sec-WebSocket-Key`, the
    /// serializers offered as `Sec-WebSocket-Protocol` in preference order, the extra
    /// headers) and queues it for [`poll_transmit`](WebSocket::poll_transmit).
    pub fn new(config: ClientConfig, now: Instant) -> Result<WsClient, UsageError> {
        config.check()?;
        let mut request = (&config.uri)
            .into_client_request()
            .map_err(|e| UsageError::InvalidConfig(format!("invalid URL {}: {e}", config.uri)))?;
        let offer: Vec<&str> = config.serializers.iter().map(|s| s.subprotocol()).collect();
        let headers = request.headers_mut();
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_str(&offer.join(", "))
                .map_err(|e| UsageError::InvalidConfig(e.to_string()))?,
        );
        if config.headers.contains_key(header::HOST) {
            headers.remove(header::HOST);
        }
        for (name, value) in &config.headers {
            headers.append(name.clone(), value.clone());
        }
        Ok(WsClient {
            endpoint: WebSocket::client(config.options, request, now)?,
        })
    }
}

impl WsClient {
    /// The connection machine itself, for an owner that drives clients and servers
    /// alike.
    pub fn into_inner(self) -> WebSocket {
        self.endpoint
    }
}

/// Every method of the running connection ([`WebSocket`]).
impl Deref for WsClient {
    type Target = WebSocket;

    fn deref(&self) -> &WebSocket {
        &self.endpoint
    }
}

impl DerefMut for WsClient {
    fn deref_mut(&mut self) -> &mut WebSocket {
        &mut self.endpoint
    }
}
