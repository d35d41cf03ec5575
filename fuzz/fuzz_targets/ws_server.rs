//! A WAMP WebSocket server (`wamp_transport_ws::WsServer`) under arbitrary bytes and
//! arbitrary chunking.
//!
//! Input layout: `[control] ([len] [chunk of len bytes])*`.
//! - `control` bit 0: start with a valid upgrade request so the fuzzer reaches framing at
//!   once; bits 1-2: the subprotocol that request offers; bit 3: small limits (messages
//!   of 256 bytes, frames of 128); bit 4: `Validation::Skip`; bit 5: a virtual clock
//!   that advances by `len` milliseconds per chunk with auto-ping on (and the chunking
//!   check off, since timers then depend on it).
//!
//! Checked, besides "no panic":
//! - closed is sticky: no output, event or deadline after the Closed event, which is
//!   the last event and comes once;
//! - after `handle_timeout(now)`, `poll_timeout()` is `None` or later than `now`;
//! - no received message exceeds the configured limit;
//! - chunking does not matter: feeding everything at once gives the same messages,
//!   events and bytes out.

#![no_main]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::epoch;
use libfuzzer_sys::fuzz_target;
use wamp_proto::serializer::SerializerKind;
use wamp_transport_ws::{ServerConfig, Validation, WsEvent, WsServer};

const PROTOCOLS: [&str; 4] = [
    "wamp.2.json",
    "wamp.2.msgpack",
    "wamp.2.cbor",
    "wamp.2.json.batched",
];

#[derive(Default, PartialEq, Debug)]
struct Outcome {
    messages: Vec<Bytes>,
    events: Vec<WsEvent>,
    sent: Vec<u8>,
}

struct Setup {
    config: ServerConfig,
    max_message: Option<usize>,
    clock: bool,
}

fn drain(server: &mut WsServer, outcome: &mut Outcome, closed_before: bool) {
    while let Some(bytes) = server.poll_transmit() {
        assert!(!closed_before, "output after Closed");
        outcome.sent.extend_from_slice(&bytes);
    }
    while let Some(event) = server.poll_event() {
        assert!(!closed_before, "event after Closed");
        assert!(
            !outcome
                .events
                .iter()
                .any(|e| matches!(e, WsEvent::Closed(_))),
            "an event after Closed"
        );
        outcome.events.push(event);
    }
    while let Some(message) = server.poll_message() {
        outcome.messages.push(message);
    }
    if server.is_closed() {
        assert_eq!(server.poll_timeout(), None, "a deadline after Closed");
        assert!(
            matches!(outcome.events.last(), Some(WsEvent::Closed(_))),
            "closed without a Closed event"
        );
    }
}

fn run(setup: &Setup, chunks: &[&[u8]]) -> Outcome {
    let mut now = epoch();
    let mut server = WsServer::new(setup.config.clone(), now).expect("a valid config");
    let mut outcome = Outcome::default();
    for chunk in chunks {
        let closed_before = server.is_closed();
        if setup.clock {
            now += Duration::from_millis(chunk.len() as u64);
            server.handle_timeout(now);
            assert!(
                server.poll_timeout().is_none_or(|d| d > now),
                "deadline not later"
            );
        }
        server.handle_input(now, chunk);
        drain(&mut server, &mut outcome, closed_before);
    }
    if let Some(max) = setup.max_message {
        assert!(
            outcome.messages.iter().all(|m| m.len() <= max),
            "over the limit"
        );
    }
    outcome
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, mut rest)) = data.split_first() else {
        return;
    };
    let small = control & 8 != 0;
    let max_message = if small { Some(256) } else { Some(64 << 20) };
    let mut config = ServerConfig::new()
        .serializers(SerializerKind::ALL)
        .max_message_size(max_message)
        .max_frame_size(if small { Some(128) } else { Some(16 << 20) })
        .validation(if control & 16 != 0 {
            Validation::Skip
        } else {
            Validation::Decode
        });
    let clock = control & 32 != 0;
    if clock {
        config = config.auto_ping(Duration::from_millis(50), Duration::from_millis(20));
    }
    let setup = Setup {
        config,
        max_message,
        clock,
    };

    let request;
    let mut chunks: Vec<&[u8]> = Vec::new();
    if control & 1 != 0 {
        let protocol = PROTOCOLS[usize::from((control >> 1) & 3)];
        request = format!(
            "GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Protocol: {protocol}\r\n\r\n"
        );
        chunks.push(request.as_bytes());
    }
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        chunks.push(&tail[..len]);
        rest = &tail[len..];
    }

    let chunked = run(&setup, &chunks);
    if !setup.clock {
        let all: Vec<u8> = chunks.concat();
        let at_once = run(&setup, &[&all]);
        assert_eq!(chunked, at_once, "chunking changed the outcome");
    }
});
