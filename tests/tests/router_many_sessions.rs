//! Load held: 10,000 concurrent joined sessions on one `wamp router` (run as a user
//! runs it), half over WebSocket and half over RawSocket, every one of them our own
//! client with its own connection task, each doing a call round trip while all are
//! joined; then they all leave and the router counts none.
//!
//! The test raises its own open-file limit to the hard limit (the router, its child,
//! inherits it): 10,000 connections need 10,000 descriptors on each side. It prints the
//! time to join them all, the call round, and the router's memory before and with all
//! joined. `WAMP_SESSIONS` changes the count (e.g. for a quick look).

mod common;

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use wamp_integration::wamp_cli::RouterProcess;
use wamp_integration::REALM;
use wamp_tokio::wamp_runtime::{self, Invocation, JoinConfig, Session, TransportConfig, Yield};

/// Handshakes (and later calls) in flight at once.
const PARALLEL: usize = 200;
/// Descriptors the test needs besides the sessions' (the router's listeners, cargo's,
/// the harness's).
const SPARE_FDS: u64 = 200;
/// The whole test, once the router runs.
const LIMIT: Duration = Duration::from_secs(300);

/// Raises the open-file soft limit to the hard limit; returns the limit now in force.
fn raise_nofile() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => limit.maximum.unwrap_or(u64::MAX),
        Err(e) => panic!(
            "cannot raise the open-file limit to {:?}: {e}",
            limit.maximum
        ),
    }
}

#[test]
fn ten_thousand_joined_sessions_each_make_a_call() {
    let n: usize = common::env_or("WAMP_SESSIONS", 10_000);
    let fds = raise_nofile();
    assert!(
        fds >= n as u64 + SPARE_FDS,
        "the hard open-file limit ({fds}) is below the {} this test needs",
        n as u64 + SPARE_FDS
    );
    let (router, ws, rs) = RouterProcess::start_local(&["--realm", REALM]);
    let urls = [ws, rs];

    let router_ref = &router;
    common::on_two_threads(|rt| async move {
        let router = router_ref;
        let join = |i: usize| {
            let rt = rt.clone();
            let transport = TransportConfig::new(&urls[i % 2]).expect("url");
            async move {
                wamp_runtime::connect(&rt, &transport, &JoinConfig::new(REALM))
                    .await
                    .unwrap_or_else(|e| panic!("session {i} cannot join: {e}"))
            }
        };
        let work = async {
            let callee = join(0).await;
            let _echo = callee
                .register("com.example.echo", |inv: Invocation| async move {
                    let (i,): (u64,) = inv.args()?;
                    Ok(Yield::args(&(i,))?)
                })
                .await
                .expect("registered");
            let before = router.rss_kib().expect("router memory");

            let started = Instant::now();
            // The callee is the first of the `n`.
            let mut sessions: Vec<Session> = vec![callee.clone()];
            let others: Vec<Session> = stream::iter(1..n)
                .map(&join)
                .buffer_unordered(PARALLEL)
                .collect()
                .await;
            sessions.extend(others);
            let join_time = started.elapsed();
            let with_all = router.rss_kib().expect("router memory");

            let count = common::session_count(&callee).await;
            assert_eq!(count, n as u64, "sessions the router counts");

            let started = Instant::now();
            let answered = stream::iter(sessions.iter().enumerate())
                .map(|(i, session)| async move {
                    let echoed: u64 = session
                        .call("com.example.echo")
                        .args(&(i as u64,))
                        .await
                        .unwrap_or_else(|e| panic!("session {i}'s call: {e}"))
                        .first()
                        .expect("a number");
                    assert_eq!(echoed, i as u64, "session {i} got another's answer");
                })
                .buffer_unordered(PARALLEL)
                .count()
                .await;
            let call_time = started.elapsed();
            assert_eq!(answered, n);

            let started = Instant::now();
            stream::iter(&sessions[1..])
                .map(|s| async move { s.leave().await.expect("leaves") })
                .buffer_unordered(PARALLEL)
                .count()
                .await;
            let leave_time = started.elapsed();
            drop(sessions);
            let count = common::session_count(&callee).await;
            assert_eq!(count, 1, "sessions left behind");
            callee.leave().await.expect("leaves");

            let per_session = (with_all.saturating_sub(before)) as f64 / n as f64;
            eprintln!(
                "{n} sessions (half WebSocket, half RawSocket; open-file limit {fds}): joined in \
                 {join_time:.2?} ({:.0}/s), one call each in {call_time:.2?}, left in {leave_time:.2?}; \
                 router memory {before} KiB before, {with_all} KiB with all joined \
                 ({per_session:.1} KiB per session)",
                n as f64 / join_time.as_secs_f64()
            );
        };
        if common::within(&rt, LIMIT, work).await.is_none() {
            panic!("not done within {LIMIT:?}");
        }
    });
    router.stop();
}
