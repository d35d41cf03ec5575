//! The router under load, on a virtual clock: byte budgets per connection, backpressure
//! on the sessions that feed a congested connection, and the slow-consumer policy (cut
//! only after no progress for the write timeout, or past the byte budget, and told why).
//!
//! The harness honours backpressure like a runtime does: a peer whose input is paused
//! keeps what it sends in its own session until the router resumes it.

// The virtual clock starts at one real `Instant::now()`; the ban on clocks is for the
// library, not for its tests.
#![allow(clippy::disallowed_methods)]

mod router_harness;

use std::collections::BTreeMap;

use router_harness::*;
use wamp_proto::session::CloseReason;
use wamp_proto::{serializer::SerializerKind, Dict, Uri};
use wamp_router::{ConnectionId, LeaveReason, Limits, RouterEvent};

const HIGH: usize = 16 << 10;
const LOW: usize = 4 << 10;
/// One event's argument: about 1 KiB on the wire.
const BODY: usize = 1000;

fn limits() -> Limits {
    Limits {
        transmit_high_water: HIGH,
        transmit_low_water: LOW,
        max_transmit_bytes: 1 << 20,
        write_timeout: secs(10),
        ..Limits::default()
    }
}

/// A network with backpressure and small limits, and a session joined per serializer
/// in `kinds`, in that order.
fn backpressured<const N: usize>(kinds: [SerializerKind; N]) -> (Net, [usize; N]) {
    let mut net = Net::new(realm1().limits(limits()));
    net.backpressure = true;
    let peers = kinds.map(|kind| net.join(kind));
    (net, peers)
}

fn publish_n(net: &mut Net, publisher: usize, from: u64, n: u64) {
    let body = "x".repeat(BODY);
    for i in from..from + n {
        net.publish(
            publisher,
            "t",
            args(SerializerKind::Json, &(i, &body)),
            Dict::new(),
        );
    }
}

fn sequence(net: &mut Net, id: usize) -> Vec<u64> {
    net.deliveries(id)
        .iter()
        .map(|e| e.payload.args::<(u64, String)>().expect("(seq, body)").0)
        .collect()
}

fn pause(net: &mut Net, id: usize) {
    let (now, conn) = (net.now, net.peers[id].conn);
    net.router.pause_transmit(now, conn).expect("open");
}

fn resume(net: &mut Net, id: usize) {
    let (now, conn) = (net.now, net.peers[id].conn);
    net.router.resume_transmit(now, conn).expect("open");
    net.pump();
}

fn held_events(log: &[RouterEvent], conn: ConnectionId) -> (usize, usize) {
    let paused = log
        .iter()
        .filter(|e| matches!(e, RouterEvent::InputPaused { conn: c } if *c == conn))
        .count();
    let resumed = log
        .iter()
        .filter(|e| matches!(e, RouterEvent::InputResumed { conn: c } if *c == conn))
        .count();
    (paused, resumed)
}

fn left_slow(log: &[RouterEvent]) -> Vec<&LeaveReason> {
    log.iter()
        .filter_map(|e| match e {
            RouterEvent::Left {
                reason: r @ LeaveReason::SlowConsumer { .. },
                ..
            } => Some(r),
            _ => None,
        })
        .collect()
}

