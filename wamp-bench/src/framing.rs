//! Wire framing written for the bench, both sides of each: RawSocket (the 4-byte
//! handshake and length-prefixed frames) and WebSocket (the HTTP upgrade, masked client
//! frames, unmasked server frames, ping/pong/close).
//!
//! The load client and the echo servers share it, so the ceiling pays the same framing
//! cost as the client does against a router.

use std::io;

use base64::Engine as _;
use sha1::{Digest as _, Sha1};
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter,
};

/// The largest frame either side accepts (RawSocket's 2^24 limit).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// The GUID of RFC 6455 that the accept key is derived with.
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Which framing a stream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// RawSocket: 4-byte headers (type, 24-bit length).
    RawSocket,
    /// WebSocket. `client`: frames we send are masked (and frames we read are not);
    /// `text`: messages go out as text frames (JSON), else binary.
    WebSocket {
        /// Whether this end is the client.
        client: bool,
        /// Whether messages are text frames.
        text: bool,
    },
}

/// One frame read from the peer.
#[derive(Debug)]
pub enum Frame {
    /// A whole message (WebSocket fragments are joined).
    Message(Vec<u8>),
    /// A ping; the payload goes back in a pong.
    Ping(Vec<u8>),
    /// A pong (ignored by everyone here).
    Pong,
    /// The peer closed (WebSocket close frame).
    Close,
}

/// A control frame to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Answer to a ping.
    Pong,
    /// WebSocket close (normal closure); RawSocket has none, so nothing is sent.
    Close,
}

/// Reads frames from a buffered stream.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: BufReader<R>,
    wire: Wire,
    /// A fragmented WebSocket message being joined.
    partial: Vec<u8>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Wraps an already buffered stream (whose buffer may hold bytes read past a
    /// handshake).
    pub fn new(inner: BufReader<R>, wire: Wire) -> Self {
        Self {
            inner,
            wire,
            partial: Vec::new(),
        }
    }

    /// Bytes read from the socket and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.inner.buffer().len()
    }

    /// The next frame, or `None` at end of stream.
    pub async fn next(&mut self) -> io::Result<Option<Frame>> {
        match self.wire {
            Wire::RawSocket => self.next_rawsocket().await,
            Wire::WebSocket { client, .. } => self.next_websocket(client).await,
        }
    }

    async fn next_rawsocket(&mut self) -> io::Result<Option<Frame>> {
        let mut header = [0u8; 4];
        if !read_exact_or_eof(&mut self.inner, &mut header).await? {
            return Ok(None);
        }
        let len =
            usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
        let mut payload = vec![0u8; len];
        self.inner.read_exact(&mut payload).await?;
        match header[0] & 0x07 {
            0 => Ok(Some(Frame::Message(payload))),
            1 => Ok(Some(Frame::Ping(payload))),
            2 => Ok(Some(Frame::Pong)),
            other => Err(invalid(format!("RawSocket frame type {other}"))),
        }
    }

    async fn next_websocket(&mut self, client: bool) -> io::Result<Option<Frame>> {
        loop {
            let mut head = [0u8; 2];
            if !read_exact_or_eof(&mut self.inner, &mut head).await? {
                return Ok(None);
            }
            let fin = head[0] & 0x80 != 0;
            let opcode = head[0] & 0x0F;
            let masked = head[1] & 0x80 != 0;
            if masked == client {
                return Err(invalid(if client {
                    "masked frame from the server".to_string()
                } else {
                    "unmasked frame from the client".to_string()
                }));
            }
            let len = match head[1] & 0x7F {
                126 => u64::from(self.inner.read_u16().await?),
                127 => self.inner.read_u64().await?,
                n => u64::from(n),
            };
            let len = usize::try_from(len)
                .ok()
                .filter(|&l| l <= MAX_FRAME)
                .ok_or_else(|| invalid(format!("WebSocket frame of {len} bytes")))?;
            let mut key = [0u8; 4];
            if masked {
                self.inner.read_exact(&mut key).await?;
            }
            let mut payload = vec![0u8; len];
            self.inner.read_exact(&mut payload).await?;
            if masked {
                apply_mask(&mut payload, key);
            }
            match opcode {
                0x8 => return Ok(Some(Frame::Close)),
                0x9 => return Ok(Some(Frame::Ping(payload))),
                0xA => return Ok(Some(Frame::Pong)),
                0x0..=0x2 => {
                    if fin && self.partial.is_empty() {
                        return Ok(Some(Frame::Message(payload)));
                    }
                    self.partial.extend_from_slice(&payload);
                    if self.partial.len() > MAX_FRAME {
                        return Err(invalid("fragmented message too large".into()));
                    }
                    if fin {
                        return Ok(Some(Frame::Message(std::mem::take(&mut self.partial))));
                    }
                }
                other => return Err(invalid(format!("WebSocket opcode {other:#x}"))),
            }
        }
    }
}

