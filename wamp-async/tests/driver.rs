//! The connection loop end to end, over in-memory byte streams to a scripted router
//! (`support`): connect and join, calls into the session's own registrations,
//! progressive results, cancel on drop, pub/sub, lag, leave, and connect failures.
//! On a virtual clock (`support::TestRuntime`): timeouts and delays are asserted
//! exactly, and a test that waits ten virtual seconds takes none.

mod support;

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::time::Duration;

use futures::channel::mpsc;
use futures::future::{select, Either};
use futures::{SinkExt, StreamExt};
use support::TestRuntime;
use wamp_proto::message::Message;
use wamp_runtime::{
    connect, CallResult, CancelMode, CloseReason, ConnectError, Error, Invocation, JoinConfig,
    MatchPolicy, RegisterOptions, Runtime, SerializerKind, Session, SubscribeOptions,
    TransportConfig, TransportError, Uri, WampError, Yield,
};

/// Fails a test that would otherwise hang.
async fn within<T>(rt: &TestRuntime, what: &str, future: impl IntoFuture<Output = T>) -> T {
    let timer = rt.sleep_until(rt.now() + Duration::from_secs(10));
    match select(std::pin::pin!(future.into_future()), timer).await {
        Either::Left((value, _)) => value,
        Either::Right(_) => panic!("timed out: {what}"),
    }
}

async fn join(rt: &TestRuntime, serializer: SerializerKind) -> Session {
    let transport = TransportConfig::new("rs://router:1")
        .expect("valid URL")
        .serializer(serializer);
    within(
        rt,
        "connect",
        connect(rt, &transport, &JoinConfig::new("realm1")),
    )
    .await
    .expect("joins")
}

#[test]
fn calls_reach_registrations_with_args_kwargs_and_errors() {
    for serializer in SerializerKind::ALL {
        let rt = TestRuntime::new();
        rt.block_on(async {
            let session = join(&rt, serializer).await;
            assert_eq!(session.serializer(), serializer);
            assert_eq!(session.details().authid.as_deref(), Some("anon"));
            assert_eq!(session.id().get(), 4242);

            let _add = session
                .register("com.add", |inv: Invocation| async move {
                    let (a, b): (i64, i64) = inv.args()?;
                    let kwargs: BTreeMap<String, String> = inv.kwargs()?;
                    if a < 0 {
                        return Err(WampError::with_message("com.error.negative", "a < 0")
                            .with_kwargs(&kwargs));
                    }
                    Ok(Yield::new(&(a + b,), &kwargs)?)
                })
                .await
                .expect("registers");

            let kwargs = BTreeMap::from([("unit".to_owned(), "m".to_owned())]);
            let result = within(
                &rt,
                "call",
                session.call("com.add").args(&(2, 3)).kwargs(&kwargs),
            )
            .await
            .expect("result");
            assert_eq!(result.first::<i64>(), Ok(5));
            assert_eq!(
                result.kwargs::<BTreeMap<String, String>>(),
                Ok(kwargs.clone())
            );
            assert!(!result.is_progress());

            let err = session
                .call("com.add")
                .args(&(-1, 3))
                .kwargs(&kwargs)
                .await
                .expect_err("negative");
            let Error::Wamp(wamp) = &err else {
                panic!("not a WAMP error: {err}")
            };
            assert_eq!(wamp.uri(), "com.error.negative");
            assert_eq!(wamp.message().as_deref(), Some("a < 0"));
            assert_eq!(wamp.kwargs::<BTreeMap<String, String>>(), Ok(kwargs));
            assert_eq!(err.to_string(), "com.error.negative: a < 0");

            // Arguments the handler cannot decode.
            let err = session
                .call("com.add")
                .args(&("x",))
                .await
                .expect_err("bad args");
            assert_eq!(err.uri(), Some(&Uri::INVALID_ARGUMENT));

            let err = session.call("com.nothing").await.expect_err("unknown");
            assert_eq!(err.uri(), Some(&Uri::NO_SUCH_PROCEDURE));

            // Usage errors never reach the wire.
            let err = session.call("not a uri").await.expect_err("bad uri");
            assert!(matches!(err, Error::InvalidUri(_)), "{err}");
            let err = session
                .call("com.add")
                .args(&7)
                .await
                .expect_err("not a list");
            assert!(matches!(err, Error::Encode(_)), "{err}");

            let closed = within(&rt, "leave", session.leave()).await.expect("leaves");
            assert!(
                matches!(closed, CloseReason::Goodbye { local: true, .. }),
                "{closed}"
            );
        });
    }
}

