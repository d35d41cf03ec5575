//! Subprotocol negotiation and the opening handshake's failures.

mod harness;

use harness::*;
use wamp_proto::serializer::SerializerKind::{self, Cbor, Json, MsgPack};
use wamp_transport_ws::http::{HeaderName, HeaderValue};
use wamp_transport_ws::{
    ClientConfig, CloseCode, Initiator, ServerConfig, UsageError, WsClient, WsError, WsServer,
};

#[test]
fn the_client_offers_in_preference_order() {
    let mut client =
        WsClient::new(client_config().serializers([Cbor, MsgPack, Json]), t0()).expect("config");
    let request = String::from_utf8(drain_client(&mut client)).expect("ascii");
    assert!(request.starts_with("GET /ws HTTP/1.1\r\n"), "{request}");
    assert_eq!(
        header_value(&request, "Sec-WebSocket-Protocol").as_deref(),
        Some("wamp.2.cbor, wamp.2.msgpack, wamp.2.json")
    );
    assert_eq!(
        header_value(&request, "Host").as_deref(),
        Some("localhost:8080")
    );
}

#[test]
fn the_server_picks_the_first_client_offered_it_speaks() {
    let cases: [(&[SerializerKind], &[SerializerKind], SerializerKind); 5] = [
        (&[Cbor, Json], &[Cbor, MsgPack, Json], Cbor),
        // The server's own order does not matter (Autobahn's rule).
        (&[Json, Cbor], &[Cbor, Json], Json),
        (&[MsgPack, Json], &[Json], Json),
        (&[Cbor, MsgPack, Json], &[Json, MsgPack], MsgPack),
        (&[Json], &[Cbor, MsgPack, Json], Json),
    ];
    for (client, server, want) in cases {
        let mut pair = Pair::with(client, server);
        pair.pump();
        assert_eq!(
            opened(&pair.server_events()),
            Some(want),
            "{client:?} vs {server:?}"
        );
        assert_eq!(
            opened(&pair.client_events()),
            Some(want),
            "{client:?} vs {server:?}"
        );
    }
}

#[test]
fn offers_across_several_header_lines_and_unknown_tokens() {
    let now = t0();
    let mut server =
        WsServer::new(ServerConfig::new().serializers([Json, MsgPack]), now).expect("config");
    let request = raw_request(Some("wamp.2.json.batched, chat")).replace(
        "\r\n\r\n",
        "\r\nSec-WebSocket-Protocol: wamp.2.cbor,wamp.2.msgpack , wamp.2.json\r\n\r\n",
    );
    let response = http_answer(&mut server, now, request.as_bytes());
    assert_eq!(
        header_value(&response, "Sec-WebSocket-Protocol").as_deref(),
        Some("wamp.2.msgpack")
    );
}

#[test]
fn no_common_subprotocol_gets_400_and_fails_the_client() {
    let mut pair = Pair::with(&[Cbor, MsgPack], &[Json]);
    pair.pump();
    let response = String::from_utf8(pair.s2c.clone()).expect("ascii");
    assert!(
        response.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{response}"
    );
    assert!(response.ends_with("This server only speaks WebSocket subprotocols wamp.2.json"));

    let server_events = pair.server_events();
    let info = expect_closed(&server_events);
    assert_eq!(
        info.error,
        Some(WsError::NoCommonSubprotocol {
            offered: vec!["wamp.2.cbor".into(), "wamp.2.msgpack".into()],
            supported: vec!["wamp.2.json".into()],
        })
    );
    assert_eq!(info.code, CloseCode::ABNORMAL);

    let client_events = pair.client_events();
    assert_eq!(opened(&client_events), None);
    let info = expect_closed(&client_events);
    assert_eq!(info.initiator, Initiator::Peer);
    match &info.error {
        Some(WsError::HandshakeRejected { status: 400, body }) => {
            assert!(body.contains("wamp.2.json"), "{body}")
        }
        other => panic!("{other:?}"),
    }
    assert!(pair.client.is_closed() && pair.server.is_closed());
    assert_eq!(
        pair.client.send_message(bytes::Bytes::from_static(b"[]")),
        Err(UsageError::Closed(Some(
            info.error.as_ref().expect("an error").to_string()
        )))
    );
}

