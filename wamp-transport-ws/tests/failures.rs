//! What the peer can get wrong after the handshake, timers on the virtual clock, and
//! random input at every state.

mod harness;

use bytes::Bytes;
use harness::*;
use wamp_proto::{serializer::SerializerKind, DecodeErrorKind};
use wamp_transport_ws::{
    CloseCode, FrameKind, Initiator, ServerConfig, Validation, WsClient, WsError, WsEvent, WsServer,
};

/// Feeds `wire` to a fresh open server speaking `kind`; returns the close info and the
/// code of the Close frame the server sent.
fn server_fails_on(
    kind: SerializerKind,
    config: ServerConfig,
    wire: &[u8],
) -> (wamp_transport_ws::CloseInfo, Option<CloseCode>) {
    let (mut server, now) = open_server(kind, config);
    server.handle_input(now, wire);
    let sent = drain_server(&mut server);
    let events = events_of_server(&mut server);
    let info = expect_closed(&events).clone();
    assert!(server.is_closed());
    assert_eq!(info.initiator, Initiator::Local);
    (info, close_code_on_wire(&sent))
}

#[test]
fn wrong_frame_kind_closes_with_1003() {
    let hello = br#"[1,"realm1",{"roles":{"caller":{}}}]"#;
    let (info, wire) = server_fails_on(
        SerializerKind::Json,
        ServerConfig::new(),
        &client_frame(BINARY, hello),
    );
    assert_eq!(info.code, CloseCode::UNSUPPORTED_DATA);
    assert_eq!(wire, Some(CloseCode::UNSUPPORTED_DATA));
    assert_eq!(
        info.error,
        Some(WsError::WrongFrameKind {
            serializer: SerializerKind::Json,
            received: FrameKind::Binary,
        })
    );
    assert_eq!(
        info.reason,
        "json messages travel in text frames, received a binary message"
    );

    for kind in [SerializerKind::MsgPack, SerializerKind::Cbor] {
        // Even a valid-UTF-8 text frame is wrong for a binary serializer.
        let (info, wire) = server_fails_on(kind, ServerConfig::new(), &client_frame(TEXT, b"[1]"));
        assert_eq!(
            (info.code, wire),
            (
                CloseCode::UNSUPPORTED_DATA,
                Some(CloseCode::UNSUPPORTED_DATA)
            )
        );
        assert!(matches!(
            info.error,
            Some(WsError::WrongFrameKind {
                received: FrameKind::Text,
                ..
            })
        ));
    }
}

#[test]
fn undecodable_messages_close_with_1002() {
    let cases: [(SerializerKind, &[u8], DecodeErrorKind); 4] = [
        (
            SerializerKind::Json,
            b"this is not json",
            DecodeErrorKind::NotWamp,
        ),
        (
            SerializerKind::Json,
            b"[999, 1]",
            DecodeErrorKind::Violation,
        ),
        (SerializerKind::MsgPack, b"\xc1", DecodeErrorKind::NotWamp),
        (
            SerializerKind::Cbor,
            b"\x82\x19\x03\xe7\x01",
            DecodeErrorKind::Violation,
        ),
    ];
    for (kind, payload, want) in cases {
        let opcode = if kind.is_binary() { BINARY } else { TEXT };
        let (info, wire) =
            server_fails_on(kind, ServerConfig::new(), &client_frame(opcode, payload));
        assert_eq!(info.code, CloseCode::PROTOCOL_ERROR, "{kind} {payload:?}");
        assert_eq!(wire, Some(CloseCode::PROTOCOL_ERROR));
        match &info.error {
            Some(WsError::InvalidMessage(e)) => assert_eq!(e.kind, want, "{kind} {payload:?}"),
            other => panic!("{other:?}"),
        }
        assert!(
            info.reason.starts_with("WAMP protocol error: "),
            "{}",
            info.reason
        );
        assert!(info.reason.len() <= 123);
    }
}

