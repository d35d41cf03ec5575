//! Faults of real networks, through a proxy on 127.0.0.1 that stalls or cuts the
//! connection (`wamp_integration::fault_proxy`): a stalled network is found by both the
//! router and the client within the keepalive, over WebSocket (ping/pong) and RawSocket
//! (PING/PONG); a callee that vanishes mid-call (its network stalls, no GOODBYE) fails
//! the call for its caller instead of leaving it hanging; a cut connection fails the
//! client's pending calls at once. And a peer that sends garbage after joining ends only
//! its own session.

mod common;

use std::future::IntoFuture;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use std::time::{Duration, Instant};

use common::{bounded, on_tokio, wait_for_sessions, Bare};
use wamp_integration::fault_proxy::FaultProxy;
use wamp_integration::REALM;
use wamp_tokio::wamp_runtime::{
    CallResult, Error, Invocation, JoinConfig, ListenerConfig, RealmConfig, Registration,
    RouterBuilder, RouterConfig, RouterHandle, Runtime, Session, TransportConfig, WampError, Yield,
};
use wamp_tokio::TokioRuntime;

const INTERVAL: Duration = Duration::from_millis(300);
const TIMEOUT: Duration = Duration::from_millis(300);
/// The keepalive finds a dead peer between `INTERVAL + TIMEOUT` after the last byte
/// and, with scheduling, a little more: anything under this is "within the keepalive".
const FOUND_WITHIN: Duration = Duration::from_secs(3);

#[test]
fn a_stalled_network_is_found_by_the_router_and_the_client() {
    on_tokio(|rt| async move {
        let router = start(&rt).await;
        for (kind, target) in [
            ("WebSocket", ws_addr(&router)),
            ("RawSocket", rs_addr(&router)),
        ] {
            let proxy = FaultProxy::start(target).expect("a proxy");
            let client = if kind == "WebSocket" {
                join_through(&rt, &proxy).await
            } else {
                join_rawsocket_through(&rt, &proxy).await
            };
            wait_for_sessions(&rt, &router, 1).await;

            proxy.stall();
            let stalled = Instant::now();
            let router_side = async {
                wait_for_sessions(&rt, &router, 0).await;
                stalled.elapsed()
            };
            let client_side = async {
                let reason = client.closed().await;
                (stalled.elapsed(), reason)
            };
            let (router_found, (client_found, reason)) = bounded(
                &rt,
                "both sides",
                futures::future::join(router_side, client_side),
            )
            .await;
            for found in [router_found, client_found] {
                assert!(found >= INTERVAL, "{kind}: found after {found:?}");
                assert!(found < FOUND_WITHIN, "{kind}: found after {found:?}");
            }
            assert!(!reason.is_clean(), "{kind}: {reason}");
            eprintln!("{kind} stall: router found it after {router_found:?}, client after {client_found:?}");
        }
        bounded(&rt, "shutdown", router.shutdown()).await;
    });
}

#[test]
fn a_callee_that_vanishes_mid_call_fails_the_call() {
    on_tokio(|rt| async move {
        let router = start(&rt).await;
        let proxy = FaultProxy::start(ws_addr(&router)).expect("a proxy");
        let callee = join_through(&rt, &proxy).await;
        let _slow = register_slow(&callee).await;
        let caller = common::join(&rt, &direct(&router), &JoinConfig::new(REALM)).await;

        // The call is in the callee's hands; then its network goes.
        let (outcome, failed_after) = call_slow_then(&rt, &caller, || proxy.stall()).await;
        let error = outcome.expect_err("the call fails");
        assert!(
            failed_after < FOUND_WITHIN,
            "failed after {failed_after:?}: {error}"
        );
        // The caller's session is unharmed.
        let count: u64 = bounded(&rt, "a call", caller.call("wamp.session.count"))
            .await
            .expect("the caller works")
            .first()
            .expect("a count");
        assert_eq!(count, 1, "the callee's session is gone");
        bounded(&rt, "shutdown", router.shutdown()).await;
    });
}

#[test]
fn a_cut_connection_fails_pending_calls_at_once() {
    on_tokio(|rt| async move {
        let router = start(&rt).await;
        let callee = common::join(&rt, &direct(&router), &JoinConfig::new(REALM)).await;
        let _slow = register_slow(&callee).await;
        let proxy = FaultProxy::start(ws_addr(&router)).expect("a proxy");
        let caller = join_through(&rt, &proxy).await;

        let (outcome, failed_after) = call_slow_then(&rt, &caller, || proxy.cut()).await;
        outcome.expect_err("the call fails");
        // Not after a keepalive: the end of the stream is news at once.
        assert!(failed_after < INTERVAL, "failed after {failed_after:?}");
        bounded(&rt, "shutdown", router.shutdown()).await;
    });
}