#[test]
fn only_unknown_or_no_subprotocols_get_400() {
    for protocols in [Some("wamp.2.json.batched, mqtt"), Some(""), None] {
        let now = t0();
        let mut server = WsServer::new(ServerConfig::new(), now).expect("config");
        let response = http_answer(&mut server, now, raw_request(protocols).as_bytes());
        assert!(
            response.starts_with("HTTP/1.1 400"),
            "{protocols:?}: {response}"
        );
        assert!(response.contains("wamp.2.cbor, wamp.2.msgpack, wamp.2.json"));
        let events = events_of_server(&mut server);
        assert!(matches!(
            expect_closed(&events).error,
            Some(WsError::NoCommonSubprotocol { .. })
        ));
    }
}

#[test]
fn a_server_choosing_what_was_not_offered_fails_the_client() {
    for chosen in [Some("wamp.2.msgpack"), Some("chat"), None] {
        let now = t0();
        let mut client =
            WsClient::new(client_config().serializers([Json, Cbor]), now).expect("config");
        let request = drain_client(&mut client);
        client.handle_input(now, raw_response(&request, chosen).as_bytes());
        let events = events_of_client(&mut client);
        assert_eq!(opened(&events), None, "{chosen:?}");
        let info = expect_closed(&events);
        assert!(
            matches!(info.error, Some(WsError::SubprotocolMismatch(_))),
            "{chosen:?}: {info:?}"
        );
        assert_eq!(info.initiator, Initiator::Local);
        assert!(client.poll_transmit().is_none());
    }
}

#[test]
fn a_wrong_accept_key_fails_the_client() {
    let now = t0();
    let mut client = requesting_client(now);
    let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                    Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
                    Sec-WebSocket-Protocol: wamp.2.cbor\r\n\r\n";
    client.handle_input(now, response.as_bytes());
    expect_handshake_error(&events_of_client(&mut client));
}

#[test]
fn extra_headers_travel_both_ways() {
    let client = client_config()
        .header(
            HeaderName::from_static("authorization"),
            HeaderValue::from_static("Bearer abc"),
        )
        .header(
            HeaderName::from_static("host"),
            HeaderValue::from_static("router.example"),
        );
    let server = ServerConfig::new().header(
        HeaderName::from_static("server"),
        HeaderValue::from_static("wamp-rs"),
    );
    let mut pair = Pair::new(client, server);
    pair.pump();
    let server_events = pair.server_events();
    let open = expect_open_first(&server_events);
    assert_eq!(open.headers["authorization"], "Bearer abc");
    assert_eq!(open.headers["host"], "router.example");
    assert_eq!(open.uri.path(), "/ws");
    let client_events = pair.client_events();
    let open = expect_open_first(&client_events);
    assert_eq!(open.headers["server"], "wamp-rs");
    assert_eq!(open.headers["sec-websocket-protocol"], "wamp.2.cbor");
    assert_eq!(open.uri.to_string(), "ws://localhost:8080/ws");
}

#[test]
fn malformed_upgrade_requests_get_http_errors() {
    let cases = [
        ("POST /ws HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400"),
        ("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400"),
        ("hello there\r\n\r\n", "HTTP/1.1 400"),
        (
            &*raw_request(Some("wamp.2.json")).replace("Version: 13", "Version: 8"),
            "HTTP/1.1 426",
        ),
        (
            &*raw_request(Some("wamp.2.json")).replace(KEY, "short"),
            "HTTP/1.1 400",
        ),
    ];
    for (request, status) in cases {
        let now = t0();
        let mut server = WsServer::new(ServerConfig::new(), now).expect("config");
        let response = http_answer(&mut server, now, request.as_bytes());
        assert!(response.starts_with(status), "{request:?}: {response}");
        if status.ends_with("426") {
            assert_eq!(
                header_value(&response, "Sec-WebSocket-Version").as_deref(),
                Some("13")
            );
        }
        expect_handshake_error(&events_of_server(&mut server));
        assert!(server.is_closed());
    }
}

