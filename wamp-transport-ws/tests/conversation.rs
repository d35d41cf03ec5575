//! Client and server talking in memory: handshake, messages both ways, closing handshake,
//! for every serializer, with every byte stream also delivered split at every offset.

mod harness;

use bytes::Bytes;
use harness::*;
use wamp_proto::{message::Message, serializer::SerializerKind};
use wamp_transport_ws::{CloseCode, Initiator, ServerConfig, WsClient, WsEvent, WsServer};

#[test]
fn every_serializer_opens_exchanges_and_closes() {
    for kind in SerializerKind::ALL {
        let mut pair = Pair::with(&[kind], &SerializerKind::ALL);
        pair.pump();
        assert_eq!(opened(&pair.client_events()), Some(kind));
        assert_eq!(opened(&pair.server_events()), Some(kind));
        assert!(pair.client.is_open() && pair.server.is_open());
        assert_eq!(pair.client.serializer(), Some(kind));

        let messages = sample_messages(kind);
        for m in &messages {
            pair.client.send_message(m.clone()).expect("client sends");
            pair.server.send_message(m.clone()).expect("server sends");
        }
        let before = pair.s2c.len();
        pair.pump();
        assert_eq!(pair.server_messages(), messages, "{kind}: client -> server");
        // The server's frames to the client: text for JSON, binary otherwise.
        let frames = parse_frames(&pair.s2c[before..]);
        let want = if kind.is_binary() { BINARY } else { TEXT };
        assert!(
            frames.iter().all(|(fin, op, _)| *fin && *op == want),
            "{kind}"
        );
        // Decoded on arrival (Validation::Decode), one per message.
        let decoded: Vec<Message> = std::iter::from_fn(|| pair.client.poll_decoded()).collect();
        assert_eq!(decoded.len(), messages.len());
        assert!(matches!(decoded[0], Message::Hello(_)));

        pair.client
            .close(pair.now, CloseCode::NORMAL, "wamp.close.normal")
            .expect("close");
        assert!(!pair.client.is_open() && !pair.client.is_closed());
        pair.pump();
        let server_closed = pair.server_events();
        let info = expect_closed_by_peer(&server_closed, CloseCode::NORMAL, "wamp.close.normal");
        assert!(info.is_clean());
        let client_closed = pair.client_events();
        let info = expect_closed(&client_closed);
        assert_eq!(
            (info.code, info.initiator),
            (CloseCode::NORMAL, Initiator::Local)
        );
        assert!(info.is_clean());
        assert!(pair.client.is_closed() && pair.server.is_closed());
        assert_eq!(pair.client.poll_timeout(), None);
        assert_eq!(pair.server.poll_timeout(), None);
    }
}

#[test]
fn server_initiated_close() {
    let mut pair = Pair::with(&[SerializerKind::Cbor], &[SerializerKind::Cbor]);
    pair.pump();
    pair.server
        .close(pair.now, CloseCode::GOING_AWAY, "shutting down")
        .expect("close");
    pair.pump();
    let client_events = pair.client_events();
    expect_closed_by_peer(&client_events, CloseCode::GOING_AWAY, "shutting down");
    let server_events = pair.server_events();
    assert_eq!(expect_closed(&server_events).initiator, Initiator::Local);
}

/// Records a whole conversation's client-to-server stream, then replays it into fresh
/// servers split at every offset: the server must see the same thing every time.
#[test]
fn server_sees_the_same_at_every_split() {
    for kind in SerializerKind::ALL {
        let mut pair = Pair::with(&[kind], &SerializerKind::ALL);
        pair.pump();
        let small: Vec<Bytes> = sample_messages(kind).into_iter().take(4).collect();
        for m in &small {
            pair.client.send_message(m.clone()).expect("send");
        }
        pair.client
            .send_ping(Bytes::from_static(b"hb"))
            .expect("ping");
        pair.client
            .close(pair.now, CloseCode::NORMAL, "bye")
            .expect("close");
        pair.pump();
        let stream = pair.c2s.clone();
        let reference = replay_server(&stream, &[stream.len()]);
        assert_eq!(reference.0, small);
        assert_eq!(reference.1, 2, "Open and Closed");
        for split in 0..=stream.len() {
            let got = replay_server(&stream, &[split, stream.len()]);
            assert_eq!(got, reference, "{kind}: split at {split}");
        }
        // And one byte at a time.
        let cuts: Vec<usize> = (1..=stream.len()).collect();
        assert_eq!(replay_server(&stream, &cuts), reference, "{kind}: bytewise");
    }
}

