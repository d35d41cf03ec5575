//! Dead peers are found by `wamp router` on its defaults: no timing flag, only the
//! listen addresses. Real time, so this takes about a minute (the cases run at once).
//!
//! - A WebSocket client that joins and then goes silent (answers no ping), and one that
//!   joins and sends the first 20 bytes of a 60,000-byte frame and then goes silent,
//!   are dropped by the keepalive (30 s, then 15 s) within 50 s.
//! - A RawSocket client that joins and stalls mid-frame is dropped by the message
//!   timeout (60 s) within 65 s.
//! - With `--rawsocket-ping`, a RawSocket client that joins and goes silent is dropped
//!   by the keepalive too, while a live RawSocket client of ours answers the PINGs and
//!   stays.
//! - Meanwhile a live WebSocket client calls every second and keeps its session.

mod common;

use std::time::{Duration, Instant};

use common::{bare_websocket, masked_text_frame, on_tokio};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use serde_json::json;
use wamp_integration::wamp_cli::RouterProcess;
use wamp_integration::REALM;
use wamp_tokio::wamp_runtime::{JoinConfig, Runtime, Session, TransportConfig};
use wamp_tokio::{BoxStream, TokioRuntime};

const KEEPALIVE_WITHIN: Duration = Duration::from_secs(50);
const MESSAGE_TIMEOUT_WITHIN: Duration = Duration::from_secs(65);

fn hello() -> serde_json::Value {
    json!([1, REALM, {"roles": {"caller": {}}}])
}

/// Reads (and ignores: no pong, no answer) until the router closes; returns when.
async fn until_closed(mut stream: BoxStream) -> Instant {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return Instant::now(),
            Ok(_) => {}
        }
    }
}

/// A bare WebSocket client joined to the router at `addr`.
async fn joined_websocket(rt: &TokioRuntime, addr: std::net::SocketAddr) -> BoxStream {
    let mut ws = bare_websocket(rt, addr).await;
    ws.write_all(&masked_text_frame(&hello()))
        .await
        .expect("HELLO sent");
    let mut head = [0u8; 2];
    ws.read_exact(&mut head).await.expect("WELCOME");
    let len = match head[1] & 0x7f {
        126 => {
            let mut ext = [0u8; 2];
            ws.read_exact(&mut ext).await.expect("WELCOME length");
            usize::from(u16::from_be_bytes(ext))
        }
        n => usize::from(n),
    };
    let mut welcome = vec![0u8; len];
    ws.read_exact(&mut welcome).await.expect("WELCOME");
    assert_welcome(&welcome);
    ws
}

/// A bare RawSocket (JSON) client joined to the router at `addr`.
async fn joined_rawsocket(rt: &TokioRuntime, addr: std::net::SocketAddr) -> BoxStream {
    let (mut rs, reply) = common::bare_rawsocket(rt, addr).await;
    assert_eq!(reply[0], 0x7f, "{reply:?}");
    rs.write_all(&common::rawsocket_frame(&hello()))
        .await
        .expect("HELLO");
    let mut header = [0u8; 4];
    rs.read_exact(&mut header).await.expect("WELCOME header");
    let len = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
    let mut welcome = vec![0u8; len];
    rs.read_exact(&mut welcome).await.expect("WELCOME");
    assert_welcome(&welcome);
    rs
}

/// `payload` is a WELCOME (JSON).
fn assert_welcome(payload: &[u8]) {
    assert!(
        payload.starts_with(b"[2,"),
        "{}",
        String::from_utf8_lossy(payload)
    );
}

async fn live_caller(rt: &TokioRuntime, url: &str, until: Instant) -> Session {
    let transport = TransportConfig::new(url).expect("url");
    let session = common::join(rt, &transport, &JoinConfig::new(REALM)).await;
    while Instant::now() < until {
        assert!(common::session_count(&session).await >= 1);
        rt.sleep_until(Instant::now() + Duration::from_secs(1))
            .await;
    }
    session
}

#[test]
fn wamp_router_on_its_defaults_drops_silent_and_stalled_clients() {
    let (defaults, ws_url, rs_url) = RouterProcess::start_local(&[]);
    let (pinging, _, pinging_rs) = RouterProcess::start_local(&["--rawsocket-ping"]);
    let (ws, rs) = (common::url_addr(&ws_url), common::url_addr(&rs_url));

    on_tokio(|rt| async move {
        let silent_ws = joined_websocket(&rt, ws).await;
        let mut stalled_ws = joined_websocket(&rt, ws).await;
        let mut stalled_rs = joined_rawsocket(&rt, rs).await;
        let silent_pinged_rs = joined_rawsocket(&rt, common::url_addr(&pinging_rs)).await;

        // The first 20 bytes of a masked 60,000-byte text frame.
        let mut partial = vec![0x81, 0x80 | 126];
        partial.extend_from_slice(&60_000u16.to_be_bytes());
        partial.extend_from_slice(&[1, 2, 3, 4]);
        partial.resize(20, b'x');
        stalled_ws
            .write_all(&partial)
            .await
            .expect("a partial frame");
        // The first 20 bytes of a 60,000-byte RawSocket frame.
        let mut partial = vec![0, 0, 0xea, 0x60];
        partial.resize(20, b'x');
        stalled_rs
            .write_all(&partial)
            .await
            .expect("a partial frame");
        let start = Instant::now();

        let live_until = start + MESSAGE_TIMEOUT_WITHIN - Duration::from_secs(5);
        let live_ws = live_caller(&rt, &ws_url, live_until);
        let live_rs = async {
            let transport = TransportConfig::new(&pinging_rs).expect("url");
            let session = common::join(&rt, &transport, &JoinConfig::new(REALM)).await;
            // Silent itself, but its library answers the router's PINGs.
            rt.sleep_until(live_until).await;
            session
        };
        let all = futures::future::join3(
            futures::future::join4(
                until_closed(silent_ws),
                until_closed(stalled_ws),
                until_closed(stalled_rs),
                until_closed(silent_pinged_rs),
            ),
            live_ws,
            live_rs,
        );
        let limit = MESSAGE_TIMEOUT_WITHIN + Duration::from_secs(10);
        let ((a, b, c, d), live_ws, live_rs) = common::within(&rt, limit, all)
            .await
            .expect("a client was never dropped");
        let took = |t: Instant| t - start;
        eprintln!(
            "on defaults: silent WebSocket dropped after {:?}, stalled WebSocket after {:?}, \
             stalled RawSocket after {:?}; with --rawsocket-ping a silent RawSocket after {:?}",
            took(a),
            took(b),
            took(c),
            took(d)
        );
        for (what, t, within) in [
            ("silent WebSocket", a, KEEPALIVE_WITHIN),
            ("stalled WebSocket", b, KEEPALIVE_WITHIN),
            ("stalled RawSocket", c, MESSAGE_TIMEOUT_WITHIN),
            (
                "silent RawSocket with --rawsocket-ping",
                d,
                KEEPALIVE_WITHIN,
            ),
        ] {
            // Not before the keepalive's 30 s of silence (nor the message timeout).
            assert!(
                took(t) >= Duration::from_secs(29),
                "{what}: dropped after {:?}",
                took(t)
            );
            assert!(took(t) <= within, "{what}: dropped after {:?}", took(t));
        }
        for live in [live_ws, live_rs] {
            assert!(!live.is_closed(), "a live client lost its session");
            live.leave().await.expect("leaves");
        }
    });
    defaults.stop();
    pinging.stop();
}
