//! Component, `run` and ApplicationRunner (`wamp-runtime`, through both runtime crates)
//! against a real Crossbar.io router: the lifecycle hooks in order, declared
//! registrations and subscriptions, `main` finishing the component, authentication
//! rejections being fatal by default, retry delays following the policy, `stop()` during
//! a backoff wait, and a reconnect after the router is stopped and started again, with
//! the registrations and subscriptions working on the new session.
//!
//! Every case is written once, generic over the [`Runtime`], and run on Tokio and
//! async-std.

mod common;

use std::future::IntoFuture;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::channel::mpsc;
use futures::future::{select, Either};
use futures::StreamExt;
use wamp_integration::credentials::*;
use wamp_integration::{Crossbar, CrossbarOptions, REALM};
use wamp_tokio::wamp_runtime::{
    self, ApplicationRunner, Auth, CloseReason, Component, ComponentBuilder, ComponentError,
    Invocation, JoinConfig, RetryPolicy, Runtime, Session, TransportConfig, TransportSpec, Yield,
};
use wamp_tokio::wamp_runtime::{Failure, Retry};

const CASE_LIMIT: Duration = Duration::from_secs(40);

use common::{
    assert_retries_while_down, forward_string_events, on_both_runtimes, record_retries,
    retrying_transport, within, BuildReporting,
};

/// Like `common::bounded`, with this file's longer limit.
async fn bounded<R: Runtime, T>(rt: &R, what: &str, future: impl IntoFuture<Output = T>) -> T {
    within(rt, CASE_LIMIT, future)
        .await
        .unwrap_or_else(|| panic!("{what}: no outcome within {CASE_LIMIT:?}"))
}

async fn client<R: Runtime>(rt: &R, url: &str) -> Session {
    let transport = TransportConfig::new(url).expect("valid URL");
    bounded(
        rt,
        "client connect",
        wamp_runtime::connect(rt, &transport, &JoinConfig::new(REALM)),
    )
    .await
    .expect("client joins")
}

/// A shared, ordered log of what the hooks saw.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, entry: impl Into<String>) {
        self.0.lock().expect("log").push(entry.into());
    }
    fn entries(&self) -> Vec<String> {
        self.0.lock().expect("log").clone()
    }
}

fn quick_retry(max_retries: Option<u32>) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        initial_retry_delay: Duration::from_millis(200),
        max_retry_delay: Duration::from_millis(800),
        retry_delay_growth: 2.0,
        retry_delay_jitter: 0.1,
    }
}

/// The delay retry `n` (1-based) may have under `policy`: its base delay ± jitter,
/// capped.
fn allowed(policy: &RetryPolicy, n: u32) -> (Duration, Duration) {
    let base =
        policy.initial_retry_delay.as_secs_f64() * policy.retry_delay_growth.powi(n as i32 - 1);
    let base = base.min(policy.max_retry_delay.as_secs_f64());
    let j = policy.retry_delay_jitter;
    let max = policy.max_retry_delay.as_secs_f64();
    (
        Duration::from_secs_f64((base * (1.0 - j)).min(max)),
        Duration::from_secs_f64((base * (1.0 + j)).min(max)),
    )
}

fn check_delays(policy: &RetryPolicy, retries: &[Retry]) {
    for retry in retries {
        let (low, high) = allowed(policy, retry.retry);
        assert!(
            retry.delay >= low && retry.delay <= high,
            "retry {} waited {:?}, policy allows {:?}..={:?}",
            retry.retry,
            retry.delay,
            low,
            high
        );
    }
}