/// Feeds `stream` cut at `cuts`; returns messages, event count, the close info.
fn replay_server(stream: &[u8], cuts: &[usize]) -> (Vec<Bytes>, usize, String) {
    let now = t0();
    let mut server = WsServer::new(ServerConfig::new(), now).expect("config");
    let mut from = 0;
    for &cut in cuts {
        server.handle_input(now, &stream[from..cut]);
        from = cut;
    }
    let messages: Vec<Bytes> = std::iter::from_fn(|| server.poll_message()).collect();
    let events = events_of_server(&mut server);
    let info = expect_closed(&events);
    assert!(info.is_clean(), "{info:?}");
    // The server's answers behind its 101: the Pong for the ping, the Close echo.
    let out = drain_server(&mut server);
    let head_end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    let ops: Vec<u8> = parse_frames(&out[head_end..])
        .iter()
        .map(|(_, op, _)| *op)
        .collect();
    assert_eq!(ops, vec![PONG, CLOSE]);
    (
        messages,
        events.len(),
        format!("{} {}", info.code, info.reason),
    )
}

/// The client side: per offset, a fresh pair whose server answers the upgrade and sends
/// messages, a ping and a close right behind it; the client gets that stream in two parts.
#[test]
fn client_sees_the_same_at_every_split() {
    for kind in SerializerKind::ALL {
        let small: Vec<Bytes> = sample_messages(kind).into_iter().take(4).collect();
        let run = |cuts: &dyn Fn(usize) -> Vec<usize>| {
            let now = t0();
            let mut client = WsClient::new(client_config().serializers([kind]), now).expect("c");
            let mut server = WsServer::new(ServerConfig::new(), now).expect("s");
            server.handle_input(now, &drain_client(&mut client));
            for m in &small {
                server.send_message(m.clone()).expect("send");
            }
            server.send_ping(Bytes::from_static(b"hb")).expect("ping");
            server.close(now, CloseCode::NORMAL, "bye").expect("close");
            let stream = drain_server(&mut server);
            let mut from = 0;
            for cut in cuts(stream.len()) {
                client.handle_input(now, &stream[from..cut]);
                from = cut;
            }
            let messages: Vec<Bytes> = std::iter::from_fn(|| client.poll_message()).collect();
            let events = events_of_client(&mut client);
            // The client answered the ping and echoed the close.
            let answers = parse_frames(&drain_client(&mut client));
            let ops: Vec<u8> = answers.iter().map(|(_, op, _)| *op).collect();
            (messages, events, ops, stream.len())
        };
        let (messages, events, ops, len) = run(&|len| vec![len]);
        assert_eq!(messages, small);
        assert_eq!(opened(&events), Some(kind));
        assert_eq!(expect_closed(&events).code, CloseCode::NORMAL);
        assert_eq!(ops, vec![PONG, CLOSE]);
        for split in 0..=len {
            let got = run(&move |len| vec![split, len]);
            assert_eq!(
                (got.0, got.2),
                (messages.clone(), ops.clone()),
                "split {split}"
            );
            assert_eq!(got.1.len(), events.len(), "split {split}");
        }
        let got = run(&|len| (1..=len).collect());
        assert_eq!((got.0, got.2), (messages.clone(), ops.clone()), "bytewise");
    }
}

#[test]
fn fragmented_messages_are_reassembled() {
    let (mut server, now) = open_server(SerializerKind::Json, ServerConfig::new());
    let json = br#"[48,7814135,{},"com.myapp.echo",["Hello, world!"]]"#;
    let mask = Some([9, 8, 7, 6]);
    let mut wire = frame(false, TEXT, &json[..10], mask);
    wire.extend(client_frame(PING, b"in between")); // control frames may interleave
    wire.extend(frame(false, CONTINUATION, &json[10..30], mask));
    wire.extend(frame(true, CONTINUATION, &json[30..], mask));
    server.handle_input(now, &wire);
    assert_eq!(server.poll_message().as_deref(), Some(&json[..]));
    let out = parse_frames(&drain_server(&mut server));
    assert_eq!(out, vec![(true, PONG, b"in between".to_vec())]);
}