#[test]
fn pattern_registrations_see_the_concrete_procedure_and_disclosed_caller() {
    let rt = TestRuntime::new();
    rt.block_on(async {
        let session = join(&rt, SerializerKind::Json).await;
        let options = RegisterOptions::new()
            .match_policy(MatchPolicy::Prefix)
            .disclose_caller(true);
        let _reg = session
            .register_with("com.things", options, |inv: Invocation| async move {
                let caller = inv.caller().map(|c| c.get());
                Ok(Yield::args(&(inv.procedure().as_str(), caller))?)
            })
            .await
            .expect("registers");
        let result = within(
            &rt,
            "call",
            session.call("com.things.a.b").disclose_me(true),
        )
        .await
        .expect("result");
        assert_eq!(
            result.args::<(String, Option<u64>)>(),
            Ok(("com.things.a.b".to_owned(), Some(4242)))
        );
    });
}

#[test]
fn progressive_results_stream_then_the_final_result() {
    let rt = TestRuntime::new();
    rt.block_on(async {
        let session = join(&rt, SerializerKind::MsgPack).await;
        let _count = session
            .register("com.count", |inv: Invocation| async move {
                let (n,): (u32,) = inv.args()?;
                for i in 0..n {
                    inv.progress(&(i,), &()).await?;
                }
                Ok(Yield::args(&(n,))?)
            })
            .await
            .expect("registers");
        let results: Vec<Result<CallResult, Error>> = within(
            &rt,
            "progress",
            session.call("com.count").args(&(3,)).progress().collect(),
        )
        .await;
        let values: Vec<(u32, bool)> = results
            .into_iter()
            .map(|r| {
                let r = r.expect("result");
                (r.first().expect("a number"), r.is_progress())
            })
            .collect();
        assert_eq!(values, [(0, true), (1, true), (2, true), (3, false)]);

        // Without receive_progress, a handler cannot send progress.
        let _strict = session
            .register("com.strict", |inv: Invocation| async move {
                let refused = inv.progress(&(1,), &()).await.is_err();
                Ok(Yield::args(&(refused,))?)
            })
            .await
            .expect("registers");
        let refused: bool = session
            .call("com.strict")
            .await
            .expect("result")
            .first()
            .expect("bool");
        assert!(refused);
    });
}

#[test]
fn dropping_a_call_cancels_it_and_the_callee_sees_the_interrupt() {
    let rt = TestRuntime::new();
    rt.block_on(async {
        let session = join(&rt, SerializerKind::Cbor).await;
        let (started_tx, mut started) = mpsc::channel(1);
        let _slow = session
            .register("com.slow", move |inv: Invocation| {
                let mut started_tx = started_tx.clone();
                async move {
                    // Hand the interrupt signal out, then never finish on our own.
                    let _ = started_tx.send(inv.interrupted()).await;
                    futures::future::pending::<()>().await;
                    Ok(Yield::empty())
                }
            })
            .await
            .expect("registers");
        let call = session.call("com.slow").into_future();
        let timer = rt.sleep_until(rt.now() + Duration::from_millis(100));
        let interrupted = match select(call, std::pin::pin!(started.next())).await {
            Either::Left(_) => panic!("the slow call finished"),
            // Dropping `call` here (it is the unfinished half) cancels it.
            Either::Right((interrupted, call)) => {
                drop(call);
                interrupted.expect("the handler started")
            }
        };
        within(&rt, "interrupt", interrupted.clone()).await;
        assert!(interrupted.is_interrupted());
        drop(timer);
        // The router got CANCEL (killnowait by default) and the callee's ERROR canceled.
        within(&rt, "the callee's answer", async {
            loop {
                let answered = rt
                    .received()
                    .iter()
                    .any(|m| matches!(m, Message::Error(e) if e.error == Uri::CANCELED));
                if answered {
                    break;
                }
                rt.sleep_until(rt.now() + Duration::from_millis(5)).await;
            }
        })
        .await;
        let cancel = rt
            .received()
            .into_iter()
            .find_map(|m| match m {
                Message::Cancel(c) => Some(c),
                _ => None,
            })
            .expect("CANCEL sent");
        assert_eq!(cancel.options.mode(), Some(CancelMode::KillNoWait));
        // The session is still fine.
        assert!(!session.is_closed());
        let err = session.call("com.none").await.expect_err("unknown");
        assert_eq!(err.uri(), Some(&Uri::NO_SUCH_PROCEDURE));
    });
}