#[test]
fn messages_before_a_bad_one_are_still_delivered() {
    let (mut server, now) = open_server(SerializerKind::Json, ServerConfig::new());
    let good = br#"[50,7814135,{},[30]]"#;
    let mut wire = client_frame(TEXT, good);
    wire.extend(client_frame(TEXT, b"{oops"));
    wire.extend(client_frame(TEXT, good));
    server.handle_input(now, &wire);
    assert!(server.is_closed());
    assert_eq!(server.poll_message().as_deref(), Some(&good[..]));
    assert_eq!(server.poll_message(), None);
}

#[test]
fn validation_skip_defers_the_check_to_poll_decoded() {
    let config = ServerConfig::new().validation(Validation::Skip);
    let (mut server, now) = open_server(SerializerKind::Json, config.clone());
    server.handle_input(now, &client_frame(TEXT, b"not json"));
    assert!(server.is_open());
    assert_eq!(server.poll_message().as_deref(), Some(&b"not json"[..]));

    let (mut server, now) = open_server(SerializerKind::Json, config);
    let good = br#"[50,7814135,{},[30]]"#;
    server.handle_input(now, &client_frame(TEXT, b"not json"));
    server.handle_input(now, &client_frame(TEXT, good));
    assert_eq!(server.poll_decoded(), None);
    assert!(server.is_closed());
    assert_eq!(
        close_code_on_wire(&drain_server(&mut server)),
        Some(CloseCode::PROTOCOL_ERROR)
    );
    assert_eq!(
        server.poll_message(),
        None,
        "what followed is not delivered"
    );
}

#[test]
fn invalid_utf8_in_text_closes_with_1007() {
    let (info, wire) = server_fails_on(
        SerializerKind::Json,
        ServerConfig::new(),
        &client_frame(TEXT, b"[1,\"\xff\"]"),
    );
    assert_eq!(
        (info.code, wire),
        (CloseCode::INVALID_PAYLOAD, Some(CloseCode::INVALID_PAYLOAD))
    );
    assert_eq!(info.error, Some(WsError::InvalidUtf8));
}

