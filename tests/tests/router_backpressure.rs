//! Backpressure over real sockets, on a multi-threaded runtime as `wamp router` runs:
//! a publisher sends as fast as it can to a hundred subscribers that read as fast as they
//! can and one that never reads. The hundred get every event in order; the stuck one is
//! cut as a slow consumer once its writer has made no progress for the write timeout;
//! the publisher may be held meanwhile (its publishes wait, none fails), and what the router
//! holds for full writers stays within its byte budgets throughout. And a WebSocket
//! reader that stops reading finds, once it reads again, why it was cut: ABORT
//! `wamp.close.slow_consumer` and a Close frame with code 1008.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{bounded, Bare};
use futures::io::AsyncReadExt;
use futures::StreamExt;
use serde_json::json;
use wamp_integration::REALM;
use wamp_tokio::wamp_runtime::{
    Invocation, JoinConfig, Limits, ListenerConfig, RealmConfig, RouterBuilder, RouterConfig,
    RouterHandle, Runtime, SerializerKind, TransportConfig, Yield,
};
use wamp_tokio::TokioRuntime;

const READERS: usize = 100;
const EVENTS: u64 = 3_000;
const TOPIC: &str = "test.burst";
const BODY: usize = 4096;
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

#[test]
fn a_stuck_reader_is_cut_while_a_hundred_readers_get_every_event() {
    common::on_two_threads(case);
}

/// Our router, anonymous on `REALM`, that cuts a writer stuck for `write_timeout`, with
/// one `listener` (on port 0); and that listener's address.
async fn start_router(
    rt: &TokioRuntime,
    write_timeout: Duration,
    listener: ListenerConfig,
) -> (RouterHandle, SocketAddr) {
    let limits = Limits {
        write_timeout,
        ..Limits::default()
    };
    let config = RouterConfig::new()
        .realm(RealmConfig::anonymous(REALM).expect("a realm"))
        .limits(limits);
    let router = RouterBuilder::new(rt.clone(), config)
        .listen(listener)
        .start()
        .await
        .expect("the router starts");
    let addr = router.listeners()[0].addr.tcp().expect("a TCP address");
    (router, addr)
}

/// What a bare client sends to subscribe to `TOPIC`: HELLO, then SUBSCRIBE.
fn subscribe() -> [serde_json::Value; 2] {
    [
        json!([1, REALM, {"roles": {"subscriber": {}}}]),
        json!([32, 1, {}, TOPIC]),
    ]
}

/// MessagePack over RawSocket to `addr`.
fn msgpack_transport(addr: SocketAddr) -> TransportConfig {
    TransportConfig::new(&format!("rs://{addr}"))
        .expect("a valid URL")
        .serializer(SerializerKind::MsgPack)
}