#[test]
fn subscriptions_receive_events_and_dropping_them_unsubscribes() {
    let rt = TestRuntime::new();
    rt.block_on(async {
        let session = join(&rt, SerializerKind::Json).await;
        let mut exact = session.subscribe("com.news").await.expect("subscribes");
        let mut pattern = session
            .subscribe_with(
                "com.news",
                SubscribeOptions::new().match_policy(MatchPolicy::Prefix),
            )
            .await
            .expect("subscribes");

        let id = session
            .publish("com.news")
            .args(&("hello",))
            .exclude_me(false)
            .acknowledge(true)
            .await
            .expect("published");
        assert!(id.is_some());
        let event = within(&rt, "event", exact.next())
            .await
            .expect("event")
            .expect("ok");
        assert_eq!(event.first::<String>(), Ok("hello".to_owned()));
        assert_eq!(event.topic(), "com.news");
        assert_eq!(event.publication(), id.expect("acknowledged"));

        // Unacknowledged: resolves once queued.
        let none = session
            .publish("com.news.sports")
            .kwargs(&BTreeMap::from([("score", 3)]))
            .exclude_me(false)
            .await
            .expect("queued");
        assert_eq!(none, None);
        // The prefix subscription got both, the second with its concrete topic.
        let first = within(&rt, "event", pattern.next())
            .await
            .expect("event")
            .expect("ok");
        assert_eq!(first.topic(), "com.news");
        let second = within(&rt, "event", pattern.next())
            .await
            .expect("event")
            .expect("ok");
        assert_eq!(second.topic(), "com.news.sports");
        assert_eq!(
            second.kwargs::<BTreeMap<String, i32>>(),
            Ok(BTreeMap::from([("score".to_owned(), 3)]))
        );

        // Excluded by default: nothing arrives for our own publication.
        session
            .publish("com.news")
            .acknowledge(true)
            .await
            .expect("published");
        let quiet = rt.sleep_until(rt.now() + Duration::from_millis(50));
        assert!(matches!(
            select(exact.next(), quiet).await,
            Either::Right(_)
        ));

        let exact_id = exact.id();
        drop(exact);
        pattern.unsubscribe().await.expect("unsubscribes");
        within(&rt, "unsubscribe", async {
            loop {
                let gone = rt
                    .received()
                    .iter()
                    .any(|m| matches!(m, Message::Unsubscribe(u) if u.subscription == exact_id));
                if gone {
                    break;
                }
                rt.sleep_until(rt.now() + Duration::from_millis(5)).await;
            }
        })
        .await;
    });
}

#[test]
fn an_unread_subscription_reports_what_it_lost() {
    let rt = TestRuntime::new();
    rt.block_on(async {
        let session = join(&rt, SerializerKind::Json).await;
        let mut events = session
            .subscribe_with("com.flood", SubscribeOptions::new().buffer(2))
            .await
            .expect("subscribes");
        for i in 0..5 {
            // Acknowledged, so each EVENT has been delivered when this returns.
            session
                .publish("com.flood")
                .args(&(i,))
                .exclude_me(false)
                .acknowledge(true)
                .await
                .expect("published");
        }
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(within(&rt, "event", events.next()).await.expect("item"));
        }
        assert_eq!(seen[0].as_ref().map(|e| e.first::<i32>()), Ok(Ok(0)));
        assert_eq!(seen[1].as_ref().map(|e| e.first::<i32>()), Ok(Ok(1)));
        assert_eq!(seen[2].as_ref().err(), Some(&Error::Lagged { missed: 3 }));
        session
            .publish("com.flood")
            .args(&(5,))
            .exclude_me(false)
            .acknowledge(true)
            .await
            .expect("published");
        let next = within(&rt, "event", events.next())
            .await
            .expect("item")
            .expect("ok");
        assert_eq!(next.first::<i32>(), Ok(5));
    });
}

