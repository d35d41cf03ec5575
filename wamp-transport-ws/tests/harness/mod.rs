//! A test harness: a client and a server joined by an in-memory link on a virtual clock,
//! scripted peers (raw HTTP and raw frames), and a frame parser to check the wire.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use wamp_proto::serializer::SerializerKind;
use wamp_transport_ws::{
    ClientConfig, CloseCode, CloseInfo, Initiator, OpenInfo, ServerConfig, WebSocket, WsClient,
    WsError, WsEvent, WsServer,
};

/// The virtual clock starts at one real `Instant::now()`; everything after is `t0 + d`.
#[allow(clippy::disallowed_methods)]
pub fn t0() -> Instant {
    Instant::now()
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// WAMP messages (HELLO, WELCOME, CALL, RESULT, and a CALL of ~100 kB) in `kind`.
pub fn sample_messages(kind: SerializerKind) -> Vec<Bytes> {
    let big = format!(
        r#"[48,1,{{}},"com.example.big",["{}"]]"#,
        "x".repeat(100_000)
    );
    let jsons = [
        r#"[1,"realm1",{"roles":{"caller":{}}}]"#.to_owned(),
        r#"[2,9129137332,{"roles":{"dealer":{}}}]"#.to_owned(),
        r#"[48,7814135,{},"com.myapp.echo",["Hello, world!"]]"#.to_owned(),
        r#"[50,7814135,{},[30]]"#.to_owned(),
        big,
    ];
    jsons
        .iter()
        .map(|json| {
            let message = SerializerKind::Json
                .decode(Bytes::from(json.clone()))
                .expect("sample decodes");
            kind.encode(&message).expect("sample encodes")
        })
        .collect()
}

/// A client and a server joined by a link that logs both byte streams.
pub struct Pair {
    pub client: WsClient,
    pub server: WsServer,
    pub now: Instant,
    /// Everything the client sent, in order.
    pub c2s: Vec<u8>,
    /// Everything the server sent, in order.
    pub s2c: Vec<u8>,
}

impl Pair {
    pub fn new(client: ClientConfig, server: ServerConfig) -> Pair {
        let now = t0();
        Pair {
            client: WsClient::new(client, now).expect("client config"),
            server: WsServer::new(server, now).expect("server config"),
            now,
            c2s: Vec::new(),
            s2c: Vec::new(),
        }
    }

    pub fn with(client: &[SerializerKind], server: &[SerializerKind]) -> Pair {
        Pair::new(
            ClientConfig::new("ws://localhost:8080/ws")
                .expect("url")
                .serializers(client.iter().copied()),
            ServerConfig::new().serializers(server.iter().copied()),
        )
    }

    /// Moves bytes both ways until both sides are quiet.
    pub fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(bytes) = self.client.poll_transmit() {
                self.c2s.extend_from_slice(&bytes);
                self.server.handle_input(self.now, &bytes);
                moved = true;
            }
            while let Some(bytes) = self.server.poll_transmit() {
                self.s2c.extend_from_slice(&bytes);
                self.client.handle_input(self.now, &bytes);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    pub fn client_events(&mut self) -> Vec<WsEvent> {
        std::iter::from_fn(|| self.client.poll_event()).collect()
    }

    pub fn server_events(&mut self) -> Vec<WsEvent> {
        std::iter::from_fn(|| self.server.poll_event()).collect()
    }

    pub fn client_messages(&mut self) -> Vec<Bytes> {
        std::iter::from_fn(|| self.client.poll_message()).collect()
    }

    pub fn server_messages(&mut self) -> Vec<Bytes> {
        std::iter::from_fn(|| self.server.poll_message()).collect()
    }
}

pub fn drain_client(client: &mut WsClient) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(bytes) = client.poll_transmit() {
        out.extend_from_slice(&bytes);
    }
    out
}

pub fn drain_server(server: &mut WsServer) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(bytes) = server.poll_transmit() {
        out.extend_from_slice(&bytes);
    }
    out
}