/// Hooks fire in order; declared registrations and subscriptions are in place before
/// `main`; `main` returning `Ok` leaves and finishes the component.
async fn lifecycle_and_main<R: Runtime>(rt: R, ws: String, tag: String) {
    let log = Log::default();
    let (events_tx, mut events_rx) = mpsc::unbounded::<i64>();
    let echo = format!("{tag}.echo");
    let topic = format!("{tag}.topic");
    let (echo_main, topic_main) = (echo.clone(), topic.clone());
    let l = |name: &'static str| {
        let log = log.clone();
        move |_session: Session| {
            let log = log.clone();
            async move {
                log.push(name);
                Ok(())
            }
        }
    };
    let component = Component::builder()
        .transport(ws.as_str())
        .realm(REALM)
        .extra(wamp_runtime::Value::from("the extra"))
        .register(echo.clone(), |inv: Invocation| async move {
            let (n,): (i64,) = inv.args()?;
            Ok(Yield::args(&(n * 2,))?)
        })
        .subscribe(topic.clone(), move |event| {
            let events_tx = events_tx.clone();
            async move {
                if let Ok((n,)) = event.args::<(i64,)>() {
                    let _ = events_tx.unbounded_send(n);
                }
            }
        })
        .on_connect(l("connect"))
        .on_join(l("join"))
        .on_ready(l("ready"))
        .on_leave({
            let log = log.clone();
            move |reason: &CloseReason| log.push(format!("leave {}", reason.uri()))
        })
        .on_disconnect({
            let log = log.clone();
            move |clean| log.push(format!("disconnect clean={clean}"))
        })
        .main({
            let log = log.clone();
            move |session: Session| {
                let (log, echo, topic) = (log.clone(), echo_main.clone(), topic_main.clone());
                async move {
                    log.push("main");
                    let doubled: i64 = session.call(&echo).args(&(21,)).await?.first()?;
                    log.push(format!("echo {doubled}"));
                    session
                        .publish(&topic)
                        .args(&(5,))
                        .exclude_me(false)
                        .acknowledge(true)
                        .await?;
                    Ok(())
                }
            }
        })
        .build()
        .expect("a valid component");
    assert_eq!(component.extra(), &wamp_runtime::Value::from("the extra"));
    bounded(&rt, "component", component.start(&rt))
        .await
        .expect("main finished the component");
    assert_eq!(
        bounded(&rt, "event", events_rx.next()).await,
        Some(5),
        "the declared subscription got the event main published"
    );
    assert_eq!(
        log.entries(),
        [
            "connect",
            "join",
            "ready",
            "main",
            "echo 42",
            "leave wamp.close.normal",
            "disconnect clean=true"
        ]
    );
}

/// Builds `component` and runs it (bounded; `what` names the run) until it gives up, as
/// it must: its error, and when it started.
async fn gives_up<R: Runtime>(
    rt: &R,
    what: &str,
    component: ComponentBuilder,
) -> (ComponentError, Instant) {
    let component = component.build().expect("a valid component");
    let started = Instant::now();
    let err = bounded(rt, what, component.start(rt))
        .await
        .expect_err("gives up");
    (err, started)
}

/// A wrong ticket is fatal by default: one attempt, no retry, `Exhausted` naming the
/// abort reason. With `is_fatal` saying no, the retries follow the policy and stop after
/// `max_retries`.
async fn auth_rejection_and_retry_budget<R: Runtime>(rt: R, ws_auth: String, refused: String) {
    let failures = Log::default();
    let component = Component::builder()
        .transport(ws_auth.as_str())
        .auth(Auth::ticket(TICKET_AUTHID, "wrong ticket"))
        .on_connect_failure({
            let failures = failures.clone();
            move |f| failures.push(format!("fatal={} {}", f.fatal, f.failure))
        });
    let (err, started) = gives_up(&rt, "fatal auth", component).await;
    let ComponentError::Exhausted {
        last: Failure::Connect(last),
    } = &err
    else {
        panic!("not exhausted by a connect failure: {err}")
    };
    assert!(last.is_auth_rejection(), "{last}");
    let failures = failures.entries();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].starts_with("fatal=true"), "{failures:?}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Retrying everything: 1 attempt + 3 retries on a port nobody listens on.
    let policy = quick_retry(Some(3));
    let retries = Arc::new(Mutex::new(Vec::new()));
    let component = Component::builder()
        .transport(retrying_transport(&refused, &policy))
        .is_fatal(|_| false)
        .on_retry(record_retries(&retries));
    let (err, started) = gives_up(&rt, "retry budget", component).await;
    assert!(matches!(err, ComponentError::Exhausted { .. }), "{err}");
    let retries = retries.lock().expect("retries").clone();
    assert_eq!(
        retries.iter().map(|r| r.retry).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    check_delays(&policy, &retries);
    let waited: Duration = retries.iter().map(|r| r.delay).sum();
    assert!(
        started.elapsed() >= waited,
        "the component slept the delays"
    );
}

/// `stop()` during a backoff wait ends the component at once with `Ok`.
async fn stop_during_backoff<R: Runtime>(rt: R, refused: String) {
    let (retrying_tx, mut retrying_rx) = mpsc::unbounded();
    let component = Component::builder()
        .transport(
            TransportSpec::new(TransportConfig::new(&refused).expect("url")).retry(RetryPolicy {
                initial_retry_delay: Duration::from_secs(30),
                ..RetryPolicy::default()
            }),
        )
        .on_retry(move |_| {
            let _ = retrying_tx.unbounded_send(());
        })
        .build()
        .expect("a valid component");
    let stopper = component.clone();
    let started = Instant::now();
    let run = component.start(&rt);
    let stop = async move {
        retrying_rx.next().await;
        stopper.stop();
        std::future::pending::<()>().await
    };
    let result = match select(std::pin::pin!(run), std::pin::pin!(stop)).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => unreachable!("the stop future never ends"),
    };
    result.expect("stop is a clean end");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// `run` drives several components to the end; ApplicationRunner without