#[test]
fn dropping_a_registration_unregisters() {
    let rt = TestRuntime::new();
    rt.block_on(async {
        let session = join(&rt, SerializerKind::Json).await;
        let reg = session
            .register("com.temp", |_: Invocation| async { Ok(Yield::empty()) })
            .await
            .expect("registers");
        session.call("com.temp").await.expect("served");
        drop(reg);
        within(&rt, "unregistered", async {
            loop {
                if session
                    .call("com.temp")
                    .await
                    .is_err_and(|e| e.uri() == Some(&Uri::NO_SUCH_PROCEDURE))
                {
                    break;
                }
            }
        })
        .await;
        let again = session
            .register("com.temp", |_: Invocation| async {
                Ok(Yield::args(&(1,))?)
            })
            .await
            .expect("registers");
        again.unregister().await.expect("unregisters");
        assert!(
            rt.received()
                .iter()
                .filter(|m| matches!(m, Message::Unregister(_)))
                .count()
                >= 2
        );
    });
}

#[test]
fn after_leave_requests_fail_with_the_close_reason() {
    let rt = TestRuntime::new();
    rt.block_on(async {
        let session = join(&rt, SerializerKind::Json).await;
        let closed = session.closed();
        let reason = session
            .leave_with("com.bye", Some("done"))
            .await
            .expect("leaves");
        assert!(
            matches!(&reason, CloseReason::Goodbye { reason, local: true, .. } if reason == "com.bye")
        );
        assert_eq!(within(&rt, "closed", closed).await, reason);
        assert!(session.is_closed());
        let err = session.call("com.add").await.expect_err("closed");
        assert!(matches!(err, Error::SessionClosed(_)), "{err}");
        // Leaving again is fine.
        assert_eq!(session.leave().await.expect("already left"), reason);
    });
}

#[test]
fn leave_waits_for_running_handlers_to_answer_but_not_forever() {
    let rt = TestRuntime::new();
    rt.block_on(async {
        let transport = TransportConfig::new("rs://router:1").expect("valid URL");
        let join_config = JoinConfig::new("realm1").goodbye_timeout(Duration::from_millis(300));
        let session = within(&rt, "connect", connect(&rt, &transport, &join_config))
            .await
            .expect("joins");
        let (started_tx, mut started) = mpsc::unbounded::<()>();
        let (release_tx, release) = futures::channel::oneshot::channel::<()>();
        let release = std::sync::Arc::new(std::sync::Mutex::new(Some(release)));
        let _slow = session
            .register("com.slow", move |_: Invocation| {
                let started_tx = started_tx.clone();
                let release = release.lock().expect("lock").take();
                async move {
                    let _ = started_tx.unbounded_send(());
                    if let Some(release) = release {
                        let _ = release.await;
                    }
                    Ok(Yield::args(&("done",))?)
                }
            })
            .await
            .expect("registers");
        let call = session.call("com.slow").into_future();
        rt.spawn(Box::pin(async move {
            let _ = call.await;
        }));
        within(&rt, "handler started", started.next()).await;

        // The handler answers 50 ms after the leave was asked for: YIELD before GOODBYE.
        let release_later = async {
            rt.sleep_until(rt.now() + Duration::from_millis(50)).await;
            let _ = release_tx.send(());
        };
        let (left, ()) = futures::join!(within(&rt, "leave", session.leave()), release_later);
        left.expect("leaves");
        let received = rt.received();
        let position = |wanted: fn(&Message) -> bool| received.iter().position(wanted);
        let yielded = position(|m| matches!(m, Message::Yield(_))).expect("YIELD sent");
        let goodbye = position(|m| matches!(m, Message::Goodbye(_))).expect("GOODBYE sent");
        assert!(
            yielded < goodbye,
            "GOODBYE overtook the YIELD: {received:?}"
        );
    });

    // A handler that never answers holds the leave up only until the GOODBYE timeout.
    let rt = TestRuntime::new();
    rt.block_on(async {
        let transport = TransportConfig::new("rs://router:1").expect("valid URL");
        let join_config = JoinConfig::new("realm1").goodbye_timeout(Duration::from_millis(300));
        let session = within(&rt, "connect", connect(&rt, &transport, &join_config))
            .await
            .expect("joins");
        let (started_tx, mut started) = mpsc::unbounded::<()>();
        let _stuck = session
            .register("com.stuck", move |_: Invocation| {
                let started_tx = started_tx.clone();
                async move {
                    let _ = started_tx.unbounded_send(());
                    futures::future::pending::<Result<Yield, WampError>>().await
                }
            })
            .await
            .expect("registers");
        let call = session.call("com.stuck").into_future();
        rt.spawn(Box::pin(async move {
            let _ = call.await;
        }));
        within(&rt, "handler started", started.next()).await;
        let asked = rt.now();
        within(&rt, "leave", session.leave()).await.expect("leaves");
        let waited = rt.now() - asked;
        // Virtual time: exactly the GOODBYE timeout, not a moment less or much more.
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_millis(310),
            "left after {waited:?}"
        );
    });
}

