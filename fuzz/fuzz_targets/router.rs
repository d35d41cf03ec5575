//! The sans-IO router (`wamp_router::Router`) under arbitrary sequences of
//! connections, frames, disconnects, pauses and time steps.
//!
//! Input: a sequence of operations, each an opcode byte and its operands:
//! - `0`: open a JSON connection and send a valid HELLO for `realm1` (so the fuzzer
//!   starts from joined sessions); `1`: open a MessagePack connection, no HELLO;
//! - `2 c n bytes[n]`: the frame `bytes` from connection `c`;
//! - `3 c`: connection `c` closes; `4 c`: pause its output, `5 c`: resume it;
//! - `6 t`: time advances `t * 10` ms and `handle_timeout` runs;
//! - `7`: `shutdown`.
//!
//! Checked, besides "no panic": every transmit is for a connection that was opened;
//! after `handle_timeout(now)`, `poll_timeout()` is `None` or later than `now`.

#![no_main]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{epoch, XorShift};
use libfuzzer_sys::fuzz_target;
use wamp_proto::serializer::SerializerKind;
use wamp_router::{RealmConfig, Router, RouterConfig};

fn router() -> Router {
    let realm = RealmConfig::anonymous("realm1")
        .expect("a valid realm")
        .ticket("joe", "anonymous", "secret");
    Router::new(
        RouterConfig::new().realm(realm),
        Box::new(XorShift(0x9e37_79b9_7f4a_7c15)),
    )
    .expect("a valid config")
}

fuzz_target!(|data: &[u8]| {
    let mut router = router();
    let mut now = epoch();
    let mut conns = Vec::new();
    let mut input = data.iter().copied();
    while let Some(op) = input.next() {
        let pick = |input: &mut dyn Iterator<Item = u8>| {
            let i = input.next().unwrap_or(0) as usize;
            (!conns.is_empty()).then(|| conns[i % conns.len()])
        };
        match op % 8 {
            0 => {
                let conn = router.open(now, SerializerKind::Json);
                conns.push(conn);
                let hello = br#"[1,"realm1",{"roles":{"caller":{},"callee":{},"publisher":{},"subscriber":{}}}]"#;
                router.handle_bytes(now, conn, Bytes::from_static(hello));
            }
            1 => conns.push(router.open(now, SerializerKind::MsgPack)),
            2 => {
                let Some(conn) = pick(&mut input) else {
                    continue;
                };
                let len = input.next().unwrap_or(0) as usize;
                let frame: Vec<u8> = input.by_ref().take(len).collect();
                router.handle_bytes(now, conn, Bytes::from(frame));
            }
            3 => {
                if let Some(conn) = pick(&mut input) {
                    router.handle_transport_closed(now, conn);
                }
            }
            4 => {
                if let Some(conn) = pick(&mut input) {
                    let _ = router.pause_transmit(now, conn);
                }
            }
            5 => {
                if let Some(conn) = pick(&mut input) {
                    let _ = router.resume_transmit(now, conn);
                }
            }
            6 => {
                let step = input.next().unwrap_or(0);
                now += Duration::from_millis(u64::from(step) * 10);
                router.handle_timeout(now);
                if let Some(deadline) = router.poll_timeout() {
                    assert!(
                        deadline > now,
                        "a deadline at or before the timeout just handled"
                    );
                }
            }
            _ => router.shutdown(now),
        }
        while let Some((conn, _bytes)) = router.poll_transmit() {
            assert!(
                conns.contains(&conn),
                "output for a connection never opened"
            );
        }
        while router.poll_event().is_some() {}
    }
});