#[test]
fn the_served_path_and_the_connection_limit_are_answered_in_http() {
    let request = raw_request(Some("wamp.2.json"));
    // The right path passes however the request is split; its query does not count.
    for split in [0, 5, 10, request.len() - 1] {
        let now = t0();
        let mut server = WsServer::new(ServerConfig::new().path("/ws"), now).expect("config");
        server.handle_input(now, &request.as_bytes()[..split]);
        let response = http_answer(&mut server, now, &request.as_bytes()[split..]);
        assert!(
            response.starts_with("HTTP/1.1 101"),
            "split at {split}: {response}"
        );
    }
    let now = t0();
    let mut server = WsServer::new(ServerConfig::new().path("/other"), now).expect("config");
    let response = http_answer(&mut server, now, request.as_bytes());
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    assert!(
        response.ends_with("no WAMP endpoint at /ws (it is at /other)"),
        "{response}"
    );
    let events = events_of_server(&mut server);
    assert!(matches!(
        &expect_closed(&events).error,
        Some(WsError::NotFound { path, served }) if path == "/ws" && served == "/other"
    ));
    let mut full = ServerConfig::new().path("/ws");
    full.max_connections_reached = true;
    let mut server = WsServer::new(full, now).expect("config");
    let response = http_answer(&mut server, now, request.as_bytes());
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    let events = events_of_server(&mut server);
    assert!(matches!(
        expect_closed(&events).error,
        Some(WsError::Unavailable)
    ));
    assert!(WsServer::new(ServerConfig::new().path("ws"), now).is_err());
}

#[test]
fn an_endless_head_is_refused() {
    let now = t0();
    let mut server = WsServer::new(ServerConfig::new(), now).expect("config");
    let line = format!("X-Filler: {}\r\n", "a".repeat(1000));
    server.handle_input(now, b"GET /ws HTTP/1.1\r\n");
    for _ in 0..70 {
        server.handle_input(now, line.as_bytes());
    }
    let response = String::from_utf8(drain_server(&mut server)).expect("ascii");
    assert!(response.starts_with("HTTP/1.1 431"), "{response}");
    assert!(server.is_closed());

    let mut client = requesting_client(now);
    client.handle_input(now, b"HTTP/1.1 101 Switching Protocols\r\n");
    for _ in 0..70 {
        client.handle_input(now, line.as_bytes());
    }
    expect_handshake_error(&events_of_client(&mut client));
}

#[test]
fn a_garbage_response_fails_the_client() {
    for garbage in [
        &b"SSH-2.0-OpenSSH_9.6\r\n\r\n"[..],
        b"\x00\xff\x13\n\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
    ] {
        let now = t0();
        let mut client = requesting_client(now);
        client.handle_input(now, garbage);
        let events = events_of_client(&mut client);
        assert!(
            matches!(
                expect_closed(&events).error,
                Some(WsError::Handshake(_) | WsError::HandshakeRejected { .. })
            ),
            "{garbage:?}: {events:?}"
        );
    }
}

#[test]
fn open_timeout_fails_both_sides() {
    let now = t0();
    let config = client_config().open_timeout(secs(5));
    let mut client = WsClient::new(config, now).expect("config");
    expect_timeout(&mut client, now, secs(5), WsError::OpenTimeout(secs(5)));

    let mut server = WsServer::new(ServerConfig::new().open_timeout(secs(3)), now).expect("c");
    server.handle_input(now, b"GET /ws HTTP/1.1\r\n");
    server.handle_timeout(now + secs(3));
    let events = events_of_server(&mut server);
    assert_eq!(
        expect_closed(&events).error,
        Some(WsError::OpenTimeout(secs(3)))
    );
    assert!(server.poll_transmit().is_none());
}

#[test]
fn end_of_stream_during_the_handshake() {
    let now = t0();
    let mut client = requesting_client(now);
    client.handle_transport_closed(now);
    expect_reset(&events_of_client(&mut client));
}

#[test]
fn closing_before_open_closes_at_once() {
    let now = t0();
    let mut client = requesting_client(now);
    client
        .close(now, CloseCode::GOING_AWAY, "never mind")
        .expect("close");
    assert!(client.is_closed());
    assert!(client.poll_transmit().is_none());
    let events = events_of_client(&mut client);
    assert_eq!(expect_closed(&events).code, CloseCode::GOING_AWAY);
}

