//! Authentication and authorization by the router, driven by in-memory client sessions
//! with the client authenticators of `wamp_proto::auth`: every method with right and
//! wrong credentials, channel binding, method selection, per-role permissions, and
//! configurations that cannot work.

#![allow(clippy::disallowed_methods)]

mod router_harness;

use base64::Engine as _;
use router_harness::*;
use wamp_proto::auth::scram::{self, Kdf, KdfLimits};
use wamp_proto::auth::{
    Anonymous, ChannelBinding, ChannelBindingKind, Cryptosign, Scram, Ticket, WampCra,
};
use wamp_proto::message::Authenticate;
use wamp_proto::session::{CloseReason, SessionConfig, SessionEvent};
use wamp_proto::{message::Message, serializer::SerializerKind, Dict, Payload, Uri};
use wamp_router::{
    Allow, AuthConfig, ConfigError, Permission, RealmConfig, RoleConfig, Router, RouterConfig,
    RouterEvent, ScramCredential, ScramKdf, ScramPrincipal,
};

const J: SerializerKind = SerializerKind::Json;
const SEED: [u8; 32] = [7; 32];
const PBKDF2: ScramKdf = ScramKdf::Pbkdf2 { iterations: 4096 };

fn pubkey() -> String {
    Cryptosign::new(None, SEED).public_key_hex()
}

/// `realm1` with role `user` (everything allowed) and one principal of every method.
fn auth_realm() -> RealmConfig {
    permissive_realm1(&["user", "guest"])
        .ticket("joe", "user", "secret!!!")
        .wampcra("peter", "user", "secret1")
        .wampcra_salted(
            "paul",
            "user",
            "secret2",
            wamp_router::CraSalt::new("salt123"),
        )
        .cryptosign("client01", "user", &[&pubkey()])
        .scram("scramuser", "user", "pencil", PBKDF2)
}

fn config(realm: RealmConfig) -> RouterConfig {
    RouterConfig::new().realm(realm)
}

fn session(auth: impl wamp_proto::auth::ClientAuthenticator + 'static) -> SessionConfig {
    SessionConfig::new(uri("realm1"))
        .serializer(J)
        .authenticator(auth)
}

/// Joins and returns (authid, authrole, authmethod) from WELCOME, or the ABORT.
fn attempt(
    net: &mut Net,
    config: SessionConfig,
) -> Result<(String, String, String), (Uri, String)> {
    let p = net.connect(config);
    match net.peers[p].events.pop_front() {
        Some(SessionEvent::Joined(j)) => Ok((
            j.authid().unwrap_or_default().to_owned(),
            j.authrole().unwrap_or_default().to_owned(),
            j.details.authmethod().unwrap_or_default().to_owned(),
        )),
        Some(SessionEvent::Closed(CloseReason::Aborted { reason, message })) => {
            Err((reason, message.unwrap_or_default()))
        }
        Some(SessionEvent::Closed(CloseReason::AbortedLocally { reason, message })) => {
            Err((reason, message))
        }
        other => panic!("{other:?}"),
    }
}

fn scram(authid: &str, password: &str) -> Scram {
    Scram::new(authid, password).expect("a valid value")
}

/// Joins with `auth`; see [`attempt`].
fn attempt_with(
    net: &mut Net,
    auth: impl wamp_proto::auth::ClientAuthenticator + 'static,
) -> Result<(String, String, String), (Uri, String)> {
    attempt(net, session(auth))
}

/// `auth` joins as `authid` (role `user`) by `method`.
fn assert_joins(
    net: &mut Net,
    auth: impl wamp_proto::auth::ClientAuthenticator + 'static,
    authid: &str,
    method: &str,
) {
    assert_eq!(attempt_with(net, auth), joined(authid, method));
}

