//! The router's session lifecycle, driven by in-memory client sessions on a virtual
//! clock: joining, WELCOME's announcement, GOODBYE, unknown realms, protocol violations
//! (which abort the offender only), deadlines, closing and shutting down, paused
//! writers, mixed serializers. Slow consumers: `router_backpressure.rs`.

// The virtual clock starts at one real `Instant::now()`; the ban on clocks is for the
// library, not for its tests.
#![allow(clippy::disallowed_methods)]

mod router_harness;

use bytes::Bytes;
use router_harness::*;
use wamp_proto::message::{self, Goodbye, Hello, Yield};
use wamp_proto::session::{CloseReason, Outcome, SessionConfig, SessionEvent};
use wamp_proto::{
    message::Message, message::MessageType, serializer::SerializerKind, Dict, Payload, RequestId,
    Uri,
};
use wamp_router::{LeaveReason, Limits, RealmConfig, RouterConfig, RouterEvent};

/// The roles a HELLO announces here: caller and callee, without features.
fn roles() -> Dict {
    Dict::new().with_role("caller", []).with_role("callee", [])
}

fn hello(realm: &str) -> Hello {
    Hello {
        realm: uri(realm),
        details: roles(),
    }
}

/// A client's GOODBYE, closing normally.
fn goodbye() -> Goodbye {
    Goodbye {
        details: Dict::new(),
        reason: Uri::CLOSE_NORMAL,
    }
}

#[test]
fn welcome_announces_roles_features_and_identity() {
    for kind in SerializerKind::ALL {
        let (mut net, [a]) = Net::joined([kind]);
        let details = net.s(a).router_details().clone();
        for (role, feature) in [
            ("broker", "publisher_identification"),
            ("broker", "publisher_exclusion"),
            ("broker", "subscriber_blackwhite_listing"),
            ("broker", "pattern_based_subscription"),
            ("broker", "event_retention"),
            ("broker", "session_meta_api"),
            ("broker", "subscription_meta_api"),
            ("dealer", "caller_identification"),
            ("dealer", "pattern_based_registration"),
            ("dealer", "shared_registration"),
            ("dealer", "progressive_call_results"),
            ("dealer", "progressive_call_invocations"),
            ("dealer", "call_canceling"),
            ("dealer", "call_timeout"),
            ("dealer", "registration_meta_api"),
            ("dealer", "testament_meta_api"),
        ] {
            assert!(details.has_feature(role, feature), "{role}.{feature}");
        }
        assert_eq!(details.authmethod(), Some("anonymous"));
        assert_eq!(details.authrole(), Some("anonymous"));
        assert_eq!(details.authprovider(), Some("static"));
        assert!(details
            .authid()
            .is_some_and(|a| a.starts_with("anonymous-")));
        let log = net.router_events();
        assert!(
            matches!(
                &log[..],
                [RouterEvent::Joined { realm, authmethod, .. }] if realm == "realm1" && authmethod == "anonymous"
            ),
            "{log:?}"
        );
    }
}

#[test]
fn session_ids_are_random_and_unique() {
    let mut net = Net::new(realm1());
    let ids: Vec<u64> = (0..50)
        .map(|_| {
            let p = net.join(SerializerKind::MsgPack);
            net.session_id(p).get()
        })
        .collect();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
    // Random over 1..=2^53, not a counter: spread over the range.
    assert!(ids.iter().any(|i| *i > 1 << 50), "{ids:?}");
    assert!(!ids.windows(2).all(|w| w[1] == w[0] + 1));
    // The same seed gives the same IDs: the randomness is the injected RNG's.
    let mut again = Net::new(realm1());
    let first = again.join(SerializerKind::MsgPack);
    assert_eq!(again.session_id(first).get(), ids[0]);
}

#[test]
fn goodbye_is_answered_with_goodbye_and_out() {
    let (mut net, [a]) = Net::joined([SerializerKind::Json]);
    let session = net.session_id(a);
    let now = net.now;
    net.s(a)
        .leave(now, Uri::CLOSE_NORMAL, Some("bye"))
        .expect("leave");
    net.pump();
    match net.closed(a) {
        Some(CloseReason::Goodbye {
            reason,
            local: true,
            ..
        }) => {
            assert_eq!(reason, Uri::CLOSE_NORMAL)
        }
        other => panic!("{other:?}"),
    }
    assert!(net.router_events().iter().any(|e| matches!(
        e,
        RouterEvent::Left { session: s, reason: LeaveReason::Goodbye(r), .. }
            if *s == session && *r == Uri::CLOSE_NORMAL
    )));
    assert_eq!(net.router.session_count(), 0);
}