#[test]
fn configuration_and_usage_errors() {
    let invalid = |r: Result<WsClient, UsageError>| matches!(r, Err(UsageError::InvalidConfig(_)));
    let now = t0();
    assert!(invalid(WsClient::new(client_config().serializers([]), now)));
    assert!(invalid(WsClient::new(
        client_config().serializers([Json, Json]),
        now
    )));
    assert!(invalid(WsClient::new(
        ClientConfig::new("http://localhost/ws").expect("parses"),
        now
    )));
    assert!(invalid(WsClient::new(
        ClientConfig::new("/ws").expect("parses"),
        now
    )));
    assert!(ClientConfig::new("ws://exa mple").is_err());
    for reserved in [
        "sec-websocket-protocol",
        "sec-websocket-extensions",
        "upgrade",
        "connection",
    ] {
        let config = client_config().header(
            HeaderName::from_static(reserved),
            HeaderValue::from_static("x"),
        );
        assert!(invalid(WsClient::new(config, now)), "{reserved}");
    }
    assert!(invalid(WsClient::new(
        client_config().auto_ping(secs(0), secs(1)),
        now
    )));
    let server = WsServer::new(
        ServerConfig::new().header(
            HeaderName::from_static("host"),
            HeaderValue::from_static("x"),
        ),
        now,
    );
    assert!(matches!(server, Err(UsageError::InvalidConfig(_))));

    let mut client = WsClient::new(client_config(), now).expect("config");
    assert_eq!(
        client.send_message(bytes::Bytes::from_static(b"[]")),
        Err(UsageError::NotOpen)
    );
    assert_eq!(
        client.close(now, CloseCode(1005), ""),
        Err(UsageError::InvalidCloseCode(1005))
    );
    assert_eq!(
        client.close(now, CloseCode::ABNORMAL, ""),
        Err(UsageError::InvalidCloseCode(1006))
    );
    assert!(CloseCode(4000).is_sendable() && CloseCode(3000).is_sendable());

    let (mut client, now) = open_client(Json, client_config());
    assert_eq!(
        client.send_message(bytes::Bytes::from_static(b"\xff\xfe")),
        Err(UsageError::NotUtf8)
    );
    assert_eq!(
        client.send_ping(bytes::Bytes::from(vec![0; 126])),
        Err(UsageError::PingTooLong(126))
    );
    client.close(now, CloseCode::NORMAL, "").expect("close");
    assert_eq!(
        client.send_message(bytes::Bytes::from_static(b"[]")),
        Err(UsageError::Closed(Some("closing".into())))
    );
    // Closing twice is harmless.
    client
        .close(now, CloseCode::NORMAL, "")
        .expect("close again");
}

#[test]
fn a_response_behind_blank_lines_and_frames_behind_the_head_reach_the_client() {
    let now = t0();
    let message = br#"[6,{},"wamp.close.normal"]"#;
    // Blank lines before the status line, and a frame in the same read as the head.
    let input = |request: &[u8]| {
        let mut input = b"\r\n\r\n".to_vec();
        input.extend_from_slice(raw_response(request, Some("wamp.2.json")).as_bytes());
        input.extend(server_frame(TEXT, message));
        input
    };
    let full = input(&drain_client(
        &mut WsClient::new(client_config(), now).expect("config"),
    ));
    // Any chunking gives the same outcome.
    for split in [0, 1, 2, 3, 5, full.len() - 3, full.len()] {
        let mut client = WsClient::new(client_config().serializers([Json]), now).expect("config");
        let input = input(&drain_client(&mut client));
        client.handle_input(now, &input[..split]);
        client.handle_input(now, &input[split..]);
        let events = events_of_client(&mut client);
        assert_eq!(opened(&events), Some(Json), "split at {split}: {events:?}");
        assert_eq!(
            client.poll_message().as_deref(),
            Some(&message[..]),
            "split at {split}"
        );
    }
}

/// `allowed_origins`: a page from another origin gets HTTP 403; an allowed origin, a
/// request with no `Origin` (not a page) and the opaque `null` origin are served.
#[test]
fn pages_from_origins_not_allowed_get_403() {
    let with_origin = |origin: &str| {
        raw_request(Some("wamp.2.json")).replacen(
            "Host: localhost:8080\r\n",
            &format!("Host: localhost:8080\r\nOrigin: {origin}\r\n"),
            1,
        )
    };
    let config =
        ServerConfig::new().allowed_origins(["https://app.example.com", "http://localhost:*"]);
    let answer = |request: &str| {
        let now = t0();
        let mut server = WsServer::new(config.clone(), now).expect("config");
        let response = http_answer(&mut server, now, request.as_bytes());
        (response, events_of_server(&mut server))
    };
    for served in [
        with_origin("https://app.example.com"),
        with_origin("http://localhost:3000"),
        with_origin("null"),
        raw_request(Some("wamp.2.json")),
    ] {
        let (response, _) = answer(&served);
        assert!(response.starts_with("HTTP/1.1 101"), "{served}: {response}");
    }
    let (response, events) = answer(&with_origin("https://evil.example"));
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");
    assert!(
        matches!(&expect_closed(&events).error, Some(WsError::ForbiddenOrigin(o)) if o == "https://evil.example")
    );
}
