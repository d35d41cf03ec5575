//! The router's broker, driven by in-memory client sessions: subscriptions by exact,
//! prefix and wildcard match (shared IDs), acknowledgement, exclusion and eligibility,
//! publisher disclosure, retained events, ordering.

#![allow(clippy::disallowed_methods)]

mod router_harness;

use router_harness::*;
use wamp_proto::session::{Outcome, SessionConfig};
use wamp_proto::{serializer::SerializerKind, Dict, MatchPolicy, Payload, Uri};
use wamp_router::RouterConfig;

const J: SerializerKind = SerializerKind::Json;

fn topic_args(net: &mut Net, id: usize) -> Vec<(String, i64)> {
    net.deliveries(id)
        .into_iter()
        .map(|e| {
            (
                e.topic.to_string(),
                e.payload.args::<(i64,)>().expect("decodable arguments").0,
            )
        })
        .collect()
}

#[test]
fn exact_subscription_receives_events_with_the_payload() {
    for kind in SerializerKind::ALL {
        let (mut net, [sub, publisher]) = Net::joined([kind, kind]);
        let id = net.subscribe(sub, "com.app.news", Dict::new());
        net.publish(
            publisher,
            "com.app.news",
            Payload::encode(
                kind,
                &("hello", 2),
                &std::collections::BTreeMap::from([("k", true)]),
            )
            .expect("encodable payload"),
            Dict::new(),
        );
        net.publish(publisher, "com.app.other", Payload::empty(), Dict::new());
        let got = net.deliveries(sub);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].subscription, id);
        assert_eq!(got[0].topic, "com.app.news");
        // Exact subscriptions get no `topic` detail, and no publisher unless disclosed.
        assert!(got[0].details.topic().is_none());
        assert!(got[0].details.publisher().is_none());
        let (a, b): (String, i64) = got[0].payload.args().expect("decodable arguments");
        assert_eq!((a.as_str(), b), ("hello", 2));
    }
}

#[test]
fn one_subscription_id_per_topic_and_policy_shared_by_subscribers() {
    let (mut net, [a, b]) = Net::joined([J, SerializerKind::Cbor]);
    let exact_a = net.subscribe(a, "com.t", Dict::new());
    let exact_b = net.subscribe(b, "com.t", Dict::new());
    let prefix = net.subscribe(a, "com.t", by_prefix());
    assert_eq!(exact_a, exact_b);
    assert_ne!(exact_a, prefix);
    // Subscribing again returns the same ID (and the session counts it).
    assert_eq!(net.subscribe(a, "com.t", Dict::new()), exact_a);
}

#[test]
fn prefix_and_wildcard_subscriptions_carry_the_concrete_topic() {
    let (mut net, [sub, publisher]) = Net::joined([J, J]);
    let prefix = net.subscribe(sub, "com.app.", by_prefix());
    let wildcard = net.subscribe(sub, "com..update", by_wildcard());
    for (i, topic) in [
        "com.app.x",
        "com.app.update",
        "com.user.update",
        "com.a.b.update",
        "org.x",
    ]
    .iter()
    .enumerate()
    {
        net.publish(publisher, topic, args(J, &(i,)), Dict::new());
    }
    let got = net.deliveries(sub);
    let seen: Vec<(u64, String)> = got
        .iter()
        .map(|e| {
            (
                e.subscription.get(),
                e.details.topic().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (prefix.get(), "com.app.x".into()),
            // One event per matching subscription, with the same publication.
            (prefix.get(), "com.app.update".into()),
            (wildcard.get(), "com.app.update".into()),
            (wildcard.get(), "com.user.update".into()),
        ]
    );
    assert_eq!(got[1].publication, got[2].publication);
}

#[test]
fn prefix_matching_is_a_plain_string_prefix() {
    let (mut net, [sub, publisher]) = Net::joined([J, J]);
    net.subscribe(sub, "interop.pattern", by_prefix());
    for (i, t) in [
        "interop.pattern",
        "interop.pattern.x",
        "interop.patternx.y",
        "interop.patter",
    ]
    .iter()
    .enumerate()
    {
        net.publish(publisher, t, args(J, &(i,)), Dict::new());
    }
    let topics: Vec<String> = topic_args(&mut net, sub)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        topics,
        ["interop.pattern", "interop.pattern.x", "interop.patternx.y"]
    );
}

