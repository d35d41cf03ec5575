//! The 4-octet handshake, both roles, every outcome.

mod common;

use bytes::Bytes;
use common::*;
use wamp_proto::message::Call;
use wamp_proto::{message::Message, serializer::SerializerKind, Dict, Payload, RequestId, Uri};
use wamp_transport_rawsocket::{
    ClientConfig, Event, HandshakeErrorCode, MaxMessageLen, RawSocketError, ServerConfig,
};

fn handshaken(serializer: SerializerKind, exp: u8) -> Event {
    Event::Handshaken {
        serializer,
        peer_max_message_len: MaxMessageLen::from_exp(exp).expect("exponent"),
    }
}

#[test]
fn client_and_server_talk_for_every_serializer() {
    for serializer in SerializerKind::ALL {
        let mut client = new_client(client_config(serializer, 9));
        let mut server = new_server(server_config(12));
        pump(&mut client, &mut server, 3).expect("handshake");
        assert_eq!(client.poll_event(), Some(handshaken(serializer, 12)));
        assert_eq!(server.poll_event(), Some(handshaken(serializer, 9)));
        assert_eq!(client.serializer(), Some(serializer));
        assert_eq!(server.serializer(), Some(serializer));

        // A real WAMP message, encoded and decoded with the negotiated serializer.
        let call = Message::Call(Call {
            request: RequestId::new(1).expect("id"),
            options: Dict::new(),
            procedure: Uri::parse("com.example.add").expect("uri"),
            payload: Payload::encode(serializer, &(2, 3), &()).expect("payload"),
        });
        let bytes = serializer.encode(&call).expect("encode");
        client.send_message(bytes.clone()).expect("send");
        server.send_message(bytes.clone()).expect("send");
        pump(&mut client, &mut server, 7).expect("exchange");
        for side in [&mut client, &mut server] {
            let received = side.poll_message().expect("message");
            assert_eq!(received, bytes);
            let Message::Call(decoded) = serializer.decode(received).expect("decode") else {
                panic!("not a CALL");
            };
            assert_eq!(decoded.procedure.as_str(), "com.example.add");
            assert_eq!(side.poll_message(), None);
        }
    }
}

#[test]
fn client_queues_its_request_at_once() {
    let mut client = new_client(client_config(SerializerKind::Cbor, 15));
    assert_eq!(client.queued_bytes(), 4);
    assert_eq!(
        client.poll_transmit().as_deref(),
        Some(&[0x7f, 0xf3, 0, 0][..])
    );
    assert_eq!(client.poll_transmit(), None);
    assert!(!client.is_open());
    assert_eq!(
        client.send_message(Bytes::from_static(b"[]")),
        Err(RawSocketError::NotOpen)
    );
    assert!(!client.is_failed(), "NotOpen leaves the connection usable");
}

#[test]
fn server_reply_echoes_serializer_with_own_limit() {
    for (id, serializer) in [
        (1, SerializerKind::Json),
        (2, SerializerKind::MsgPack),
        (3, SerializerKind::Cbor),
    ] {
        for client_exp in 0..=15 {
            let mut server = new_server(server_config(11));
            let out = feed(&mut server, &handshake(client_exp, id), &[]);
            assert_eq!(out.error, None);
            assert_eq!(out.transmit, [0x7f, 0xb0 | id, 0, 0]);
            assert_eq!(out.events, [handshaken(serializer, client_exp)]);
        }
    }
}

#[test]
fn handshake_split_at_every_offset_then_a_frame() {
    for serializer in SerializerKind::ALL {
        let id = serializer.rawsocket_id();
        let payload = pattern(40);
        let mut stream = handshake(15, id).to_vec();
        stream.extend(frame(REGULAR, &payload));
        // Every pair of cuts, so the handshake and the header are split every way.
        for a in 0..=stream.len() {
            for b in a..=stream.len() {
                let mut server = new_server(server_config(15));
                let out = feed(&mut server, &stream, &[a, b]);
                assert_eq!(out.error, None, "cuts {a} {b}");
                assert_eq!(out.transmit, [0x7f, 0xf0 | id, 0, 0]);
                assert_eq!(out.events, [handshaken(serializer, 15)]);
                assert_eq!(out.messages, [payload.as_slice()]);
            }
        }
        // The client side: reply then frame, byte by byte.
        let mut stream = handshake(4, id).to_vec();
        stream.extend(frame(REGULAR, &payload));
        let mut client = new_client(client_config(serializer, 15));
        let out = feed_bytewise(&mut client, &stream);
        assert_eq!(out.error, None);
        assert_eq!(out.transmit, [0x7f, 0xf0 | id, 0, 0]);
        assert_eq!(out.events, [handshaken(serializer, 4)]);
        assert_eq!(out.messages, [payload.as_slice()]);
    }
}