#[test]
fn a_congested_reader_holds_its_publisher_instead_of_losing_events() {
    let (mut net, [slow, fast, publisher]) = backpressured([
        SerializerKind::Json,
        SerializerKind::Json,
        SerializerKind::Json,
    ]);
    net.subscribe(slow, "t", Dict::new());
    net.subscribe(fast, "t", Dict::new());
    let (slow_conn, pub_conn) = (net.peers[slow].conn, net.peers[publisher].conn);

    pause(&mut net, slow);
    publish_n(&mut net, publisher, 0, 200);
    // The router took events until the slow reader's backlog passed the high-water
    // mark, then stopped reading the publisher: the rest wait in the publisher.
    assert!(net.router.is_input_paused(pub_conn));
    let backlog = net.router.queued_bytes(slow_conn);
    assert!(
        (HIGH..HIGH + 2 * BODY).contains(&backlog),
        "backlog {backlog}"
    );
    let taken = sequence(&mut net, fast);
    assert_eq!(taken, (0..taken.len() as u64).collect::<Vec<_>>());
    assert!(taken.len() < 30, "{} events taken while held", taken.len());
    assert_eq!(held_events(&net.router_events(), pub_conn), (1, 0));

    // The reader drains in steps; each time its backlog reaches the low-water mark the
    // publisher goes on, until everything is delivered to both, in order.
    let mut slow_got = Vec::new();
    let mut fast_got = taken;
    for _ in 0..1000 {
        resume(&mut net, slow);
        slow_got.extend(sequence(&mut net, slow));
        fast_got.extend(sequence(&mut net, fast));
        if slow_got.len() == 200 {
            break;
        }
        pause(&mut net, slow);
        publish_n(&mut net, publisher, 0, 0);
        assert!(net.router.queued_bytes(slow_conn) < HIGH + 2 * BODY);
    }
    assert_eq!(slow_got, (0..200).collect::<Vec<_>>());
    assert_eq!(fast_got, (0..200).collect::<Vec<_>>());
    assert!(left_slow(&net.router_events()).is_empty());
    assert!(net.s(slow).is_established() && net.s(publisher).is_established());
    assert!(!net.router.is_input_paused(pub_conn));
}

#[test]
fn a_stuck_reader_is_cut_after_the_write_timeout_and_told_why() {
    let (mut net, [observer, stuck]) =
        backpressured([SerializerKind::Json, SerializerKind::MsgPack]);
    let readers: Vec<usize> = (0..3).map(|_| net.join(SerializerKind::Json)).collect();
    let publisher = net.join(SerializerKind::Json);
    net.subscribe(observer, "wamp.session.on_leave", Dict::new());
    net.subscribe(stuck, "t", Dict::new());
    for &r in &readers {
        net.subscribe(r, "t", Dict::new());
    }
    let stuck_session = net.session_id(stuck);
    let pub_conn = net.peers[publisher].conn;

    pause(&mut net, stuck);
    publish_n(&mut net, publisher, 0, 100);
    assert!(net.router.is_input_paused(pub_conn));
    // Just before the deadline nothing has happened.
    net.advance(secs(10) - millis(1));
    assert!(left_slow(&net.router_events()).is_empty());
    assert!(net.peers[stuck].open);
    // At the deadline the stuck reader goes; the publisher carries on.
    net.advance(millis(1));
    let log = net.router_events();
    let slow = left_slow(&log);
    assert_eq!(slow.len(), 1, "{log:?}");
    let LeaveReason::SlowConsumer {
        queued_bytes,
        stalled_for,
    } = slow[0]
    else {
        unreachable!()
    };
    assert_eq!(*stalled_for, Some(secs(10)));
    assert!(*queued_bytes >= HIGH / 2, "{queued_bytes}");
    assert!(log.iter().any(|e| matches!(
        e,
        RouterEvent::Aborted { reason, .. } if *reason == Uri::CLOSE_SLOW_CONSUMER
    )));
    assert!(!net.peers[stuck].open);
    assert!(!net.router.is_input_paused(pub_conn));
    for &r in &readers {
        assert_eq!(sequence(&mut net, r), (0..100).collect::<Vec<_>>());
    }
    // The meta API says why it left.
    let leaves = net.deliveries(observer);
    let leave = leaves
        .iter()
        .find(|e| e.payload.args::<(u64, String, String)>().map(|a| a.0) == Ok(stuck_session.get()))
        .expect("on_leave for the stuck session");
    let kwargs: BTreeMap<String, String> = leave.payload.kwargs().expect("reason and message");
    assert_eq!(kwargs["reason"], "wamp.close.slow_consumer");
    assert!(kwargs["message"].contains("10s"), "{kwargs:?}");
}

#[test]
fn a_reader_that_makes_progress_is_never_cut() {
    let (mut net, [reader, publisher]) =
        backpressured([SerializerKind::Json, SerializerKind::Json]);
    net.subscribe(reader, "t", Dict::new());
    let mut got = Vec::new();
    // Full for 9 s at a time, for a minute: slow, but never stuck for the deadline.
    for round in 0..7 {
        pause(&mut net, reader);
        publish_n(&mut net, publisher, round * 10, 10);
        net.advance(secs(9));
        resume(&mut net, reader);
        got.extend(sequence(&mut net, reader));
    }
    assert_eq!(got, (0..70).collect::<Vec<_>>());
    assert!(left_slow(&net.router_events()).is_empty());
    assert!(net.s(reader).is_established());
}