/// auto-reconnect runs its main once and fails cleanly when nothing listens.
async fn run_and_runner<R: Runtime>(rt: R, ws: String, rs: String, refused: String) {
    let done = Log::default();
    let make = |url: &str, name: &'static str| {
        let done = done.clone();
        Component::builder()
            .transport(url)
            .main(move |session: Session| {
                let done = done.clone();
                async move {
                    done.push(format!("{name} {}", session.id().get() > 0));
                    Ok(())
                }
            })
            .build()
            .expect("a valid component")
    };
    let components = [make(&ws, "ws"), make(&rs, "rs")];
    let results = bounded(
        &rt,
        "run",
        wamp_runtime::run(&rt, &components, std::future::pending::<()>()),
    )
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let mut done = done.entries();
    done.sort();
    assert_eq!(done, ["rs true", "ws true"]);

    let runner = ApplicationRunner::new(&ws, REALM).header("X-Test", "runner");
    let ran = Log::default();
    let r = ran.clone();
    bounded(
        &rt,
        "runner",
        runner.run(
            &rt,
            move |session: Session| {
                let r = r.clone();
                async move {
                    r.push(session.details().realm.to_string());
                    Ok(())
                }
            },
            false,
        ),
    )
    .await
    .expect("runner main ran");
    assert_eq!(ran.entries(), [REALM]);
    let err = bounded(
        &rt,
        "runner refused",
        ApplicationRunner::new(&refused, REALM).run(&rt, |_s: Session| async { Ok(()) }, false),
    )
    .await
    .expect_err("nothing listens");
    assert!(matches!(err, ComponentError::Exhausted { .. }), "{err}");
}

fn refused_url() -> String {
    format!(
        "rs://127.0.0.1:{}",
        wamp_integration::ports::free_port().expect("a free port")
    )
}

#[test]
fn component_against_crossbar_on_both_runtimes() {
    let crossbar = Crossbar::start(CrossbarOptions::default()).expect("crossbar starts");
    let (ws, rs, ws_auth) = (
        crossbar.ws_url(),
        crossbar.rawsocket_url(),
        crossbar.ws_auth_url(),
    );
    on_both_runtimes(
        "lifecycle",
        |rt| lifecycle_and_main(rt, ws.clone(), "comp.tokio".into()),
        |rt| lifecycle_and_main(rt, rs.clone(), "comp.asyncstd".into()),
    );
    on_both_runtimes(
        "auth and retries",
        |rt| auth_rejection_and_retry_budget(rt, ws_auth.clone(), refused_url()),
        |rt| auth_rejection_and_retry_budget(rt, ws_auth.clone(), refused_url()),
    );
    on_both_runtimes(
        "stop in backoff",
        |rt| stop_during_backoff(rt, refused_url()),
        |rt| stop_during_backoff(rt, refused_url()),
    );
    on_both_runtimes(
        "run and runner",
        |rt| run_and_runner(rt, ws.clone(), rs.clone(), refused_url()),
        |rt| run_and_runner(rt, ws.clone(), rs.clone(), refused_url()),
    );
    drop(crossbar);
}

/// Runs a blocking harness call on its own thread, so the runtime under test (a
/// current-thread one) keeps running the component meanwhile.
async fn off_thread<T: Send + 'static>(
    crossbar: &Arc<Mutex<Crossbar>>,
    f: impl FnOnce(&mut Crossbar) -> T + Send + 'static,
) -> T {
    let (tx, rx) = futures::channel::oneshot::channel();
    let crossbar = crossbar.clone();
    std::thread::spawn(move || {
        let _ = tx.send(f(&mut crossbar.lock().expect("crossbar")));
    });
    rx.await.expect("the harness thread answers")
}

