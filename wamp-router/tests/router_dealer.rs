//! The router's dealer, driven by in-memory client sessions (and raw peers where the
//! wire itself is the point): routing and precedence, shared registrations, caller
//! disclosure, progressive results and invocations, cancel modes, timeouts, callers and
//! callees leaving mid-call.

#![allow(clippy::disallowed_methods)]

mod router_harness;

use router_harness::*;
use wamp_proto::message::{self, Call, Cancel, Invocation, Register, Yield};
use wamp_proto::session::{Outcome, RequestError, SessionEvent};
use wamp_proto::{
    message::Message, message::MessageType, serializer::SerializerKind, CancelMode, Dict,
    InvokePolicy, MatchPolicy, Payload, RequestId, Uri,
};
use wamp_router::Limits;

const J: SerializerKind = SerializerKind::Json;

fn req(n: u64) -> RequestId {
    RequestId::new(n).expect("a valid value")
}

/// A raw peer joins `realm1` announcing `features` for `role`.
fn raw_join(net: &mut Net, role: &str, features: &[&str]) -> usize {
    let raw = net.raw_hello(J, Dict::new().with_role(role, features.iter().copied()));
    match &net.recv_raw(raw)[..] {
        [Message::Welcome(_)] => raw,
        other => panic!("{other:?}"),
    }
}

fn raw_register(net: &mut Net, raw: usize, procedure: &str) -> wamp_proto::RegistrationId {
    net.send_raw(
        raw,
        Register {
            request: req(1),
            options: Dict::new(),
            procedure: uri(procedure),
        },
    );
    match &net.recv_raw(raw)[..] {
        [Message::Registered(r)] => r.registration,
        other => panic!("{other:?}"),
    }
}

/// The callee's only event is an INTERRUPT of `invocation` in `mode`.
fn assert_interrupted(net: &mut Net, callee: usize, invocation: RequestId, mode: CancelMode) {
    let events = net.events(callee);
    assert!(
        matches!(
            &events[..],
            [SessionEvent::Interrupt { request, mode: Some(m), .. }] if *request == invocation && *m == mode
        ),
        "{events:?}"
    );
}

/// CALL request 1, without arguments.
fn call_1(procedure: &str, options: wamp_proto::Options) -> Call {
    Call {
        request: req(1),
        options,
        procedure: uri(procedure),
        payload: Payload::empty(),
    }
}

/// A raw caller sends [`call_1`].
fn raw_call(net: &mut Net, raw: usize, procedure: &str, options: wamp_proto::Options) {
    net.send_raw(raw, call_1(procedure, options));
}

fn raw_invocation(net: &mut Net, raw: usize) -> Invocation {
    match net.recv_raw(raw).as_slice() {
        [Message::Invocation(i)] => i.clone(),
        other => panic!("expected one INVOCATION, got {other:?}"),
    }
}

/// Answers every invocation of `callee` with its first argument doubled.
fn serve_doubling(net: &mut Net, callee: usize) -> usize {
    let invs = net.invocations(callee);
    let n = invs.len();
    for inv in invs {
        let (x,): (i64,) = inv.payload.args().expect("decodable arguments");
        let kind = net.peers[callee].kind;
        net.s(callee)
            .yield_(inv.request, Dict::new(), args(kind, &(x * 2,)))
            .expect("the yield is accepted");
    }
    net.pump();
    n
}

#[test]
fn a_call_is_routed_to_the_callee_and_its_result_back() {
    for kind in SerializerKind::ALL {
        let (mut net, [callee, caller]) = Net::joined([kind, kind]);
        let reg = net.register(callee, "com.double", Dict::new());
        let request = net.start_call(caller, "com.double", args(kind, &(21,)), Dict::new());
        let inv = net.invocation(callee);
        assert_eq!(inv.registration, reg);
        assert_eq!(inv.procedure, "com.double");
        // Exact registrations get no `procedure` detail; callers are not disclosed.
        assert!(inv.details.procedure().is_none());
        assert!(inv.details.caller().is_none());
        assert_eq!(serve_doubling_one(&mut net, callee, inv), ());
        let (x,): (i64,) = result_args(net.reply(caller, request));
        assert_eq!(x, 42);
    }
}