#[test]
fn pings_are_answered_and_pongs_reported() {
    let (mut client, now) = open_client(SerializerKind::Cbor, client_config());
    client.handle_input(now, &server_frame(PING, b"are you there"));
    let out = parse_frames(&drain_client(&mut client));
    assert_eq!(out, vec![(true, PONG, b"are you there".to_vec())]);
    client.handle_input(now, &server_frame(PONG, b"unsolicited"));
    assert_eq!(
        events_of_client(&mut client),
        vec![WsEvent::Pong(Bytes::from_static(b"unsolicited"))]
    );
}

#[test]
fn a_close_without_status_reports_1005_and_is_echoed() {
    let (mut server, now) = open_server(SerializerKind::Json, ServerConfig::new());
    server.handle_input(now, &client_frame(CLOSE, b""));
    let events = events_of_server(&mut server);
    let info = expect_closed(&events);
    assert_eq!(info.code, CloseCode::NO_STATUS);
    assert_eq!(info.initiator, Initiator::Peer);
    let out = parse_frames(&drain_server(&mut server));
    assert_eq!(out, vec![(true, CLOSE, Vec::new())]);
    assert!(server.is_closed());
}

#[test]
fn messages_still_arrive_while_closing() {
    let (mut server, now) = open_server(SerializerKind::Json, ServerConfig::new());
    server.close(now, CloseCode::NORMAL, "").expect("close");
    assert_eq!(
        close_code_on_wire(&drain_server(&mut server)),
        Some(CloseCode::NORMAL)
    );
    let result = br#"[50,7814135,{},[30]]"#;
    server.handle_input(now, &client_frame(TEXT, result));
    assert_eq!(server.poll_message().as_deref(), Some(&result[..]));
    assert!(!server.is_closed());
    server.handle_input(now, &client_frame(CLOSE, &1000u16.to_be_bytes()));
    assert!(server.is_closed());
    assert!(expect_closed(&events_of_server(&mut server)).is_clean());
}

#[test]
fn frames_right_behind_the_upgrade_request_are_kept() {
    let now = t0();
    let mut server = WsServer::new(ServerConfig::new(), now).expect("config");
    let hello = br#"[1,"realm1",{"roles":{"caller":{}}}]"#;
    let mut wire = raw_request(Some("wamp.2.json")).into_bytes();
    wire.extend(client_frame(TEXT, hello));
    server.handle_input(now, &wire);
    assert_eq!(server.poll_message().as_deref(), Some(&hello[..]));
}

#[test]
fn server_frames_of_every_length_encoding_reach_the_client() {
    // 7-bit, 16-bit and 64-bit lengths, and the edges between them.
    let sizes = [20, 125, 126, 127, 65_535, 65_536, 100_000];
    for kind in [SerializerKind::Json, SerializerKind::MsgPack] {
        let mut pair = Pair::with(&[kind], &[kind]);
        pair.pump();
        let sent: Vec<Bytes> = sizes.iter().map(|&n| publish_of_len(kind, n)).collect();
        for m in &sent {
            pair.server.send_message(m.clone()).expect("server sends");
        }
        let before = pair.s2c.len();
        pair.pump();
        let frames = parse_frames(&pair.s2c[before..]);
        assert_eq!(frames.len(), sizes.len(), "{kind}");
        assert_eq!(pair.client_messages(), sent, "{kind}");
    }
}

/// A PUBLISH whose encoding is exactly `len` bytes.
fn publish_of_len(kind: SerializerKind, len: usize) -> Bytes {
    let encode = |body: &str| {
        let json = format!(r#"[16,1,{{}},"t",["{body}"]]"#);
        let message = SerializerKind::Json
            .decode(Bytes::from(json))
            .expect("a PUBLISH");
        kind.encode(&message).expect("encodes")
    };
    let mut body = "x".repeat(len.saturating_sub(encode("").len()));
    while encode(&body).len() > len {
        body.pop();
    }
    while encode(&body).len() < len {
        body.push('x');
    }
    let bytes = encode(&body);
    assert_eq!(bytes.len(), len, "{kind}");
    bytes
}
