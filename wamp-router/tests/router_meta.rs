//! The meta API the router serves: session, registration and subscription procedures
//! and events, and the testament.

#![allow(clippy::disallowed_methods)]

mod router_harness;

use router_harness::*;
use serde_json::{json, Value as Json};
use wamp_proto::session::{CloseReason, SessionConfig};
use wamp_proto::{serializer::SerializerKind, Dict, InvokePolicy, Payload, Uri};
use wamp_router::{Permission, RealmConfig, RoleConfig, RouterConfig};

const J: SerializerKind = SerializerKind::Json;

fn kw(kind: SerializerKind, a: impl serde::Serialize, k: Json) -> Payload {
    Payload::encode(kind, &a, &k).expect("encodable payload")
}

/// The (args as JSON) of every event a subscriber got, with the topic.
fn events_json(net: &mut Net, id: usize) -> Vec<(String, Json)> {
    net.deliveries(id)
        .into_iter()
        .map(|e| {
            (
                e.topic.to_string(),
                e.payload.args::<Json>().expect("decodable arguments"),
            )
        })
        .collect()
}

#[test]
fn session_count_list_and_get() {
    let (mut net, [a, b]) = Net::with_peers(
        RouterConfig::new().realm(
            RealmConfig::anonymous("realm1")
                .expect("a valid realm")
                .role(RoleConfig::new("user").permit(Permission::everything()))
                .ticket("joe", "user", "t"),
        ),
        [J, SerializerKind::Cbor],
    );
    let joe = net.join_with(
        SessionConfig::new(uri("realm1")).authenticator(wamp_proto::auth::Ticket::new("joe", "t")),
    );
    let conn = net.peers[joe].conn;
    let (sa, sb, sj) = (net.session_id(a), net.session_id(b), net.session_id(joe));
    let count: u64 = net
        .meta(a, "wamp.session.count", Payload::empty())
        .expect("the meta procedure answers");
    assert_eq!(count, 3);
    let users: u64 = net
        .meta(a, "wamp.session.count", args(J, &(["user"],)))
        .expect("the meta procedure answers");
    assert_eq!(users, 1);
    let mut list: Vec<u64> = net
        .meta(b, "wamp.session.list", Payload::empty())
        .expect("the meta procedure answers");
    list.sort();
    let mut expect = vec![sa.get(), sb.get(), sj.get()];
    expect.sort();
    assert_eq!(list, expect);
    let anon: Vec<u64> = net
        .meta(
            b,
            "wamp.session.list",
            args(SerializerKind::Cbor, &(["anonymous"],)),
        )
        .expect("the meta procedure answers");
    assert_eq!(anon.len(), 2);

    let details: Json = net
        .meta(a, "wamp.session.get", args(J, &(sj.get(),)))
        .expect("the meta procedure answers");
    assert_eq!(details["session"], sj.get());
    assert_eq!(details["authid"], "joe");
    assert_eq!(details["authrole"], "user");
    assert_eq!(details["authmethod"], "ticket");
    assert_eq!(details["authprovider"], "static");
    let _ = conn;

    let r = net.call(a, "wamp.session.get", args(J, &(12345,)), Dict::new());
    assert_eq!(error_uri(&r), "wamp.error.no_such_session");
    let r = net.call(a, "wamp.session.get", args(J, &("x",)), Dict::new());
    assert_eq!(error_uri(&r), Uri::INVALID_ARGUMENT.as_str());
}

#[test]
fn transport_details_appear_in_session_get() {
    let mut net = Net::new(realm1());
    let raw = net.open_raw(J);
    let conn = net.peers[raw].conn;
    net.router
        .set_transport_details(
            conn,
            [(
                "peer".to_owned(),
                wamp_proto::Value::from("tcp4:127.0.0.1:5555"),
            )]
            .into_iter()
            .collect(),
        )
        .expect("an open connection");
    net.send_raw(
        raw,
        wamp_proto::message::Hello {
            realm: uri("realm1"),
            details: Dict::new().with_role("caller", []),
        },
    );
    let session = match &net.recv_raw(raw)[..] {
        [wamp_proto::message::Message::Welcome(w)] => w.session,
        other => panic!("{other:?}"),
    };
    let a = net.join(J);
    let details: Json = net
        .meta(a, "wamp.session.get", args(J, &(session.get(),)))
        .expect("the meta procedure answers");
    assert_eq!(details["transport"]["peer"], "tcp4:127.0.0.1:5555");
}