pub fn events_of_server(server: &mut WsServer) -> Vec<WsEvent> {
    std::iter::from_fn(|| server.poll_event()).collect()
}

pub fn events_of_client(client: &mut WsClient) -> Vec<WsEvent> {
    std::iter::from_fn(|| client.poll_event()).collect()
}

pub fn closed(events: &[WsEvent]) -> Option<&CloseInfo> {
    events.iter().find_map(|e| match e {
        WsEvent::Closed(info) => Some(info),
        _ => None,
    })
}

pub fn expect_closed(events: &[WsEvent]) -> &CloseInfo {
    closed(events).unwrap_or_else(|| panic!("no Closed event in {events:?}"))
}

/// Checks that `ws` times out exactly `after` past `now` (not a second earlier), leaves no
/// deadline behind, and reports `error` in its Closed event.
pub fn expect_timeout(ws: &mut WebSocket, now: Instant, after: Duration, error: WsError) {
    assert_eq!(ws.poll_timeout(), Some(now + after));
    ws.handle_timeout(now + after - secs(1));
    assert!(!ws.is_closed());
    ws.handle_timeout(now + after);
    assert!(ws.is_closed());
    assert_eq!(ws.poll_timeout(), None);
    let events: Vec<WsEvent> = std::iter::from_fn(|| ws.poll_event()).collect();
    assert_eq!(expect_closed(&events).error, Some(error));
}

/// A client whose upgrade request has been sent (and drained), awaiting the response.
pub fn requesting_client(now: Instant) -> WsClient {
    let mut client = WsClient::new(client_config(), now).expect("config");
    let _ = drain_client(&mut client);
    client
}

/// Checks that `events` end the connection with a failed HTTP handshake.
pub fn expect_handshake_error(events: &[WsEvent]) {
    assert!(matches!(
        expect_closed(events).error,
        Some(WsError::Handshake(_))
    ));
}

/// Checks that `events` end the connection as a peer that vanished: a reset, code 1006.
pub fn expect_reset(events: &[WsEvent]) {
    let info = expect_closed(events);
    assert_eq!(info.error, Some(WsError::ConnectionReset));
    assert_eq!(
        (info.code, info.initiator),
        (CloseCode::ABNORMAL, Initiator::Peer)
    );
}

pub fn opened(events: &[WsEvent]) -> Option<SerializerKind> {
    events.iter().find_map(|e| match e {
        WsEvent::Open(info) => Some(info.serializer),
        _ => None,
    })
}

// ---- scripted peers ------------------------------------------------------------------

pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// An upgrade request as a browser would send it, offering `protocols` (a raw header
/// value) if any.
pub fn raw_request(protocols: Option<&str>) -> String {
    let protocol = protocols
        .map(|p| format!("Sec-WebSocket-Protocol: {p}\r\n"))
        .unwrap_or_default();
    format!(
        "GET /ws?x=1 HTTP/1.1\r\nHost: localhost:8080\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n\
         {protocol}\r\n"
    )
}

/// Feeds `request` to `server` at `now` and returns what it answered, as text.
pub fn http_answer(server: &mut WsServer, now: Instant, request: &[u8]) -> String {
    server.handle_input(now, request);
    String::from_utf8(drain_server(server)).expect("ascii response")
}

/// The Open event that must come first in `events`.
pub fn expect_open_first(events: &[WsEvent]) -> &OpenInfo {
    let Some(WsEvent::Open(open)) = events.first() else {
        panic!("{events:?}")
    };
    open
}

/// Checks the Closed event of the side that did not start the closing handshake: the
/// initiator's `code` and `reason`, with the peer as initiator. Returns it for more checks.
pub fn expect_closed_by_peer<'a>(
    events: &'a [WsEvent],
    code: CloseCode,
    reason: &str,
) -> &'a CloseInfo {
    let info = expect_closed(events);
    assert_eq!(info.code, code);
    assert_eq!(info.reason, reason);
    assert_eq!(info.initiator, Initiator::Peer);
    info
}