#[test]
fn the_goodbye_reply_uses_goodbye_and_out_on_the_wire() {
    let mut net = Net::new(realm1());
    let raw = net.raw_hello(SerializerKind::Json, roles());
    assert!(matches!(net.recv_raw(raw)[..], [Message::Welcome(_)]));
    net.send_raw(raw, goodbye());
    match &net.recv_raw(raw)[..] {
        [Message::Goodbye(g)] => assert_eq!(g.reason, Uri::GOODBYE_AND_OUT),
        other => panic!("{other:?}"),
    }
    // The transport may carry a new session.
    net.send_raw(raw, hello("realm1"));
    assert!(matches!(net.recv_raw(raw)[..], [Message::Welcome(_)]));
    assert_eq!(net.router.session_count(), 1);
}

#[test]
fn an_idle_transport_after_goodbye_is_closed_at_the_handshake_deadline() {
    let mut net = Net::new(realm1());
    let raw = net.raw_hello(SerializerKind::Json, roles());
    net.send_raw(raw, goodbye());
    net.recv_raw(raw);
    net.advance(secs(9));
    assert!(net.peers[raw].open);
    net.advance(secs(2));
    assert!(!net.peers[raw].open);
    assert_eq!(net.router.connection_count(), 0);
}

#[test]
fn unknown_realm_is_refused_with_no_such_realm() {
    let mut net = Net::new(realm1());
    let a = net.connect(SessionConfig::new(uri("nowhere")));
    match net.closed(a) {
        Some(CloseReason::Aborted { reason, message }) => {
            assert_eq!(reason, Uri::NO_SUCH_REALM);
            assert!(message.is_some_and(|m| m.contains("nowhere")));
        }
        other => panic!("{other:?}"),
    }
    let log = net.router_events();
    assert!(
        matches!(
            &log[..],
            [RouterEvent::Aborted { reason, session: None, .. }, RouterEvent::CloseConnection { .. }]
                if *reason == Uri::NO_SUCH_REALM
        ),
        "{log:?}"
    );
    assert_eq!(net.router.connection_count(), 0);
}

/// Raw messages that break the protocol, each sent by one peer in a realm with another
/// joined session that must be unaffected.
#[test]
fn protocol_violations_abort_the_offender_only() {
    let cases: Vec<(&str, bool, Message)> = vec![
        (
            "CALL before HELLO",
            false,
            Message::Call(message::Call {
                request: RequestId::new(1).expect("a valid value"),
                options: Dict::new(),
                procedure: uri("a.b"),
                payload: Payload::empty(),
            }),
        ),
        ("HELLO twice", true, Message::Hello(hello("realm1"))),
        (
            "AUTHENTICATE when established",
            true,
            Message::Authenticate(message::Authenticate {
                signature: "x".into(),
                extra: Dict::new(),
            }),
        ),
        (
            "YIELD for an unknown invocation",
            true,
            Message::Yield(Yield {
                request: RequestId::new(99).expect("a valid value"),
                options: Dict::new(),
                payload: Payload::empty(),
            }),
        ),
        (
            "ERROR for a CALL (only INVOCATION may be answered)",
            true,
            Message::Error(message::Error {
                request_type: MessageType::Call,
                request: RequestId::new(1).expect("a valid value"),
                details: Dict::new(),
                error: uri("x.y"),
                payload: Payload::empty(),
            }),
        ),
        (
            "a router's message (WELCOME)",
            true,
            Message::Welcome(message::Welcome {
                session: wamp_proto::SessionId::new(5).expect("a valid value"),
                details: Dict::new(),
            }),
        ),
        (
            "EVENT from a client",
            true,
            Message::Event(message::Event {
                subscription: wamp_proto::SubscriptionId::new(1).expect("a valid value"),
                publication: wamp_proto::PublicationId::new(1).expect("a valid value"),
                details: Dict::new(),
                payload: Payload::empty(),
            }),
        ),
        (
            "in-memory options of the wrong type",
            true,
            Message::Publish(message::Publish {
                request: RequestId::new(1).expect("a valid value"),
                options: Dict::new().with("acknowledge", "yes"),
                topic: uri("a.b"),
                payload: Payload::empty(),
            }),
        ),
    ];
    for (what, joined, offense) in cases {
        let (mut net, [bystander]) = Net::joined([SerializerKind::Json]);
        let sub = net.subscribe(bystander, "a.b", Dict::new());
        let raw = net.open_raw(SerializerKind::MsgPack);
        if joined {
            net.send_raw(raw, hello("realm1"));
            assert!(
                matches!(net.recv_raw(raw)[..], [Message::Welcome(_)]),
                "{what}"
            );
        }
        net.router_events();
        let conn = net.peers[raw].conn;
        net.router.handle_message(net.now, conn, offense);
        net.pump();
        match &net.recv_raw(raw)[..] {
            [Message::Abort(a)] => {
                assert_eq!(a.reason, Uri::PROTOCOL_VIOLATION, "{what}");
                assert!(a.details.message().is_some_and(|m| !m.is_empty()), "{what}");
            }
            other => panic!("{what}: {other:?}"),
        }
        assert!(!net.peers[raw].open, "{what}: the transport is dropped");
        let log = net.router_events();
        assert!(
            log.iter().any(|e| matches!(e, RouterEvent::Aborted { reason, .. } if *reason == Uri::PROTOCOL_VIOLATION)),
            "{what}: {log:?}"
        );
        if joined {
            assert!(
                log.iter().any(|e| matches!(
                    e,
                    RouterEvent::Left {
                        reason: LeaveReason::ProtocolViolation(_),
                        ..
                    }
                )),
                "{what}: {log:?}"
            );
        }
        // Nothing further from the offender is processed.
        net.router
            .handle_message(net.now, conn, Message::Hello(hello("realm1")));
        net.pump();
        assert!(net.recv_raw(raw).is_empty(), "{what}");
        // The bystander is fine.
        assert!(net.s(bystander).is_established(), "{what}");
        let publisher = net.join(SerializerKind::Cbor);
        net.publish(publisher, "a.b", Payload::empty(), Dict::new());
        let got = net.deliveries(bystander);
        assert_eq!(got.len(), 1, "{what}");
        assert_eq!(got[0].subscription, sub);
    }
}