#[test]
fn on_join_and_on_leave_events() {
    let (mut net, [watcher]) = Net::joined([J]);
    net.subscribe(watcher, "wamp.session.on_join", Dict::new());
    net.subscribe(watcher, "wamp.session.on_leave", Dict::new());
    let b = net.join(SerializerKind::MsgPack);
    let sb = net.session_id(b);
    let authid = net.authid(b);
    net.drop_transport(b);
    let got = events_json(&mut net, watcher);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, "wamp.session.on_join");
    let joined = &got[0].1[0];
    assert_eq!(joined["session"], sb.get());
    assert_eq!(joined["authid"], authid.as_str());
    assert_eq!(joined["authrole"], "anonymous");
    assert_eq!(joined["authmethod"], "anonymous");
    assert_eq!(
        got[1],
        (
            "wamp.session.on_leave".into(),
            json!([sb.get(), authid, "anonymous"])
        )
    );
}

#[test]
fn session_kill_sends_goodbye_to_the_target() {
    let (mut net, [admin, victim]) = Net::joined([J, J]);
    let sv = net.session_id(victim);
    let sa = net.session_id(admin);
    let r = net.call(
        admin,
        "wamp.session.kill",
        args(J, &(sv.get(),)),
        Dict::new(),
    );
    assert!(r.is_ok(), "{r:?}");
    match net.closed(victim) {
        Some(CloseReason::Goodbye {
            reason,
            local: false,
            message,
        }) => {
            assert_eq!(reason, Uri::CLOSE_NORMAL);
            assert_eq!(message, None);
        }
        other => panic!("{other:?}"),
    }
    let victim = net.join(J);
    let sv = net.session_id(victim);
    let r = net.call(
        admin,
        "wamp.session.kill",
        kw(
            J,
            (sv.get(),),
            json!({"reason": "com.app.banned", "message": "go away"}),
        ),
        Dict::new(),
    );
    assert!(r.is_ok());
    match net.closed(victim) {
        Some(CloseReason::Goodbye {
            reason, message, ..
        }) => {
            assert_eq!(reason, "com.app.banned");
            assert_eq!(message.as_deref(), Some("go away"));
        }
        other => panic!("{other:?}"),
    }
    // Not oneself; not with a bad reason.
    let r = net.call(
        admin,
        "wamp.session.kill",
        args(J, &(sa.get(),)),
        Dict::new(),
    );
    assert_eq!(error_uri(&r), "wamp.error.no_such_session");
    let other = net.join(J);
    let so = net.session_id(other);
    let r = net.call(
        admin,
        "wamp.session.kill",
        kw(J, (so.get(),), json!({"reason": "not a uri"})),
        Dict::new(),
    );
    assert_eq!(error_uri(&r), Uri::INVALID_URI.as_str());
    assert!(net.s(other).is_established());
}

#[test]
fn kill_by_authid_authrole_and_all_spare_the_caller() {
    let mut net = Net::new(
        RouterConfig::new().realm(
            RealmConfig::anonymous("realm1")
                .expect("a valid realm")
                .role(RoleConfig::new("user").permit(Permission::everything()))
                .ticket("joe", "user", "t"),
        ),
    );
    let joe = || {
        SessionConfig::new(uri("realm1")).authenticator(wamp_proto::auth::Ticket::new("joe", "t"))
    };
    let j1 = net.join_with(joe());
    let j2 = net.join_with(joe());
    let j3 = net.join_with(joe());
    let anon = net.join(J);
    let n: u64 = net
        .meta(j1, "wamp.session.kill_by_authid", args(J, &("joe",)))
        .expect("the meta procedure answers");
    assert_eq!(n, 2);
    assert!(net.s(j1).is_established());
    assert!(net.closed(j2).is_some() && net.closed(j3).is_some());
    assert!(net.s(anon).is_established());
    let j4 = net.join_with(joe());
    let n: u64 = net
        .meta(
            j1,
            "wamp.session.kill_by_authrole",
            args(J, &("anonymous",)),
        )
        .expect("the meta procedure answers");
    assert_eq!(n, 1);
    assert!(net.closed(anon).is_some());
    let a2 = net.join(J);
    let n: u64 = net
        .meta(a2, "wamp.session.kill_all", Payload::empty())
        .expect("the meta procedure answers");
    assert_eq!(n, 2);
    assert!(net.closed(j4).is_some() && net.closed(j1).is_some());
    assert!(net.s(a2).is_established());
}

