//! The client side: sends the upgrade request, checks the server's answer.

use wamp_proto::Instant;

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

crate::endpoint::wraps_endpoint!(WsClient);

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