#[test]
fn acknowledged_publications_get_published_with_the_event_publication_id() {
    let (mut net, [sub, publisher]) = Net::joined([J, J]);
    net.subscribe(sub, "t", Dict::new());
    let request = net.publish_acknowledged(publisher, "t");
    net.pump();
    let Ok(Outcome::Published(publication)) = net.reply(publisher, request) else {
        panic!("no PUBLISHED")
    };
    assert_eq!(net.deliveries(sub)[0].publication, publication);
    // Without acknowledge nothing comes back (not even for a refused publication).
    net.publish(publisher, "wamp.reserved", Payload::empty(), Dict::new());
    assert!(net.events(publisher).is_empty());
}

#[test]
fn exclude_me_defaults_to_true() {
    let (mut net, [a]) = Net::joined([J]);
    net.subscribe(a, "t", Dict::new());
    net.publish(a, "t", args(J, &(1,)), Dict::new());
    assert!(net.deliveries(a).is_empty());
    net.publish(a, "t", args(J, &(2,)), Dict::new().with_exclude_me(false));
    assert_eq!(topic_args(&mut net, a), vec![("t".into(), 2)]);
}

fn roles_realm() -> RouterConfig {
    RouterConfig::new().realm(
        permissive_realm1(&["user", "admin"])
            .ticket("alice", "user", "a")
            .ticket("bob", "user", "b")
            .ticket("carol", "admin", "c"),
    )
}

fn join_ticket(net: &mut Net, authid: &str, ticket: &str) -> usize {
    net.join_with(
        SessionConfig::new(uri("realm1"))
            .serializer(J)
            .authenticator(wamp_proto::auth::Ticket::new(authid, ticket)),
    )
}

#[test]
fn exclusion_and_eligibility_by_session_authid_and_authrole() {
    let mut net = Net::new(roles_realm());
    let alice = join_ticket(&mut net, "alice", "a");
    let bob = join_ticket(&mut net, "bob", "b");
    let carol = join_ticket(&mut net, "carol", "c");
    let publisher = join_ticket(&mut net, "alice", "a");
    for p in [alice, bob, carol] {
        net.subscribe(p, "t", Dict::new());
    }
    let (sa, sb, sc) = (
        net.session_id(alice),
        net.session_id(bob),
        net.session_id(carol),
    );
    let cases: Vec<(&str, Dict, [bool; 3])> = vec![
        ("nothing", Dict::new(), [true, true, true]),
        (
            "exclude session",
            Dict::new().with_exclude([sb]),
            [true, false, true],
        ),
        (
            "eligible sessions",
            Dict::new().with_eligible([sa, sc]),
            [true, false, true],
        ),
        (
            "exclude authid",
            Dict::new().with_exclude_authid(["alice"]),
            [false, true, true],
        ),
        (
            "eligible authid",
            Dict::new().with_eligible_authid(["bob"]),
            [false, true, false],
        ),
        (
            "exclude authrole",
            Dict::new().with_exclude_authrole(["admin"]),
            [true, true, false],
        ),
        (
            "eligible authrole",
            Dict::new().with_eligible_authrole(["user"]),
            [true, true, false],
        ),
        (
            // AND of every list present.
            "eligible role, excluded session",
            Dict::new()
                .with_eligible_authrole(["user"])
                .with_exclude([sa]),
            [false, true, false],
        ),
        (
            "eligible nobody",
            Dict::new().with_eligible([]),
            [false, false, false],
        ),
    ];
    for (what, options, expect) in cases {
        net.publish(publisher, "t", Payload::empty(), options);
        let got = [alice, bob, carol].map(|p| !net.deliveries(p).is_empty());
        assert_eq!(got, expect, "{what}");
    }
}