#[test]
fn registration_meta_procedures_and_events() {
    let (mut net, [watcher]) = Net::joined([J]);
    for t in ["on_create", "on_register", "on_unregister", "on_delete"] {
        net.subscribe(watcher, &format!("wamp.registration.{t}"), Dict::new());
    }
    let c1 = net.join(J);
    let c2 = net.join(J);
    let (s1, s2) = (net.session_id(c1), net.session_id(c2));
    let rr = Dict::new().with_invoke(InvokePolicy::RoundRobin);
    let exact = net.register(c1, "com.x", rr.clone());
    net.register(c2, "com.x", rr);
    let prefix = net.register(c1, "com.", by_prefix());
    let wild = net.register(c2, "com..y", by_wildcard());

    let got = events_json(&mut net, watcher);
    assert_eq!(got[0].0, "wamp.registration.on_create");
    assert_eq!(got[0].1[0], s1.get());
    assert_eq!(
        got[0].1[1],
        json!({"id": exact.get(), "uri": "com.x", "match": "exact", "invoke": "roundrobin"})
    );
    assert_eq!(
        got[1],
        (
            "wamp.registration.on_register".into(),
            json!([s1.get(), exact.get()])
        )
    );
    assert_eq!(
        got[2],
        (
            "wamp.registration.on_register".into(),
            json!([s2.get(), exact.get()])
        )
    );
    assert_eq!(got.len(), 7);

    let list: Json = net
        .meta(watcher, "wamp.registration.list", Payload::empty())
        .expect("the meta procedure answers");
    assert_eq!(
        list,
        json!({"exact": [exact.get()], "prefix": [prefix.get()], "wildcard": [wild.get()]})
    );
    let lookup: Option<u64> = net
        .meta(watcher, "wamp.registration.lookup", args(J, &("com.x",)))
        .expect("the meta procedure answers");
    assert_eq!(lookup, Some(exact.get()));
    let lookup: Option<u64> = net
        .meta(
            watcher,
            "wamp.registration.lookup",
            args(J, &("com.", json!({"match": "prefix"}))),
        )
        .expect("the meta procedure answers");
    assert_eq!(lookup, Some(prefix.get()));
    let lookup: Option<u64> = net
        .meta(watcher, "wamp.registration.lookup", args(J, &("com.",)))
        .expect("the meta procedure answers");
    assert_eq!(lookup, None);
    for (procedure, expect) in [
        ("com.x", Some(exact.get())),
        ("com.z.y", Some(prefix.get())),
        ("org.z.y", None),
    ] {
        let m: Option<u64> = net
            .meta(watcher, "wamp.registration.match", args(J, &(procedure,)))
            .expect("the meta procedure answers");
        assert_eq!(m, expect, "{procedure}");
    }
    let get: Json = net
        .meta(watcher, "wamp.registration.get", args(J, &(wild.get(),)))
        .expect("the meta procedure answers");
    assert_eq!(get["uri"], "com..y");
    assert_eq!(get["match"], "wildcard");
    assert_eq!(get["invoke"], "single");
    let callees: Vec<u64> = net
        .meta(
            watcher,
            "wamp.registration.list_callees",
            args(J, &(exact.get(),)),
        )
        .expect("the meta procedure answers");
    assert_eq!(callees, vec![s1.get(), s2.get()]);
    let n: u64 = net
        .meta(
            watcher,
            "wamp.registration.count_callees",
            args(J, &(exact.get(),)),
        )
        .expect("the meta procedure answers");
    assert_eq!(n, 2);
    let r = net.call(
        watcher,
        "wamp.registration.get",
        args(J, &(999_999,)),
        Dict::new(),
    );
    assert_eq!(error_uri(&r), Uri::NO_SUCH_REGISTRATION.as_str());

    // c2 leaves: unregistered from com.x (which stays), com..y deleted.
    net.drop_transport(c2);
    let got = events_json(&mut net, watcher);
    assert_eq!(
        got,
        vec![
            (
                "wamp.registration.on_unregister".into(),
                json!([s2.get(), exact.get()])
            ),
            (
                "wamp.registration.on_unregister".into(),
                json!([s2.get(), wild.get()])
            ),
            (
                "wamp.registration.on_delete".into(),
                json!([s2.get(), wild.get()])
            ),
        ]
    );
}

