//! A WAMP WebSocket client (`wamp_transport_ws::WsClient`) under arbitrary server bytes
//! and arbitrary chunking.
//!
//! Input layout: `[control] ([len] [chunk of len bytes])*`.
//! - `control` bit 0: start with a valid `101 Switching Protocols` answer (its
//!   `Sec-WebSocket-Accept` computed from the key the client sent) so the fuzzer reaches
//!   framing at once; bits 1-2: the subprotocol that answer picks (one of them was not
//!   offered); bit 3: small limits (messages of 256 bytes, frames of 128); bit 4: each
//!   received message is sent back, so the client's own framing is exercised; bit 5: a
//!   virtual clock that advances by `len` milliseconds per chunk with auto-ping on (and
//!   the chunking check off, since timers then depend on it); bit 6: the client closes
//!   after the input.
//!
//! Checked, besides "no panic":
//! - closed is sticky: no output, event or deadline after the Closed event, which is
//!   the last event and comes once;
//! - after `handle_timeout(now)`, `poll_timeout()` is `None` or later than `now`;
//! - no received message exceeds the configured limit;
//! - chunking does not matter: feeding everything at once gives the same messages and
//!   events (the bytes out differ: the key and the masks are random).

#![no_main]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::epoch;
use libfuzzer_sys::fuzz_target;
use wamp_proto::serializer::SerializerKind;
use wamp_transport_ws::{ClientConfig, CloseCode, WsClient, WsEvent};

/// The answer's subprotocol; the client offers only the first two.
const PROTOCOLS: [&str; 4] = [
    "wamp.2.json",
    "wamp.2.msgpack",
    "wamp.2.cbor",
    "wamp.2.bogus",
];

/// What must not depend on chunking.
#[derive(Default, PartialEq, Debug)]
struct Outcome {
    messages: Vec<Bytes>,
    /// Events without the handshake headers (they carry the per-run accept key).
    events: Vec<String>,
}

struct Setup {
    control: u8,
    max_message: usize,
}

impl Setup {
    fn config(&self) -> ClientConfig {
        let small = self.control & 8 != 0;
        let mut config = ClientConfig::new("ws://127.0.0.1:8080/ws")
            .expect("a valid URL")
            .serializers([SerializerKind::Json, SerializerKind::MsgPack])
            .max_message_size(Some(self.max_message))
            .max_frame_size(if small { Some(128) } else { Some(16 << 20) });
        if self.clock() {
            config = config.auto_ping(Duration::from_millis(50), Duration::from_millis(20));
        }
        config
    }

    fn clock(&self) -> bool {
        self.control & 32 != 0
    }
}

/// The `101` answer to the request the client queued.
fn answer(request: &[u8], protocol: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(request);
    let key = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("sec-websocket-key: ")
                .or(l.strip_prefix("Sec-WebSocket-Key: "))
        })
        .expect("the request carries a key")
        .trim();
    let accept = wamp_transport_ws::tungstenite::handshake::derive_accept_key(key.as_bytes());
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: {protocol}\r\n\r\n"
    )
    .into_bytes()
}

fn drain(client: &mut WsClient, outcome: &mut Outcome, echo: bool, closed_before: bool) {
    while let Some(message) = client.poll_message() {
        assert!(!closed_before, "a message after Closed");
        if echo && client.is_open() {
            let _ = client.send_message(message.clone());
        }
        outcome.messages.push(message);
    }
    while client.poll_transmit().is_some() {
        assert!(!closed_before, "output after Closed");
    }
    while let Some(event) = client.poll_event() {
        assert!(!closed_before, "an event after Closed");
        assert!(
            !outcome.events.iter().any(|e| e.starts_with("Closed")),
            "an event after Closed"
        );
        outcome.events.push(match event {
            WsEvent::Open(info) => format!("Open {:?}", info.serializer),
            other => format!("{other:?}"),
        });
    }
    if client.is_closed() {
        assert_eq!(client.poll_timeout(), None, "a deadline after Closed");
        assert!(
            outcome
                .events
                .last()
                .is_some_and(|e| e.starts_with("Closed")),
            "closed without a Closed event"
        );
    }
}

fn run(setup: &Setup, chunks: &[&[u8]]) -> Outcome {
    let mut now = epoch();
    let mut client = WsClient::new(setup.config(), now).expect("a valid config");
    let request: Vec<u8> = std::iter::from_fn(|| client.poll_transmit())
        .flat_map(|b| b.to_vec())
        .collect();
    let mut outcome = Outcome::default();
    let echo = setup.control & 16 != 0;
    let feed = |client: &mut WsClient, now: Instant, chunk: &[u8], outcome: &mut Outcome| {
        let closed_before = client.is_closed();
        client.handle_input(now, chunk);
        drain(client, outcome, echo, closed_before);
    };
    if setup.control & 1 != 0 {
        let protocol = PROTOCOLS[usize::from((setup.control >> 1) & 3)];
        feed(&mut client, now, &answer(&request, protocol), &mut outcome);
    }
    for chunk in chunks {
        if setup.clock() {
            let closed_before = client.is_closed();
            now += Duration::from_millis(chunk.len() as u64);
            client.handle_timeout(now);
            assert!(
                client.poll_timeout().is_none_or(|d| d > now),
                "deadline not later"
            );
            drain(&mut client, &mut outcome, echo, closed_before);
        }
        feed(&mut client, now, chunk, &mut outcome);
    }
    if setup.control & 64 != 0 && !client.is_closed() {
        let closed_before = client.is_closed();
        let _ = client.close(now, CloseCode::NORMAL, "done");
        drain(&mut client, &mut outcome, echo, closed_before);
    }
    assert!(
        outcome
            .messages
            .iter()
            .all(|m| m.len() <= setup.max_message),
        "over the limit"
    );
    outcome
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, mut rest)) = data.split_first() else {
        return;
    };
    let max_message = if control & 8 != 0 { 256 } else { 64 << 20 };
    let setup = Setup {
        control,
        max_message,
    };
    let mut chunks: Vec<&[u8]> = Vec::new();
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        chunks.push(&tail[..len]);
        rest = &tail[len..];
    }
    let chunked = run(&setup, &chunks);
    if !setup.clock() {
        let all: Vec<u8> = chunks.concat();
        let at_once = run(&setup, &[&all]);
        assert_eq!(chunked, at_once, "chunking changed the outcome");
    }
});
