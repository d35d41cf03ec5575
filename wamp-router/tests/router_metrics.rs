//! The router's metrics (`Router::metrics`, Prometheus text) follow what happens:
//! sessions per realm, messages by type, calls answered (the duration histogram),
//! refused joins by method.

#![allow(clippy::disallowed_methods)]

mod router_harness;

use router_harness::*;
use wamp_proto::auth::Ticket;
use wamp_proto::serializer::SerializerKind;
use wamp_proto::session::{SessionConfig, SessionEvent};
use wamp_proto::{Dict, Map, Payload};
use wamp_router::RouterConfig;

const J: SerializerKind = SerializerKind::Json;

fn value(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

#[test]
fn metrics_count_sessions_messages_calls_and_refusals() {
    let realm = permissive_realm1(&["anonymous", "user"])
        .allow_anonymous("anonymous")
        .ticket("joe", "user", "right");
    let mut net = Net::new(RouterConfig::new().realm(realm));
    let (callee, caller) = (net.join(J), net.join(J));
    net.register(callee, "com.example.f", Dict::new());
    let request = net.start_call(caller, "com.example.f", Payload::empty(), Dict::new());
    net.advance(millis(20));
    let inv = net.invocation(callee);
    net.yield_now(
        callee,
        inv.request,
        Dict::new(),
        Payload::from_values(vec![], Map::new()),
    );
    assert!(net.reply(caller, request).is_ok());
    let wrong = net.connect(
        SessionConfig::new(uri("realm1"))
            .serializer(J)
            .authenticator(Ticket::new("joe", "wrong")),
    );
    assert!(matches!(
        net.peers[wrong].events.pop_front(),
        Some(SessionEvent::Closed(_))
    ));

    let text = net.router.metrics();
    assert_eq!(value(&text, "wamp_router_sessions{realm=\"realm1\"}"), 2);
    assert_eq!(value(&text, "wamp_router_sessions_joined_total"), 2);
    assert_eq!(
        value(&text, "wamp_router_messages_received_total{type=\"CALL\"}"),
        1
    );
    assert_eq!(
        value(&text, "wamp_router_messages_received_total{type=\"HELLO\"}"),
        3
    );
    assert_eq!(
        value(
            &text,
            "wamp_router_messages_sent_total{type=\"INVOCATION\"}"
        ),
        1
    );
    assert_eq!(
        value(&text, "wamp_router_messages_sent_total{type=\"RESULT\"}"),
        1
    );
    assert!(value(&text, "wamp_router_bytes_sent_total") > 0);
    assert_eq!(
        value(&text, "wamp_router_auth_failures_total{method=\"ticket\"}"),
        1
    );
    // The call took the 20 ms the callee waited.
    assert_eq!(value(&text, "wamp_router_call_duration_seconds_count"), 1);
    assert_eq!(
        value(
            &text,
            "wamp_router_call_duration_seconds_bucket{le=\"0.01\"}"
        ),
        0
    );
    assert_eq!(
        value(
            &text,
            "wamp_router_call_duration_seconds_bucket{le=\"0.025\"}"
        ),
        1
    );
}