#[test]
fn subscription_meta_procedures_and_events() {
    let (mut net, [watcher]) = Net::joined([J]);
    for t in ["on_create", "on_subscribe", "on_unsubscribe", "on_delete"] {
        net.subscribe(watcher, &format!("wamp.subscription.{t}"), Dict::new());
    }
    assert!(
        net.deliveries(watcher).is_empty(),
        "meta topics raise no meta events"
    );
    let a = net.join(J);
    let b = net.join(J);
    let (sa, sb) = (net.session_id(a), net.session_id(b));
    let exact = net.subscribe(a, "com.t", Dict::new());
    net.subscribe(b, "com.t", Dict::new());
    let prefix = net.subscribe(b, "com.", by_prefix());
    let got = events_json(&mut net, watcher);
    assert_eq!(got[0].0, "wamp.subscription.on_create");
    assert_eq!(
        got[0].1,
        json!([sa.get(), {"id": exact.get(), "uri": "com.t", "match": "exact"}])
    );
    assert_eq!(
        got[1],
        (
            "wamp.subscription.on_subscribe".into(),
            json!([sa.get(), exact.get()])
        )
    );
    assert_eq!(
        got[2],
        (
            "wamp.subscription.on_subscribe".into(),
            json!([sb.get(), exact.get()])
        )
    );
    assert_eq!(got[3].0, "wamp.subscription.on_create");
    assert_eq!(got.len(), 5);

    let list: Json = net
        .meta(watcher, "wamp.subscription.list", Payload::empty())
        .expect("the meta procedure answers");
    assert_eq!(list["exact"].as_array().map(Vec::len), Some(5), "{list}");
    assert_eq!(list["prefix"], json!([prefix.get()]));
    let m: Option<Vec<u64>> = net
        .meta(watcher, "wamp.subscription.match", args(J, &("com.t",)))
        .expect("the meta procedure answers");
    assert_eq!(m, Some(vec![exact.get(), prefix.get()]));
    let m: Option<Vec<u64>> = net
        .meta(watcher, "wamp.subscription.match", args(J, &("org.t",)))
        .expect("the meta procedure answers");
    assert_eq!(m, None);
    let lookup: Option<u64> = net
        .meta(
            watcher,
            "wamp.subscription.lookup",
            args(J, &("com.", json!({"match": "prefix"}))),
        )
        .expect("the meta procedure answers");
    assert_eq!(lookup, Some(prefix.get()));
    let get: Json = net
        .meta(watcher, "wamp.subscription.get", args(J, &(exact.get(),)))
        .expect("the meta procedure answers");
    assert_eq!(
        get,
        json!({"id": exact.get(), "uri": "com.t", "match": "exact"})
    );
    let subs: Vec<u64> = net
        .meta(
            watcher,
            "wamp.subscription.list_subscribers",
            args(J, &(exact.get(),)),
        )
        .expect("the meta procedure answers");
    let mut expect = vec![sa.get(), sb.get()];
    expect.sort();
    assert_eq!(subs, expect);
    let n: u64 = net
        .meta(
            watcher,
            "wamp.subscription.count_subscribers",
            args(J, &(exact.get(),)),
        )
        .expect("the meta procedure answers");
    assert_eq!(n, 2);
    let r = net.call(
        watcher,
        "wamp.subscription.get",
        args(J, &(999_999,)),
        Dict::new(),
    );
    assert_eq!(error_uri(&r), Uri::NO_SUCH_SUBSCRIPTION.as_str());

    let request = net
        .s(a)
        .unsubscribe(exact)
        .expect("the unsubscribe is accepted");
    assert!(net.settled(a, request).is_ok());
    net.drop_transport(b);
    let got = events_json(&mut net, watcher);
    assert_eq!(
        got,
        vec![
            (
                "wamp.subscription.on_unsubscribe".into(),
                json!([sa.get(), exact.get()])
            ),
            (
                "wamp.subscription.on_unsubscribe".into(),
                json!([sb.get(), exact.get()])
            ),
            (
                "wamp.subscription.on_delete".into(),
                json!([sb.get(), exact.get()])
            ),
            (
                "wamp.subscription.on_unsubscribe".into(),
                json!([sb.get(), prefix.get()])
            ),
            (
                "wamp.subscription.on_delete".into(),
                json!([sb.get(), prefix.get()])
            ),
        ]
    );
}

#[test]
fn testaments_are_published_when_the_session_goes_away() {
    for kind in SerializerKind::ALL {
        let (mut net, [watcher]) = Net::joined([J]);
        net.subscribe(watcher, "com.app.gone", Dict::new());
        let dying = net.join(kind);
        for (text, scope) in [
            ("destroyed-1", None),
            ("detached-1", Some("detached")),
            ("destroyed-2", None),
        ] {
            let mut k = json!({});
            if let Some(s) = scope {
                k = json!({"scope": s});
            }
            let r = net.call(
                dying,
                "wamp.session.add_testament",
                kw(kind, ("com.app.gone", [text], json!({"who": "dying"})), k),
                Dict::new(),
            );
            assert!(r.is_ok(), "{r:?}");
        }
        assert!(net.deliveries(watcher).is_empty());
        net.drop_transport(dying);
        let got: Vec<(String, Json)> = net
            .deliveries(watcher)
            .into_iter()
            .map(|e| {
                let (t,): (String,) = e.payload.args().expect("decodable arguments");
                (
                    t,
                    e.payload
                        .kwargs::<Json>()
                        .expect("decodable keyword arguments"),
                )
            })
            .collect();
        // Detached ones first, then destroyed ones, each in the order added.
        let texts: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            texts,
            ["detached-1", "destroyed-1", "destroyed-2"],
            "{kind}"
        );
        assert_eq!(got[0].1, json!({"who": "dying"}));
    }
}