#[test]
fn a_lost_transport_fails_pending_calls_and_resolves_closed() {
    let rt = TestRuntime::new();
    rt.block_on(async {
        let session = join(&rt, SerializerKind::Json).await;
        let err = within(&rt, "call", session.call("test.hangup"))
            .await
            .expect_err("lost");
        assert_eq!(err, Error::SessionClosed(CloseReason::TransportLost));
        assert_eq!(
            within(&rt, "closed", session.closed()).await,
            CloseReason::TransportLost
        );
    });
}

#[test]
fn connect_failures_are_told_apart() {
    let rt = TestRuntime::new();
    rt.block_on(async {
        let join_realm = |realm: &str| JoinConfig::new(realm);
        let transport = TransportConfig::new("rs://router:1").expect("valid");

        let err = connect(&rt, &transport, &join_realm("forbidden"))
            .await
            .expect_err("abort");
        match &err {
            ConnectError::Aborted { reason, message } => {
                assert_eq!(reason, &Uri::NO_SUCH_REALM);
                assert_eq!(message.as_deref(), Some("no such realm here"));
            }
            other => panic!("{other}"),
        }
        assert!(!err.is_auth_rejection());

        let refused = TransportConfig::new("rs://refused:1").expect("valid");
        let err = connect(&rt, &refused, &join_realm("realm1"))
            .await
            .expect_err("refused");
        assert!(matches!(err, ConnectError::Io(_)), "{err}");

        let silent = TransportConfig::new("rs://silent:1")
            .expect("valid")
            .connect_timeout(Duration::from_millis(100));
        let err = connect(&rt, &silent, &join_realm("realm1"))
            .await
            .expect_err("timeout");
        assert!(
            matches!(
                err,
                ConnectError::Timeout {
                    stage: "connecting",
                    ..
                }
            ),
            "{err}"
        );

        let err = connect(&rt, &transport, &join_realm("bad realm"))
            .await
            .expect_err("config");
        assert!(err.is_config(), "{err}");
    });
}

#[test]
fn rawsocket_falls_back_to_the_next_serializer() {
    let mut rt = TestRuntime::new();
    rt.router.serializers = vec![SerializerKind::Json];
    rt.block_on(async {
        let transport = TransportConfig::new("rs://router:1")
            .expect("valid")
            .serializers([SerializerKind::Cbor, SerializerKind::Json]);
        let session = connect(&rt, &transport, &JoinConfig::new("realm1"))
            .await
            .expect("joins with JSON");
        assert_eq!(session.serializer(), SerializerKind::Json);
        assert_eq!(rt.connects.load(std::sync::atomic::Ordering::SeqCst), 2);

        // With no serializer left, the refusal is reported.
        let only_cbor = transport.serializer(SerializerKind::Cbor);
        let err = connect(&rt, &only_cbor, &JoinConfig::new("realm1"))
            .await
            .expect_err("refused");
        assert!(
            matches!(err, ConnectError::Transport(TransportError::RawSocket(_))),
            "{err}"
        );
    });
}

#[test]
fn websocket_offers_the_serializers_and_sends_the_headers() {
    let rt = TestRuntime::new();
    rt.block_on(async {
        let transport = TransportConfig::new("ws://ws-router:8080/ws")
            .expect("valid")
            .serializers([SerializerKind::MsgPack, SerializerKind::Json])
            .header("X-Test", "hello header");
        let session = within(
            &rt,
            "connect",
            connect(&rt, &transport, &JoinConfig::new("realm1")),
        )
        .await
        .expect("joins");
        // The router picks the client's first choice.
        assert_eq!(session.serializer(), SerializerKind::MsgPack);
        assert_eq!(rt.seen(), ["hello header"]);
        let err = session.call("com.none").await.expect_err("unknown");
        assert_eq!(err.uri(), Some(&Uri::NO_SUCH_PROCEDURE));
        session.leave().await.expect("leaves");

        // Auto-ping keeps an idle session alive: the router answers each ping.
        let pinging = TransportConfig::new("ws://ws-router:8080/ws")
            .expect("valid")
            .auto_ping(Duration::from_millis(20), Duration::from_millis(200));
        let session = connect(&rt, &pinging, &JoinConfig::new("realm1"))
            .await
            .expect("joins");
        rt.sleep_until(rt.now() + Duration::from_millis(150)).await;
        assert!(!session.is_closed());
        let err = session.call("com.none").await.expect_err("unknown");
        assert_eq!(err.uri(), Some(&Uri::NO_SUCH_PROCEDURE));

        let bad = TransportConfig::new("ws://ws-router:8080/ws")
            .expect("valid")
            .header("Bad Name", "x");
        let err = connect(&rt, &bad, &JoinConfig::new("realm1"))
            .await
            .expect_err("bad header");
        assert!(err.is_config(), "{err}");
    });
}

