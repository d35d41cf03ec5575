//! Frames after the handshake: sizes, splits, the X bit, limits, garbage.

mod common;

use bytes::Bytes;
use common::*;
use wamp_proto::serializer::SerializerKind;
use wamp_transport_rawsocket::{ClientConfig, Event, RawSocketError};

/// Checks one frame, preceded by the handshake, split in two at every offset of `cuts`,
/// on both roles. `exp` is the receiving side's limit.
fn check_split(ty: u8, payload: &[u8], exp: u8, cuts: &[usize]) {
    let encoded = frame(ty, payload);
    let request = handshake(15, 1);
    let reply = handshake(15, 1);
    for (role, prefix) in [("server", request), ("client", reply)] {
        let mut stream = prefix.to_vec();
        stream.extend_from_slice(&encoded);
        let full: Vec<usize> = cuts.iter().map(|c| c + 4).chain(0..=4).collect();
        let mut all = full.clone();
        all.sort_unstable();
        all.dedup();
        for &cut in &all {
            let mut conn = match role {
                "server" => new_server(server_config(exp)),
                _ => new_client(client_config(SerializerKind::Json, exp)),
            };
            let out = feed(&mut conn, &stream, &[cut]);
            assert_eq!(out.error, None, "{role}, cut {cut}");
            let ctx = format!("{role}, {} bytes, cut {cut}", payload.len());
            match ty {
                REGULAR => {
                    assert_eq!(out.messages.len(), 1, "{ctx}");
                    assert!(out.messages.iter().all(|m| m == payload), "{ctx}");
                }
                PING => {
                    assert!(out.messages.is_empty(), "{ctx}");
                    // The handshake (request or reply), then exactly one PONG echoing it.
                    let pong = frame(PONG, payload);
                    assert!(out.transmit.get(4..) == Some(&pong[..]), "{ctx}");
                }
                _ => {
                    assert!(out.messages.is_empty(), "{ctx}");
                    let pongs: Vec<_> = out
                        .events
                        .iter()
                        .filter(|e| matches!(e, Event::Pong(p) if p == payload))
                        .collect();
                    assert_eq!(pongs.len(), 1, "{ctx}");
                }
            }
        }
    }
}

#[test]
fn small_frames_at_every_offset() {
    for len in [0, 1, 2, 3, 4, 5, 100, 511, 512] {
        let payload = pattern(len);
        let every: Vec<usize> = (0..=len + 4).collect();
        check_split(REGULAR, &payload, 0, &every);
        check_split(PING, &payload, 0, &every);
        check_split(PONG, &payload, 0, &every);
    }
}

#[test]
fn small_frames_byte_by_byte_in_sequence() {
    let sizes = [0usize, 1, 511, 512, 1000];
    let mut stream = handshake(15, 2).to_vec();
    for &len in &sizes {
        stream.extend(frame(REGULAR, &pattern(len)));
        stream.extend(frame(PING, &pattern(len + 1)));
    }
    let mut server = new_server(server_config(1));
    let out = feed_bytewise(&mut server, &stream);
    assert_eq!(out.error, None);
    let lens: Vec<usize> = out.messages.iter().map(Bytes::len).collect();
    assert_eq!(lens, sizes);
    let mut expected = vec![0x7f, 0x12, 0, 0];
    for &len in &sizes {
        expected.extend(frame(PONG, &pattern(len + 1)));
    }
    assert_eq!(out.transmit, expected);
}

#[test]
fn sixty_four_kib_frame() {
    let len = 1 << 16;
    let payload = pattern(len);
    check_split(REGULAR, &payload, 8, &cut_points(len + 4, 12));
    let mut server = new_server(server_config(8));
    let mut stream = handshake(15, 1).to_vec();
    stream.extend(frame(REGULAR, &payload));
    let out = feed_bytewise(&mut server, &stream);
    assert_eq!(out.messages, [payload.as_slice()]);
}

#[test]
fn largest_frame_without_x_bit() {
    let len = (1 << 24) - 1;
    let payload = pattern(len);
    let encoded = frame(REGULAR, &payload);
    assert_eq!(encoded.get(..4), Some(&[0, 0xff, 0xff, 0xff][..]));
    check_split(REGULAR, &payload, 15, &cut_points(len + 4, 10));
}

#[test]
fn x_bit_frame_both_ways() {
    let len = 1 << 24;
    let payload = Bytes::from(pattern(len));
    // Sending: the X bit set, the 24 length bits zero.
    let mut client = open_client(client_config(SerializerKind::Json, 15), 15);
    client.send_message(payload.clone()).expect("send 2^24");
    let mut sent = Vec::new();
    while let Some(bytes) = client.poll_transmit() {
        sent.extend_from_slice(&bytes);
    }
    assert_eq!(sent.get(..4), Some(&[0x08, 0, 0, 0][..]));
    assert_eq!(sent.len(), len + 4);
    // Receiving, split anywhere.
    check_split(REGULAR, &payload, 15, &cut_points(len + 4, 10));
    check_split(PING, &pattern(len), 15, &[0, 2, 4, len / 3, len + 3]);
    // One below the maximum refuses it as soon as the header is complete.
    let mut server = open_server(server_config(14), 15);
    assert_eq!(
        server.input(&[0x08, 0, 0, 0]),
        Err(RawSocketError::FrameTooLong {
            len: 1 << 24,
            max: 1 << 23
        })
    );
}

