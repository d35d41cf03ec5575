//! An HTTP `CONNECT` tunnel through a proxy, for WebSocket transports.

use futures::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::ConnectError;
use crate::runtime::BoxStream;

/// The longest proxy response head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// The `CONNECT` request for `host:port`.
pub(crate) fn request(host: &str, port: u16) -> String {
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nProxy-Connection: keep-alive\r\n\r\n"
    )
}

/// Checks a complete or partial response head: `Ok(true)` when a 2xx head is
/// complete, `Ok(false)` when more bytes are needed.
pub(crate) fn parse_response(head: &[u8]) -> Result<bool, ConnectError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head) {
        Ok(httparse::Status::Partial) => Ok(false),
        Ok(httparse::Status::Complete(_)) => {
            let code = response.code.unwrap_or(0);
            if (200..300).contains(&code) {
                Ok(true)
            } else {
                Err(ConnectError::Proxy(format!(
                    "the proxy refused the tunnel: HTTP {code} {}",
                    response.reason.unwrap_or("")
                )))
            }
        }
        Err(e) => Err(ConnectError::Proxy(format!(
            "the proxy's answer is not HTTP: {e}"
        ))),
    }
}

/// Asks the proxy on `stream` for a tunnel to `host:port`; afterwards `stream` carries
/// the tunnel.
pub(crate) async fn connect(
    stream: &mut BoxStream,
    host: &str,
    port: u16,
) -> Result<(), ConnectError> {
    stream
        .write_all(request(host, port).as_bytes())
        .await
        .map_err(ConnectError::Io)?;
    stream.flush().await.map_err(ConnectError::Io)?;
    // Byte by byte: the head is short, and nothing after it may be consumed here (it
    // belongs to the tunnel).
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    loop {
        let n = stream.read(&mut byte).await.map_err(ConnectError::Io)?;
        if n == 0 {
            return Err(ConnectError::Proxy(
                "the proxy closed the connection before answering".into(),
            ));
        }
        head.push(byte[0]);
        if head.ends_with(b"\r\n\r\n") && parse_response(&head)? {
            return Ok(());
        }
        if head.len() > MAX_HEAD {
            return Err(ConnectError::Proxy(format!(
                "the proxy's answer head is longer than {MAX_HEAD} bytes"
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_names_the_target() {
        assert_eq!(
            request("router.example", 443),
            "CONNECT router.example:443 HTTP/1.1\r\nHost: router.example:443\r\nProxy-Connection: keep-alive\r\n\r\n"
        );
        assert!(request("::1", 80).starts_with("CONNECT [::1]:80 HTTP/1.1\r\n"));
    }

    #[test]
    fn responses_are_parsed() {
        assert!(!parse_response(b"HTTP/1.1 200 Connection established\r\n").expect("partial"));
        assert!(parse_response(b"HTTP/1.1 200 Connection established\r\n\r\n").expect("ok"));
        assert!(parse_response(b"HTTP/1.0 200 OK\r\nVia: squid\r\n\r\n").expect("ok"));
        let refused = parse_response(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
            .expect_err("refused");
        assert!(refused.to_string().contains("407"), "{refused}");
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }

    #[test]
    fn the_tunnel_is_opened_over_a_stream() {
        use futures::executor::block_on;
        // A scripted proxy: the reader returns the answer, the writer records the request.
        struct Scripted {
            answer: std::io::Cursor<Vec<u8>>,
            written: Vec<u8>,
        }
        impl futures::io::AsyncRead for Scripted {
            fn poll_read(
                mut self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::task::Poll::Ready(std::io::Read::read(&mut self.answer, buf))
            }
        }
        impl futures::io::AsyncWrite for Scripted {
            fn poll_write(
                mut self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.written.extend_from_slice(buf);
                std::task::Poll::Ready(Ok(buf.len()))
            }
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }
            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }
        }
        let answer = b"HTTP/1.1 200 OK\r\n\r\nTUNNEL".to_vec();
        let mut stream: BoxStream = Box::new(Scripted {
            answer: std::io::Cursor::new(answer),
            written: Vec::new(),
        });
        block_on(connect(&mut stream, "h", 1)).expect("tunnel");
        // The bytes after the head are left for the tunnel.
        let mut rest = Vec::new();
        block_on(stream.read_to_end(&mut rest)).expect("read");
        assert_eq!(rest, b"TUNNEL");

        let mut closed: BoxStream = Box::new(Scripted {
            answer: std::io::Cursor::new(b"HTTP/1.1 200".to_vec()),
            written: Vec::new(),
        });
        let err = block_on(connect(&mut closed, "h", 1)).expect_err("closed");
        assert!(matches!(err, ConnectError::Proxy(_)), "{err}");
    }
}