/// `auth` is refused as not authorized; returns the refusal's message.
fn not_authorized(
    net: &mut Net,
    auth: impl wamp_proto::auth::ClientAuthenticator + 'static,
) -> String {
    refused(attempt_with(net, auth), &Uri::NOT_AUTHORIZED)
}

fn joined(authid: &str, method: &str) -> Result<(String, String, String), (Uri, String)> {
    Ok((authid.to_owned(), "user".to_owned(), method.to_owned()))
}

fn refused(r: Result<(String, String, String), (Uri, String)>, reason: &Uri) -> String {
    match r {
        Err((uri, message)) => {
            assert_eq!(&uri, reason, "{message}");
            message
        }
        Ok(j) => panic!("expected a refusal, joined as {j:?}"),
    }
}

#[test]
fn anonymous_gets_a_random_authid_whatever_it_claims() {
    let mut net = Net::new(realm1());
    let (authid, role, method) =
        attempt_with(&mut net, Anonymous::new().with_authid("admin")).expect("joins");
    assert!(
        authid.starts_with("anonymous-") && authid != "admin",
        "{authid}"
    );
    assert_eq!((role.as_str(), method.as_str()), ("anonymous", "anonymous"));
    let (other, ..) = attempt(&mut net, SessionConfig::new(uri("realm1"))).expect("joins");
    assert_ne!(authid, other);
}

#[test]
fn ticket_right_and_wrong() {
    let mut net = Net::new(config(auth_realm()));
    assert_joins(&mut net, Ticket::new("joe", "secret!!!"), "joe", "ticket");
    let m = not_authorized(&mut net, Ticket::new("joe", "secret"));
    assert!(m.contains("joe"), "{m}");
    let m = not_authorized(&mut net, Ticket::new("nobody", "x"));
    assert!(m.contains("nobody"), "{m}");
    let log = net.router_events();
    assert!(log.iter().any(
        |e| matches!(e, RouterEvent::Aborted { reason, .. } if *reason == Uri::NOT_AUTHORIZED)
    ));
}

#[test]
fn ticket_stored_as_an_argon2id_hash() {
    let phc = wamp_proto::auth::ticket::hash("secret!!!", &[3; 16]).expect("hashes");
    let realm = RealmConfig::new("realm1")
        .expect("a valid value")
        .role(RoleConfig::new("user"))
        .ticket("joe", "user", &phc);
    let mut net = Net::new(config(realm));
    assert_joins(&mut net, Ticket::new("joe", "secret!!!"), "joe", "ticket");
    not_authorized(&mut net, Ticket::new("joe", &phc));
    not_authorized(&mut net, Ticket::new("joe", "secret!!"));
}

#[test]
fn wampcra_plain_and_salted_right_and_wrong() {
    let mut net = Net::new(config(auth_realm()));
    assert_joins(
        &mut net,
        WampCra::new("peter", "secret1"),
        "peter",
        "wampcra",
    );
    assert_joins(&mut net, WampCra::new("paul", "secret2"), "paul", "wampcra");
    not_authorized(&mut net, WampCra::new("peter", "secret2"));
    not_authorized(&mut net, WampCra::new("paul", "secret1"));
}