/// A fresh client session on `url` finds the component's declarations at work: `ping`
/// answers "pong", and `word` published on `topic` reaches the component's handler,
/// which forwards it to `events`.
async fn declarations_work<R: Runtime>(
    rt: &R,
    url: &str,
    ping: &str,
    topic: &str,
    word: &str,
    events: &mut mpsc::UnboundedReceiver<String>,
) {
    let caller = client(rt, url).await;
    let pong: String = bounded(rt, &format!("ping before {word}"), caller.call(ping))
        .await
        .expect("ping")
        .first()
        .expect("pong");
    assert_eq!(pong, "pong");
    bounded(
        rt,
        &format!("publish {word}"),
        caller.publish(topic).args(&(word,)).acknowledge(true),
    )
    .await
    .expect("published");
    assert_eq!(
        bounded(rt, &format!("event {word}"), events.next())
            .await
            .as_deref(),
        Some(word)
    );
}

/// The router is stopped while a component is joined and started again on the same
/// ports: the component rejoins within its backoff, its declared registration and
/// subscription work on the new session, and the delays it waited follow the policy.
async fn reconnect<R: Runtime>(rt: R, crossbar: Arc<Mutex<Crossbar>>, url: String, tag: String) {
    let policy = quick_retry(None);
    let joins = Log::default();
    let retries = Arc::new(Mutex::new(Vec::<Retry>::new()));
    let (joined_tx, mut joined_rx) = mpsc::unbounded::<()>();
    let (left_tx, mut left_rx) = mpsc::unbounded::<String>();
    let (events_tx, mut events_rx) = mpsc::unbounded::<String>();
    let ping = format!("{tag}.ping");
    let topic = format!("{tag}.topic");
    let component = Component::builder()
        .transport(retrying_transport(&url, &policy))
        .register(ping.clone(), |_inv: Invocation| async move {
            Ok(Yield::args(&("pong",))?)
        })
        .subscribe(topic.clone(), forward_string_events(events_tx))
        .on_ready({
            let joins = joins.clone();
            move |session: Session| {
                let (joins, joined_tx) = (joins.clone(), joined_tx.clone());
                async move {
                    joins.push(session.id().get().to_string());
                    let _ = joined_tx.unbounded_send(());
                    Ok(())
                }
            }
        })
        .build_reporting(left_tx, &retries);
    let stopper = component.clone();
    let running = component.start(&rt);
    let test = async {
        // Joined, and the declared procedure and topic work.
        bounded(&rt, "first join", joined_rx.next()).await;
        declarations_work(&rt, &url, &ping, &topic, "one", &mut events_rx).await;

        // Router down: the session is lost and the component retries.
        let stopped_at = Instant::now();
        off_thread(&crossbar, |c| c.stop())
            .await
            .expect("crossbar stops");
        let reason = bounded(&rt, "lost", left_rx.next()).await.expect("left");
        assert_ne!(
            reason, "wamp.close.normal",
            "a lost router is not a normal leave"
        );
        // Let a few retries fail against the closed port.
        assert_retries_while_down(&rt, &retries).await;
        off_thread(&crossbar, |c| c.restart())
            .await
            .expect("crossbar starts again");
        let restarted_at = Instant::now();

        // Rejoined within one maximum delay (plus the connect itself).
        bounded(&rt, "rejoin", joined_rx.next()).await;
        let rejoin = restarted_at.elapsed();
        assert!(
            rejoin < policy.max_retry_delay + Duration::from_secs(3),
            "rejoined {rejoin:?} after the restart"
        );
        declarations_work(&rt, &url, &ping, &topic, "two", &mut events_rx).await;

        // The delays: first retry waits the initial delay, then grow, capped, jitter bounded.
        let retries = retries.lock().expect("retries").clone();
        assert_eq!(retries.first().map(|r| r.retry), Some(1));
        check_delays(&policy, &retries);
        let joins = joins.entries();
        assert_eq!(joins.len(), 2, "{joins:?}");
        assert_ne!(joins[0], joins[1], "a new session");
        eprintln!(
            "reconnect: {} retries, down for {:?}, rejoined {rejoin:?} after restart",
            retries.len(),
            stopped_at.elapsed()
        );
        stopper.stop();
    };
    let (result, ()) = futures::join!(running, test);
    result.expect("stopped cleanly");
}

#[test]
fn component_reconnects_after_the_router_restarts_on_both_runtimes() {
    let crossbar = Arc::new(Mutex::new(
        Crossbar::start(CrossbarOptions::default()).expect("crossbar starts"),
    ));
    let (ws, rs) = {
        let c = crossbar.lock().expect("crossbar");
        (c.ws_url(), c.rawsocket_url())
    };
    on_both_runtimes(
        "reconnect",
        |rt| reconnect(rt, crossbar.clone(), ws.clone(), "reconnect.tokio".into()),
        |rt| {
            reconnect(
                rt,
                crossbar.clone(),
                rs.clone(),
                "reconnect.asyncstd".into(),
            )
        },
    );
}