#[test]
fn garbage_after_joining_ends_only_that_session() {
    on_tokio(|rt| async move {
        let router = start(&rt).await;
        let callee = common::join(&rt, &direct(&router), &JoinConfig::new(REALM)).await;
        let _echo = callee
            .register("com.example.echo", |inv: Invocation| async move {
                Ok(Yield::from_payload(inv.payload().clone()))
            })
            .await
            .expect("registered");
        let caller = common::join(&rt, &direct(&router), &JoinConfig::new(REALM)).await;
        let garbage: [&[u8]; 3] = [
            // Not JSON at all.
            b"\x00\xff not json",
            // JSON, not a WAMP message.
            br#"{"hello": "world"}"#,
            // A WAMP message type that a client never sends (WELCOME).
            br#"[2, 1, {}]"#,
        ];
        for (n, bytes) in garbage.iter().enumerate() {
            let hello = serde_json::json!([1, REALM, {"roles": {"caller": {}}}]);
            let mut peer =
                common::bare_client_that_sent(&rt, ws_addr(&router), Bare::WebSocket, &[hello])
                    .await;
            wait_for_sessions(&rt, &router, 3).await;
            let mask = [9u8, 8, 7, 6];
            let mut frame = vec![0x81, 0x80 | bytes.len() as u8];
            frame.extend_from_slice(&mask);
            frame.extend(bytes.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
            peer.write_all(&frame).await.expect("garbage sent");
            // Its session ends; the router closes its connection.
            wait_for_sessions(&rt, &router, 2).await;
            let mut rest = Vec::new();
            bounded(&rt, "the connection closes", peer.read_to_end(&mut rest))
                .await
                .expect("read to the end");
            // The others never noticed.
            let (echoed,): (usize,) =
                bounded(&rt, "a call", caller.call("com.example.echo").args(&(n,)))
                    .await
                    .expect("the other sessions work")
                    .args()
                    .expect("the echo");
            assert_eq!(echoed, n);
        }
        bounded(&rt, "shutdown", router.shutdown()).await;
    });
}

/// Registers `com.example.slow` on `callee`: its calls are never answered.
async fn register_slow(callee: &Session) -> Registration {
    callee
        .register("com.example.slow", |_: Invocation| async {
            futures::future::pending::<Result<Yield, WampError>>().await
        })
        .await
        .expect("registered")
}

/// Calls `com.example.slow` through `caller` and applies `fault` 100 ms later, when the
/// call is in the callee's hands; the call's outcome, and how long after the fault it
/// came.
async fn call_slow_then(
    rt: &TokioRuntime,
    caller: &Session,
    fault: impl FnOnce(),
) -> (Result<CallResult, Error>, Duration) {
    let call = caller.call("com.example.slow").into_future();
    let faulted = async {
        rt.sleep_until(Instant::now() + Duration::from_millis(100))
            .await;
        fault();
        Instant::now()
    };
    let (outcome, faulted_at) = bounded(rt, "the call", futures::future::join(call, faulted)).await;
    (outcome, faulted_at.elapsed())
}

/// A router with a WebSocket listener that pings after [`INTERVAL`] of silence.
async fn start(rt: &TokioRuntime) -> RouterHandle {
    let config = RouterConfig::new().realm(RealmConfig::anonymous(REALM).expect("a realm"));
    RouterBuilder::new(rt.clone(), config)
        .listen(ListenerConfig::websocket("127.0.0.1:0", "/ws").auto_ping(INTERVAL, TIMEOUT))
        .listen(ListenerConfig::rawsocket("127.0.0.1:0").auto_ping(INTERVAL, TIMEOUT))
        .start()
        .await
        .expect("the router starts")
}

fn ws_addr(router: &RouterHandle) -> std::net::SocketAddr {
    router.listeners()[0].addr.tcp().expect("a TCP address")
}

fn rs_addr(router: &RouterHandle) -> std::net::SocketAddr {
    router.listeners()[1].addr.tcp().expect("a TCP address")
}

/// A RawSocket session through `proxy`, with PING keepalive as the router has.
async fn join_rawsocket_through(rt: &TokioRuntime, proxy: &FaultProxy) -> Session {
    let url = format!("rs://{}", proxy.addr());
    let transport = TransportConfig::new(&url)
        .expect("a valid URL")
        .rawsocket_keepalive(INTERVAL, TIMEOUT);
    common::join(rt, &transport, &JoinConfig::new(REALM)).await
}

/// The router's own URL.
fn direct(router: &RouterHandle) -> TransportConfig {
    TransportConfig::new(&router.listeners()[0].url().expect("a URL"))
        .expect("a valid URL")
        .auto_ping(INTERVAL, TIMEOUT)
}

/// A session through `proxy`, pinging as the router does.
async fn join_through(rt: &TokioRuntime, proxy: &FaultProxy) -> Session {
    let url = format!("ws://{}/ws", proxy.addr());
    let transport = TransportConfig::new(&url)
        .expect("a valid URL")
        .auto_ping(INTERVAL, TIMEOUT);
    common::join(rt, &transport, &JoinConfig::new(REALM)).await
}
