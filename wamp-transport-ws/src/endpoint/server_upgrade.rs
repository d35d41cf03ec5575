//! The server's opening handshake: the upgrade request checked (path, version, the
//! subprotocol offer, the connection limit) and answered with 101, or refused with an
//! HTTP error.

use super::*;

use tungstenite::handshake::machine::TryParse;
use tungstenite::handshake::server::{create_response, write_response, Request as ServerRequest};

use crate::config::ServerConfig;

pub(crate) struct ServerHs {
    serializers: Vec<SerializerKind>,
    headers: HeaderMap,
    path: Option<String>,
    max_connections_reached: bool,
    allowed_origins: Option<Vec<String>>,
}

impl WebSocket {
    pub(crate) fn server(config: ServerConfig, now: Instant) -> WebSocket {
        WebSocket::new(
            config.options,
            State::Server(Box::new(ServerHs {
                serializers: config.serializers,
                headers: config.headers,
                path: config.path,
                max_connections_reached: config.max_connections_reached,
                allowed_origins: config.allowed_origins,
            })),
            now,
        )
    }

    // ---- server handshake --------------------------------------------------------

    pub(super) fn server_input(&mut self, now: Instant, data: &[u8]) {
        self.head.extend_from_slice(data);
        loop {
            let end = find_head_end(&self.head, &mut self.head_scan);
            // Judge the head's length, not the buffer's, so chunking cannot matter.
            if end.unwrap_or(self.head.len()) > MAX_HEAD {
                self.reject(
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    format!("the request head is longer than {MAX_HEAD} bytes"),
                    None,
                );
                return;
            }
            let Some(end) = end else {
                return;
            };
            match ServerRequest::try_parse(&self.head[..end]) {
                Ok(Some((size, request))) => return self.server_accept(now, size, request),
                // A blank line the parser skips (before the request line): look for the
                // next one.
                Ok(None) => continue,
                Err(e) => {
                    return self.reject(
                        StatusCode::BAD_REQUEST,
                        format!("not a WebSocket upgrade request: {e}"),
                        None,
                    )
                }
            }
        }
    }