async fn case(rt: TokioRuntime) {
    let high_water = Limits::default().transmit_high_water;
    let (router, addr) =
        start_router(&rt, WRITE_TIMEOUT, ListenerConfig::rawsocket("127.0.0.1:0")).await;
    let transport = msgpack_transport(addr);
    // Every event fits in a subscription's queue, so a reader that is scheduled late
    // still loses nothing on its own side.
    let join = JoinConfig::new(REALM).stream_buffer(EVENTS as usize + 16);

    // The stuck reader: joins and subscribes by hand, then never reads again.
    let stuck = common::bare_client_that_sent(&rt, addr, Bare::RawSocket, &subscribe()).await;

    let mut readers = Vec::new();
    for _ in 0..READERS {
        let session = common::join(&rt, &transport, &join).await;
        let subscription = session.subscribe(TOPIC).await.expect("subscribe");
        let (done_tx, done) = futures::channel::oneshot::channel();
        rt.spawn(Box::pin(async move {
            let mut subscription = subscription;
            let mut seen = Vec::with_capacity(EVENTS as usize);
            while (seen.len() as u64) < EVENTS {
                match subscription.next().await {
                    Some(Ok(event)) => {
                        let (n, _): (u64, String) = event.args().expect("(seq, body)");
                        seen.push(n);
                    }
                    other => panic!("a reader's subscription ended: {other:?}"),
                }
            }
            let _ = done_tx.send(seen);
            drop(session);
        }));
        readers.push(done);
    }
    // The stuck one's SUBSCRIBE is in by now (it went before every reader joined).
    assert_eq!(router.stats().await.sessions, READERS + 1);

    let publisher = common::join(&rt, &transport, &JoinConfig::new(REALM)).await;
    assert_eq!(router.stats().await.sessions, READERS + 2);
    // Watch the router: when the stuck one goes, and the most it ever held.
    let stop = Arc::new(AtomicBool::new(false));
    let max_queued = Arc::new(AtomicUsize::new(0));
    let max_largest = Arc::new(AtomicUsize::new(0));
    let (cut_tx, cut) = futures::channel::oneshot::channel::<Instant>();
    {
        let (router, stop) = (router.clone(), stop.clone());
        let (max_queued, max_largest) = (max_queued.clone(), max_largest.clone());
        let rt2 = rt.clone();
        rt.spawn(Box::pin(async move {
            let mut cut_tx = Some(cut_tx);
            while !stop.load(Ordering::Relaxed) {
                let stats = router.stats().await;
                max_queued.fetch_max(stats.queued_bytes, Ordering::Relaxed);
                max_largest.fetch_max(stats.largest_queue, Ordering::Relaxed);
                if stats.sessions == READERS + 1 {
                    // The publisher joined, the stuck reader is gone.
                    if let Some(tx) = cut_tx.take() {
                        let _ = tx.send(Instant::now());
                    }
                }
                rt2.sleep_until(Instant::now() + Duration::from_millis(10))
                    .await;
            }
        }));
    }

    // 12 MB to every reader: more than the stuck reader's socket buffers take in, so
    // its writer really stalls.
    let body = "x".repeat(BODY);
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for n in 0..EVENTS {
        let t = Instant::now();
        bounded(&rt, "publish", publisher.publish(TOPIC).args(&(n, &body)))
            .await
            .expect("a publish waits, it does not fail");
        slowest = slowest.max(t.elapsed());
    }
    let cut_at = bounded(&rt, "the stuck reader is cut", cut)
        .await
        .expect("watched");
    for (i, done) in readers.into_iter().enumerate() {
        let seen = bounded(&rt, "a reader's events", done)
            .await
            .expect("the reader finished");
        assert!(
            seen.iter().copied().eq(0..EVENTS),
            "reader {i} lost or reordered events"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let max_queued = max_queued.load(Ordering::Relaxed);
    let largest = max_largest.load(Ordering::Relaxed);
    eprintln!(
        "{READERS} readers got all {EVENTS} events in {:?}; the stuck one was cut after {:?}; \
         slowest publish {slowest:?}; the router held at most {max_queued} bytes, \
         {largest} for one connection",
        started.elapsed(),
        cut_at - started,
    );
    // It was cut for making no progress, so not before the write timeout.
    assert!(cut_at - started >= WRITE_TIMEOUT, "{:?}", cut_at - started);
    // Backpressure kept every queue near the high-water mark (one publication past it
    // at most), so the whole is bounded by the connections, not by the burst.
    assert!(largest <= high_water + 64 * 1024, "{largest}");
    assert!(
        max_queued <= (READERS + 1) * (high_water + 64 * 1024),
        "{max_queued}"
    );
    // The readers leave (each drops its session once it has every event, and a leave
    // takes a GOODBYE round trip); the stuck reader is gone too; the publisher stays.
    drop(stuck);
    bounded(&rt, "the readers leave", async {
        while router.stats().await.sessions != 1 {
            rt.sleep_until(Instant::now() + Duration::from_millis(10))
                .await;
        }
    })
    .await;
    drop(publisher);
    bounded(&rt, "shutdown", router.shutdown()).await;
}

/// A WebSocket subscriber that stops reading is cut the same way, and what it finds when
/// it reads again says why: ABORT `wamp.close.slow_consumer`, then a Close frame with
/// code 1008 (policy violation) and that reason.
#[test]
fn a_stuck_websocket_reader_is_told_why_in_abort_and_the_close_frame() {
    common::on_two_threads(websocket_case);
}

async fn websocket_case(rt: TokioRuntime) {
    let (router, addr) = start_router(
        &rt,
        Duration::from_millis(500),
        ListenerConfig::websocket("127.0.0.1:0", "/ws"),
    )
    .await;
    let url = router.listeners()[0].url().expect("a URL");

    // A bare WebSocket client: the upgrade, masked text frames, then silence.
    let mut stuck = common::bare_client_that_sent(&rt, addr, Bare::WebSocket, &subscribe()).await;

    let publisher = common::join(
        &rt,
        &TransportConfig::new(&url).expect("a valid URL"),
        &JoinConfig::new(REALM),
    )
    .await;
    // Wait until the stuck one has subscribed (WELCOME and SUBSCRIBED wait unread).
    while router.stats().await.sessions < 2 {
        rt.sleep_until(Instant::now() + Duration::from_millis(5))
            .await;
    }
    rt.sleep_until(Instant::now() + Duration::from_millis(100))
        .await;
    let body = "y".repeat(BODY);
    let mut n = 0u64;
    while router.stats().await.sessions == 2 {
        assert!(n < 20_000, "the stuck reader was never cut");
        for _ in 0..100 {
            bounded(&rt, "publish", publisher.publish(TOPIC).args(&(n, &body)))
                .await
                .expect("published");
            n += 1;
        }
    }

    // It reads again: everything it was sent that fit, ABORT, the Close frame, the end.
    let mut stream = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let read = bounded(&rt, "the stuck reader's end", stuck.read(&mut buf))
            .await
            .unwrap_or(0);
        if read == 0 {
            break;
        }
        stream.extend_from_slice(&buf[..read]);
    }
    let frames = server_frames(&stream);
    let (last_op, close) = frames.last().expect("frames");
    assert_eq!(*last_op, 8, "a Close frame last");
    assert_eq!(u16::from_be_bytes([close[0], close[1]]), 1008);
    assert_eq!(&close[2..], b"wamp.close.slow_consumer");
    let (abort_op, abort) = &frames[frames.len() - 2];
    assert_eq!(*abort_op, 1, "a text frame before it");
    let abort: serde_json::Value = serde_json::from_slice(abort).expect("JSON");
    assert_eq!(abort[0], json!(3), "ABORT: {abort}");
    assert_eq!(abort[2], json!("wamp.close.slow_consumer"), "{abort}");
    drop(publisher);
    bounded(&rt, "shutdown", router.shutdown()).await;
}

/// The (opcode, payload) of each whole unmasked frame in what a server sent.
fn server_frames(mut rest: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while rest.len() >= 2 {
        let op = rest[0] & 0x0f;
        let (len, start) = match rest[1] & 0x7f {
            126 => (u16::from_be_bytes([rest[2], rest[3]]) as usize, 4),
            127 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&rest[2..10]);
                (u64::from_be_bytes(n) as usize, 10)
            }
            n => (n as usize, 2),
        };
        if rest.len() < start + len {
            break;
        }
        frames.push((op, rest[start..start + len].to_vec()));
        rest = &rest[start + len..];
    }
    frames
}