#[test]
fn bad_magic_fails_the_server_without_reply() {
    for stream in [
        &b"GET / HTTP/1.1\r\n"[..],
        &[0x7e, 0xf1, 0, 0],
        &[0, 0, 0, 0],
    ] {
        let mut server = new_server(ServerConfig::default());
        let out = feed_bytewise(&mut server, stream);
        let got = stream.first().copied().expect("non-empty");
        assert_eq!(out.error, Some(RawSocketError::BadMagic { got }));
        assert!(out.transmit.is_empty(), "no reply to a non-RawSocket peer");
        assert!(out.events.is_empty());
        assert_eq!(
            server.send_message(Bytes::new()),
            Err(RawSocketError::BadMagic { got })
        );
    }
}

#[test]
fn bad_magic_in_reply_fails_the_client() {
    let mut client = new_client(ClientConfig::new(SerializerKind::Json));
    let out = feed(&mut client, b"HTTP/1.1 400 Bad Request\r\n", &[1, 2]);
    assert_eq!(out.error, Some(RawSocketError::BadMagic { got: b'H' }));
    // Only the request, which was queued before the failure and drained at once.
    assert_eq!(out.transmit, [0x7f, 0xf1, 0, 0]);
}

#[test]
fn reserved_bits_in_request_get_error_3() {
    for octets in [[0, 1], [1, 0], [0x80, 0], [0xff, 0xff]] {
        let mut server = new_server(ServerConfig::default());
        let request = [0x7f, 0xf1, octets[0], octets[1]];
        let out = feed_bytewise(&mut server, &request);
        assert_eq!(
            out.error,
            Some(RawSocketError::HandshakeReservedBits { octets })
        );
        assert_eq!(out.transmit, [0x7f, 0x30, 0, 0]);
        assert!(server.is_failed());
    }
}

#[test]
fn unknown_serializer_ids_get_error_1() {
    for id in [0, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] {
        let mut server = new_server(ServerConfig::default());
        let out = feed(&mut server, &handshake(15, id), &[2]);
        assert_eq!(
            out.error,
            Some(RawSocketError::UnsupportedSerializer { id })
        );
        assert_eq!(out.transmit, [0x7f, 0x10, 0, 0]);
    }
    // A known serializer this server does not accept.
    let config = ServerConfig {
        serializers: vec![SerializerKind::Json],
        ..ServerConfig::default()
    };
    let mut client = new_client(ClientConfig::new(SerializerKind::Cbor));
    let mut server = new_server(config);
    let result = pump(&mut client, &mut server, 4);
    assert_eq!(result, Err(RawSocketError::UnsupportedSerializer { id: 3 }));
    // The reply is still waiting; the client decodes it.
    let reply = server.poll_transmit().expect("error reply");
    assert_eq!(
        client.input(&reply),
        Err(RawSocketError::HandshakeRejected {
            code: HandshakeErrorCode::SerializerUnsupported
        })
    );
    assert_eq!(server.poll_transmit(), None);
}

#[test]
fn every_error_code_is_decoded_by_the_client() {
    for code in 0..16u8 {
        let mut client = new_client(ClientConfig::new(SerializerKind::MsgPack));
        let out = feed_bytewise(&mut client, &[0x7f, code << 4, 0, 0]);
        let expected = HandshakeErrorCode::from_code(code);
        assert_eq!(
            out.error,
            Some(RawSocketError::HandshakeRejected { code: expected })
        );
        assert_eq!(expected.code(), code);
    }
    let named = [
        (1, HandshakeErrorCode::SerializerUnsupported),
        (2, HandshakeErrorCode::MaxMessageLenUnacceptable),
        (3, HandshakeErrorCode::ReservedBitsUsed),
        (4, HandshakeErrorCode::MaxConnectionsReached),
        (0, HandshakeErrorCode::Unknown(0)),
        (5, HandshakeErrorCode::Unknown(5)),
    ];
    for (code, expected) in named {
        assert_eq!(HandshakeErrorCode::from_code(code), expected);
    }
}