#[test]
fn websocket_goes_through_an_http_proxy() {
    let rt = TestRuntime::new();
    rt.block_on(async {
        let transport = TransportConfig::new("ws://router.example:8080/ws")
            .expect("valid")
            .serializer(SerializerKind::Cbor)
            .proxy("proxy", 3128);
        let session = within(
            &rt,
            "connect",
            connect(&rt, &transport, &JoinConfig::new("realm1")),
        )
        .await
        .expect("joins through the proxy");
        assert_eq!(rt.seen(), ["CONNECT router.example:8080 HTTP/1.1"]);
        assert_eq!(session.serializer(), SerializerKind::Cbor);
        session.leave().await.expect("leaves");
    });
}

/// The Component's reconnect schedule on the virtual clock with a seeded generator: it
/// waits exactly the delays it reports, they follow the policy, a run is reproducible,
/// and it gives up after the last retry.
#[test]
fn a_component_backs_off_by_its_policy_on_the_runtimes_clock() {
    use std::sync::{Arc, Mutex};
    use wamp_runtime::{Component, ComponentError, RetryPolicy, TransportSpec};

    let policy = RetryPolicy {
        max_retries: Some(4),
        initial_retry_delay: Duration::from_secs(1),
        max_retry_delay: Duration::from_secs(5),
        retry_delay_growth: 2.0,
        retry_delay_jitter: 0.5,
    };
    let run = |seed: u64| {
        let mut rt = TestRuntime::new();
        rt.seed = seed;
        let retries = Arc::new(Mutex::new(Vec::new()));
        let seen = retries.clone();
        let clock = rt.clone();
        let started = rt.now();
        let component = Component::builder()
            .transport(
                TransportSpec::new(TransportConfig::new("rs://refused:1").expect("valid URL"))
                    .retry(policy.clone()),
            )
            .on_retry(move |retry| {
                let at = clock.now() - started;
                seen.lock()
                    .expect("lock")
                    .push((retry.retry, retry.delay, at));
            })
            .build()
            .expect("a valid component");
        let outcome = rt.block_on(component.start(&rt));
        assert!(
            matches!(outcome, Err(ComponentError::Exhausted { .. })),
            "{outcome:?}"
        );
        // Five attempts: the first and four retries.
        assert_eq!(rt.connects.load(std::sync::atomic::Ordering::SeqCst), 5);
        let total = rt.now() - started;
        let retries = retries.lock().expect("lock").clone();
        (retries, total)
    };

    let (retries, total) = run(7);
    assert_eq!(retries.len(), 4);
    let mut waited = Duration::ZERO;
    for (n, (retry, delay, at)) in retries.iter().enumerate() {
        assert_eq!(*retry as usize, n + 1);
        // Retry n waits 1 s, 2 s, 4 s, 5 s (capped) before jitter of ±50%, then capped.
        let base = [1.0, 2.0, 4.0, 5.0][n];
        let (low, high) = (base * 0.5, (base * 1.5f64).min(5.0));
        let secs = delay.as_secs_f64();
        assert!(secs >= low && secs <= high, "retry {retry}: {delay:?}");
        // The hook fires when the wait starts: after exactly the waits before it (Tokio's
        // timer rounds each wait up to its millisecond tick).
        let slack = Duration::from_millis(n as u64);
        assert!(
            *at >= waited && *at <= waited + slack,
            "retry {retry}: {at:?}, {waited:?}"
        );
        waited += *delay;
    }
    // Refused connections take no virtual time: the run lasts exactly the waits.
    assert!(
        total >= waited && total <= waited + Duration::from_millis(4),
        "{total:?}"
    );
    // The same seed gives the same delays; another seed gives others.
    assert_eq!(run(7).0, retries);
    assert_ne!(run(8).0, retries);
}
