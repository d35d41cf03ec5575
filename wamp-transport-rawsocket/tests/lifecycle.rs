//! The machine's clock and its end: the open timeout, keepalive PING/PONG, a local close
//! and a clean end of stream, all on a virtual clock (an `Instant` the test advances).

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use wamp_proto::serializer::SerializerKind;
use wamp_transport_rawsocket::{
    ClientConfig, Closed, Connection, Event, KeepAlive, RawSocketError, ServerConfig,
};

const SECOND: Duration = Duration::from_secs(1);

fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

fn transmit(conn: &mut Connection) -> Vec<u8> {
    std::iter::from_fn(|| conn.poll_transmit())
        .flat_map(|b| b.to_vec())
        .collect()
}

/// A client and a server that completed the handshake at `t0`, both with `keepalive`.
fn open_pair(t0: Instant, keepalive: Option<KeepAlive>) -> (Connection, Connection) {
    let mut client = Connection::client(
        ClientConfig {
            keepalive,
            ..ClientConfig::new(SerializerKind::Json)
        },
        t0,
    );
    let mut server = Connection::server(
        ServerConfig {
            keepalive,
            ..ServerConfig::default()
        },
        t0,
    );
    server.handle_input(t0, &transmit(&mut client));
    client.handle_input(t0, &transmit(&mut server));
    assert!(client.is_open() && server.is_open());
    events(&mut client);
    events(&mut server);
    (client, server)
}

#[test]
fn a_handshake_that_does_not_finish_times_out_on_both_sides() {
    let t0 = Instant::now();
    let timeout = 5 * SECOND;
    let mut server = Connection::server(
        ServerConfig {
            open_timeout: Some(timeout),
            ..ServerConfig::default()
        },
        t0,
    );
    let mut client = Connection::client(
        ClientConfig {
            open_timeout: Some(timeout),
            ..ClientConfig::new(SerializerKind::Json)
        },
        t0,
    );
    for conn in [&mut server, &mut client] {
        assert_eq!(conn.poll_timeout(), Some(t0 + timeout));
        // Half a handshake does not move the deadline.
        conn.handle_input(t0 + SECOND, &[0x7f, 0xf1]);
        assert_eq!(conn.poll_timeout(), Some(t0 + timeout));
        conn.handle_timeout(t0 + timeout - Duration::from_millis(1));
        assert!(!conn.is_closed(), "not before the deadline");
        conn.handle_timeout(t0 + timeout);
        assert_eq!(
            events(conn),
            [Event::Closed(Closed::Failed(
                RawSocketError::HandshakeTimeout(timeout)
            ))]
        );
        assert_eq!(conn.poll_timeout(), None);
    }
    // The server has no error reply for a timeout: nothing to write.
    assert_eq!(server.poll_transmit(), None);
}

#[test]
fn the_open_timeout_ends_with_the_handshake() {
    let t0 = Instant::now();
    let mut client = Connection::client(
        ClientConfig {
            open_timeout: Some(SECOND),
            ..ClientConfig::new(SerializerKind::Json)
        },
        t0,
    );
    let _ = transmit(&mut client);
    client.handle_input(t0, &handshake(15, 1));
    assert!(client.is_open());
    assert_eq!(client.poll_timeout(), None, "no keepalive configured");
    client.handle_timeout(t0 + 10 * SECOND);
    assert!(client.is_open());
}

#[test]
fn keepalive_pings_after_silence_and_any_input_answers_it() {
    let t0 = Instant::now();
    let keepalive = KeepAlive::new(10 * SECOND, 3 * SECOND);
    let (mut client, mut server) = open_pair(t0, Some(keepalive));
    assert_eq!(client.poll_timeout(), Some(t0 + 10 * SECOND));

    // Traffic from the peer pushes the PING back.
    client.handle_input(t0 + 4 * SECOND, &frame(REGULAR, b"[36]"));
    assert_eq!(client.poll_message().as_deref(), Some(&b"[36]"[..]));
    assert_eq!(client.poll_timeout(), Some(t0 + 14 * SECOND));

    // Silence: a PING goes out, with a deadline for the answer.
    client.handle_timeout(t0 + 14 * SECOND);
    let ping = transmit(&mut client);
    assert_eq!(ping, frame(PING, &1u64.to_be_bytes()));
    assert_eq!(client.poll_timeout(), Some(t0 + 17 * SECOND));

    // The server answers with the PONG; the client is satisfied and waits again.
    server.handle_input(t0 + 15 * SECOND, &ping);
    let pong = transmit(&mut server);
    assert_eq!(pong, frame(PONG, &1u64.to_be_bytes()));
    client.handle_input(t0 + 15 * SECOND, &pong);
    assert_eq!(
        events(&mut client),
        [Event::Pong(Bytes::from(1u64.to_be_bytes().to_vec()))]
    );
    assert_eq!(client.poll_timeout(), Some(t0 + 25 * SECOND));
    client.handle_timeout(t0 + 17 * SECOND);
    assert!(client.is_open(), "the old deadline is gone");
}

