//! PING/PONG, PING storms and the bound on queued output.

mod common;

use bytes::Bytes;
use common::*;
use wamp_proto::serializer::SerializerKind;
use wamp_transport_rawsocket::{ClientConfig, Event, RawSocketError, ServerConfig};

const STORM: u64 = 10_000;

/// 10k PINGs, each with its index as payload.
fn storm() -> Vec<u8> {
    let mut stream = Vec::new();
    for i in 0..STORM {
        stream.extend(frame(PING, &i.to_be_bytes()));
    }
    stream
}

#[test]
fn ping_storm_drained_gets_exactly_one_pong_each() {
    let stream = storm();
    let config = ServerConfig {
        max_queued_bytes: 64 * 1024,
        ..ServerConfig::default()
    };
    let mut server = open_server(config, 15);
    // A client receives the server's output, so the PONGs are parsed independently.
    let mut client = open_client(ClientConfig::new(SerializerKind::Json), 15);
    for chunk in stream.chunks(4093) {
        server.input(chunk).expect("drained storm is fine");
        while let Some(bytes) = server.poll_transmit() {
            client.input(&bytes).expect("pongs parse");
        }
    }
    let mut next = 0u64;
    while let Some(event) = client.poll_event() {
        assert_eq!(event, Event::Pong(Bytes::from(next.to_be_bytes().to_vec())));
        next += 1;
    }
    assert_eq!(next, STORM);
    assert_eq!(client.poll_message(), None);
    assert_eq!(server.poll_message(), None);
}

#[test]
fn ping_storm_in_one_read_with_room_is_answered() {
    let stream = storm();
    let mut server = open_server(ServerConfig::default(), 15);
    server.input(&stream).expect("fits the default bound");
    let mut out = Outcome::default();
    out.drain(&mut server);
    let mut expected = Vec::new();
    for i in 0..STORM {
        expected.extend(frame(PONG, &i.to_be_bytes()));
    }
    assert_eq!(out.transmit, expected);
}

#[test]
fn ping_storm_undrained_fails_with_bounded_output() {
    let stream = storm();
    let limit = 16 * 1024;
    let config = ServerConfig {
        max_queued_bytes: limit,
        ..ServerConfig::default()
    };
    let mut server = open_server(config, 15);
    let mut error = None;
    for chunk in stream.chunks(1000) {
        if let Err(e) = server.input(chunk) {
            error = Some(e);
            break;
        }
        assert!(server.queued_bytes() <= limit + 12);
    }
    let error = error.expect("the bound is hit");
    // 12-byte PONGs: 1366 of them pass 16 KiB, so the 1367th fails.
    assert_eq!(
        error,
        RawSocketError::OutputLimitExceeded {
            queued: 1366 * 12,
            frame: 12,
            limit
        }
    );
    assert!(error
        .to_string()
        .contains("faster than transmits are drained"));
    assert!(server.is_failed());
    assert_eq!(server.queued_bytes(), 0, "failure drops queued output");
    assert_eq!(server.poll_transmit(), None);
    assert_eq!(server.input(&frame(PING, b"x")), Err(error));
}

#[test]
fn one_frame_always_fits_below_the_mark() {
    // A bound smaller than any frame still lets one frame at a time through.
    let config = ServerConfig {
        max_queued_bytes: 1,
        ..ServerConfig::default()
    };
    let mut server = open_server(config, 15);
    server.input(&frame(PING, &[7; 100])).expect("one");
    assert_eq!(
        server.input(&frame(PING, &[8; 100])),
        Err(RawSocketError::OutputLimitExceeded {
            queued: 104,
            frame: 104,
            limit: 1
        })
    );
}

#[test]
fn local_sends_get_backpressure_not_failure() {
    let config = ClientConfig {
        max_queued_bytes: 80,
        ..ClientConfig::new(SerializerKind::Json)
    };
    let mut client = open_client(config, 15);
    client.send_message(Bytes::from(vec![1; 40])).expect("44");
    client.send_message(Bytes::from(vec![2; 40])).expect("88");
    assert_eq!(
        client.send_message(Bytes::from(vec![3; 40])),
        Err(RawSocketError::OutputFull {
            queued: 88,
            frame: 44,
            limit: 80
        })
    );
    assert_eq!(
        client.send_ping(Bytes::from(vec![3; 40])),
        Err(RawSocketError::OutputFull {
            queued: 88,
            frame: 44,
            limit: 80
        })
    );
    assert!(client.is_open());
    let mut out = Outcome::default();
    out.drain(&mut client);
    assert_eq!(out.transmit.len(), 88);
    client
        .send_message(Bytes::from(vec![3; 40]))
        .expect("room again");
    // Below the mark, a frame larger than the bound is taken.
    let _ = client.poll_transmit();
    client
        .send_message(Bytes::from(vec![4; 400]))
        .expect("alone");
}

#[test]
fn empty_ping_and_pong() {
    let mut client = new_client(ClientConfig::new(SerializerKind::Json));
    let mut server = new_server(ServerConfig::default());
    pump(&mut client, &mut server, 1).expect("handshake");
    client.send_ping(Bytes::new()).expect("ping");
    pump(&mut client, &mut server, 1).expect("pong");
    let pongs: Vec<Event> = std::iter::from_fn(|| client.poll_event())
        .filter(|e| matches!(e, Event::Pong(_)))
        .collect();
    assert_eq!(pongs, [Event::Pong(Bytes::new())]);
    // An unsolicited PONG is reported, not an error.
    server.input(&frame(PONG, b"unasked")).expect("pong");
    let events: Vec<Event> = std::iter::from_fn(|| server.poll_event()).collect();
    assert!(events.contains(&Event::Pong(Bytes::from_static(b"unasked"))));
}