fn serve_doubling_one(net: &mut Net, callee: usize, inv: wamp_proto::session::InvocationEvent) {
    let (x,): (i64,) = inv.payload.args().expect("decodable arguments");
    let kind = net.peers[callee].kind;
    net.yield_now(callee, inv.request, Dict::new(), args(kind, &(x * 2,)));
}

#[test]
fn callee_errors_reach_the_caller_with_their_payload() {
    let (mut net, [callee, caller]) = Net::joined([SerializerKind::Cbor, J]);
    net.register(callee, "com.fail", Dict::new());
    let request = net.start_call(caller, "com.fail", Payload::empty(), Dict::new());
    let inv = net.invocation(callee);
    net.s(callee)
        .invocation_error(
            inv.request,
            uri("com.app.error.bad"),
            Dict::new(),
            args(SerializerKind::Cbor, &("no way",)),
        )
        .expect("the error is accepted");
    let r = net.settled(caller, request);
    assert_eq!(error_uri(&r), "com.app.error.bad");
    assert_eq!(error_message(&r), "no way");
}

#[test]
fn calling_an_unregistered_procedure_is_no_such_procedure() {
    let (mut net, [caller]) = Net::joined([J]);
    let r = net.call(caller, "com.nothing", Payload::empty(), Dict::new());
    assert_eq!(error_uri(&r), Uri::NO_SUCH_PROCEDURE.as_str());
    assert!(error_message(&r).contains("com.nothing"));
    // Unknown meta procedures too.
    let r = net.call(caller, "wamp.nothing", Payload::empty(), Dict::new());
    assert_eq!(error_uri(&r), Uri::NO_SUCH_PROCEDURE.as_str());
}

#[test]
fn registration_precedence_follows_the_spec() {
    let (mut net, [caller]) = Net::joined([J]);
    let regs: Vec<(&str, MatchPolicy)> = vec![
        ("a1.b2.c3.d4.e55", MatchPolicy::Exact),
        ("a1.b2.c3", MatchPolicy::Prefix),
        ("a1.b2.c3.d4", MatchPolicy::Prefix),
        ("a1.b2..d4.e5", MatchPolicy::Wildcard),
        ("a1.b2.c3..e5", MatchPolicy::Wildcard),
        ("a1.b2..d4.e5..g7", MatchPolicy::Wildcard),
        ("a1.b2..d4..f6.g7", MatchPolicy::Wildcard),
    ];
    let mut callees = Vec::new();
    for (procedure, policy) in &regs {
        let callee = net.join(J);
        net.register(callee, procedure, Dict::new().with_match_policy(*policy));
        callees.push(callee);
    }
    let cases = [
        ("a1.b2.c3.d4.e55", Some(0)),
        ("a1.b2.c3.d98.e74", Some(1)),
        ("a1.b2.c3.d4.e325", Some(2)),
        ("a1.b2.c55.d4.e5", Some(3)),
        ("a1.b2.c3.d4.e5", Some(2)), // the prefix beats the wildcards
        ("a1.b2.c88.d4.e5.f6.g7", Some(5)),
        ("a2.b2.c2.d2.e2", None),
    ];
    for (procedure, expect) in cases {
        let request = net
            .s(caller)
            .call(uri(procedure), Payload::empty(), Dict::new())
            .expect("the call is accepted");
        net.pump();
        let served: Vec<usize> = callees
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let invs = net.invocations(*c);
                for inv in &invs {
                    if regs[i].1 != MatchPolicy::Exact {
                        assert_eq!(inv.details.procedure(), Some(procedure));
                    }
                    net.s(*c)
                        .yield_(inv.request, Dict::new(), Payload::empty())
                        .expect("the yield is accepted");
                }
                (!invs.is_empty()).then_some(i)
            })
            .collect();
        let r = net.settled(caller, request);
        match expect {
            Some(i) => {
                assert_eq!(served, vec![i], "{procedure}");
                assert!(r.is_ok());
            }
            None => {
                assert!(served.is_empty());
                assert_eq!(error_uri(&r), Uri::NO_SUCH_PROCEDURE.as_str());
            }
        }
    }
}

