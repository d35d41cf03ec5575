//! The server side: answers the upgrade request, picks the subprotocol.

use wamp_proto::Instant;

use crate::config::ServerConfig;
use crate::endpoint::WebSocket;
use crate::error::UsageError;

/// The server side of WAMP over WebSocket, as a sans-IO state machine: one per accepted
/// connection.
///
/// It waits for the client's upgrade request, picks the first subprotocol in the client's
/// offer that the [`ServerConfig`] lists (Autobahn's rule), and answers 101; a request
/// offering no supported subprotocol gets HTTP 400 listing the supported ones (as
/// Crossbar does), a malformed one 400 (or 426 for a wrong `Sec-WebSocket-Version`).
pub struct WsServer {
    endpoint: WebSocket,
}

crate::endpoint::wraps_endpoint!(WsServer);

impl WsServer {
    /// Starts a server connection, waiting for the upgrade request.
    pub fn new(config: ServerConfig, now: Instant) -> Result<WsServer, UsageError> {
        config.check()?;
        Ok(WsServer {
            endpoint: WebSocket::server(config, now),
        })
    }
}