#[test]
fn keepalive_fails_a_silent_peer_after_the_timeout() {
    let t0 = Instant::now();
    let keepalive = KeepAlive::new(10 * SECOND, 3 * SECOND);
    let (_client, mut server) = open_pair(t0, Some(keepalive));
    server.handle_timeout(t0 + 10 * SECOND);
    assert_eq!(transmit(&mut server), frame(PING, &1u64.to_be_bytes()));
    server.handle_timeout(t0 + 12 * SECOND);
    assert!(server.is_open());
    server.handle_timeout(t0 + 13 * SECOND);
    assert_eq!(
        events(&mut server),
        [Event::Closed(Closed::Failed(RawSocketError::PingTimeout(
            3 * SECOND
        )))]
    );
    assert_eq!(server.poll_timeout(), None);
    assert_eq!(
        server.send_message(Bytes::from_static(b"[]")),
        Err(RawSocketError::PingTimeout(3 * SECOND))
    );
}

#[test]
fn a_local_close_keeps_what_was_queued_and_ends_once() {
    let t0 = Instant::now();
    let (mut client, mut server) = open_pair(t0, None);
    server
        .send_message(Bytes::from_static(b"[3,{},\"wamp.close.normal\"]"))
        .expect("sent");
    server.close(t0);
    server.close(t0);
    assert_eq!(events(&mut server), [Event::Closed(Closed::Local)]);
    // The ABORT queued before the close is still written.
    client.handle_input(t0, &transmit(&mut server));
    assert_eq!(
        client.poll_message().as_deref(),
        Some(&b"[3,{},\"wamp.close.normal\"]"[..])
    );
    assert_eq!(
        server.send_message(Bytes::new()),
        Err(RawSocketError::Closed)
    );
    // Input after the end is ignored.
    server.handle_input(t0, &frame(REGULAR, b"late"));
    assert_eq!(server.poll_message(), None);
    assert_eq!(server.poll_event(), None);
}

#[test]
fn a_clean_end_of_stream_is_the_peers_close() {
    let t0 = Instant::now();
    let (mut client, _server) = open_pair(t0, None);
    client.handle_transport_closed(t0);
    assert_eq!(events(&mut client), [Event::Closed(Closed::Peer)]);
    assert!(client.is_closed() && !client.is_failed());
    client.handle_transport_closed(t0);
    assert_eq!(client.poll_event(), None, "told once");
}

/// A server with a 30 s message timeout whose handshake (JSON, 2^24 octets) completed at
/// `t0`, its reply and events drained.
fn open_server_with_message_timeout(t0: Instant) -> Connection {
    let mut server = Connection::server(
        ServerConfig {
            message_timeout: Some(30 * SECOND),
            ..ServerConfig::default()
        },
        t0,
    );
    server.handle_input(t0, &handshake(15, 1));
    let _ = (transmit(&mut server), events(&mut server));
    server
}

#[test]
fn a_frame_trickled_past_the_message_timeout_fails_the_connection() {
    let t0 = Instant::now();
    let mut server = open_server_with_message_timeout(t0);
    assert_eq!(server.poll_timeout(), None, "nothing arriving: no deadline");
    // A whole frame, then 20 bytes of a 60,000-byte one: the clock starts there.
    let big = frame(REGULAR, &[b' '; 60_000]);
    let mut input = frame(REGULAR, b"[36]");
    input.extend_from_slice(&big[..20]);
    server.handle_input(t0 + 2 * SECOND, &input);
    assert_eq!(server.poll_message().as_deref(), Some(&b"[36]"[..]));
    assert_eq!(server.poll_timeout(), Some(t0 + 32 * SECOND));
    // Trickling more of it does not move the deadline (the keepalive would not help:
    // every byte counts as life).
    for (n, byte) in big[20..40].iter().enumerate() {
        server.handle_input(t0 + (3 + n as u32) * SECOND, std::slice::from_ref(byte));
    }
    assert_eq!(server.poll_timeout(), Some(t0 + 32 * SECOND));
    server.handle_timeout(t0 + 31 * SECOND);
    assert!(server.is_open());
    server.handle_timeout(t0 + 32 * SECOND);
    assert_eq!(
        events(&mut server),
        [Event::Closed(Closed::Failed(
            RawSocketError::MessageTimeout(30 * SECOND)
        ))]
    );
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn a_frame_that_completes_in_time_stops_the_message_clock() {
    let t0 = Instant::now();
    let mut server = open_server_with_message_timeout(t0);
    let big = frame(REGULAR, &[b' '; 60_000]);
    server.handle_input(t0, &big[..1000]);
    assert_eq!(server.poll_timeout(), Some(t0 + 30 * SECOND));
    // The rest and the start of the next frame in one read: the clock restarts.
    let mut input = big[1000..].to_vec();
    input.extend_from_slice(&big[..10]);
    server.handle_input(t0 + 29 * SECOND, &input);
    assert_eq!(server.poll_timeout(), Some(t0 + 59 * SECOND));
    server.handle_input(t0 + 40 * SECOND, &big[10..]);
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(t0 + 100 * SECOND);
    assert!(server.is_open());
    assert_eq!(std::iter::from_fn(|| server.poll_message()).count(), 2);
}