#[test]
fn testaments_can_be_flushed_and_obey_publish_options() {
    let (mut net, [a, b]) = Net::joined([J, J]);
    net.subscribe(a, "t", Dict::new());
    net.subscribe(b, "t", Dict::new());
    let sb = net.session_id(b);
    let dying = net.join(J);
    net.call(
        dying,
        "wamp.session.add_testament",
        args(J, &("t", ["flushed"], json!({}))),
        Dict::new(),
    )
    .expect("the call is accepted");
    net.call(
        dying,
        "wamp.session.flush_testaments",
        Payload::empty(),
        Dict::new(),
    )
    .expect("the call is accepted");
    net.call(
        dying,
        "wamp.session.add_testament",
        kw(
            J,
            ("t", ["only b"], json!({})),
            json!({"publish_options": {"eligible": [sb.get()]}}),
        ),
        Dict::new(),
    )
    .expect("the call is accepted");
    // Flushing the other scope leaves it.
    net.call(
        dying,
        "wamp.session.flush_testaments",
        kw(J, (), json!({"scope": "detached"})),
        Dict::new(),
    )
    .expect("the call is accepted");
    let s = net.session_id(dying);
    net.call(a, "wamp.session.kill", args(J, &(s.get(),)), Dict::new())
        .expect("the call is accepted");
    assert!(net.deliveries(a).is_empty());
    let got = net.deliveries(b);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0]
            .payload
            .args::<(String,)>()
            .expect("decodable arguments")
            .0,
        "only b"
    );
}

#[test]
fn testament_refusals() {
    let (mut net, [a]) = Net::with_peers(
        RouterConfig::new()
            .realm(
                RealmConfig::new("realm1")
                    .expect("a valid value")
                    .role(
                        RoleConfig::new("anonymous")
                            .permit(Permission::prefix("wamp.", wamp_router::Allow::ALL))
                            .permit(Permission::prefix("open.", wamp_router::Allow::ALL)),
                    )
                    .allow_anonymous("anonymous"),
            )
            .limits(wamp_router::Limits {
                max_testaments: 2,
                ..Default::default()
            }),
        [J],
    );
    let add = |net: &mut Net, topic: &str| {
        net.call(
            a,
            "wamp.session.add_testament",
            args(J, &(topic, [1], json!({}))),
            Dict::new(),
        )
    };
    assert_eq!(
        error_uri(&add(&mut net, "closed.t")),
        Uri::NOT_AUTHORIZED.as_str()
    );
    assert_eq!(
        error_uri(&add(&mut net, "wamp.x")),
        Uri::INVALID_URI.as_str()
    );
    assert!(add(&mut net, "open.t").is_ok());
    assert!(add(&mut net, "open.t").is_ok());
    let r = add(&mut net, "open.t");
    assert_eq!(error_uri(&r), Uri::INVALID_ARGUMENT.as_str());
    assert!(error_message(&r).contains("testaments"));
    let r = net.call(
        a,
        "wamp.session.add_testament",
        kw(J, ("open.t", [1], json!({})), json!({"scope": "forever"})),
        Dict::new(),
    );
    assert_eq!(error_uri(&r), Uri::INVALID_ARGUMENT.as_str());
}

#[test]
fn a_realm_without_the_meta_api_has_no_meta_procedures_or_events() {
    let mut realm = RealmConfig::anonymous("realm1").expect("a valid realm");
    realm.meta_api = false;
    let (mut net, [a]) = Net::with_peers(RouterConfig::new().realm(realm), [J]);
    assert!(!net.s(a).router_supports("dealer", "registration_meta_api"));
    assert!(!net.s(a).router_supports("broker", "session_meta_api"));
    net.subscribe(a, "wamp.session.on_join", Dict::new());
    net.join(J);
    assert!(net.deliveries(a).is_empty());
    let r = net.call(a, "wamp.session.count", Payload::empty(), Dict::new());
    assert_eq!(error_uri(&r), Uri::NO_SUCH_PROCEDURE.as_str());
}