/// A server opened by a scripted client speaking `kind`.
pub fn open_server(kind: SerializerKind, config: ServerConfig) -> (WsServer, Instant) {
    let now = t0();
    let mut server = WsServer::new(config, now).expect("server config");
    let response = http_answer(
        &mut server,
        now,
        raw_request(Some(kind.subprotocol())).as_bytes(),
    );
    assert!(response.starts_with("HTTP/1.1 101"), "{response}");
    assert!(
        response.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{response}"
    );
    let events = events_of_server(&mut server);
    assert_eq!(opened(&events), Some(kind));
    (server, now)
}

/// The value of `name` in an HTTP head.
pub fn header_value(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// A 101 answer to the client's `request`, choosing `protocol` (a raw header value).
pub fn raw_response(request: &[u8], protocol: Option<&str>) -> String {
    let request = String::from_utf8_lossy(request);
    let key = header_value(&request, "Sec-WebSocket-Key").expect("a key");
    let accept = wamp_transport_ws::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let protocol = protocol
        .map(|p| format!("Sec-WebSocket-Protocol: {p}\r\n"))
        .unwrap_or_default();
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n{protocol}\r\n"
    )
}

/// A client opened by a scripted server speaking `kind`.
pub fn open_client(kind: SerializerKind, config: ClientConfig) -> (WsClient, Instant) {
    let now = t0();
    let mut client = WsClient::new(config.serializers([kind]), now).expect("client config");
    let request = drain_client(&mut client);
    client.handle_input(
        now,
        raw_response(&request, Some(kind.subprotocol())).as_bytes(),
    );
    assert_eq!(opened(&events_of_client(&mut client)), Some(kind));
    (client, now)
}

pub fn client_config() -> ClientConfig {
    ClientConfig::new("ws://localhost:8080/ws").expect("url")
}

// ---- frames --------------------------------------------------------------------------

pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CONTINUATION: u8 = 0x0;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// One frame; masked with `mask` if given (clients must mask, servers must not).
pub fn frame(fin: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= 0xFFFF {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(true, opcode, payload, Some([0x12, 0x34, 0x56, 0x78]))
}

pub fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(true, opcode, payload, None)
}

/// Parses a byte stream of frames into (fin, opcode, unmasked payload).
pub fn parse_frames(mut bytes: &[u8]) -> Vec<(bool, u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while bytes.len() >= 2 {
        let fin = bytes[0] & 0x80 != 0;
        let opcode = bytes[0] & 0x0F;
        let masked = bytes[1] & 0x80 != 0;
        let (len, mut at) = match bytes[1] & 0x7F {
            126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
            127 => {
                let mut b = [0; 8];
                b.copy_from_slice(&bytes[2..10]);
                (u64::from_be_bytes(b) as usize, 10)
            }
            n => (n as usize, 2),
        };
        let key = if masked {
            let key = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
            at += 4;
            Some(key)
        } else {
            None
        };
        let mut payload = bytes[at..at + len].to_vec();
        if let Some(key) = key {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        frames.push((fin, opcode, payload));
        bytes = &bytes[at + len..];
    }
    assert!(bytes.is_empty(), "trailing partial frame");
    frames
}

/// The code of the single Close frame in `bytes`.
pub fn close_code_on_wire(bytes: &[u8]) -> Option<CloseCode> {
    parse_frames(bytes)
        .into_iter()
        .find(|(_, opcode, _)| *opcode == CLOSE)
        .and_then(|(_, _, payload)| {
            (payload.len() >= 2).then(|| CloseCode(u16::from_be_bytes([payload[0], payload[1]])))
        })
}

/// A small deterministic generator (xorshift64*), so the "random" tests replay.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}
