//! The router process dies (SIGKILL, as a crash or the OOM killer would: no GOODBYE, the
//! kernel resets the sockets) while calls are pending, and comes back on the same port.
//!
//! Proven against `wamp router` run as a user runs it: the pending calls fail at once
//! with `SessionClosed` (no hang); a Component retries with its backoff while nothing
//! listens, rejoins when the router is back, re-registers its procedure and
//! re-subscribes its topic; and the first call after the restart succeeds, as does an
//! acknowledged publication to the re-subscribed topic.

mod common;

use std::future::IntoFuture;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::channel::mpsc;
use futures::StreamExt;
use wamp_integration::ports::free_ports;
use wamp_integration::wamp_cli::RouterProcess;
use wamp_integration::REALM;
use wamp_tokio::wamp_runtime::Retry;
use wamp_tokio::wamp_runtime::{
    Component, Error, Invocation, JoinConfig, RetryPolicy, Runtime, Session, TransportConfig,
    WampError, Yield,
};

use common::{bounded, forward_string_events, on_tokio, retrying_transport, BuildReporting};

/// "At once": a killed router resets the connections, so the client learns within a
/// scheduling delay, not a keepalive.
const AT_ONCE: Duration = Duration::from_millis(500);

fn start_router(port: u16) -> RouterProcess {
    let ws = format!("127.0.0.1:{port}");
    let (router, urls) = RouterProcess::start(&["--ws", &ws, "--rawsocket", "", "--realm", REALM]);
    assert_eq!(urls.len(), 1, "one listener: {urls:?}");
    router
}

/// Calls the component's `com.example.echo` with `word` (`what` names the call) and
/// expects `word` back.
async fn assert_echoes<R: Runtime>(rt: &R, caller: &Session, word: &str, what: &str) {
    let echoed: String = bounded(rt, what, caller.call("com.example.echo").args(&(word,)))
        .await
        .expect(what)
        .first()
        .expect("a string");
    assert_eq!(echoed, word);
}

#[test]
fn a_killed_router_fails_pending_calls_at_once_and_components_come_back() {
    let port = free_ports(1).expect("a free port")[0];
    let url = format!("ws://127.0.0.1:{port}/ws");
    let router = Arc::new(Mutex::new(Some(start_router(port))));
    let held = router.clone();
    on_tokio(|rt| async move {
        let policy = RetryPolicy {
            max_retries: None,
            initial_retry_delay: Duration::from_millis(200),
            max_retry_delay: Duration::from_millis(800),
            retry_delay_growth: 2.0,
            retry_delay_jitter: 0.1,
        };
        let (ready_tx, mut ready) = mpsc::unbounded::<u64>();
        let (left_tx, mut left) = mpsc::unbounded::<String>();
        let (events_tx, mut events) = mpsc::unbounded::<String>();
        let retries = Arc::new(Mutex::new(Vec::<Retry>::new()));
        let component = Component::builder()
            .transport(retrying_transport(&url, &policy))
            .register("com.example.echo", |inv: Invocation| async move {
                let (s,): (String,) = inv.args()?;
                Ok(Yield::args(&(s,))?)
            })
            .register("com.example.slow", |_: Invocation| async {
                futures::future::pending::<Result<Yield, WampError>>().await
            })
            .subscribe("com.example.topic", forward_string_events(events_tx))
            .on_ready(move |session: Session| {
                let ready_tx = ready_tx.clone();
                async move {
                    let _ = ready_tx.unbounded_send(session.id().get());
                    Ok(())
                }
            })
            .build_reporting(left_tx, &retries);
        let stopper = component.clone();
        let running = component.start(&rt);

        let test = async {
            let first = bounded(&rt, "the component joins", ready.next()).await;
            let transport = TransportConfig::new(&url).expect("url");
            let caller = common::join(&rt, &transport, &JoinConfig::new(REALM)).await;
            assert_echoes(&rt, &caller, "a", "echo").await;

            // Three calls are in the callee's hands when the router dies.
            let pending = futures::future::join_all(
                (0..3).map(|_| caller.call("com.example.slow").into_future()),
            );
            let kill = async {
                rt.sleep_until(Instant::now() + Duration::from_millis(200))
                    .await;
                let process = router.lock().expect("router").take().expect("running");
                let pid = process.pid();
                process.kill();
                eprintln!("killed wamp router (pid {pid}) with SIGKILL");
                Instant::now()
            };
            let (outcomes, killed) = bounded(
                &rt,
                "the pending calls",
                futures::future::join(pending, kill),
            )
            .await;
            let failed_after = killed.elapsed();
            assert!(
                failed_after < AT_ONCE,
                "the calls failed {failed_after:?} after the kill"
            );
            for outcome in outcomes {
                match outcome {
                    Err(Error::SessionClosed(reason)) => {
                        assert!(!reason.is_clean(), "a crash is not a clean close: {reason}")
                    }
                    other => panic!("a pending call ended with {other:?}"),
                }
            }
            let reason = bounded(&rt, "the component leaves", left.next())
                .await
                .expect("left");
            assert_ne!(reason, "wamp.close.normal", "a crash is not a normal leave");

            // While nothing listens, the component retries with its backoff.
            common::assert_retries_while_down(&rt, &retries).await;

            *router.lock().expect("router") = Some(start_router(port));
            let restarted = Instant::now();
            let second = bounded(&rt, "the component rejoins", ready.next()).await;
            let rejoin = restarted.elapsed();
            assert_ne!(first, second, "a new session");
            assert!(
                rejoin < policy.max_retry_delay + Duration::from_secs(3),
                "rejoined {rejoin:?} after the restart"
            );

            // The first call after the restart succeeds: the procedure was registered
            // again before the component said it was ready.
            let caller = common::join(&rt, &transport, &JoinConfig::new(REALM)).await;
            assert_echoes(&rt, &caller, "b", "the first call after the restart").await;
            bounded(
                &rt,
                "publish",
                caller
                    .publish("com.example.topic")
                    .args(&("after",))
                    .acknowledge(true),
            )
            .await
            .expect("published");
            let event = bounded(&rt, "the event", events.next()).await;
            assert_eq!(event.as_deref(), Some("after"), "re-subscribed");

            let retries = retries.lock().expect("retries").clone();
            for retry in &retries {
                assert!(
                    retry.delay
                        <= policy
                            .max_retry_delay
                            .mul_f64(1.0 + policy.retry_delay_jitter),
                    "retry {} waited {:?}",
                    retry.retry,
                    retry.delay
                );
            }
            eprintln!(
                "SIGKILL: pending calls failed {failed_after:?} after the kill; {} retries; \
                 rejoined {rejoin:?} after the restart",
                retries.len()
            );
            stopper.stop();
        };
        let (result, ()) = futures::join!(running, test);
        result.expect("the component stops cleanly");
    });
    let last = held.lock().expect("router").take();
    if let Some(router) = last {
        router.stop();
    }
}
