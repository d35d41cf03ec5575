//! Dynamic authentication: a session registers the authenticator procedure, the router
//! calls it as Crossbar.io does (`realm, authid, details`) while a client joins, and its
//! answer (or its error, or its silence) decides. Driven with in-memory client sessions.

#![allow(clippy::disallowed_methods)]

mod router_harness;

use router_harness::*;
use wamp_proto::auth::{Anonymous, ClientAuthenticator, Cryptosign, Ticket, WampCra};
use wamp_proto::session::{CloseReason, InvocationEvent, SessionConfig, SessionEvent};
use wamp_proto::{serializer::SerializerKind, Dict, Map, Payload, Uri, Value};
use wamp_router::{Authenticator, ConfigError, Router, RouterConfig};

const J: SerializerKind = SerializerKind::Json;
const PROCEDURE: &str = "com.example.authenticate";

/// `realm1` with roles `user` and `backend`; the backend joins anonymously, `method`
/// is decided by the authenticator.
fn config(method: &str) -> RouterConfig {
    let mut realm = permissive_realm1(&["user", "backend"]).allow_anonymous("backend");
    let a = Some(Authenticator::new(PROCEDURE).expect("a valid URI"));
    let dynamic = &mut realm.auth.authenticators;
    match method {
        "ticket" => dynamic.ticket = a,
        "wampcra" => dynamic.wampcra = a,
        "cryptosign" => dynamic.cryptosign = a,
        other => panic!("{other}"),
    }
    RouterConfig::new().realm(realm)
}

/// A network with the authenticator's session joined and registered.
fn with_authenticator(config: RouterConfig) -> (Net, usize) {
    let mut net = Net::new(config);
    let backend = net.join(J);
    net.register(backend, PROCEDURE, Dict::new());
    (net, backend)
}

fn client(auth: impl ClientAuthenticator + 'static) -> SessionConfig {
    SessionConfig::new(uri("realm1"))
        .serializer(J)
        .authenticator(auth)
}

/// The authenticator's invocation: its three arguments.
fn question(net: &mut Net, backend: usize) -> (InvocationEvent, Vec<Value>) {
    let inv = net.invocation(backend);
    let args = inv.payload.args_values().expect("decodable arguments");
    (inv, args)
}

fn answer(net: &mut Net, backend: usize, inv: &InvocationEvent, value: Value) {
    net.yield_now(
        backend,
        inv.request,
        Dict::new(),
        Payload::from_values(vec![value], Map::new()),
    );
}

/// The client's outcome: (authid, authrole, authprovider) or the ABORT.
fn outcome(net: &mut Net, p: usize) -> Result<(String, String, String), (Uri, String)> {
    match net.peers[p].events.pop_front() {
        Some(SessionEvent::Joined(j)) => Ok((
            j.authid().unwrap_or_default().to_owned(),
            j.authrole().unwrap_or_default().to_owned(),
            j.details
                .get_str("authprovider")
                .unwrap_or_default()
                .to_owned(),
        )),
        Some(SessionEvent::Closed(CloseReason::Aborted { reason, message })) => {
            Err((reason, message.unwrap_or_default()))
        }
        other => panic!("{other:?}"),
    }
}