#[test]
fn oversize_received_fails_before_the_payload() {
    for exp in [0, 1, 7, 14] {
        let max = 512usize << exp;
        // Exactly the limit passes.
        let mut server = open_server(server_config(exp), 15);
        let out = feed(&mut server, &frame(REGULAR, &pattern(max)), &[3]);
        assert_eq!(out.error, None);
        assert_eq!(out.messages.len(), 1);
        // One more fails on the header alone (no payload bytes given).
        for (role, mut conn) in [
            ("server", open_server(server_config(exp), 15)),
            (
                "client",
                open_client(client_config(SerializerKind::Cbor, exp), 15),
            ),
        ] {
            let header = frame(REGULAR, &[]);
            let len = max + 1;
            let header = [header[0], (len >> 16) as u8, (len >> 8) as u8, len as u8];
            let out = feed(&mut conn, &header, &[1, 2, 3]);
            assert_eq!(
                out.error,
                Some(RawSocketError::FrameTooLong { len, max }),
                "{role}"
            );
            assert_eq!(conn.queued_bytes(), 0);
        }
    }
}

#[test]
fn oversize_send_is_refused_without_sending() {
    let mut client = open_client(ClientConfig::new(SerializerKind::Json), 0);
    let queued = client.queued_bytes();
    assert_eq!(
        client.send_message(Bytes::from(vec![0u8; 513])),
        Err(RawSocketError::MessageTooLong { len: 513, max: 512 })
    );
    assert_eq!(client.queued_bytes(), queued);
    assert_eq!(client.poll_transmit(), None);
    assert!(client.is_open(), "the connection stays usable");
    client
        .send_message(Bytes::from(vec![0u8; 512]))
        .expect("at the limit");
    assert_eq!(client.queued_bytes(), 516);

    // The server side, against the client's announced limit.
    let mut server = open_server(server_config(15), 2);
    assert!(matches!(
        server.send_message(Bytes::from(vec![0u8; 2049])),
        Err(RawSocketError::MessageTooLong {
            len: 2049,
            max: 2048
        })
    ));
    server
        .send_message(Bytes::from(vec![0u8; 2048]))
        .expect("at the limit");
}

#[test]
fn ping_must_fit_both_limits() {
    // Our own limit is 512: a PONG above it would fail us, so the PING is refused.
    let mut client = open_client(client_config(SerializerKind::Json, 0), 15);
    assert_eq!(
        client.send_ping(Bytes::from(vec![0u8; 513])),
        Err(RawSocketError::MessageTooLong { len: 513, max: 512 })
    );
    client
        .send_ping(Bytes::from(vec![0u8; 512]))
        .expect("fits both");
}

#[test]
fn ping_above_the_pingers_own_limit_fails() {
    // The client announced 512; a 513-byte PING from it cannot be echoed.
    let mut server = open_server(server_config(15), 0);
    let out = feed(&mut server, &frame(PING, &[0u8; 513]), &[]);
    assert_eq!(
        out.error,
        Some(RawSocketError::UnanswerablePing {
            len: 513,
            peer_max: 512
        })
    );
    assert!(out.transmit.is_empty());
}

#[test]
fn reserved_bits_and_types_fail() {
    for b0 in 0x10..=0xffu8 {
        let mut server = open_server(server_config(15), 15);
        let out = feed(&mut server, &[b0, 0, 0, 0], &[]);
        assert_eq!(
            out.error,
            Some(RawSocketError::ReservedFrameBits { first_octet: b0 })
        );
    }
    for ty in 3..=7u8 {
        for x in [0, 0x08] {
            let mut client = open_client(ClientConfig::new(SerializerKind::Json), 15);
            let out = feed_bytewise(&mut client, &[x | ty, 0, 0, 5, 1, 2, 3, 4, 5]);
            assert_eq!(out.error, Some(RawSocketError::ReservedFrameType { ty }));
            assert!(out.messages.is_empty());
        }
    }
}

#[test]
fn messages_before_a_fault_are_kept() {
    let mut stream = frame(REGULAR, b"one");
    stream.extend(frame(PING, b"p"));
    stream.extend(frame(REGULAR, b"two"));
    stream.extend([0x03, 0, 0, 0]);
    stream.extend(frame(REGULAR, b"three"));
    let mut server = open_server(server_config(15), 15);
    server.input(&stream).expect_err("reserved type");
    assert_eq!(server.poll_message().as_deref(), Some(&b"one"[..]));
    assert_eq!(server.poll_message().as_deref(), Some(&b"two"[..]));
    assert_eq!(server.poll_message(), None);
    assert_eq!(
        server.poll_transmit(),
        None,
        "queued output is dropped on failure"
    );
}