#[test]
fn publisher_disclosure_on_request_and_by_role() {
    let (mut net, [sub, publisher]) =
        Net::with_peers(disclosing_realm1("loud.", DISCLOSE_PUBLISHER), [J, J]);
    net.subscribe(sub, "quiet.t", Dict::new());
    net.subscribe(sub, "loud.t", Dict::new());
    let me = net.session_id(publisher);
    let authid = net.authid(publisher);

    net.publish(publisher, "quiet.t", Payload::empty(), Dict::new());
    net.publish(
        publisher,
        "quiet.t",
        Payload::empty(),
        Dict::new().with_disclose_me(true),
    );
    net.publish(publisher, "loud.t", Payload::empty(), Dict::new());
    let got = net.deliveries(sub);
    assert_eq!(got[0].details.publisher(), None);
    for e in &got[1..] {
        assert_eq!(e.details.publisher(), Some(me));
        assert_eq!(e.details.publisher_authid(), Some(authid.as_str()));
        assert_eq!(e.details.publisher_authrole(), Some("anonymous"));
    }
}

#[test]
fn retained_events_are_delivered_on_subscribe_with_get_retained() {
    let (mut net, [publisher]) = Net::joined([J]);
    net.publish(
        publisher,
        "status.a",
        args(J, &(1,)),
        Dict::new().with_retain(true),
    );
    net.publish(
        publisher,
        "status.a",
        args(J, &(2,)),
        Dict::new().with_retain(true),
    );
    net.publish(
        publisher,
        "status.b",
        args(J, &(3,)),
        Dict::new().with_retain(true),
    );
    net.publish(publisher, "status.c", args(J, &(4,)), Dict::new());
    let late = net.join(SerializerKind::MsgPack);
    // Without get_retained: nothing.
    net.subscribe(late, "status.a", Dict::new());
    assert!(net.deliveries(late).is_empty());
    // With it: the last retained event, marked as such.
    let other = net.join(SerializerKind::Cbor);
    net.subscribe(other, "status.a", Dict::new().with_get_retained(true));
    let got = net.deliveries(other);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].details.retained(), Some(true));
    assert_eq!(
        got[0]
            .payload
            .args::<(i64,)>()
            .expect("decodable arguments")
            .0,
        2
    );
    // A pattern subscription gets every matching retained topic.
    net.subscribe(
        other,
        "status.",
        Dict::new()
            .with_match_policy(MatchPolicy::Prefix)
            .with_get_retained(true),
    );
    assert_eq!(
        topic_args(&mut net, other),
        vec![("status.a".into(), 2), ("status.b".into(), 3)]
    );
}

#[test]
fn retained_events_respect_the_publish_eligibility() {
    let (mut net, [publisher, a, b]) = Net::joined([J, J, J]);
    let sb = net.session_id(b);
    net.publish(
        publisher,
        "t",
        Payload::empty(),
        Dict::new().with_retain(true).with_eligible([sb]),
    );
    net.subscribe(a, "t", Dict::new().with_get_retained(true));
    net.subscribe(b, "t", Dict::new().with_get_retained(true));
    assert!(net.deliveries(a).is_empty());
    assert_eq!(net.deliveries(b).len(), 1);
}

#[test]
fn retained_topics_are_bounded() {
    let (mut net, [publisher]) = Net::with_peers(
        realm1().limits(wamp_router::Limits {
            max_retained_events: 2,
            ..Default::default()
        }),
        [J],
    );
    for (i, t) in ["r.a", "r.b", "r.c"].iter().enumerate() {
        net.publish(publisher, t, args(J, &(i,)), Dict::new().with_retain(true));
    }
    let sub = net.join(J);
    net.subscribe(
        sub,
        "r.",
        Dict::new()
            .with_match_policy(MatchPolicy::Prefix)
            .with_get_retained(true),
    );
    let topics: Vec<String> = topic_args(&mut net, sub)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(topics, ["r.b", "r.c"], "the oldest topic was forgotten");
}