fn map(pairs: &[(&str, Value)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

#[test]
fn a_ticket_is_judged_by_the_authenticator_with_crossbars_arguments() {
    let (mut net, backend) = with_authenticator(config("ticket"));
    let p = net.connect(client(Ticket::new("joe", "secret!!!")));
    let (inv, args) = question(&mut net, backend);
    let [realm, authid, Value::Map(details)] = &args[..] else {
        panic!("(realm, authid, details): {args:?}")
    };
    assert_eq!(
        (realm.as_str(), authid.as_str()),
        (Some("realm1"), Some("joe"))
    );
    assert_eq!(
        details.get("ticket").and_then(Value::as_str),
        Some("secret!!!")
    );
    assert_eq!(
        details.get("authmethod").and_then(Value::as_str),
        Some("ticket")
    );
    assert!(
        details.get("session").and_then(Value::as_u64).is_some(),
        "{details:?}"
    );
    assert!(
        matches!(details.get("transport"), Some(Value::Map(_))),
        "{details:?}"
    );
    // A role, an authid of the authenticator's choosing and WELCOME's authextra.
    let extra = map(&[("tier", Value::from("gold"))]);
    answer(
        &mut net,
        backend,
        &inv,
        map(&[
            ("role", Value::from("user")),
            ("authid", Value::from("joe@example")),
            ("extra", extra),
        ]),
    );
    assert_eq!(
        outcome(&mut net, p),
        Ok(("joe@example".into(), "user".into(), "dynamic".into()))
    );
    // Just a role, as a string: the claimed authid stays.
    let p = net.connect(client(Ticket::new("ann", "t")));
    let (inv, _) = question(&mut net, backend);
    answer(&mut net, backend, &inv, Value::from("user"));
    assert_eq!(
        outcome(&mut net, p),
        Ok(("ann".into(), "user".into(), "dynamic".into()))
    );
}

#[test]
fn the_authenticators_error_refuses_with_its_uri_and_message() {
    let (mut net, backend) = with_authenticator(config("ticket"));
    let p = net.connect(client(Ticket::new("joe", "wrong")));
    let (inv, _) = question(&mut net, backend);
    net.s(backend)
        .invocation_error(
            inv.request,
            uri("com.example.invalid_ticket"),
            Dict::new(),
            Payload::from_values(vec![Value::from("that ticket is not joe's")], Map::new()),
        )
        .expect("the error is accepted");
    net.pump();
    assert_eq!(
        outcome(&mut net, p),
        Err((
            uri("com.example.invalid_ticket"),
            "that ticket is not joe's".into()
        ))
    );
    // A role the realm lacks, or an answer that is no answer.
    for (reply, reason, needle) in [
        (Value::from("admin"), Uri::NO_SUCH_ROLE, "\"admin\""),
        (
            Value::UInt(7),
            Uri::AUTHENTICATION_FAILED,
            "not a role or a dictionary",
        ),
        (
            map(&[("authid", Value::from("x"))]),
            Uri::AUTHENTICATION_FAILED,
            "no role",
        ),
    ] {
        let p = net.connect(client(Ticket::new("joe", "t")));
        let (inv, _) = question(&mut net, backend);
        answer(&mut net, backend, &inv, reply);
        let (got, why) = outcome(&mut net, p).expect_err("refused");
        assert_eq!(got, reason, "{why}");
        assert!(why.contains(needle), "{why}");
    }
}

#[test]
fn a_missing_silent_or_vanishing_authenticator_refuses_in_bounded_time() {
    // Nobody registered it.
    let mut net = Net::new(config("ticket"));
    let p = net.connect(client(Ticket::new("joe", "t")));
    let (reason, why) = outcome(&mut net, p).expect_err("refused");
    assert_eq!(reason, Uri::AUTHENTICATION_FAILED);
    assert!(
        why.contains(PROCEDURE) && why.contains("no callee"),
        "{why}"
    );
    // It never answers: the authenticator timeout (5 s) ends the wait.
    let (mut net, backend) = with_authenticator(config("ticket"));
    let p = net.connect(client(Ticket::new("joe", "t")));
    let _ = question(&mut net, backend);
    net.advance(secs(4));
    assert!(net.peers[p].events.is_empty());
    net.advance(secs(2));
    let (reason, why) = outcome(&mut net, p).expect_err("refused");
    assert_eq!(reason, Uri::AUTHENTICATION_FAILED, "{why}");
    // It leaves mid-question.
    let p = net.connect(client(Ticket::new("joe", "t")));
    let _ = question(&mut net, backend);
    net.drop_transport(backend);
    let (_, why) = outcome(&mut net, p).expect_err("refused");
    assert!(why.contains("left before answering"), "{why}");
}

#[test]
fn wampcra_and_cryptosign_take_their_secret_and_key_from_the_authenticator() {
    let (mut net, backend) = with_authenticator(config("wampcra"));
    let p = net.connect(client(WampCra::new("peter", "s3cret")));
    let (inv, args) = question(&mut net, backend);
    assert_eq!(args[1].as_str(), Some("peter"));
    answer(
        &mut net,
        backend,
        &inv,
        map(&[
            ("secret", Value::from("s3cret")),
            ("role", Value::from("user")),
            ("salt", Value::from("salt")),
            ("iterations", Value::UInt(10)),
            ("keylen", Value::UInt(32)),
        ]),
    );
    assert_eq!(
        outcome(&mut net, p),
        Ok(("peter".into(), "user".into(), "dynamic".into()))
    );
    // The wrong secret fails the CHALLENGE.
    let p = net.connect(client(WampCra::new("peter", "guess")));
    let (inv, _) = question(&mut net, backend);
    answer(
        &mut net,
        backend,
        &inv,
        map(&[
            ("secret", Value::from("s3cret")),
            ("role", Value::from("user")),
        ]),
    );
    assert_eq!(
        outcome(&mut net, p).expect_err("refused").0,
        Uri::NOT_AUTHORIZED
    );

    let seed = [9u8; 32];
    let key = Cryptosign::new(None, seed).public_key_hex();
    let (mut net, backend) = with_authenticator(config("cryptosign"));
    let p = net.connect(client(Cryptosign::new(Some("ann".into()), seed)));
    let (inv, args) = question(&mut net, backend);
    let Value::Map(details) = &args[2] else {
        panic!("{args:?}")
    };
    let offered = details.get("authextra").and_then(|e| match e {
        Value::Map(m) => m.get("pubkey").and_then(Value::as_str),
        _ => None,
    });
    assert_eq!(offered, Some(key.as_str()));
    answer(
        &mut net,
        backend,
        &inv,
        map(&[
            ("pubkey", Value::from(key.as_str())),
            ("role", Value::from("user")),
        ]),
    );
    assert_eq!(
        outcome(&mut net, p),
        Ok(("ann".into(), "user".into(), "dynamic".into()))
    );
    // The authenticator vouches for another key: refused.
    let p = net.connect(client(Cryptosign::new(Some("ann".into()), seed)));
    let (inv, _) = question(&mut net, backend);
    let other = Cryptosign::new(None, [1u8; 32]).public_key_hex();
    answer(
        &mut net,
        backend,
        &inv,
        map(&[
            ("pubkey", Value::from(other.as_str())),
            ("role", Value::from("user")),
        ]),
    );
    assert_eq!(
        outcome(&mut net, p).expect_err("refused").0,
        Uri::NOT_AUTHORIZED
    );
}

#[test]
fn the_authenticator_may_live_on_another_realm_and_send_the_session_elsewhere() {
    let mut config = config("ticket");
    let realm = &mut config.realms[0];
    realm.auth.authenticators.ticket = Some(
        Authenticator::new(PROCEDURE)
            .and_then(|a| a.on_realm("auth"))
            .expect("valid URIs"),
    );
    let auth_realm = permissive_realm1(&["backend"]).allow_anonymous("backend");
    let mut auth_realm = auth_realm;
    auth_realm.name = uri("auth");
    let mut other = permissive_realm1(&["user"]);
    other.name = uri("realm2");
    let mut net = Net::new(config.realm(auth_realm).realm(other));
    let backend = net.join_with(SessionConfig::new(uri("auth")).serializer(J));
    net.register(backend, PROCEDURE, Dict::new());
    let p = net.connect(client(Ticket::new("joe", "t")));
    let (inv, args) = question(&mut net, backend);
    assert_eq!(
        args[0].as_str(),
        Some("realm1"),
        "the realm the client asked for"
    );
    answer(
        &mut net,
        backend,
        &inv,
        map(&[
            ("role", Value::from("user")),
            ("realm", Value::from("realm2")),
        ]),
    );
    match net.peers[p].events.pop_front() {
        Some(SessionEvent::Joined(j)) => assert_eq!(j.details.get_str("realm"), Some("realm2")),
        other => panic!("{other:?}"),
    }
    // Anonymous clients still join realm1 by its static rule.
    let anonymous = net.connect(client(Anonymous::new()));
    assert!(matches!(
        net.peers[anonymous].events.pop_front(),
        Some(SessionEvent::Joined(_))
    ));
}

#[test]
fn a_method_cannot_be_both_static_and_dynamic() {
    let mut config = config("ticket");
    config.realms[0] = config.realms[0].clone().ticket("joe", "user", "t");
    let rng = Box::new(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1));
    let err = Router::new(config, rng).expect_err("both");
    assert!(
        matches!(
            err,
            ConfigError::StaticAndDynamic {
                method: "ticket",
                ..
            }
        ),
        "{err}"
    );
}

// ---- dynamic authorization ------------------------------------------------------

const AUTHORIZER: &str = "com.example.authorize";

/// `realm1`: the backend joins anonymously and may do everything; `joe` (ticket) has
/// role `user`, which the authorizer decides for. The backend has registered the
/// authorizer and `com.example.echo`. Input holds are honoured.
fn authorizing() -> (Net, usize, usize) {
    let realm = permissive_realm1(&["backend"])
        .role(wamp_router::RoleConfig::dynamic("user", uri(AUTHORIZER)))
        .allow_anonymous("backend")
        .ticket("joe", "user", "t");
    let mut net = Net::new(RouterConfig::new().realm(realm));
    net.backpressure = true;
    let backend = net.join(J);
    net.register(backend, AUTHORIZER, Dict::new());
    net.register(backend, "com.example.echo", Dict::new());
    let user = net.join_with(client(Ticket::new("joe", "t")));
    (net, backend, user)
}

/// `user` subscribes to `topic` with `options`, and the authorizer (registered by
/// `backend`) is asked: the request, the question and its arguments.
fn subscribe_asked(
    net: &mut Net,
    (user, backend): (usize, usize),
    topic: &str,
    options: Dict,
) -> (wamp_proto::RequestId, InvocationEvent, Vec<Value>) {
    let request = net
        .s(user)
        .subscribe(uri(topic), options)
        .expect("subscribe");
    net.pump();
    let (inv, args) = question(net, backend);
    (request, inv, args)
}

#[test]
fn the_authorizer_decides_each_request_of_its_role_as_crossbar_calls_it() {
    let (mut net, backend, user) = authorizing();
    let (subscribe, inv, args) =
        subscribe_asked(&mut net, (user, backend), "com.news", Dict::new());
    let [Value::Map(session), topic, action, Value::Map(_options)] = &args[..] else {
        panic!("(session, uri, action, options): {args:?}")
    };
    assert_eq!(session.get("authid").and_then(Value::as_str), Some("joe"));
    assert_eq!(
        session.get("authrole").and_then(Value::as_str),
        Some("user")
    );
    assert_eq!(
        (topic.as_str(), action.as_str()),
        (Some("com.news"), Some("subscribe"))
    );
    assert!(
        !net.answered(user, subscribe),
        "the SUBSCRIBE waits for the decision"
    );
    answer(&mut net, backend, &inv, Value::Bool(true));
    assert!(matches!(
        net.reply(user, subscribe),
        Ok(wamp_proto::session::Outcome::Subscribed(_))
    ));

    // Denied: not_authorized, with the reason.
    let publish = net.publish_acknowledged(user, "com.secret");
    net.pump();
    let (inv, args) = question(&mut net, backend);
    assert_eq!(args[2].as_str(), Some("publish"));
    answer(&mut net, backend, &inv, Value::Bool(false));
    match net.reply(user, publish) {
        Err(wamp_proto::session::RequestError::Wamp { error, .. }) => {
            assert_eq!(error, Uri::NOT_AUTHORIZED)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn later_messages_wait_behind_an_undecided_one_and_decisions_may_be_cached() {
    let (mut net, backend, user) = authorizing();
    // Two requests at once: the second is asked about only after the first is decided,
    // and both are answered in order.
    let first = net
        .s(user)
        .subscribe(uri("com.a"), Dict::new())
        .expect("subscribe");
    let (second, inv, args) = subscribe_asked(&mut net, (user, backend), "com.b", Dict::new());
    assert_eq!(args[1].as_str(), Some("com.a"));
    let cached = map(&[("allow", Value::Bool(true)), ("cache", Value::Bool(true))]);
    answer(&mut net, backend, &inv, cached.clone());
    assert!(net.answered(user, first));
    let (inv, args) = question(&mut net, backend);
    assert_eq!(args[1].as_str(), Some("com.b"));
    answer(&mut net, backend, &inv, Value::Bool(true));
    assert!(net.answered(user, second));

    // A cached decision is not asked again; an uncached one is.
    let echo = || Payload::from_values(vec![], Map::new());
    let call = net.start_call(user, "com.example.echo", echo(), Dict::new());
    let (inv, _) = question(&mut net, backend);
    let disclose = map(&[
        ("allow", Value::Bool(true)),
        ("cache", Value::Bool(true)),
        ("disclose", Value::Bool(true)),
    ]);
    answer(&mut net, backend, &inv, disclose);
    // The authorizer said disclose: the callee learns who calls.
    let invocation = net.invocation(backend);
    assert_eq!(invocation.details.caller_authid(), Some("joe"));
    net.yield_now(backend, invocation.request, Dict::new(), echo());
    assert!(net.reply(user, call).is_ok());
    let call = net.start_call(user, "com.example.echo", echo(), Dict::new());
    let invocation = net.invocation(backend);
    assert_eq!(
        invocation.procedure.as_str(),
        "com.example.echo",
        "no question this time"
    );
    net.yield_now(backend, invocation.request, Dict::new(), echo());
    assert!(net.reply(user, call).is_ok());
    let (again, inv, args) = subscribe_asked(&mut net, (user, backend), "com.b", Dict::new());
    assert_eq!(args[1].as_str(), Some("com.b"), "com.b was not cached");
    answer(&mut net, backend, &inv, Value::Bool(true));
    assert!(net.answered(user, again));
}

#[test]
fn a_failing_or_missing_authorizer_denies_with_the_reason() {
    let (mut net, backend, user) = authorizing();
    let call = net.start_call(user, "com.example.echo", Payload::empty(), Dict::new());
    let (inv, _) = question(&mut net, backend);
    net.s(backend)
        .invocation_error(
            inv.request,
            uri("com.example.broken"),
            Dict::new(),
            Payload::empty(),
        )
        .expect("the error is accepted");
    net.pump();
    match net.reply(user, call) {
        Err(wamp_proto::session::RequestError::Wamp { error, payload, .. }) => {
            assert_eq!(error, Uri::NOT_AUTHORIZED);
            let why: Vec<String> = payload.args().expect("a message");
            assert!(why[0].contains("com.example.broken"), "{why:?}");
        }
        other => panic!("{other:?}"),
    }
    // The authorizer's session leaves: requests are denied, not held forever.
    net.drop_transport(backend);
    let call = net.start_call(user, "com.example.echo", Payload::empty(), Dict::new());
    match net.reply(user, call) {
        Err(wamp_proto::session::RequestError::Wamp { error, payload, .. }) => {
            assert_eq!(error, Uri::NOT_AUTHORIZED);
            let why: Vec<String> = payload.args().expect("a message");
            assert!(why[0].contains("could not be called"), "{why:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_role_cannot_have_both_permissions_and_an_authorizer() {
    let role = wamp_router::RoleConfig::dynamic("user", uri(AUTHORIZER))
        .permit(wamp_router::Permission::everything());
    let config = RouterConfig::new().realm(permissive_realm1(&[]).role(role));
    let rng = Box::new(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1));
    let err = Router::new(config, rng).expect_err("both");
    assert!(
        matches!(err, ConfigError::PermissionsAndAuthorizer { .. }),
        "{err}"
    );
}

/// Review findings: a cached decision about an exact URI does not stand for a pattern;
/// an authorizer that asked for forwarded timeouts is still bounded; a session that
/// leaves while its request waits does not keep its connection's input held.
#[test]
fn patterns_are_asked_about_silence_is_bounded_and_leaving_releases_the_hold() {
    let (mut net, backend, user) = authorizing();
    let (first, inv, _) = subscribe_asked(&mut net, (user, backend), "com.a", Dict::new());
    let cached = map(&[("allow", Value::Bool(true)), ("cache", Value::Bool(true))]);
    answer(&mut net, backend, &inv, cached);
    assert!(net.answered(user, first));
    let prefix = Dict::new().with("match", "prefix");
    let (pattern, inv, args) = subscribe_asked(&mut net, (user, backend), "com.a", prefix);
    let Value::Map(options) = &args[3] else {
        panic!("{args:?}")
    };
    assert_eq!(options.get("match").and_then(Value::as_str), Some("prefix"));
    answer(&mut net, backend, &inv, Value::Bool(false));
    assert!(
        net.reply(user, pattern).is_err(),
        "denied, not taken from the cache"
    );

    // The authorizer's registration asks for forwarded timeouts, and it never answers.
    let realm = permissive_realm1(&["backend"])
        .role(wamp_router::RoleConfig::dynamic("user", uri(AUTHORIZER)))
        .allow_anonymous("backend")
        .ticket("joe", "user", "t");
    let mut net2 = Net::new(RouterConfig::new().realm(realm));
    net2.backpressure = true;
    let backend2 = net2.join(J);
    net2.register(
        backend2,
        AUTHORIZER,
        Dict::new().with("forward_timeout", true),
    );
    let user2 = net2.join_with(client(Ticket::new("joe", "t")));
    let request = net2
        .s(user2)
        .subscribe(uri("com.x"), Dict::new())
        .expect("subscribe");
    net2.pump();
    let _ = question(&mut net2, backend2);
    net2.advance(secs(6));
    assert!(
        net2.reply(user2, request).is_err(),
        "denied once the timeout passed"
    );

    // Leaving while a request waits.
    let (mut net, backend, user) = authorizing();
    net.s(user)
        .subscribe(uri("com.y"), Dict::new())
        .expect("subscribe");
    net.pump();
    let _ = question(&mut net, backend);
    let conn = net.peers[user].conn;
    assert!(net.router.is_input_paused(conn));
    net.router
        .close(net.now, conn, uri("wamp.close.killed"), None)
        .expect("established");
    assert!(
        !net.router.is_input_paused(conn),
        "the hold went with the session"
    );
}