#[test]
fn garbage_after_the_handshake_fails_cleanly() {
    let mut failures = 0;
    for seed in 0..2000u64 {
        let mut rng = Rng::new(seed);
        let len = 1 + rng.below(300);
        let garbage = rng.bytes(len);
        let exp = rng.below(16) as u8;
        let max = 512usize << exp;
        let mut server = open_server(server_config(exp), 15);
        let cuts: Vec<usize> = (0..rng.below(5)).map(|_| rng.below(len + 1)).collect();
        let mut cuts = cuts;
        cuts.sort_unstable();
        let out = feed(&mut server, &garbage, &cuts);
        assert!(out.messages.iter().all(|m| m.len() <= max));
        if let Some(error) = &out.error {
            failures += 1;
            assert!(
                matches!(
                    error,
                    RawSocketError::ReservedFrameBits { .. }
                        | RawSocketError::ReservedFrameType { .. }
                        | RawSocketError::FrameTooLong { .. }
                ),
                "{error}"
            );
            assert_eq!(server.queued_bytes(), 0);
        } else {
            // Not failed: the garbage is a valid frame stream, perhaps cut short.
            let eof = server.eof();
            assert!(
                matches!(eof, Ok(()) | Err(RawSocketError::TruncatedFrame { .. })),
                "{eof:?}"
            );
        }
    }
    assert!(
        failures > 1800,
        "random bytes almost always fail: {failures}"
    );
}

#[test]
fn interleaved_pings_keep_message_order() {
    let mut client = open_client(ClientConfig::new(SerializerKind::Json), 15);
    let mut server = open_server(server_config(15), 15);
    for i in 0..200u32 {
        client
            .send_message(Bytes::from(format!("message {i}")))
            .expect("send");
        if i % 3 == 0 {
            client
                .send_ping(Bytes::from(format!("ping {i}")))
                .expect("ping");
        }
    }
    pump(&mut client, &mut server, 5).expect("pump");
    let mut received = Vec::new();
    while let Some(message) = server.poll_message() {
        received.push(message);
    }
    let expected: Vec<Bytes> = (0..200u32)
        .map(|i| Bytes::from(format!("message {i}")))
        .collect();
    assert_eq!(received, expected);
    let mut pongs = Vec::new();
    while let Some(event) = client.poll_event() {
        if let Event::Pong(payload) = event {
            pongs.push(payload);
        }
    }
    let expected: Vec<Bytes> = (0..200u32)
        .step_by(3)
        .map(|i| Bytes::from(format!("ping {i}")))
        .collect();
    assert_eq!(pongs, expected);

    // The server's output keeps the order of what caused it: PONG, message, PONG.
    let mut server = open_server(server_config(15), 15);
    server.input(&frame(PING, b"a")).expect("ping");
    server
        .send_message(Bytes::from_static(b"m"))
        .expect("message");
    server.input(&frame(PING, b"b")).expect("ping");
    let mut out = Outcome::default();
    out.drain(&mut server);
    let mut expected = frame(PONG, b"a");
    expected.extend(frame(REGULAR, b"m"));
    expected.extend(frame(PONG, b"b"));
    assert_eq!(out.transmit, expected);
}

#[test]
fn end_of_stream_between_and_inside_frames() {
    let mut server = open_server(server_config(15), 15);
    server.input(&frame(REGULAR, b"done")).expect("frame");
    assert_eq!(server.eof(), Ok(()));
    assert!(server.is_closed() && !server.is_failed());
    assert_eq!(server.input(b"x"), Err(RawSocketError::Closed));
    assert_eq!(
        server.send_message(Bytes::new()),
        Err(RawSocketError::Closed)
    );
    assert_eq!(server.poll_message().as_deref(), Some(&b"done"[..]));

    let mut server = open_server(server_config(15), 15);
    server.input(&[0, 0]).expect("half a header");
    assert_eq!(
        server.eof(),
        Err(RawSocketError::TruncatedFrame {
            received: 2,
            expected: 4
        })
    );
    let mut server = open_server(server_config(15), 15);
    server.input(&[0, 0, 0, 10, 1, 2]).expect("part");
    assert_eq!(
        server.eof(),
        Err(RawSocketError::TruncatedFrame {
            received: 6,
            expected: 14
        })
    );
    assert!(server.is_failed());
}

#[test]
fn failure_is_sticky_everywhere() {
    let mut client = open_client(ClientConfig::new(SerializerKind::Json), 15);
    let error = client.input(&[0xff, 0, 0, 0]).expect_err("bits");
    assert_eq!(
        error,
        RawSocketError::ReservedFrameBits { first_octet: 0xff }
    );
    assert!(client.is_failed() && !client.is_open());
    assert_eq!(client.error(), Some(&error));
    assert_eq!(client.input(&frame(REGULAR, b"ok")), Err(error.clone()));
    assert_eq!(client.input(&[]), Err(error.clone()));
    assert_eq!(client.eof(), Err(error.clone()));
    assert_eq!(client.send_message(Bytes::new()), Err(error.clone()));
    assert_eq!(client.send_ping(Bytes::new()), Err(error));
    assert_eq!(client.poll_message(), None);
    assert_eq!(client.serializer(), None);
}