#[test]
fn wampcra_challenge_names_the_session_it_will_get() {
    let mut net = Net::new(config(auth_realm()));
    let raw = net.raw_hello(
        J,
        Dict::new()
            .with_role("caller", [])
            .with_authmethods(["wampcra"])
            .with_authid("paul"),
    );
    let challenge = match &net.recv_raw(raw)[..] {
        [Message::Challenge(c)] => c.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(challenge.method, "wampcra");
    assert_eq!(challenge.extra.get_str("salt"), Some("salt123"));
    assert_eq!(challenge.extra.get_u64("iterations"), Some(1000));
    assert_eq!(challenge.extra.get_u64("keylen"), Some(32));
    let text = challenge.extra.get_str("challenge").expect("present");
    let parsed: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
    assert_eq!(parsed["authid"], "paul");
    assert_eq!(parsed["authrole"], "user");
    assert_eq!(parsed["authmethod"], "wampcra");
    let key = wamp_proto::auth::wampcra::derive_key("secret2", "salt123", 1000, 32);
    let signature = wamp_proto::auth::wampcra::sign(key.as_bytes(), text);
    net.send_raw(
        raw,
        Authenticate {
            signature,
            extra: Dict::new(),
        },
    );
    match &net.recv_raw(raw)[..] {
        [Message::Welcome(w)] => assert_eq!(parsed["session"], w.session.get()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cryptosign_right_and_wrong() {
    let mut net = Net::new(config(auth_realm()));
    assert_joins(
        &mut net,
        Cryptosign::new(Some("client01".into()), SEED),
        "client01",
        "cryptosign",
    );
    // Without an authid the key names the principal.
    assert_joins(
        &mut net,
        Cryptosign::new(None, SEED),
        "client01",
        "cryptosign",
    );
    let m = not_authorized(&mut net, Cryptosign::new(Some("client01".into()), [8; 32]));
    assert!(m.contains("not authorized"), "{m}");

    // The right key announced, a forged signature sent.
    let (raw, c) = cryptosign_challenge(&mut net);
    let forged = Cryptosign::new(None, [9; 32]).sign_challenge(&c, None);
    net.send_raw(
        raw,
        Authenticate {
            signature: forged,
            extra: Dict::new(),
        },
    );
    net.expect_abort(raw, Uri::NOT_AUTHORIZED);
}

/// Sends a cryptosign HELLO for the right key on a new raw connection; returns the
/// connection and the 32-byte challenge.
fn cryptosign_challenge(net: &mut Net) -> (usize, [u8; 32]) {
    let raw = net.raw_hello(
        J,
        Dict::new()
            .with_role("caller", [])
            .with_authmethods(["cryptosign"])
            .with_authextra(
                [("pubkey".to_owned(), pubkey().into())]
                    .into_iter()
                    .collect(),
            ),
    );
    let challenge = match &net.recv_raw(raw)[..] {
        [Message::Challenge(c)] => c.clone(),
        other => panic!("{other:?}"),
    };
    let mut c = [0u8; 32];
    hex::decode_to_slice(
        challenge.extra.get_str("challenge").expect("present"),
        &mut c,
    )
    .expect("32 bytes of hex");
    (raw, c)
}

#[test]
fn cryptosign_challenges_are_never_reused_and_a_signature_does_not_replay() {
    let mut net = Net::new(config(auth_realm()));
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let (_, c) = cryptosign_challenge(&mut net);
        assert!(seen.insert(c), "challenge {} given twice", hex::encode(c));
    }
    // A signature captured from one handshake is worthless for another.
    let signer = Cryptosign::new(Some("client01".into()), SEED);
    let (first, c1) = cryptosign_challenge(&mut net);
    let (second, _) = cryptosign_challenge(&mut net);
    let captured = signer.sign_challenge(&c1, None);
    net.send_raw(
        second,
        Authenticate {
            signature: captured.clone(),
            extra: Dict::new(),
        },
    );
    match &net.recv_raw(second)[..] {
        [Message::Abort(a)] => assert_eq!(a.reason, Uri::NOT_AUTHORIZED),
        other => panic!("a replayed signature: {other:?}"),
    }
    // On its own handshake it is good.
    net.send_raw(
        first,
        Authenticate {
            signature: captured,
            extra: Dict::new(),
        },
    );
    assert!(matches!(&net.recv_raw(first)[..], [Message::Welcome(_)]));
}

/// A session bound to the TLS channel joins when both ends see the same channel.
fn assert_joins_bound(net: &mut Net, config: SessionConfig, channel: u8) {
    let p = net.connect_bound(config, Some(binding(channel)), Some(binding(channel)));
    assert!(matches!(
        net.peers[p].events.pop_front(),
        Some(SessionEvent::Joined(_))
    ));
}

fn binding(data: u8) -> ChannelBinding {
    ChannelBinding {
        kind: ChannelBindingKind::TlsUnique,
        data: [data; 32],
    }
}

#[test]
fn cryptosign_with_channel_binding() {
    let mut net = Net::new(config(auth_realm()));
    let bound = || {
        session(
            Cryptosign::new(Some("client01".into()), SEED)
                .with_channel_binding(ChannelBindingKind::TlsUnique),
        )
    };
    assert_joins_bound(&mut net, bound(), 1);
    // Different channels on the two ends (a man in the middle): refused.
    let p = net.connect_bound(bound(), Some(binding(1)), Some(binding(2)));
    match net.closed(p) {
        Some(CloseReason::Aborted { reason, .. }) => assert_eq!(reason, Uri::NOT_AUTHORIZED),
        other => panic!("{other:?}"),
    }
    // The router has no binding data: the CHALLENGE says so and the client gives up.
    let p = net.connect_bound(bound(), None, Some(binding(1)));
    assert!(matches!(
        net.closed(p),
        Some(CloseReason::AbortedLocally { .. })
    ));
}

#[test]
fn scram_right_and_wrong() {
    let mut net = Net::new(config(auth_realm()));
    assert_joins(
        &mut net,
        scram("scramuser", "pencil"),
        "scramuser",
        "wamp-scram",
    );
    not_authorized(&mut net, scram("scramuser", "pencil2"));
    not_authorized(&mut net, scram("nobody", "pencil"));
}

#[test]
fn scram_with_argon2_and_with_a_stored_credential() {
    let argon = ScramKdf::Argon2id13 {
        iterations: 1,
        memory: 1024,
    };
    let credential = scram::derive_credential(
        "hunter2",
        b"0123456789abcdef",
        Kdf::Pbkdf2 { iterations: 4096 },
    )
    .expect("a derivable credential");
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut realm = auth_realm().scram("argonuser", "user", "pencil", argon);
    realm.auth.scram.push(ScramPrincipal {
        authid: "stored".into(),
        role: "user".into(),
        password: None,
        credential: Some(ScramCredential {
            salt: b64.encode(&credential.salt),
            stored_key: b64.encode(credential.stored_key),
            server_key: b64.encode(credential.server_key),
        }),
        kdf: PBKDF2,
        realm: None,
    });
    let mut net = Net::new(config(realm));
    assert_joins(
        &mut net,
        scram("argonuser", "pencil"),
        "argonuser",
        "wamp-scram",
    );
    assert_joins(&mut net, scram("stored", "hunter2"), "stored", "wamp-scram");
    not_authorized(&mut net, scram("stored", "hunter3"));
}

#[test]
fn scram_with_channel_binding() {
    let mut net = Net::new(config(auth_realm()));
    let bound = || {
        session(
            Scram::new("scramuser", "pencil")
                .expect("a valid value")
                .with_channel_binding(ChannelBindingKind::TlsUnique),
        )
    };
    assert_joins_bound(&mut net, bound(), 3);
    let p = net.connect_bound(bound(), Some(binding(3)), Some(binding(4)));
    match net.closed(p) {
        Some(CloseReason::Aborted { reason, message }) => {
            assert_eq!(reason, Uri::NOT_AUTHORIZED);
            assert!(message.is_some_and(|m| m.contains("cbind_data")));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn scram_with_a_client_whose_limits_refuse_the_cost_aborts_on_the_client_side() {
    let mut net = Net::new(config(auth_realm()));
    let strict = Scram::new("scramuser", "pencil")
        .expect("a valid value")
        .with_limits(KdfLimits {
            min_pbkdf2_iterations: 10_000,
            ..KdfLimits::default()
        });
    let p = net.connect(session(strict));
    assert!(matches!(
        net.closed(p),
        Some(CloseReason::AbortedLocally { .. })
    ));
    assert_eq!(net.router.connection_count(), 0);
}

#[test]
fn method_selection() {
    let ticket_only = RealmConfig::new("realm1")
        .expect("a valid value")
        .role(RoleConfig::new("user").permit(Permission::everything()))
        .ticket("joe", "user", "t");
    let mut net = Net::new(config(ticket_only));
    // Nothing offered means anonymous, which this realm does not accept.
    let m = refused(
        attempt(&mut net, SessionConfig::new(uri("realm1"))),
        &no_auth_method(),
    );
    assert!(
        m.contains("ticket"),
        "the refusal names what is accepted: {m}"
    );
    refused(
        attempt_with(&mut net, WampCra::new("joe", "t")),
        &no_auth_method(),
    );

    // A method whose principal is unknown falls through to the next offered one.
    let mut net = Net::new(config(auth_realm().allow_anonymous("guest")));
    let both = SessionConfig::new(uri("realm1"))
        .serializer(J)
        .authenticator(Ticket::new("stranger", "x"))
        .authenticator(Anonymous::new());
    let (_, role, method) = attempt(&mut net, both).expect("joins");
    assert_eq!((role.as_str(), method.as_str()), ("guest", "anonymous"));
    // The client's order of preference wins when both would do.
    let both = SessionConfig::new(uri("realm1"))
        .serializer(J)
        .authenticator(Ticket::new("joe", "secret!!!"))
        .authenticator(Anonymous::new());
    assert_eq!(attempt(&mut net, both), joined("joe", "ticket"));
}

fn no_auth_method() -> Uri {
    Uri::parse("wamp.error.no_auth_method").expect("a valid URI")
}

/// `user` may call and subscribe under `com.app.`, publish to `com.app.news`, register
/// nothing; `com.app.secret.` is closed to it; it may call the session meta procedures.
fn restricted() -> RouterConfig {
    RouterConfig::new().realm(
        RealmConfig::new("realm1")
            .expect("a valid value")
            .role(
                RoleConfig::new("user")
                    .permit(Permission::prefix(
                        "com.app.",
                        Allow {
                            call: true,
                            subscribe: true,
                            ..Allow::NONE
                        },
                    ))
                    .permit(Permission::exact(
                        "com.app.news",
                        Allow {
                            publish: true,
                            subscribe: true,
                            ..Allow::NONE
                        },
                    ))
                    .permit(Permission::prefix("com.app.secret.", Allow::NONE))
                    .permit(Permission::prefix(
                        "wamp.session.",
                        Allow {
                            call: true,
                            ..Allow::NONE
                        },
                    )),
            )
            .role(RoleConfig::new("service").permit(Permission::everything()))
            .ticket("joe", "user", "t")
            .ticket("svc", "service", "s"),
    )
}

#[test]
fn authorization_refusals_say_what_was_refused() {
    let mut net = Net::new(restricted());
    let joe = net.join_with(session(Ticket::new("joe", "t")));
    let svc = net.join_with(session(Ticket::new("svc", "s")));
    net.register(svc, "com.app.op", Dict::new());
    net.register(svc, "com.app.secret.op", Dict::new());
    net.register(svc, "com.other.op", Dict::new());

    // Allowed.
    let request = net.start_call(joe, "com.app.op", Payload::empty(), Dict::new());
    let inv = net.invocation(svc);
    net.yield_now(svc, inv.request, Dict::new(), Payload::empty());
    assert!(net.reply(joe, request).is_ok());
    let count: u64 = net
        .meta(joe, "wamp.session.count", Payload::empty())
        .expect("the meta procedure answers");
    assert_eq!(count, 2);

    // Refused, each with not_authorized and a message naming the action and URI.
    for procedure in [
        "com.app.secret.op",
        "com.other.op",
        "wamp.registration.list",
    ] {
        let r = net.call(joe, procedure, Payload::empty(), Dict::new());
        assert_eq!(error_uri(&r), Uri::NOT_AUTHORIZED.as_str(), "{procedure}");
        let m = error_message(&r);
        assert!(
            m.contains("call") && m.contains(procedure) && m.contains("user"),
            "{m}"
        );
    }
    assert!(
        net.invocations(svc).is_empty(),
        "refused calls reach no callee"
    );

    let r = net.try_register(joe, uri("com.app.mine"), Dict::new());
    assert_eq!(error_uri(&r), Uri::NOT_AUTHORIZED.as_str());
    assert!(error_message(&r).contains("register"));

    let r = net.try_subscribe(joe, uri("com.other.t"), Dict::new());
    assert_eq!(error_uri(&r), Uri::NOT_AUTHORIZED.as_str());
    assert!(error_message(&r).contains("subscribe"));

    // Publishing: the exact permission allows, the prefix one does not.
    net.subscribe(svc, "com.app.", by_prefix());
    let ok = net.publish_acknowledged(joe, "com.app.news");
    let no = net.publish_acknowledged(joe, "com.app.gossip");
    assert!(net.settled(joe, ok).is_ok());
    let r = net.reply(joe, no);
    assert_eq!(error_uri(&r), Uri::NOT_AUTHORIZED.as_str());
    assert!(error_message(&r).contains("publish"));
    let got = net.deliveries(svc);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].topic, "com.app.news");
}

#[test]
fn configurations_that_cannot_work_are_refused() {
    let rng = || Box::new(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1));
    let role = || RoleConfig::new("user");
    let cases: Vec<(&str, RouterConfig)> = vec![
        (
            "unknown role",
            config(
                RealmConfig::new("r")
                    .expect("a valid value")
                    .ticket("joe", "nobody", "t"),
            ),
        ),
        (
            "duplicate realm",
            RouterConfig::new()
                .realm(RealmConfig::new("r").expect("a valid value"))
                .realm(RealmConfig::new("r").expect("a valid value")),
        ),
        (
            "duplicate role",
            config(
                RealmConfig::new("r")
                    .expect("a valid value")
                    .role(role())
                    .role(role()),
            ),
        ),
        (
            "duplicate principal",
            config(
                RealmConfig::new("r")
                    .expect("a valid value")
                    .role(role())
                    .ticket("joe", "user", "a")
                    .ticket("joe", "user", "b"),
            ),
        ),
        (
            "malformed ticket hash",
            config(
                RealmConfig::new("r")
                    .expect("a valid value")
                    .role(role())
                    .ticket("joe", "user", "$argon2id$v=19$m=64,t=3,p=1$c29tZXNhbHQ$"),
            ),
        ),
        (
            "bad cryptosign key",
            config(
                RealmConfig::new("r")
                    .expect("a valid value")
                    .role(role())
                    .cryptosign("c", "user", &["xyz"]),
            ),
        ),
        (
            "scram without a secret",
            config({
                let mut r = RealmConfig::new("r").expect("a valid value").role(role());
                r.auth.scram.push(ScramPrincipal {
                    authid: "s".into(),
                    role: "user".into(),
                    password: None,
                    credential: None,
                    kdf: PBKDF2,
                    realm: None,
                });
                r
            }),
        ),
    ];
    for (what, config) in cases {
        let err = Router::new(config, rng()).expect_err(what);
        assert!(!err.to_string().is_empty(), "{what}");
        if what == "unknown role" {
            assert!(matches!(err, ConfigError::UnknownRole { .. }), "{err}");
        }
    }
}

/// `realm1` and `realm2` (role `user` on both), joined through transport auth `name`.
fn two_realms_through(name: &str, auth: AuthConfig) -> Net {
    let realm2 = RealmConfig::new("realm2")
        .expect("a valid value")
        .role(RoleConfig::new("user").permit(Permission::everything()));
    let mut net = Net::new(
        config(permissive_realm1(&["user"]))
            .realm(realm2)
            .transport_auth(name, auth),
    );
    net.transport_auth = Some(name.into());
    net
}

/// `auth` joins, and finds itself in `realm2`.
fn assert_joins_realm2(net: &mut Net, auth: impl wamp_proto::auth::ClientAuthenticator + 'static) {
    let p = net.connect(session(auth));
    match net.peers[p].events.pop_front() {
        Some(SessionEvent::Joined(j)) => assert_eq!(j.details.get_str("realm"), Some("realm2")),
        other => panic!("{other:?}"),
    }
}

/// Two transports on one router: the realm's own auth (ticket only) and a transport's
/// (anonymous as `guest`, plus its own ticket principal): each connection is
/// authenticated by its transport's rules alone.
#[test]
fn a_transport_authenticates_by_its_own_rules_not_the_realms() {
    let realm = permissive_realm1(&["user", "guest"]).ticket("joe", "user", "secret!!!");
    let public = AuthConfig::new()
        .anonymous("guest")
        .ticket("kim", "user", "kim-ticket");
    let mut net = Net::new(config(realm).transport_auth("public", public));
    // The realm's own rules: no anonymous access, joe's ticket.
    refused(attempt_with(&mut net, Anonymous::new()), &no_auth_method());
    assert_joins(&mut net, Ticket::new("joe", "secret!!!"), "joe", "ticket");
    net.transport_auth = Some("public".into());
    let (authid, role, method) = attempt_with(&mut net, Anonymous::new()).expect("joins");
    assert!(authid.starts_with("anonymous-"), "{authid}");
    assert_eq!((role.as_str(), method.as_str()), ("guest", "anonymous"));
    assert_joins(&mut net, Ticket::new("kim", "kim-ticket"), "kim", "ticket");
    // joe is the realm's principal, not the transport's.
    let why = not_authorized(&mut net, Ticket::new("joe", "secret!!!"));
    assert!(why.contains("no principal \"joe\""), "{why}");
}

/// A transport's principal may name its realm (Crossbar.io's principal `realm`): the
/// session joins it whatever it asked for; a role the realm lacks, or a realm the router
/// lacks, is refused with the reason.
#[test]
fn a_transport_principal_joins_its_realm_and_needs_its_role_there() {
    let mut auth = AuthConfig::new()
        .ticket("ann", "user", "t1")
        .ticket("bob", "admin", "t2")
        .ticket("cy", "user", "t3");
    auth.ticket[0].realm = Some(uri("realm2"));
    auth.ticket[2].realm = Some(uri("realm9"));
    let mut net = two_realms_through("t", auth);
    assert_joins_realm2(&mut net, Ticket::new("ann", "t1"));
    let why = refused(
        attempt_with(&mut net, Ticket::new("bob", "t2")),
        &Uri::NO_SUCH_ROLE,
    );
    assert!(why.contains("\"admin\"") && why.contains("realm1"), "{why}");
    let why = refused(
        attempt_with(&mut net, Ticket::new("cy", "t3")),
        &Uri::NO_SUCH_REALM,
    );
    assert!(why.contains("realm9"), "{why}");
    // A realm the router lacks is refused for the transport's anonymous clients too,
    // once they are authenticated.
    let mut net =
        Net::new(realm1().transport_auth("anon", AuthConfig::new().anonymous("anonymous")));
    net.transport_auth = Some("anon".into());
    let lost = SessionConfig::new(uri("nowhere")).serializer(J);
    refused(attempt(&mut net, lost), &Uri::NO_SUCH_REALM);
    assert!(attempt_with(&mut net, Anonymous::new()).is_ok());
}

#[test]
fn transport_auth_configurations_that_cannot_work_are_refused() {
    let rng = || Box::new(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1));
    let twice = realm1()
        .transport_auth("a", AuthConfig::new().anonymous("x"))
        .transport_auth("a", AuthConfig::new().anonymous("y"));
    let err = Router::new(twice, rng()).expect_err("twice");
    assert_eq!(err, ConfigError::DuplicateTransportAuth("a".into()));
    // A realm's own principal may not send its sessions elsewhere.
    let mut realm = permissive_realm1(&["user"]).ticket("joe", "user", "x");
    realm.auth.ticket[0].realm = Some(uri("realm2"));
    let err =
        Router::new(config(realm), rng()).expect_err("a realm principal naming another realm");
    assert!(
        err.to_string().contains("only a transport's principals"),
        "{err}"
    );
    let mut router = Router::new(realm1(), rng()).expect("valid");
    let conn = router.open(std::time::Instant::now(), J);
    assert!(router.set_transport_auth(conn, "nope").is_err());
}

/// Autobahn's (and Crossbar.io's) earlier `scram`, from a password or from Crossbar.io's
/// stored keys: the right password joins and WELCOME carries the router's signature
/// (which the client checks), a wrong one is refused.
#[test]
fn autobahn_scram_joins_with_the_right_password_only() {
    use wamp_proto::auth::ScramAutobahn;
    let argon = ScramKdf::Argon2id13 {
        iterations: 8,
        memory: 1024,
    };
    let mut realm = permissive_realm1(&["user"]);
    realm.auth.autobahn_scram.push(ScramPrincipal {
        authid: "fresh".into(),
        role: "user".into(),
        password: Some("pencil".into()),
        credential: None,
        kdf: argon,
        realm: None,
    });
    // The Crossbar.io harness's principal, as its config holds it (hex there, base64 here).
    let b64 = base64::engine::general_purpose::STANDARD;
    let hex = |h: &str| hex::decode(h).expect("hex");
    realm.auth.autobahn_scram.push(ScramPrincipal {
        authid: "scram-user".into(),
        role: "user".into(),
        password: None,
        credential: Some(ScramCredential {
            salt: b64.encode(hex("77616d702d727320736372616d207361")),
            stored_key: b64.encode(hex(
                "b8d792104e67b1b3ded0644452b2558a3d74aa66cd880b43d27eff6b6af0072b",
            )),
            server_key: b64.encode(hex(
                "3d22bfef2b91792c58d5bf9a1d6e51251fad92ca664a8bdebfc941f0cc38daaa",
            )),
        }),
        kdf: argon,
        realm: None,
    });
    let mut net = Net::new(config(realm));
    for (authid, password) in [("fresh", "pencil"), ("scram-user", "scram-password")] {
        let auth = ScramAutobahn::new(authid, password).expect("a valid authid");
        assert_joins(&mut net, auth, authid, "scram");
    }
    let wrong = ScramAutobahn::new("fresh", "pen").expect("a valid authid");
    let why = not_authorized(&mut net, wrong);
    assert!(why.contains("wrong proof"), "{why}");
    // PBKDF2 is not Autobahn's: refused when the router is made.
    let mut realm = permissive_realm1(&["user"]);
    realm.auth.autobahn_scram.push(ScramPrincipal {
        authid: "x".into(),
        role: "user".into(),
        password: Some("p".into()),
        credential: None,
        kdf: PBKDF2,
        realm: None,
    });
    let rng = Box::new(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1));
    let err = Router::new(config(realm), rng).expect_err("pbkdf2");
    assert!(err.to_string().contains("argon2id13"), "{err}");
}

/// A transport's anonymous access may name the realm its sessions join.
#[test]
fn a_transports_anonymous_access_may_send_its_sessions_to_a_realm() {
    let mut anon = AuthConfig::new().anonymous("user");
    if let Some(a) = anon.anonymous.as_mut() {
        a.realm = Some(uri("realm2"));
    }
    let mut net = two_realms_through("t", anon);
    assert_joins_realm2(&mut net, Anonymous::new());
}