#[test]
fn events_arrive_in_publication_order_per_publisher_across_topics() {
    let (mut net, [sub, p1, p2]) = Net::joined([SerializerKind::Cbor, J, SerializerKind::MsgPack]);
    net.subscribe(sub, "x.", by_prefix());
    for i in 0..50i64 {
        let (p, t) = if i % 3 == 0 { (p2, "x.b") } else { (p1, "x.a") };
        let kind = net.peers[p].kind;
        net.s(p)
            .publish(uri(t), args(kind, &(i,)), Dict::new())
            .expect("the publish is accepted");
    }
    net.pump();
    let got: Vec<i64> = topic_args(&mut net, sub)
        .into_iter()
        .map(|(_, i)| i)
        .collect();
    let from_p1: Vec<i64> = got.iter().copied().filter(|i| i % 3 != 0).collect();
    let from_p2: Vec<i64> = got.iter().copied().filter(|i| i % 3 == 0).collect();
    assert!(from_p1.windows(2).all(|w| w[0] < w[1]));
    assert!(from_p2.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(got.len(), 50);
}

#[test]
fn unsubscribe_stops_events_and_unknown_subscriptions_are_errors() {
    let (mut net, [sub, other, publisher]) = Net::joined([J, J, J]);
    let id = net.subscribe(sub, "t", Dict::new());
    net.subscribe(other, "t", Dict::new());
    let request = net
        .s(sub)
        .unsubscribe(id)
        .expect("the unsubscribe is accepted");
    net.pump();
    assert!(matches!(net.reply(sub, request), Ok(Outcome::Unsubscribed)));
    net.publish(publisher, "t", Payload::empty(), Dict::new());
    assert!(net.deliveries(sub).is_empty());
    assert_eq!(net.deliveries(other).len(), 1);

    // A raw peer unsubscribing what it does not hold.
    let raw = net.open_raw(J);
    net.send_raw(
        raw,
        wamp_proto::message::Hello {
            realm: uri("realm1"),
            details: Dict::new().with_role("subscriber", []),
        },
    );
    net.recv_raw(raw);
    net.send_raw(
        raw,
        wamp_proto::message::Unsubscribe {
            request: wamp_proto::RequestId::new(1).expect("a valid value"),
            subscription: id,
            options: Dict::new(),
        },
    );
    match &net.recv_raw(raw)[..] {
        [wamp_proto::message::Message::Error(e)] => {
            assert_eq!(e.error, Uri::NO_SUCH_SUBSCRIPTION);
            assert_eq!(
                e.request_type,
                wamp_proto::message::MessageType::Unsubscribe
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn publishing_to_reserved_topics_is_refused() {
    let (mut net, [p]) = Net::joined([J]);
    let request = net.publish_acknowledged(p, "wamp.session.on_join");
    let r = net.settled(p, request);
    assert_eq!(error_uri(&r), Uri::INVALID_URI.as_str());
    assert!(error_message(&r).contains("reserved"));
}

#[test]
fn a_leaving_subscriber_stops_getting_events_and_others_continue() {
    let (mut net, [a, b, publisher]) = Net::joined([J, J, J]);
    net.subscribe(a, "t", Dict::new());
    net.subscribe(b, "t", Dict::new());
    net.drop_transport(a);
    net.publish(publisher, "t", Payload::empty(), Dict::new());
    assert_eq!(net.deliveries(b).len(), 1);
}

#[test]
fn subscriptions_per_session_are_bounded() {
    let (mut net, [a]) = Net::with_peers(
        realm1().limits(wamp_router::Limits {
            max_subscriptions_per_session: 2,
            ..Default::default()
        }),
        [J],
    );
    let first = net.subscribe(a, "t.1", Dict::new());
    net.subscribe(a, "t.2", Dict::new());
    // Subscribing again to one it holds is no new subscription.
    assert_eq!(net.subscribe(a, "t.1", Dict::new()), first);
    let r = net.try_subscribe(a, uri("t.3"), Dict::new());
    assert_eq!(error_uri(&r), Uri::UNAVAILABLE.as_str());
    assert!(
        error_message(&r).contains("subscriptions"),
        "{}",
        error_message(&r)
    );
    // Unsubscribing makes room.
    let request = net
        .s(a)
        .unsubscribe(first)
        .expect("the unsubscribe is accepted");
    let request2 = net
        .s(a)
        .unsubscribe(first)
        .expect("the unsubscribe is accepted");
    net.pump();
    assert!(net.reply(a, request).is_ok() && net.reply(a, request2).is_ok());
    net.subscribe(a, "t.3", Dict::new());
}