/// Writes frames into a buffer; [`flush`](Self::flush) puts them on the wire.
#[derive(Debug)]
pub struct FrameWriter<W: AsyncWrite> {
    inner: BufWriter<W>,
    wire: Wire,
    /// Masked payloads are built here (client WebSocket frames).
    scratch: Vec<u8>,
    /// xorshift state for masking keys.
    rng: u64,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// A writer with a buffer of `capacity` bytes.
    pub fn new(inner: W, wire: Wire, capacity: usize) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Self {
            inner: BufWriter::with_capacity(capacity, inner),
            wire,
            scratch: Vec::new(),
            rng: seed | 1,
        }
    }

    /// Queues one message.
    pub async fn message(&mut self, payload: &[u8]) -> io::Result<()> {
        match self.wire {
            Wire::RawSocket => self.rawsocket(0, payload).await,
            Wire::WebSocket { text, .. } => {
                self.websocket(if text { 0x1 } else { 0x2 }, payload).await
            }
        }
    }

    /// Queues a control frame.
    pub async fn control(&mut self, control: Control, payload: &[u8]) -> io::Result<()> {
        match (self.wire, control) {
            (Wire::RawSocket, Control::Pong) => self.rawsocket(2, payload).await,
            (Wire::RawSocket, Control::Close) => Ok(()),
            (Wire::WebSocket { .. }, Control::Pong) => self.websocket(0xA, payload).await,
            (Wire::WebSocket { .. }, Control::Close) => {
                self.websocket(0x8, &1000u16.to_be_bytes()).await
            }
        }
    }

    /// Writes out everything queued.
    pub async fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().await
    }

    /// Flushes and shuts the write side down.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.inner.shutdown().await
    }

    /// The stream, for writing a handshake before any frame.
    pub fn get_mut(&mut self) -> &mut BufWriter<W> {
        &mut self.inner
    }

    async fn rawsocket(&mut self, kind: u8, payload: &[u8]) -> io::Result<()> {
        let len = payload.len();
        if len >= MAX_FRAME {
            return Err(invalid(format!("RawSocket message of {len} bytes")));
        }
        let header = [kind, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        self.inner.write_all(&header).await?;
        self.inner.write_all(payload).await
    }

    async fn websocket(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        let client = matches!(self.wire, Wire::WebSocket { client: true, .. });
        let mask_bit = if client { 0x80 } else { 0 };
        let mut header = Vec::with_capacity(14);
        header.push(0x80 | opcode);
        let len = payload.len();
        if len < 126 {
            header.push(mask_bit | len as u8);
        } else if let Ok(short) = u16::try_from(len) {
            header.push(mask_bit | 126);
            header.extend_from_slice(&short.to_be_bytes());
        } else {
            header.push(mask_bit | 127);
            header.extend_from_slice(&(len as u64).to_be_bytes());
        }
        if client {
            let key = self.next_key();
            header.extend_from_slice(&key);
            self.inner.write_all(&header).await?;
            self.scratch.clear();
            self.scratch.extend_from_slice(payload);
            apply_mask(&mut self.scratch, key);
            self.inner.write_all(&self.scratch).await
        } else {
            self.inner.write_all(&header).await?;
            self.inner.write_all(payload).await
        }
    }

    fn next_key(&mut self) -> [u8; 4] {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng as u32).to_ne_bytes()
    }
}

