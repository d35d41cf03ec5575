//! Dead peers are found: a client that joined and then went silent (it answers no ping,
//! as when its network vanished) is dropped by the router's keepalive, within the
//! interval plus the timeout, over WebSocket and over RawSocket; a live client that is
//! merely idle for longer answers the pings and keeps its session. And a client that
//! trickles a large frame, a byte now and then (so it never looks silent), is dropped by
//! the message timeout.

mod common;

use std::time::{Duration, Instant};

use common::{bounded, on_tokio, wait_for_sessions, Bare};
use futures::io::AsyncWriteExt;
use serde_json::json;
use wamp_integration::REALM;
use wamp_tokio::wamp_runtime::{
    JoinConfig, ListenerConfig, RealmConfig, RouterBuilder, RouterConfig, RouterHandle, Runtime,
    TransportConfig,
};
use wamp_tokio::TokioRuntime;

const INTERVAL: Duration = Duration::from_millis(300);
const TIMEOUT: Duration = Duration::from_millis(300);

#[test]
fn a_silent_websocket_client_is_dropped_and_an_idle_live_one_stays() {
    on_tokio(websocket_case);
}

#[test]
fn a_silent_rawsocket_client_is_dropped_and_an_idle_live_one_stays() {
    on_tokio(rawsocket_case);
}

#[test]
fn a_client_trickling_a_frame_is_dropped_at_the_message_timeout() {
    on_tokio(trickle_case);
}

async fn websocket_case(rt: TokioRuntime) {
    let listener = ListenerConfig::websocket("127.0.0.1:0", "/ws");
    drops_the_silent_one(rt, listener, Bare::WebSocket).await;
}

async fn rawsocket_case(rt: TokioRuntime) {
    // Our client answers RawSocket PING (Autobahn's does not: RawSocket pings are off
    // by default for that reason).
    let listener = ListenerConfig::rawsocket("127.0.0.1:0");
    drops_the_silent_one(rt, listener, Bare::RawSocket).await;
}

/// A live client joins `listener` with our library, and a silent one, a `bare` client,
/// sends HELLO and then reads nothing; the silent one is dropped after the interval and
/// the timeout, the live one, as idle, still works.
async fn drops_the_silent_one(rt: TokioRuntime, listener: ListenerConfig, bare: Bare) {
    let router = start(&rt, listener).await;
    let addr = router.listeners()[0].addr.tcp().expect("a TCP address");
    let url = router.listeners()[0].url().expect("a URL");
    let live = common::join(
        &rt,
        &TransportConfig::new(&url).expect("a valid URL"),
        &JoinConfig::new(REALM),
    )
    .await;
    let hello = json!([1, REALM, {"roles": {"caller": {}}}]);
    let _silent = common::bare_client_that_sent(&rt, addr, bare, &[hello]).await;
    let joined = Instant::now();
    wait_for_sessions(&rt, &router, 2).await;
    // From now on the silent one reads nothing: the pings go unanswered.
    wait_for_sessions(&rt, &router, 1).await;
    let gone = joined.elapsed();
    assert!(gone >= INTERVAL + TIMEOUT, "dropped after {gone:?}");
    assert!(gone < Duration::from_secs(5), "dropped after {gone:?}");
    // The live client, idle as long, answered its pings: still joined and working.
    let count: u64 = bounded(&rt, "a call", live.call("wamp.session.count"))
        .await
        .expect("the live session works")
        .first()
        .expect("a count");
    assert_eq!(count, 1);
    drop(live);
    bounded(&rt, "shutdown", router.shutdown()).await;
}

async fn trickle_case(rt: TokioRuntime) {
    let message_timeout = Duration::from_millis(500);
    let listener =
        ListenerConfig::websocket("127.0.0.1:0", "/ws").message_timeout(Some(message_timeout));
    let router = start(&rt, listener).await;
    let addr = router.listeners()[0].addr.tcp().expect("a TCP address");
    let mut client = common::bare_websocket(&rt, addr).await;
    let hello = json!([1, REALM, {"roles": {"caller": {}}}]);
    client
        .write_all(&common::masked_text_frame(&hello))
        .await
        .expect("HELLO sent");
    wait_for_sessions(&rt, &router, 1).await;
    // The head of a masked 60,000-byte text frame, then its payload a byte at a time,
    // faster than the keepalive would ever notice.
    client
        .write_all(&[0x81, 0xfe, 0xea, 0x60, 1, 2, 3, 4])
        .await
        .expect("a frame header");
    let started = Instant::now();
    let dropped = bounded(&rt, "the trickler is dropped", async {
        loop {
            if client.write_all(b" ").await.is_err() || router.stats().await.sessions == 0 {
                return started.elapsed();
            }
            rt.sleep_until(Instant::now() + Duration::from_millis(50))
                .await;
        }
    })
    .await;
    assert!(dropped >= message_timeout, "dropped after {dropped:?}");
    assert!(
        dropped < Duration::from_secs(5),
        "dropped after {dropped:?}"
    );
    bounded(&rt, "shutdown", router.shutdown()).await;
}

/// A router with the meta API and one listener pinging after [`INTERVAL`] of silence.
async fn start(rt: &TokioRuntime, listener: ListenerConfig) -> RouterHandle {
    let config = RouterConfig::new().realm(RealmConfig::anonymous(REALM).expect("a realm"));
    RouterBuilder::new(rt.clone(), config)
        .listen(listener.auto_ping(INTERVAL, TIMEOUT))
        .start()
        .await
        .expect("the router starts")
}