const CALLS: u32 = 4000;

/// A caller and a callee that each have far more than their write buffers in flight
/// (4,000 calls of 16 KiB both ways): backpressure holds each of them in turn, and neither
/// may end up holding the other (a client that stopped reading while the router stopped
/// reading it would) — every call is answered and nobody is cut.
#[test]
fn a_caller_and_a_callee_with_megabytes_in_flight_do_not_hold_each_other() {
    common::on_two_threads(|rt| async move {
        let (router, addr) =
            start_router(&rt, WRITE_TIMEOUT, ListenerConfig::rawsocket("127.0.0.1:0")).await;
        let transport = msgpack_transport(addr);
        // Every call may be running at once (none is refused as over the limit).
        let callee = common::join(
            &rt,
            &transport,
            &JoinConfig::new(REALM).max_concurrent_invocations(2 * CALLS as usize),
        )
        .await;
        // No byte budget to speak of: the caller's loop takes all 64 MiB of calls as fast
        // as its own output allows.
        let caller = common::join(
            &rt,
            &transport,
            &JoinConfig::new(REALM).command_bytes(64 << 20),
        )
        .await;
        let _echo = callee
            .register("test.echo", |inv: Invocation| async move {
                Ok(Yield::from_payload(inv.payload().clone()))
            })
            .await
            .expect("register");
        let body = "z".repeat(16 * 1024);
        let calls = (0..CALLS).map(|n| {
            let call = caller.call("test.echo").args(&(n, &body));
            async move {
                let (m, _): (u32, String) = call.await.expect("answered").args().expect("args");
                assert_eq!(m, n);
            }
        });
        bounded(&rt, "the calls", futures::future::join_all(calls)).await;
        assert_eq!(router.stats().await.sessions, 2, "nobody was cut");
        drop((caller, callee, _echo));
        bounded(&rt, "shutdown", router.shutdown()).await;
    });
}