    fn server_accept(&mut self, now: Instant, size: usize, request: ServerRequest) {
        use tungstenite::error::ProtocolError;
        let State::Server(hs) = &self.state else {
            return;
        };
        // Whether this endpoint serves the request at all comes before judging it as
        // an upgrade: a full server or a wrong path says so in plain HTTP.
        if hs.max_connections_reached {
            let error = WsError::Unavailable;
            self.reject_with(
                StatusCode::SERVICE_UNAVAILABLE,
                error.to_string(),
                None,
                error,
            );
            return;
        }
        if let Some(want) = &hs.path {
            let path = request.uri().path();
            if path != want {
                let error = WsError::NotFound {
                    path: path.to_owned(),
                    served: want.clone(),
                };
                self.reject_with(StatusCode::NOT_FOUND, error.to_string(), None, error);
                return;
            }
        }
        if let (Some(allowed), Some(origin)) =
            (&hs.allowed_origins, request.headers().get(header::ORIGIN))
        {
            let origin = String::from_utf8_lossy(origin.as_bytes());
            if origin != "null" && !allowed.iter().any(|p| origin_matches(p, &origin)) {
                let error = WsError::ForbiddenOrigin(origin.into_owned());
                self.reject_with(StatusCode::FORBIDDEN, error.to_string(), None, error);
                return;
            }
        }
        // RFC 6455 §4.2.1 checks and the Sec-WebSocket-Accept key.
        let mut response = match create_response(&request) {
            Ok(response) => response,
            Err(tungstenite::Error::Protocol(ProtocolError::MissingSecWebSocketVersionHeader)) => {
                // RFC 6455 §4.4: tell the client which version we speak.
                self.reject(
                    StatusCode::UPGRADE_REQUIRED,
                    "this server speaks WebSocket version 13".into(),
                    Some(HeaderValue::from_static("13")),
                );
                return;
            }
            Err(e) => {
                self.reject(
                    StatusCode::BAD_REQUEST,
                    format!("not a WebSocket upgrade request: {e}"),
                    None,
                );
                return;
            }
        };
        let offered: Vec<String> = request
            .headers()
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        // Autobahn's rule: the first subprotocol in the client's offer that we speak.
        let chosen = offered.iter().find_map(|p| {
            SerializerKind::from_subprotocol(p).filter(|s| hs.serializers.contains(s))
        });
        let Some(serializer) = chosen else {
            let supported: Vec<String> = hs
                .serializers
                .iter()
                .map(|s| s.subprotocol().to_owned())
                .collect();
            let body = format!(
                "This server only speaks WebSocket subprotocols {}",
                supported.join(", ")
            );
            self.reject_with(
                StatusCode::BAD_REQUEST,
                body,
                None,
                WsError::NoCommonSubprotocol { offered, supported },
            );
            return;
        };
        let headers = response.headers_mut();
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(serializer.subprotocol()),
        );
        for (name, value) in &hs.headers {
            headers.append(name.clone(), value.clone());
        }
        let mut out = Vec::new();
        if let Err(e) = write_response(&mut out, &response) {
            // Only a header value that is not visible ASCII gets here.
            let error = WsError::Internal(format!("writing the response: {e}"));
            self.reject_with(
                StatusCode::INTERNAL_SERVER_ERROR,
                error.to_string(),
                None,
                error,
            );
            return;
        }
        self.transmit.push_back(Bytes::from(out));
        // Bytes behind the request (a client that did not wait for our answer) are
        // frames: keep them for the WebSocket.
        let rest = std::mem::take(&mut self.head);
        let (parts, ()) = request.into_parts();
        let info = OpenInfo {
            serializer,
            uri: parts.uri,
            headers: parts.headers,
        };
        self.open(now, &rest[size..], info);
    }

    fn reject(&mut self, status: StatusCode, reason: String, version: Option<HeaderValue>) {
        let error = WsError::Handshake(reason.clone());
        self.reject_with(status, reason, version, error);
    }

    /// Answers the upgrade request with an HTTP error and closes.
    fn reject_with(
        &mut self,
        status: StatusCode,
        body: String,
        version: Option<HeaderValue>,
        error: WsError,
    ) {
        let mut builder = Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .header(header::CONTENT_LENGTH, body.len())
            .header(header::CONNECTION, "close");
        if let Some(version) = version {
            builder = builder.header(header::SEC_WEBSOCKET_VERSION, version);
        }
        let mut out = Vec::new();
        if let Ok(response) = builder.body(()) {
            if write_response(&mut out, &response).is_ok() {
                out.extend_from_slice(body.as_bytes());
                self.transmit.push_back(Bytes::from(out));
            }
        }
        self.fail(error);
    }
}

/// Whether `origin` matches `pattern`, where `*` stands for any run of characters
/// (ASCII case is ignored, as in scheme and host names).
fn origin_matches(pattern: &str, origin: &str) -> bool {
    let (pattern, origin) = (pattern.to_ascii_lowercase(), origin.to_ascii_lowercase());
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = origin.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::origin_matches;

    #[test]
    fn origin_patterns_match_with_stars() {
        assert!(origin_matches("*", "https://evil.example"));
        assert!(origin_matches(
            "http://localhost:*",
            "http://localhost:8080"
        ));
        assert!(origin_matches(
            "HTTPS://App.example.com",
            "https://app.example.com"
        ));
        assert!(origin_matches(
            "https://*.example.com",
            "https://a.b.example.com"
        ));
        assert!(!origin_matches(
            "https://*.example.com",
            "https://example.com.evil.net"
        ));
        assert!(!origin_matches(
            "http://localhost:*",
            "http://localhostx.evil:1"
        ));
        assert!(!origin_matches(
            "https://app.example.com",
            "https://app.example.com.evil"
        ));
        assert!(origin_matches("a*b*c", "a-b-b-c") && !origin_matches("a*b*c", "a-c"));
    }
}
