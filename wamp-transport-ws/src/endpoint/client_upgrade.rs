//! The client's opening handshake: the upgrade request, written and checked with
//! tungstenite's client handshake over a [`Pipe`], and the server's answer.

use super::*;

use tungstenite::handshake::client::{ClientHandshake, Response as ClientResponse};
use tungstenite::handshake::{HandshakeError, MidHandshake};

use crate::pipe::Pipe;

/// The most of an HTTP error body kept in [`WsError::HandshakeRejected`].
const MAX_ERROR_BODY: usize = 1024;

type ClientMid = MidHandshake<ClientHandshake<Pipe>>;

pub(crate) struct ClientHs {
    /// `None` only while the machine is being driven.
    pub(super) mid: Option<ClientMid>,
    uri: Uri,
}

impl WebSocket {
    pub(crate) fn client(
        options: WsOptions,
        request: tungstenite::handshake::client::Request,
        now: Instant,
    ) -> Result<WebSocket, UsageError> {
        let uri = request.uri().clone();
        let mid = ClientHandshake::start(Pipe::default(), request, Some(options.tungstenite()))
            .map_err(|e| UsageError::InvalidConfig(format!("invalid upgrade request: {e}")))?;
        // The first round writes the request and stops at reading the response.
        let mut mid = match mid.handshake() {
            Err(HandshakeError::Interrupted(mid)) => mid,
            Err(HandshakeError::Failure(e)) => {
                return Err(UsageError::InvalidConfig(format!(
                    "invalid upgrade request: {e}"
                )))
            }
            Ok(_) => {
                return Err(UsageError::InvalidConfig(
                    "the handshake completed without a response".into(),
                ))
            }
        };
        let request_bytes = mid.get_mut().get_mut().take_output();
        let mut endpoint = WebSocket::new(
            options,
            State::Client(Box::new(ClientHs {
                mid: Some(mid),
                uri,
            })),
            now,
        );
        endpoint.transmit.extend(request_bytes);
        Ok(endpoint)
    }

    // ---- client handshake --------------------------------------------------------

    pub(super) fn client_input(&mut self, now: Instant, data: &[u8]) {
        // Bytes are held back until a head is complete, so tungstenite parses it in one
        // go however the input was chunked (its handshake reader counts reads and takes
        // many small ones for a slowloris attack), and the frames behind the head never
        // reach it.
        self.head.extend_from_slice(data);
        loop {
            let end = find_head_end(&self.head, &mut self.head_scan);
            // Judge the head's length, not the buffer's, so chunking cannot matter.
            if end.unwrap_or(self.head.len()) > MAX_HEAD {
                self.fail(WsError::Handshake(format!(
                    "the response head is longer than {MAX_HEAD} bytes"
                )));
                return;
            }
            let Some(end) = end else {
                return;
            };
            let State::Client(hs) = &mut self.state else {
                return;
            };
            let Some(mid) = hs.mid.as_mut() else {
                return;
            };
            mid.get_mut().get_mut().feed(&self.head[..end]);
            self.head.drain(..end);
            self.head_scan = 0;
            if !self.client_drive(now) {
                return;
            }
        }
    }

    /// Runs tungstenite's handshake over what was fed; true if it needs more (the
    /// head looked complete to us but not to the parser: blank lines before the status
    /// line).
    fn client_drive(&mut self, now: Instant) -> bool {
        let State::Client(mut hs) = std::mem::replace(&mut self.state, State::Taken) else {
            return false;
        };
        let Some(mid) = hs.mid.take() else {
            self.state = State::Client(hs);
            return false;
        };
        match mid.handshake() {
            // The WebSocket tungstenite made is not used: frames are ours to read, and
            // it holds none (it was fed exactly the head).
            Ok((_, response)) => {
                // tungstenite checked that the server's choice is one we offered, and we
                // offered only WAMP subprotocols.
                let serializer = response
                    .headers()
                    .get(header::SEC_WEBSOCKET_PROTOCOL)
                    .and_then(|v| v.to_str().ok())
                    .and_then(SerializerKind::from_subprotocol);
                let Some(serializer) = serializer else {
                    self.fail(WsError::SubprotocolMismatch(
                        "the server chose no WAMP subprotocol".into(),
                    ));
                    return false;
                };
                let info = OpenInfo {
                    serializer,
                    uri: hs.uri,
                    headers: response_headers(response),
                };
                let rest = std::mem::take(&mut self.head);
                self.open(now, &rest, info);
                false
            }
            Err(HandshakeError::Interrupted(mid)) => {
                hs.mid = Some(mid);
                self.state = State::Client(hs);
                self.collect_handshake_output();
                true
            }
            Err(HandshakeError::Failure(e)) => {
                let error = self.client_error(e);
                self.fail(error);
                false
            }
        }
    }

    fn client_error(&self, error: tungstenite::Error) -> WsError {
        use tungstenite::error::ProtocolError;
        match error {
            tungstenite::Error::Http(response) => {
                let body = &self.head[..self.head.len().min(MAX_ERROR_BODY)];
                WsError::HandshakeRejected {
                    status: response.status().as_u16(),
                    body: String::from_utf8_lossy(body).into_owned(),
                }
            }
            tungstenite::Error::Protocol(ProtocolError::SecWebSocketSubProtocolError(e)) => {
                WsError::SubprotocolMismatch(e.to_string())
            }
            other => WsError::Handshake(other.to_string()),
        }
    }
}

fn response_headers(response: ClientResponse) -> HeaderMap {
    response.into_parts().0.headers
}