/// XORs `payload` with the 4-byte masking `key` (masking and unmasking are the same).
fn apply_mask(payload: &mut [u8], key: [u8; 4]) {
    let wide = u32::from_ne_bytes(key);
    let mut chunks = payload.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let word = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) ^ wide;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key) {
        *byte ^= k;
    }
}

/// Fills `buf`; `false` if the stream ended before the first byte, an error if it ended
/// inside.
async fn read_exact_or_eof<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    buf: &mut [u8],
) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = r.read(&mut buf[filled..]).await?;
        if n == 0 {
            if filled == 0 {
                return Ok(false);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "stream ended inside a frame",
            ));
        }
        filled += n;
    }
    Ok(true)
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// The RawSocket handshake byte pair for serializer `id` with the largest length
/// exponent (16 MiB).
fn rawsocket_hello(serializer: u8) -> [u8; 4] {
    [0x7F, 0xF0 | (serializer & 0x0F), 0, 0]
}

/// Client side of the RawSocket handshake.
pub async fn rawsocket_client<R, W>(
    r: &mut BufReader<R>,
    w: &mut W,
    serializer: u8,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    w.write_all(&rawsocket_hello(serializer)).await?;
    w.flush().await?;
    let mut reply = [0u8; 4];
    r.read_exact(&mut reply).await?;
    if reply[0] != 0x7F {
        return Err(invalid(format!(
            "RawSocket reply starts with {:#x}",
            reply[0]
        )));
    }
    if reply[1] & 0x0F == 0 {
        return Err(invalid(format!(
            "RawSocket handshake refused (error code {})",
            reply[1] >> 4
        )));
    }
    if reply[1] & 0x0F != serializer {
        return Err(invalid(format!(
            "RawSocket serializer {} answered with {}",
            serializer,
            reply[1] & 0x0F
        )));
    }
    Ok(())
}

