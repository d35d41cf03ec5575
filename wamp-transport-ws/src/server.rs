//! The server side: answers the upgrade request, picks the subprotocol.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::Instant;

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

impl fmt::Debug for WsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsServer")
            .field("open", &self.is_open())
            .field("closed", &self.is_closed())
            .field("serializer", &self.serializer())
            .finish_non_exhaustive()
    }
}

impl WsServer {
    /// Starts a server connection, waiting for the upgrade request.
    pub fn new(config: ServerConfig, now: Instant) -> Result<WsServer, UsageError> {
        config.check()?;
        Ok(WsServer {
            endpoint: WebSocket::server(config, now),
        })
    }
}

impl WsServer {
    /// The connection machine itself, for an owner that drives clients and servers
    /// alike.
    pub fn into_inner(self) -> WebSocket {
        self.endpoint
    }
}

/// Every method of the running connection ([`WebSocket`]).
impl Deref for WsServer {
    type Target = WebSocket;

    fn deref(&self) -> &WebSocket {
        &self.endpoint
    }
}

impl DerefMut for WsServer {
    fn deref_mut(&mut self) -> &mut WebSocket {
        &mut self.endpoint
    }
}