#[test]
fn oversize_messages_and_frames_close_with_1009() {
    let big = format!(r#"[48,1,{{}},"com.example.big",["{}"]]"#, "x".repeat(200));
    let config = ServerConfig::new().max_message_size(Some(100));

    // One frame over the message limit.
    let (info, wire) = server_fails_on(
        SerializerKind::Json,
        config.clone(),
        &client_frame(TEXT, big.as_bytes()),
    );
    assert_eq!(
        (info.code, wire),
        (CloseCode::MESSAGE_TOO_BIG, Some(CloseCode::MESSAGE_TOO_BIG))
    );
    assert!(matches!(
        info.error,
        Some(WsError::MessageTooBig { max: 100, .. })
    ));

    // Fragments that only add up to too much.
    let mask = Some([1, 2, 3, 4]);
    let bytes = big.as_bytes();
    let mut fragments = frame(false, TEXT, &bytes[..60], mask);
    fragments.extend(frame(false, CONTINUATION, &bytes[60..120], mask));
    fragments.extend(frame(true, CONTINUATION, &bytes[120..], mask));
    let (info, _) = server_fails_on(SerializerKind::Json, config, &fragments);
    assert_eq!(info.code, CloseCode::MESSAGE_TOO_BIG);

    // A frame over the frame limit fails on its header, before its payload arrives.
    let config = ServerConfig::new().max_frame_size(Some(64));
    let whole = client_frame(TEXT, big.as_bytes());
    let (info, wire) = server_fails_on(SerializerKind::Json, config, &whole[..8]);
    assert_eq!(
        (info.code, wire),
        (CloseCode::MESSAGE_TOO_BIG, Some(CloseCode::MESSAGE_TOO_BIG))
    );

    // The client enforces its limits too.
    let (mut client, now) = open_client(
        SerializerKind::Cbor,
        client_config().max_message_size(Some(10)),
    );
    client.handle_input(now, &server_frame(BINARY, &[0x80; 11]));
    assert_eq!(
        close_code_on_wire(&drain_client(&mut client)),
        Some(CloseCode::MESSAGE_TOO_BIG)
    );
}

#[test]
fn garbage_after_the_handshake_fails_cleanly() {
    // An HTTP request where frames should be; unmasked frames from a client; reserved
    // bits and opcodes.
    let unmasked = server_frame(TEXT, br#"[1,"realm1",{}]"#);
    let garbage: [&[u8]; 4] = [
        b"GET / HTTP/1.1\r\n\r\n",
        &unmasked,
        b"\xf1\x80\0\0\0\0",
        b"\x83\x80\0\0\0\0",
    ];
    for bytes in garbage {
        let (info, wire) = server_fails_on(SerializerKind::Json, ServerConfig::new(), bytes);
        assert_eq!(info.code, CloseCode::PROTOCOL_ERROR, "{bytes:?}");
        assert_eq!(wire, Some(CloseCode::PROTOCOL_ERROR));
        assert!(matches!(info.error, Some(WsError::Protocol(_))));
    }
    // A client given masked frames, or garbage. (An incomplete frame header is not
    // garbage yet: it waits for more bytes.)
    let (mut client, now) = open_client(SerializerKind::Json, client_config());
    client.handle_input(now, b"\xff\xff\xff\xff");
    assert!(client.is_open());
    for bytes in [client_frame(TEXT, b"[]"), b"\xff\x00".to_vec()] {
        let (mut client, now) = open_client(SerializerKind::Json, client_config());
        client.handle_input(now, &bytes);
        assert!(client.is_closed());
        assert_eq!(
            close_code_on_wire(&drain_client(&mut client)),
            Some(CloseCode::PROTOCOL_ERROR)
        );
        // Later input is ignored, commands say why.
        client.handle_input(now, b"more");
        assert!(client.poll_transmit().is_none());
        assert!(client.send_message(Bytes::from_static(b"[]")).is_err());
    }
}

#[test]
fn end_of_stream_after_open_is_a_reset() {
    let (mut server, now) = open_server(SerializerKind::Json, ServerConfig::new());
    server.handle_transport_closed(now);
    expect_reset(&events_of_server(&mut server));
    assert!(server.poll_transmit().is_none());
}

#[test]
fn close_timeout() {
    let config = ServerConfig::new().close_timeout(secs(2));
    let (mut server, now) = open_server(SerializerKind::Json, config);
    server.close(now, CloseCode::NORMAL, "bye").expect("close");
    expect_timeout(&mut server, now, secs(2), WsError::CloseTimeout(secs(2)));
}

#[test]
fn a_message_trickled_past_the_message_timeout_closes_with_1008() {
    let config = ServerConfig::new().message_timeout(secs(30));
    let (mut server, t0) = open_server(SerializerKind::Json, config);
    let _ = events_of_server(&mut server);
    assert_eq!(server.poll_timeout(), None, "nothing arriving: no deadline");
    // Whole messages in any rhythm: no deadline stays behind.
    let message = client_frame(TEXT, br#"[1,"realm1",{"roles":{"caller":{}}}]"#);
    server.handle_input(t0 + secs(1), &message);
    assert_eq!(server.poll_timeout(), None);
    // A whole message followed by part of a big one: the clock starts at that part...
    let big = client_frame(TEXT, &[b' '; 60_000]);
    let mut input = message.clone();
    input.extend_from_slice(&big[..20]);
    server.handle_input(t0 + secs(2), &input);
    assert_eq!(server.poll_timeout(), Some(t0 + secs(32)));
    // ... and trickling more of the same frame does not move it.
    for (n, byte) in big[20..40].iter().enumerate() {
        server.handle_input(t0 + secs(3 + n as u64), std::slice::from_ref(byte));
    }
    assert_eq!(server.poll_timeout(), Some(t0 + secs(32)));
    server.handle_timeout(t0 + secs(31));
    assert!(!server.is_closed());
    server.handle_timeout(t0 + secs(32));
    assert!(server.is_closed());
    let wire = drain_server(&mut server);
    assert_eq!(close_code_on_wire(&wire), Some(CloseCode::POLICY_VIOLATION));
    let events = events_of_server(&mut server);
    assert_eq!(
        expect_closed(&events).error,
        Some(WsError::MessageTimeout(secs(30)))
    );
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn a_message_that_completes_in_time_stops_the_message_clock() {
    // Undecoded, as a router reads: the spaces need not be a WAMP message.
    let config = ServerConfig::new()
        .message_timeout(secs(30))
        .validation(Validation::Skip);
    let (mut server, t0) = open_server(SerializerKind::Json, config);
    let big = client_frame(TEXT, &[b' '; 60_000]);
    let (head, tail) = big.split_at(1000);
    server.handle_input(t0, head);
    assert_eq!(server.poll_timeout(), Some(t0 + secs(30)));
    // The rest, and the start of the next frame, in one read: the clock restarts.
    let mut input = tail.to_vec();
    input.extend_from_slice(&big[..10]);
    server.handle_input(t0 + secs(29), &input);
    assert_eq!(server.poll_timeout(), Some(t0 + secs(59)));
    server.handle_input(t0 + secs(40), &big[10..]);
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(t0 + secs(100));
    assert!(!server.is_closed());
}

#[test]
fn auto_ping_on_the_virtual_clock() {
    let config = client_config().auto_ping(secs(10), secs(5));
    let mut pair = Pair::new(config, ServerConfig::new());
    let t0 = pair.now;
    pair.pump();
    let _ = (pair.client_events(), pair.server_events());
    assert_eq!(pair.client.poll_timeout(), Some(t0 + secs(10)));
    assert_eq!(pair.server.poll_timeout(), None, "the server does not ping");

    // Too early: nothing.
    pair.client.handle_timeout(t0 + secs(9));
    assert!(pair.client.poll_transmit().is_none());

    // Idle for the interval: a Ping goes out, and the deadline becomes the pong timeout.
    let t1 = t0 + secs(10);
    pair.client.handle_timeout(t1);
    let ping = drain_client(&mut pair.client);
    assert!(matches!(parse_frames(&ping)[..], [(true, PING, _)]));
    assert_eq!(pair.client.poll_timeout(), Some(t1 + secs(5)));

    // The server answers; the Pong resets the idle timer.
    let t2 = t1 + secs(1);
    pair.now = t2;
    pair.server.handle_input(t2, &ping);
    pair.pump();
    assert!(matches!(pair.client_events()[..], [WsEvent::Pong(_)]));
    assert_eq!(pair.client.poll_timeout(), Some(t2 + secs(10)));

    // Any data counts as life too.
    let t3 = t2 + secs(7);
    pair.now = t3;
    pair.server
        .send_message(sample_messages(SerializerKind::Cbor)[1].clone())
        .expect("send");
    pair.pump();
    assert_eq!(pair.client.poll_timeout(), Some(t3 + secs(10)));

    // Next ping gets no answer: the connection fails after the timeout, without a
    // Close frame.
    let t4 = t3 + secs(10);
    pair.client.handle_timeout(t4);
    assert!(!drain_client(&mut pair.client).is_empty());
    for step in [t4 + secs(1), t4 + secs(4)] {
        pair.client.handle_timeout(step);
        assert!(!pair.client.is_closed());
        assert!(pair.client.poll_timeout().is_some_and(|d| d > step));
    }
    pair.client.handle_timeout(t4 + secs(5));
    assert!(pair.client.is_closed());
    assert!(pair.client.poll_transmit().is_none());
    assert_eq!(pair.client.poll_timeout(), None);
    let events = pair.client_events();
    let info = expect_closed(&events);
    assert_eq!(info.error, Some(WsError::PingTimeout(secs(5))));
    assert_eq!(info.code, CloseCode::ABNORMAL);
}

#[test]
fn after_handle_timeout_the_next_deadline_is_later() {
    let mut rng = Rng::new(7);
    let config = client_config()
        .auto_ping(secs(3), secs(2))
        .open_timeout(secs(30));
    let mut pair = Pair::new(config, ServerConfig::new().auto_ping(secs(4), secs(1)));
    pair.pump();
    let mut now = pair.now;
    for _ in 0..200 {
        now += std::time::Duration::from_millis(rng.below(4000) as u64);
        pair.now = now;
        pair.client.handle_timeout(now);
        pair.server.handle_timeout(now);
        assert!(pair.client.poll_timeout().is_none_or(|d| d > now));
        assert!(pair.server.poll_timeout().is_none_or(|d| d > now));
        if rng.below(2) == 0 {
            pair.pump(); // deliver (sometimes) so pings get answered
        }
        if pair.client.is_closed() || pair.server.is_closed() {
            break;
        }
    }
}

/// Pseudo-random bytes into servers and clients at every state: fresh, mid-head, open,
/// closing, closed. Nothing may panic; closed stays closed.
#[test]
fn random_input_never_panics() {
    let mut rng = Rng::new(0x5eed);
    let json_hello = br#"[1,"realm1",{}]"#;
    for round in 0..400 {
        let stage = round % 5;
        let now = t0();

        // A server at `stage`.
        let mut server =
            WsServer::new(ServerConfig::new().max_message_size(Some(4096)), now).expect("config");
        let request = raw_request(Some("wamp.2.json"));
        match stage {
            0 => {}
            1 => server.handle_input(now, &request.as_bytes()[..rng.below(request.len())]),
            _ => {
                server.handle_input(now, request.as_bytes());
                server.handle_input(now, &client_frame(TEXT, json_hello));
                if stage >= 3 {
                    server.close(now, CloseCode::NORMAL, "").expect("close");
                }
                if stage == 4 {
                    server.handle_input(now, &client_frame(CLOSE, b""));
                }
            }
        }
        feed_randomly(&mut rng, |data| server.handle_input(now, data));
        let _ = drain_server(&mut server);
        let _ = events_of_server(&mut server);
        while server.poll_decoded().is_some() {}
        server.handle_timeout(now + secs(100));
        if server.is_closed() {
            server.handle_input(now, b"\x81\x80\0\0\0\0");
            assert!(server.poll_transmit().is_none() && server.poll_event().is_none());
        }

        // A client at `stage`.
        let mut client = WsClient::new(client_config().serializers([SerializerKind::Cbor]), now)
            .expect("config");
        let request = drain_client(&mut client);
        let response = raw_response(&request, Some("wamp.2.cbor"));
        match stage {
            0 => {}
            1 => client.handle_input(now, &response.as_bytes()[..rng.below(response.len())]),
            _ => {
                client.handle_input(now, response.as_bytes());
                if stage >= 3 {
                    client.close(now, CloseCode::NORMAL, "").expect("close");
                }
                if stage == 4 {
                    client.handle_input(now, &server_frame(CLOSE, b""));
                }
            }
        }
        feed_randomly(&mut rng, |data| client.handle_input(now, data));
        let _ = drain_client(&mut client);
        let _ = events_of_client(&mut client);
        while client.poll_message().is_some() {}
        client.handle_transport_closed(now);
        assert!(client.is_closed());
    }
}

/// Random bytes, sometimes shaped like frames (a plausible header, then noise), in
/// random chunks.
fn feed_randomly(rng: &mut Rng, mut feed: impl FnMut(&[u8])) {
    let mut data = Vec::new();
    for _ in 0..rng.below(6) {
        if rng.below(2) == 0 {
            let opcode = [TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG, 0x3, 0xB][rng.below(8)];
            let len = rng.below(300);
            let payload = rng.bytes(len);
            let mask = (rng.below(2) == 0).then_some([1, 2, 3, 4]);
            data.extend(frame(rng.below(3) != 0, opcode, &payload, mask));
        } else {
            let n = rng.below(200);
            data.extend(rng.bytes(n));
        }
    }
    let mut at = 0;
    while at < data.len() {
        let n = 1 + rng.below(64).min(data.len() - at - 1);
        feed(&data[at..at + n]);
        at += n;
    }
}

#[test]
fn closed_is_sticky() {
    let (mut server, now) = open_server(SerializerKind::Json, ServerConfig::new());
    server.handle_input(now, &client_frame(BINARY, b"x"));
    let info = server.close_info().expect("closed").clone();
    server.handle_input(now, &client_frame(TEXT, b"[1]"));
    server.handle_timeout(now + secs(1000));
    server.handle_transport_closed(now);
    server.close(now, CloseCode::NORMAL, "").expect("no-op");
    assert_eq!(server.close_info(), Some(&info));
    let events = events_of_server(&mut server);
    assert_eq!(events.len(), 1, "one Closed event: {events:?}");
    let _ = WsClient::new(client_config(), now).expect("unrelated");
}