#[test]
fn a_backlog_over_the_byte_budget_is_cut_at_once_and_gets_abort() {
    let mut net = Net::new(realm1().limits(Limits {
        max_transmit_bytes: 64 << 10,
        ..limits()
    }));
    net.backpressure = true;
    let reader = net.join(SerializerKind::Json);
    let publisher = net.join(SerializerKind::Json);
    net.subscribe(reader, "t", Dict::new());
    // One event larger than the whole budget.
    let huge = "y".repeat(100 << 10);
    net.publish(
        publisher,
        "t",
        args(SerializerKind::Json, &(0, &huge)),
        Dict::new(),
    );
    let log = net.router_events();
    match left_slow(&log)[..] {
        [LeaveReason::SlowConsumer {
            queued_bytes,
            stalled_for: None,
        }] => assert!(*queued_bytes > 100 << 10, "{queued_bytes}"),
        ref other => panic!("{other:?}"),
    }
    // What waited is gone, but the ABORT saying why is there for it to read.
    match net.closed(reader) {
        Some(CloseReason::Aborted { reason, message }) => {
            assert_eq!(reason, Uri::CLOSE_SLOW_CONSUMER);
            assert!(message.is_some_and(|m| m.contains("budget")));
        }
        other => panic!("{other:?}"),
    }
    assert!(net.deliveries(reader).is_empty());
    assert!(net.s(publisher).is_established());
}

#[test]
fn a_held_publisher_does_not_hold_unrelated_sessions() {
    let (mut net, [stuck, publisher, callee, caller]) = backpressured([
        SerializerKind::Json,
        SerializerKind::Json,
        SerializerKind::Json,
        SerializerKind::Cbor,
    ]);
    net.subscribe(stuck, "t", Dict::new());
    net.register(callee, "com.echo", Dict::new());
    pause(&mut net, stuck);
    publish_n(&mut net, publisher, 0, 100);
    assert!(net.router.is_input_paused(net.peers[publisher].conn));
    for i in 0..20u64 {
        let request = net
            .s(caller)
            .call(
                uri("com.echo"),
                args(SerializerKind::Cbor, &(i,)),
                Dict::new(),
            )
            .expect("call");
        net.pump();
        let invocation = net.invocation(callee);
        net.s(callee)
            .yield_(invocation.request, Dict::new(), invocation.payload)
            .expect("yield");
        net.pump();
        let (n,): (u64,) = result_args(net.reply(caller, request));
        assert_eq!(n, i);
    }
    assert!(!net.router.is_input_paused(net.peers[caller].conn));
    assert!(!net.router.is_input_paused(net.peers[callee].conn));
}

#[test]
fn a_caller_that_does_not_read_its_results_holds_itself() {
    let (mut net, [callee, caller]) = backpressured([SerializerKind::Json, SerializerKind::Json]);
    net.register(callee, "com.echo", Dict::new());
    pause(&mut net, caller);
    let body = "z".repeat(BODY);
    let mut requests = Vec::new();
    for i in 0..100u64 {
        requests.push(
            net.s(caller)
                .call(
                    uri("com.echo"),
                    args(SerializerKind::Json, &(i, &body)),
                    Dict::new(),
                )
                .expect("call"),
        );
        net.pump();
        for invocation in net.invocations(callee) {
            net.s(callee)
                .yield_(invocation.request, Dict::new(), invocation.payload)
                .expect("yield");
        }
        net.pump();
    }
    // The callee's answers filled the caller's queue: the callee is held (it feeds the
    // caller), and so the calls wait in the caller's own session.
    let caller_conn = net.peers[caller].conn;
    assert!(net.router.is_input_paused(net.peers[callee].conn));
    assert!(net.router.queued_bytes(caller_conn) < HIGH + 2 * BODY);
    resume(&mut net, caller);
    for _ in 0..10 {
        for invocation in net.invocations(callee) {
            net.s(callee)
                .yield_(invocation.request, Dict::new(), invocation.payload)
                .expect("yield");
        }
        net.pump();
    }
    for (i, request) in requests.into_iter().enumerate() {
        let (n, _): (u64, String) = result_args(net.reply(caller, request));
        assert_eq!(n, i as u64);
    }
}