/// Server side of the RawSocket handshake: accepts serializer 1 (JSON) or 2 (msgpack)
/// and returns it.
pub async fn rawsocket_server<R, W>(r: &mut BufReader<R>, w: &mut W) -> io::Result<u8>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut hello = [0u8; 4];
    r.read_exact(&mut hello).await?;
    let serializer = hello[1] & 0x0F;
    if hello[0] != 0x7F || !(1..=2).contains(&serializer) {
        // Error 1: serializer unsupported.
        w.write_all(&[0x7F, 0x10, 0, 0]).await?;
        w.flush().await?;
        return Err(invalid(format!("bad RawSocket hello {hello:02x?}")));
    }
    w.write_all(&rawsocket_hello(serializer)).await?;
    w.flush().await?;
    Ok(serializer)
}

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`.
fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(WS_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// Reads an HTTP head (up to the blank line) and returns its first line and headers
/// (names lowercased).
async fn read_http_head<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
) -> io::Result<(String, Vec<(String, String)>)> {
    let mut first = String::new();
    let mut headers = Vec::new();
    let mut total = 0usize;
    loop {
        let mut line = Vec::new();
        let n = r.read_until(b'\n', &mut line).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "stream ended in the HTTP head",
            ));
        }
        total += n;
        if total > 16 * 1024 {
            return Err(invalid("HTTP head over 16 KiB".into()));
        }
        let line = String::from_utf8_lossy(&line).trim_end().to_string();
        if line.is_empty() {
            break;
        }
        if first.is_empty() {
            first = line;
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    Ok((first, headers))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Client side of the WebSocket upgrade, asking for one subprotocol.
pub async fn websocket_client<R, W>(
    r: &mut BufReader<R>,
    w: &mut W,
    host: &str,
    path: &str,
    subprotocol: &str,
    nonce: u64,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut raw_key = [0u8; 16];
    raw_key[..8].copy_from_slice(&nonce.to_le_bytes());
    raw_key[8..].copy_from_slice(&nonce.rotate_left(29).to_be_bytes());
    let key = base64::engine::general_purpose::STANDARD.encode(raw_key);
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: {subprotocol}\r\n\r\n"
    );
    w.write_all(request.as_bytes()).await?;
    w.flush().await?;
    let (status, headers) = read_http_head(r).await?;
    if status.split_whitespace().nth(1) != Some("101") {
        return Err(invalid(format!("WebSocket upgrade answered {status:?}")));
    }
    if header(&headers, "sec-websocket-accept") != Some(accept_key(&key).as_str()) {
        return Err(invalid("wrong Sec-WebSocket-Accept".into()));
    }
    if header(&headers, "sec-websocket-protocol") != Some(subprotocol) {
        return Err(invalid(format!("server did not agree to {subprotocol}")));
    }
    Ok(())
}

/// Server side of the WebSocket upgrade: accepts the first offered subprotocol that
/// `accept` allows and returns it.
pub async fn websocket_server<R, W>(
    r: &mut BufReader<R>,
    w: &mut W,
    accept: &[&str],
) -> io::Result<String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (request, headers) = read_http_head(r).await?;
    if !request.starts_with("GET ") {
        return Err(invalid(format!("not a WebSocket upgrade: {request:?}")));
    }
    let key = header(&headers, "sec-websocket-key")
        .ok_or_else(|| invalid("no Sec-WebSocket-Key".into()))?;
    let offered = header(&headers, "sec-websocket-protocol").unwrap_or("");
    let Some(chosen) = offered
        .split(',')
        .map(str::trim)
        .find(|p| accept.contains(p))
    else {
        w.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await?;
        w.flush().await?;
        return Err(invalid(format!("no acceptable subprotocol in {offered:?}")));
    };
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: {chosen}\r\n\r\n",
        accept_key(key)
    );
    w.write_all(response.as_bytes()).await?;
    w.flush().await?;
    Ok(chosen.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_rfc_6455_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn mask_is_an_involution() {
        let mut data: Vec<u8> = (0..=255u8).cycle().take(1027).collect();
        let original = data.clone();
        apply_mask(&mut data, [1, 2, 3, 4]);
        assert_ne!(data, original);
        apply_mask(&mut data, [1, 2, 3, 4]);
        assert_eq!(data, original);
    }

    #[tokio::test]
    async fn frames_round_trip_through_both_wires() -> io::Result<()> {
        for (send, recv) in [
            (Wire::RawSocket, Wire::RawSocket),
            (
                Wire::WebSocket {
                    client: true,
                    text: false,
                },
                Wire::WebSocket {
                    client: false,
                    text: false,
                },
            ),
            (
                Wire::WebSocket {
                    client: false,
                    text: true,
                },
                Wire::WebSocket {
                    client: true,
                    text: true,
                },
            ),
        ] {
            let (a, b) = tokio::io::duplex(1 << 20);
            let mut writer = FrameWriter::new(a, send, 1024);
            for len in [0usize, 5, 125, 126, 65_535, 65_536, 100_000] {
                writer.message(&vec![7u8; len]).await?;
            }
            writer.control(Control::Pong, b"p").await?;
            writer.flush().await?;
            let mut reader = FrameReader::new(BufReader::new(b), recv);
            for len in [0usize, 5, 125, 126, 65_535, 65_536, 100_000] {
                match reader.next().await? {
                    Some(Frame::Message(m)) => assert_eq!(m, vec![7u8; len]),
                    other => panic!("expected a message of {len}, got {other:?}"),
                }
            }
            assert!(matches!(reader.next().await?, Some(Frame::Pong)));
        }
        Ok(())
    }
}