#[test]
fn wildcard_precedence_picks_the_longest_leading_components() {
    let (mut net, [caller, wide, narrow]) = Net::joined([J, J, J]);
    net.register(wide, "a1...d4", by_wildcard());
    net.register(narrow, "a1.b2..d4", by_wildcard());
    net.start_call(caller, "a1.b2.c3.d4", Payload::empty(), Dict::new());
    assert_eq!(net.invocations(narrow).len(), 1);
    assert!(net.invocations(wide).is_empty());
}

fn shared(net: &mut Net, policy: InvokePolicy, n: usize) -> (usize, Vec<usize>) {
    let caller = net.join(J);
    let callees: Vec<usize> = (0..n).map(|_| net.join(J)).collect();
    let mut ids = Vec::new();
    for c in &callees {
        ids.push(net.register(*c, "com.shared", Dict::new().with_invoke(policy)));
    }
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "one shared registration"
    );
    (caller, callees)
}

/// Which callee served each of `calls` calls.
fn who_serves(net: &mut Net, caller: usize, callees: &[usize], calls: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for i in 0..calls {
        let request = net.start_call(caller, "com.shared", args(J, &(i,)), Dict::new());
        for (k, c) in callees.iter().enumerate() {
            if serve_doubling(net, *c) > 0 {
                out.push(k);
            }
        }
        assert!(net.reply(caller, request).is_ok());
    }
    out
}

#[test]
fn shared_registrations_invoke_by_policy() {
    let mut net = Net::new(realm1());
    let (caller, callees) = shared(&mut net, InvokePolicy::RoundRobin, 3);
    assert_eq!(
        who_serves(&mut net, caller, &callees, 7),
        vec![0, 1, 2, 0, 1, 2, 0]
    );
    // A callee leaving keeps the rotation going among the others.
    net.drop_transport(callees[1]);
    assert_eq!(who_serves(&mut net, caller, &callees, 4), vec![2, 0, 2, 0]);

    let mut net = Net::new(realm1());
    let (caller, callees) = shared(&mut net, InvokePolicy::First, 3);
    assert_eq!(who_serves(&mut net, caller, &callees, 3), vec![0, 0, 0]);
    net.drop_transport(callees[0]);
    assert_eq!(who_serves(&mut net, caller, &callees, 2), vec![1, 1]);

    let mut net = Net::new(realm1());
    let (caller, callees) = shared(&mut net, InvokePolicy::Last, 3);
    assert_eq!(who_serves(&mut net, caller, &callees, 3), vec![2, 2, 2]);
    net.drop_transport(callees[2]);
    assert_eq!(who_serves(&mut net, caller, &callees, 2), vec![1, 1]);

    let mut net = Net::new(realm1());
    let (caller, callees) = shared(&mut net, InvokePolicy::Random, 3);
    let served = who_serves(&mut net, caller, &callees, 60);
    for k in 0..3 {
        let n = served.iter().filter(|s| **s == k).count();
        assert!(n > 5, "callee {k} served {n} of 60: {served:?}");
    }
}

#[test]
fn conflicting_registrations_are_refused() {
    let (mut net, [a, b]) = Net::joined([J, J]);
    net.register(a, "com.single", Dict::new());
    net.register(
        a,
        "com.rr",
        Dict::new().with_invoke(InvokePolicy::RoundRobin),
    );
    let cases = [
        (b, "com.single", Dict::new(), "single"),
        (
            b,
            "com.single",
            Dict::new().with_invoke(InvokePolicy::RoundRobin),
            "single",
        ),
        (
            b,
            "com.rr",
            Dict::new().with_invoke(InvokePolicy::Random),
            "invoke=roundrobin",
        ),
        (b, "com.rr", Dict::new(), "single"),
        // A session may hold a registration only once.
        (
            a,
            "com.rr",
            Dict::new().with_invoke(InvokePolicy::RoundRobin),
            "already registered",
        ),
    ];
    for (who, procedure, options, says) in cases {
        let r = net.try_register(who, uri(procedure), options);
        assert_eq!(error_uri(&r), Uri::PROCEDURE_ALREADY_EXISTS.as_str());
        assert!(error_message(&r).contains(says), "{}", error_message(&r));
    }
    // The same URI with another match policy is another registration.
    net.register(b, "com.single", by_prefix());
}