#[test]
fn undecodable_bytes_are_a_protocol_violation() {
    for (kind, garbage) in [
        (SerializerKind::Json, &b"not json"[..]),
        (SerializerKind::Json, &b"[1]"[..]),
        (SerializerKind::Json, &b"[999, 1]"[..]),
        (SerializerKind::MsgPack, &b"\xc1"[..]),
        (SerializerKind::Cbor, &b"\xff\xff"[..]),
    ] {
        let mut net = Net::new(realm1());
        let raw = net.open_raw(kind);
        net.send_bytes(raw, Bytes::from_static(garbage));
        match &net.recv_raw(raw)[..] {
            [Message::Abort(a)] => assert_eq!(a.reason, Uri::PROTOCOL_VIOLATION),
            other => panic!("{garbage:?}: {other:?}"),
        }
        assert!(!net.peers[raw].open);
    }
}

#[test]
fn hello_without_roles_is_a_protocol_violation() {
    let mut net = Net::new(realm1());
    let raw = net.raw_hello(SerializerKind::Json, Dict::new());
    match &net.recv_raw(raw)[..] {
        [Message::Abort(a)] => {
            assert_eq!(a.reason, Uri::PROTOCOL_VIOLATION);
            assert!(a.details.message().is_some_and(|m| m.contains("roles")));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn handshake_deadline_closes_silent_connections() {
    let mut net = Net::new(realm1().limits(Limits {
        handshake_timeout: secs(3),
        ..Limits::default()
    }));
    let raw = net.open_raw(SerializerKind::Json);
    assert_eq!(net.router.poll_timeout(), Some(net.t0 + secs(3)));
    net.advance(millis(2999));
    assert!(net.peers[raw].open);
    net.advance(millis(1));
    assert!(!net.peers[raw].open);
    assert!(net.recv_raw(raw).is_empty(), "no session, no ABORT");
    assert_eq!(net.router.poll_timeout(), None);
    assert_eq!(net.router.connection_count(), 0);
}

#[test]
fn handshake_deadline_aborts_an_unanswered_challenge() {
    let config = RouterConfig::new().realm(
        RealmConfig::new("realm1")
            .expect("a valid value")
            .role(wamp_router::RoleConfig::new("user"))
            .ticket("joe", "user", "secret"),
    );
    let mut net = Net::new(config);
    let raw = net.raw_hello(
        SerializerKind::Json,
        Dict::new()
            .with_role("caller", [])
            .with_authmethods(["ticket"])
            .with_authid("joe"),
    );
    assert!(matches!(net.recv_raw(raw)[..], [Message::Challenge(_)]));
    net.advance(secs(10));
    net.expect_abort(raw, Uri::TIMEOUT);
    assert!(!net.peers[raw].open);
}

#[test]
fn router_close_sends_goodbye_and_drops_the_transport_on_the_reply() {
    let (mut net, [a, b]) = Net::joined([SerializerKind::Json, SerializerKind::Json]);
    let sub = net.subscribe(b, "wamp.session.on_leave", Dict::new());
    let conn = net.peers[a].conn;
    let session = net.session_id(a);
    net.router
        .close(net.now, conn, Uri::CLOSE_REALM, Some("maintenance"))
        .expect("close");
    net.pump();
    match net.closed(a) {
        Some(CloseReason::Goodbye {
            reason,
            local: false,
            message,
        }) => {
            assert_eq!(reason, Uri::CLOSE_REALM);
            assert_eq!(message.as_deref(), Some("maintenance"));
        }
        other => panic!("{other:?}"),
    }
    assert!(!net.peers[a].open);
    let left = net.deliveries(b);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].subscription, sub);
    let (id, _, _): (u64, String, String) = left[0].payload.args().expect("decodable arguments");
    assert_eq!(id, session.get());
    assert!(net
        .router
        .close(net.now, conn, Uri::CLOSE_REALM, None)
        .is_err());
}

#[test]
fn router_goodbye_without_reply_is_dropped_at_the_goodbye_deadline() {
    let mut net = Net::new(realm1());
    let raw = net.raw_hello(SerializerKind::Json, roles());
    net.recv_raw(raw);
    let conn = net.peers[raw].conn;
    net.router
        .close(net.now, conn, Uri::CLOSE_REALM, None)
        .expect("close");
    net.pump();
    assert!(matches!(net.recv_raw(raw)[..], [Message::Goodbye(_)]));
    // Messages that cross the GOODBYE are ignored.
    net.send_raw(
        raw,
        message::Publish {
            request: RequestId::new(1).expect("a valid value"),
            options: Dict::new(),
            topic: uri("a.b"),
            payload: Payload::empty(),
        },
    );
    assert!(net.recv_raw(raw).is_empty());
    net.advance(millis(4999));
    assert!(net.peers[raw].open);
    net.advance(millis(1));
    assert!(!net.peers[raw].open);
}

#[test]
fn shutdown_says_goodbye_to_everyone_and_refuses_new_sessions() {
    let (mut net, [a, b]) = Net::joined([SerializerKind::Json, SerializerKind::Cbor]);
    net.subscribe(b, "wamp.session.on_leave", Dict::new());
    let raw = net.open_raw(SerializerKind::Json);
    net.router.shutdown(net.now);
    net.pump();
    for p in [a, b] {
        match net.closed(p) {
            Some(CloseReason::Goodbye { reason, .. }) => {
                assert_eq!(reason, Uri::CLOSE_SYSTEM_SHUTDOWN)
            }
            other => panic!("{other:?}"),
        }
        // No on_leave events for sessions that are all going away.
        assert!(net.deliveries(p).is_empty());
    }
    assert!(!net.peers[raw].open);
    assert!(net.router.is_shutting_down());
    assert_eq!(net.router.connection_count(), 0);
    let late = net.connect(SessionConfig::new(uri("realm1")));
    match net.closed(late) {
        Some(CloseReason::Aborted { reason, .. }) => assert_eq!(reason, Uri::CLOSE_SYSTEM_SHUTDOWN),
        other => panic!("{other:?}"),
    }
}

#[test]
fn transport_loss_ends_the_session() {
    let (mut net, [a]) = Net::joined([SerializerKind::Json]);
    let session = net.session_id(a);
    net.drop_transport(a);
    assert!(net.router_events().iter().any(|e| matches!(
        e,
        RouterEvent::Left { session: s, reason: LeaveReason::TransportClosed, .. } if *s == session
    )));
    assert_eq!(net.router.session_count(), 0);
    assert_eq!(net.router.connection_count(), 0);
}

#[test]
fn a_paused_connection_gets_its_messages_on_resume_in_order() {
    let (mut net, [sub, publisher]) = Net::joined([SerializerKind::Json, SerializerKind::Json]);
    net.subscribe(sub, "t", Dict::new());
    let conn = net.peers[sub].conn;
    let now = net.now;
    net.router
        .pause_transmit(now, conn)
        .expect("an open connection");
    for i in 0..5 {
        net.publish(
            publisher,
            "t",
            args(SerializerKind::Json, &(i,)),
            Dict::new(),
        );
    }
    assert!(net.deliveries(sub).is_empty());
    let now = net.now;
    net.router
        .resume_transmit(now, conn)
        .expect("an open connection");
    net.pump();
    let got: Vec<i64> = net
        .deliveries(sub)
        .iter()
        .map(|e| e.payload.args::<(i64,)>().expect("decodable arguments").0)
        .collect();
    assert_eq!(got, vec![0, 1, 2, 3, 4]);
}

#[test]
fn sessions_with_different_serializers_interoperate() {
    for caller_kind in SerializerKind::ALL {
        for callee_kind in SerializerKind::ALL {
            let (mut net, [callee, caller]) = Net::joined([callee_kind, caller_kind]);
            net.register(callee, "com.echo", Dict::new());
            let payload = Payload::encode(
                caller_kind,
                &(
                    1u64,
                    -2i64,
                    "x",
                    2.5f64,
                    serde_bytes::Bytes::new(b"\x00\xff"),
                ),
                &std::collections::BTreeMap::from([("k", vec![1, 2])]),
            )
            .expect("encodable payload");
            let request = net.start_call(caller, "com.echo", payload.clone(), Dict::new());
            let inv = net.invocation(callee);
            assert_eq!(inv.payload.format(), Some(callee_kind));
            assert_eq!(inv.payload, payload, "{caller_kind} -> {callee_kind}");
            net.yield_now(callee, inv.request, Dict::new(), inv.payload.clone());
            match net.reply(caller, request) {
                Ok(Outcome::Result { payload: back, .. }) => {
                    assert_eq!(back.format(), Some(caller_kind));
                    assert_eq!(back, payload);
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

#[test]
fn payloads_between_sessions_of_one_serializer_are_forwarded_byte_for_byte() {
    for kind in SerializerKind::ALL {
        let (mut net, [sub]) = Net::joined([kind]);
        let raw = net.open_raw(kind);
        net.send_raw(raw, hello("realm1"));
        net.recv_raw(raw);
        net.subscribe(sub, "t", Dict::new());
        // A payload with odd but valid encodings (key order, spacing in JSON) that a
        // re-encoding would change.
        let payload = match kind {
            SerializerKind::Json => Payload::from_encoded(
                kind,
                Some(Bytes::from_static(b"[1,  2.50, \"x\"]")),
                Some(Bytes::from_static(b"{\"z\": 1, \"a\": 2}")),
            ),
            _ => Payload::from_encoded(
                kind,
                Some(
                    kind.encode_value(&(1, 2.5, "x"))
                        .expect("encodable value")
                        .into(),
                ),
                Some(
                    kind.encode_value(
                        &[("z", 1), ("a", 2)]
                            .into_iter()
                            .collect::<std::collections::BTreeMap<_, _>>(),
                    )
                    .expect("encodable value")
                    .into(),
                ),
            ),
        }
        .expect("a valid payload");
        net.send_raw(
            raw,
            message::Publish {
                request: RequestId::new(1).expect("a valid value"),
                options: Dict::new(),
                topic: uri("t"),
                payload: payload.clone(),
            },
        );
        let got = net.deliveries(sub);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].payload.raw_args(), payload.raw_args(), "{kind}");
        assert_eq!(got[0].payload.raw_kwargs(), payload.raw_kwargs(), "{kind}");
    }
}

#[test]
fn poll_timeout_after_handle_timeout_is_later_than_now() {
    let mut net = Net::new(realm1());
    for _ in 0..3 {
        net.open_raw(SerializerKind::Json);
        net.advance(millis(700));
    }
    let a = net.join(SerializerKind::Json);
    let b = net.join(SerializerKind::Json);
    net.register(b, "slow", Dict::new());
    for t in [100u64, 250, 250, 900] {
        net.s(a)
            .call(uri("slow"), Payload::empty(), Dict::new().with_timeout(t))
            .expect("the call is accepted");
    }
    net.pump();
    // `advance` asserts the property at every deadline on the way.
    net.advance(secs(30));
    assert_eq!(net.router.poll_timeout(), None);
    let timeouts = net
        .events(a)
        .into_iter()
        .filter(|e| matches!(e, SessionEvent::Reply(r) if r.outcome.as_ref().is_err_and(|e| *e.uri() == Uri::TIMEOUT)))
        .count();
    assert_eq!(timeouts, 4);
}

/// A runtime moves the router into its own task.
#[test]
fn the_router_is_send() {
    fn is_send<T: Send + 'static>() {}
    is_send::<wamp_router::Router>();
}