#[test]
fn max_length_unacceptable_end_to_end() {
    let config = ServerConfig {
        min_peer_max_message_len: MaxMessageLen::from_exp(4).expect("exponent"),
        ..ServerConfig::default()
    };
    // Exactly the minimum is accepted.
    let mut client = new_client(client_config(SerializerKind::Json, 4));
    let mut server = new_server(config.clone());
    pump(&mut client, &mut server, 1).expect("accepted");
    assert!(client.is_open() && server.is_open());
    // One below is refused with error 2.
    let mut client = new_client(client_config(SerializerKind::Json, 3));
    let mut server = new_server(config);
    let result = pump(&mut client, &mut server, 1);
    assert!(matches!(
        result,
        Err(RawSocketError::PeerMaxMessageLenUnacceptable { .. })
    ));
    let reply = server.poll_transmit().expect("reply");
    assert_eq!(&reply[..], [0x7f, 0x20, 0, 0]);
    assert_eq!(
        client.input(&reply),
        Err(RawSocketError::HandshakeRejected {
            code: HandshakeErrorCode::MaxMessageLenUnacceptable
        })
    );
}

#[test]
fn max_connections_reached_end_to_end() {
    let config = ServerConfig {
        max_connections_reached: true,
        ..ServerConfig::default()
    };
    let mut client = new_client(ClientConfig::new(SerializerKind::Cbor));
    let mut server = new_server(config);
    let result = pump(&mut client, &mut server, 2);
    assert_eq!(result, Err(RawSocketError::MaxConnectionsReached));
    let reply = server.poll_transmit().expect("reply");
    assert_eq!(&reply[..], [0x7f, 0x40, 0, 0]);
    let error = client.input(&reply).expect_err("rejected");
    assert_eq!(
        error.to_string(),
        "the router refused the RawSocket handshake: maximum connection count reached (error 4)"
    );
}

#[test]
fn client_checks_the_echoed_serializer() {
    let mut client = new_client(ClientConfig::new(SerializerKind::Cbor));
    let out = feed(&mut client, &[0x7f, 0xf1, 0, 0], &[]);
    assert_eq!(
        out.error,
        Some(RawSocketError::SerializerMismatch {
            requested: SerializerKind::Cbor,
            echoed: 1
        })
    );
    let mut client = new_client(ClientConfig::new(SerializerKind::Json));
    let out = feed(&mut client, &[0x7f, 0xf1, 1, 0], &[]);
    assert_eq!(
        out.error,
        Some(RawSocketError::HandshakeReservedBits { octets: [1, 0] })
    );
}

#[test]
fn crossbar_reply_is_a_one_mebibyte_limit() {
    let mut client = new_client(ClientConfig::new(SerializerKind::Json));
    assert_eq!(
        client.poll_transmit().as_deref(),
        Some(&[0x7f, 0xf1, 0, 0][..])
    );
    client.input(&[0x7f, 0xb1, 0, 0]).expect("reply");
    assert_eq!(
        client.peer_max_message_len().map(MaxMessageLen::bytes),
        Some(1 << 20)
    );
    assert!(client
        .send_message(Bytes::from(vec![b' '; 1 << 20]))
        .is_ok());
    assert!(matches!(
        client.send_message(Bytes::from(vec![b' '; (1 << 20) + 1])),
        Err(RawSocketError::MessageTooLong { max: 1048576, .. })
    ));
}

#[test]
fn end_of_stream_during_handshake() {
    // Crossbar resets the stream instead of sending an error reply.
    let mut client = new_client(ClientConfig::new(SerializerKind::Json));
    let _ = client.poll_transmit();
    client.input(&[0x7f, 0xf1]).expect("half a reply");
    assert_eq!(client.eof(), Err(RawSocketError::ClosedDuringHandshake));
    assert_eq!(
        client.input(&[0, 0]),
        Err(RawSocketError::ClosedDuringHandshake)
    );

    let mut server = new_server(ServerConfig::default());
    assert_eq!(server.eof(), Err(RawSocketError::ClosedDuringHandshake));
    assert_eq!(server.poll_transmit(), None);
}