#[test]
fn reserved_procedures_cannot_be_registered() {
    let (mut net, [a]) = Net::joined([J]);
    let r = net.try_register(a, uri("wamp.session.count"), Dict::new());
    assert_eq!(error_uri(&r), Uri::INVALID_URI.as_str());
}

#[test]
fn unregister_and_unknown_registrations() {
    let (mut net, [callee, caller]) = Net::joined([J, J]);
    let reg = net.register(callee, "com.x", Dict::new());
    let request = net
        .s(callee)
        .unregister(reg)
        .expect("the unregister is accepted");
    net.pump();
    assert!(matches!(
        net.reply(callee, request),
        Ok(Outcome::Unregistered)
    ));
    let r = net.call(caller, "com.x", Payload::empty(), Dict::new());
    assert_eq!(error_uri(&r), Uri::NO_SUCH_PROCEDURE.as_str());

    let raw = raw_join(&mut net, "callee", &[]);
    net.send_raw(
        raw,
        message::Unregister {
            request: req(1),
            registration: reg,
            options: Dict::new(),
        },
    );
    match &net.recv_raw(raw)[..] {
        [Message::Error(e)] => {
            assert_eq!(e.error, Uri::NO_SUCH_REGISTRATION);
            assert_eq!(e.request_type, MessageType::Unregister);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn caller_disclosure_on_request_by_registration_and_by_role() {
    let (mut net, [callee, caller]) =
        Net::with_peers(disclosing_realm1("audited.", DISCLOSE_CALLER), [J, J]);
    let me = net.session_id(caller);
    net.register(callee, "plain", Dict::new());
    net.register(callee, "curious", Dict::new().with_disclose_caller(true));
    net.register(callee, "audited.op", Dict::new());
    for (procedure, options, disclosed) in [
        ("plain", Dict::new(), false),
        ("plain", Dict::new().with_disclose_me(true), true),
        ("curious", Dict::new(), true),
        ("audited.op", Dict::new(), true),
    ] {
        net.s(caller)
            .call(uri(procedure), Payload::empty(), options)
            .expect("the call is accepted");
        net.pump();
        let inv = net.invocation(callee);
        if disclosed {
            assert_eq!(inv.details.caller(), Some(me), "{procedure}");
            assert!(inv
                .details
                .caller_authid()
                .is_some_and(|a| a.starts_with("anonymous-")));
            assert_eq!(inv.details.caller_authrole(), Some("anonymous"));
        } else {
            assert_eq!(inv.details.caller(), None, "{procedure}");
        }
        net.yield_now(callee, inv.request, Dict::new(), Payload::empty());
    }
}

#[test]
fn progressive_results_are_relayed_then_the_final_one() {
    let (mut net, [callee, caller]) = Net::joined([SerializerKind::MsgPack, J]);
    net.register(callee, "com.count", Dict::new());
    let request = net.start_call(
        caller,
        "com.count",
        Payload::empty(),
        Dict::new().with_receive_progress(true),
    );
    let inv = net.invocation(callee);
    assert!(inv.receive_progress());
    for i in 0..3 {
        net.s(callee)
            .yield_(
                inv.request,
                Dict::new().with_progress(true),
                args(SerializerKind::MsgPack, &(i,)),
            )
            .expect("the yield is accepted");
    }
    net.yield_now(
        callee,
        inv.request,
        Dict::new(),
        args(SerializerKind::MsgPack, &("done",)),
    );
    let events = net.events(caller);
    let progress: Vec<i64> = events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Progress {
                request: r,
                payload,
                ..
            } if *r == request => Some(payload.args::<(i64,)>().expect("decodable arguments").0),
            _ => None,
        })
        .collect();
    assert_eq!(progress, vec![0, 1, 2]);
    assert!(matches!(
        events.last(),
        Some(SessionEvent::Reply(r)) if r.request == request && r.outcome.is_ok()
    ));
}

#[test]
fn progress_is_not_offered_to_a_callee_that_cannot_send_it() {
    let mut net = Net::new(realm1());
    let raw = raw_join(&mut net, "callee", &["call_canceling"]);
    raw_register(&mut net, raw, "com.p");
    let caller = net.join(J);
    net.start_call(
        caller,
        "com.p",
        Payload::empty(),
        Dict::new().with_receive_progress(true),
    );
    let inv = raw_invocation(&mut net, raw);
    assert_eq!(inv.details.receive_progress(), None);
    // A progressive YIELD anyway is the callee's protocol violation.
    net.send_raw(
        raw,
        Yield {
            request: inv.request,
            options: Dict::new().with_progress(true),
            payload: Payload::empty(),
        },
    );
    net.expect_abort(raw, Uri::PROTOCOL_VIOLATION);
    // ... and the caller learns its callee is gone.
    let events = net.events(caller);
    assert!(
        events.iter().any(|e| matches!(
            e,
            SessionEvent::Reply(r) if r.outcome.as_ref().is_err_and(|e| *e.uri() == Uri::CANCELED)
        )),
        "{events:?}"
    );
}

#[test]
fn progressive_call_invocations_go_to_one_callee_under_one_invocation() {
    let mut net = Net::new(realm1());
    let (caller, callees) = shared(&mut net, InvokePolicy::RoundRobin, 2);
    let request = net
        .s(caller)
        .call(
            uri("com.shared"),
            args(J, &(1,)),
            Dict::new().with_progress(true),
        )
        .expect("the call is accepted");
    net.s(caller)
        .call_part(request, args(J, &(2,)), false)
        .expect("the part is accepted");
    net.s(caller)
        .call_part(request, args(J, &(3,)), true)
        .expect("the part is accepted");
    net.pump();
    let parts = net.invocations(callees[0]);
    assert!(net.invocations(callees[1]).is_empty());
    let seen: Vec<(i64, bool, bool)> = parts
        .iter()
        .map(|p| {
            (
                p.payload.args::<(i64,)>().expect("decodable arguments").0,
                p.continuation,
                p.more_parts(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![(1, false, true), (2, true, true), (3, true, false)]
    );
    assert!(parts.iter().all(|p| p.request == parts[0].request));
    net.yield_now(callees[0], parts[0].request, Dict::new(), args(J, &(6,)));
    let (sum,): (i64,) = result_args(net.reply(caller, request));
    assert_eq!(sum, 6);
}

#[test]
fn progressive_call_invocations_need_both_ends() {
    // A caller that did not announce the feature breaks the protocol.
    let (mut net, [callee]) = Net::joined([J]);
    net.register(callee, "com.p", Dict::new());
    let raw = raw_join(&mut net, "caller", &[]);
    raw_call(&mut net, raw, "com.p", Dict::new().with_progress(true));
    net.expect_abort(raw, Uri::PROTOCOL_VIOLATION);
    // A callee without it: the caller gets feature_not_supported.
    let mut net = Net::new(realm1());
    let raw = raw_join(&mut net, "callee", &[]);
    raw_register(&mut net, raw, "com.p");
    let caller = net.join(J);
    let request = net.start_call(
        caller,
        "com.p",
        Payload::empty(),
        Dict::new().with_progress(true),
    );
    let r = net.reply(caller, request);
    assert_eq!(error_uri(&r), Uri::FEATURE_NOT_SUPPORTED.as_str());
    assert!(net.recv_raw(raw).is_empty());
}

#[test]
fn a_call_id_in_flight_is_a_protocol_violation() {
    let (mut net, [callee]) = Net::joined([J]);
    net.register(callee, "com.x", Dict::new());
    let raw = raw_join(&mut net, "caller", &["progressive_call_invocations"]);
    let call = call_1("com.x", Dict::new());
    net.send_raw(raw, call.clone());
    assert!(net.recv_raw(raw).is_empty());
    net.send_raw(raw, call);
    net.expect_abort(raw, Uri::PROTOCOL_VIOLATION);
    // The callee's invocation is interrupted (the caller is gone).
    let events = net.events(callee);
    assert!(
        events.iter().any(|e| matches!(
            e,
            SessionEvent::Interrupt {
                mode: Some(CancelMode::KillNoWait),
                ..
            }
        )),
        "{events:?}"
    );
}

/// A raw caller (to see the router's own answers) and a session callee.
fn cancel_setup() -> (Net, usize, usize) {
    let (mut net, [callee]) = Net::joined([J]);
    net.register(callee, "com.slow", Dict::new());
    let caller = raw_join(&mut net, "caller", &["call_canceling"]);
    raw_call(&mut net, caller, "com.slow", Dict::new());
    (net, caller, callee)
}

fn cancel(net: &mut Net, caller: usize, mode: Option<CancelMode>) {
    let options = match mode {
        Some(m) => Dict::new().with_mode(m),
        None => Dict::new(),
    };
    net.send_raw(
        caller,
        Cancel {
            request: req(1),
            options,
        },
    );
}

#[test]
fn cancel_skip_answers_at_once_and_leaves_the_callee_alone() {
    let (mut net, caller, callee) = cancel_setup();
    let inv = net.invocation(callee);
    cancel(&mut net, caller, Some(CancelMode::Skip));
    match &net.recv_raw(caller)[..] {
        [Message::Error(e)] => {
            assert_eq!(e.error, Uri::CANCELED);
            assert_eq!(e.request, req(1));
        }
        other => panic!("{other:?}"),
    }
    assert!(!net
        .events(callee)
        .iter()
        .any(|e| matches!(e, SessionEvent::Interrupt { .. })));
    // The late result is dropped quietly (not a violation by the callee).
    net.yield_now(callee, inv.request, Dict::new(), Payload::empty());
    assert!(net.recv_raw(caller).is_empty());
    assert!(net.s(callee).is_established());
}

#[test]
fn cancel_kill_interrupts_and_waits_for_the_callee() {
    let (mut net, caller, callee) = cancel_setup();
    let inv = net.invocation(callee);
    cancel(&mut net, caller, Some(CancelMode::Kill));
    assert!(net.recv_raw(caller).is_empty(), "kill waits for the callee");
    assert_interrupted(&mut net, callee, inv.request, CancelMode::Kill);
    // Autobahn's callee stops with runtime_error; the caller learns it was canceled.
    net.s(callee)
        .invocation_error(
            inv.request,
            uri("wamp.error.runtime_error"),
            Dict::new(),
            Payload::empty(),
        )
        .expect("the error is accepted");
    net.pump();
    match &net.recv_raw(caller)[..] {
        [Message::Error(e)] => assert_eq!(e.error, Uri::CANCELED),
        other => panic!("{other:?}"),
    }

    // A callee that finishes anyway delivers its result.
    let (mut net, caller, callee) = cancel_setup();
    let inv = net.invocation(callee);
    cancel(&mut net, caller, Some(CancelMode::Kill));
    net.yield_now(callee, inv.request, Dict::new(), args(J, &(7,)));
    assert!(matches!(&net.recv_raw(caller)[..], [Message::Result(_)]));
}

#[test]
fn cancel_killnowait_answers_at_once_and_interrupts() {
    for mode in [Some(CancelMode::KillNoWait), None] {
        let (mut net, caller, callee) = cancel_setup();
        let inv = net.invocation(callee);
        cancel(&mut net, caller, mode);
        match &net.recv_raw(caller)[..] {
            [Message::Error(e)] => assert_eq!(e.error, Uri::CANCELED),
            other => panic!("{other:?}"),
        }
        let events = net.events(callee);
        assert!(
            matches!(
                &events[..],
                [SessionEvent::Interrupt {
                    mode: Some(CancelMode::KillNoWait),
                    ..
                }]
            ),
            "{events:?}"
        );
        net.s(callee)
            .invocation_error(inv.request, Uri::CANCELED, Dict::new(), Payload::empty())
            .expect("the error is accepted");
        net.pump();
        assert!(
            net.recv_raw(caller).is_empty(),
            "the late answer is dropped"
        );
        assert!(net.s(callee).is_established());
    }
}

#[test]
fn cancel_of_a_callee_without_call_canceling_is_skip() {
    let mut net = Net::new(realm1());
    let callee = raw_join(&mut net, "callee", &[]);
    raw_register(&mut net, callee, "com.slow");
    let caller = raw_join(&mut net, "caller", &["call_canceling"]);
    raw_call(&mut net, caller, "com.slow", Dict::new());
    let inv = raw_invocation(&mut net, callee);
    cancel(&mut net, caller, Some(CancelMode::Kill));
    match &net.recv_raw(caller)[..] {
        [Message::Error(e)] => assert_eq!(e.error, Uri::CANCELED),
        other => panic!("{other:?}"),
    }
    assert!(
        net.recv_raw(callee).is_empty(),
        "no INTERRUPT it cannot take"
    );
    net.send_raw(
        callee,
        Yield {
            request: inv.request,
            options: Dict::new(),
            payload: Payload::empty(),
        },
    );
    assert!(
        net.recv_raw(callee).is_empty(),
        "the late YIELD is not a violation"
    );
}

#[test]
fn cancel_through_the_session_api() {
    for mode in [CancelMode::Skip, CancelMode::Kill, CancelMode::KillNoWait] {
        let (mut net, [callee, caller]) = Net::joined([J, SerializerKind::Cbor]);
        net.register(callee, "com.slow", Dict::new());
        let request = net.start_call(caller, "com.slow", Payload::empty(), Dict::new());
        let inv = net.invocation(callee);
        net.s(caller)
            .cancel(request, mode)
            .expect("the cancel is accepted");
        net.pump();
        if mode == CancelMode::Kill {
            assert!(!net.answered(caller, request));
            net.s(callee)
                .invocation_error(inv.request, Uri::CANCELED, Dict::new(), Payload::empty())
                .expect("the error is accepted");
            net.pump();
        }
        let r = net.reply(caller, request);
        assert!(
            matches!(
                r,
                Err(RequestError::Canceled) | Err(RequestError::Wamp { .. })
            ),
            "{r:?}"
        );
        assert_eq!(error_uri(&r), Uri::CANCELED.as_str());
        assert!(net.s(caller).is_established() && net.s(callee).is_established());
    }
}

#[test]
fn a_call_times_out_at_its_deadline() {
    let (mut net, [callee, caller]) = Net::joined([J, J]);
    net.register(callee, "com.slow", Dict::new());
    let request = net.start_call(
        caller,
        "com.slow",
        Payload::empty(),
        Dict::new().with_timeout(1500),
    );
    let inv = net.invocation(callee);
    // The dealer enforces it; the callee is not told the timeout.
    assert_eq!(inv.details.timeout(), None);
    assert_eq!(net.router.poll_timeout(), Some(net.now + millis(1500)));
    net.advance(millis(1499));
    assert!(!net.answered(caller, request));
    net.advance(millis(1));
    let r = net.reply(caller, request);
    assert_eq!(error_uri(&r), Uri::TIMEOUT.as_str());
    assert!(net.events(callee).iter().any(|e| matches!(
        e,
        SessionEvent::Interrupt {
            mode: Some(CancelMode::KillNoWait),
            ..
        }
    )));
    // The late answer is dropped quietly.
    net.yield_now(callee, inv.request, Dict::new(), Payload::empty());
    assert!(net.events(caller).is_empty());
    assert!(net.s(callee).is_established());
}

#[test]
fn a_callee_asking_for_the_timeout_gets_it_and_enforces_it() {
    let (mut net, [callee, caller]) = Net::joined([J, J]);
    net.register(callee, "com.slow", Dict::new().with_forward_timeout(true));
    net.start_call(
        caller,
        "com.slow",
        Payload::empty(),
        Dict::new().with_timeout(500),
    );
    assert_eq!(net.invocation(callee).details.timeout(), Some(500));
    assert_eq!(net.router.poll_timeout(), None);
}

#[test]
fn a_leaving_callee_fails_its_calls_and_loses_its_registrations() {
    let (mut net, [callee, caller]) = Net::joined([J, J]);
    net.register(callee, "com.slow", Dict::new());
    let request = net.start_call(caller, "com.slow", Payload::empty(), Dict::new());
    let callee_session = net.session_id(callee);
    net.drop_transport(callee);
    let r = net.reply(caller, request);
    assert_eq!(error_uri(&r), Uri::CANCELED.as_str());
    let message = error_message(&r);
    assert!(
        message.contains("left") && message.contains(&callee_session.to_string()),
        "{message}"
    );
    let r = net.call(caller, "com.slow", Payload::empty(), Dict::new());
    assert_eq!(error_uri(&r), Uri::NO_SUCH_PROCEDURE.as_str());
}

#[test]
fn a_leaving_caller_interrupts_its_calls() {
    let (mut net, [callee, caller]) = Net::joined([J, J]);
    net.register(callee, "com.slow", Dict::new());
    net.start_call(caller, "com.slow", Payload::empty(), Dict::new());
    let inv = net.invocation(callee);
    net.drop_transport(caller);
    assert_interrupted(&mut net, callee, inv.request, CancelMode::KillNoWait);
    net.yield_now(callee, inv.request, Dict::new(), Payload::empty());
    assert!(net.s(callee).is_established());
}

#[test]
fn calls_in_flight_per_session_are_bounded() {
    let (mut net, [callee, caller]) = Net::with_peers(
        realm1().limits(Limits {
            max_calls_per_session: 3,
            ..Limits::default()
        }),
        [J, J],
    );
    net.register(callee, "com.slow", Dict::new());
    let requests: Vec<RequestId> = (0..4)
        .map(|_| {
            net.s(caller)
                .call(uri("com.slow"), Payload::empty(), Dict::new())
                .expect("the call is accepted")
        })
        .collect();
    net.pump();
    assert_eq!(net.invocations(callee).len(), 3);
    let r = net.reply(caller, requests[3]);
    assert_eq!(error_uri(&r), Uri::UNAVAILABLE.as_str());
    assert!(error_message(&r).contains("too many calls"));
}

#[test]
fn invocation_ids_are_sequential_per_callee() {
    let mut net = Net::new(realm1());
    let raw = raw_join(&mut net, "callee", &[]);
    raw_register(&mut net, raw, "com.x");
    let caller = net.join(J);
    for _ in 0..3 {
        net.s(caller)
            .call(uri("com.x"), Payload::empty(), Dict::new())
            .expect("the call is accepted");
    }
    net.pump();
    let ids: Vec<u64> = net
        .recv_raw(raw)
        .iter()
        .map(|m| match m {
            Message::Invocation(i) => i.request.get(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, vec![1, 2, 3]);
}

#[test]
fn registrations_per_session_are_bounded() {
    let (mut net, [a]) = Net::with_peers(
        realm1().limits(Limits {
            max_registrations_per_session: 2,
            ..Limits::default()
        }),
        [J],
    );
    let first = net.register(a, "p.1", Dict::new());
    net.register(a, "p.2", Dict::new());
    let r = net.try_register(a, uri("p.3"), Dict::new());
    assert_eq!(error_uri(&r), Uri::UNAVAILABLE.as_str());
    assert!(error_message(&r).contains("registrations"));
    let request = net
        .s(a)
        .unregister(first)
        .expect("the unregister is accepted");
    assert!(net.settled(a, request).is_ok());
    net.register(a, "p.3", Dict::new());
}

#[test]
fn an_enormous_timeout_neither_panics_nor_fires() {
    let (mut net, [callee, caller]) = Net::joined([J, J]);
    net.register(callee, "com.slow", Dict::new());
    net.start_call(
        caller,
        "com.slow",
        Payload::empty(),
        Dict::new().with_timeout(u64::MAX),
    );
    assert_eq!(net.invocations(callee).len(), 1);
    // Beyond what `Instant` can hold there is no deadline; otherwise it is far away.
    let far = net.now + secs(1_000_000_000);
    assert!(net.router.poll_timeout().is_none_or(|t| t > far));
    net.advance(secs(3600));
    assert!(net.events(caller).is_empty());
}
