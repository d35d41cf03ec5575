//! The client `wamp_proto::session::Session` driven by arbitrary application commands,
//! router messages and time steps.
//!
//! Input: a sequence of operations, each an opcode byte and its operands:
//! - `0 n bytes[n]`: the raw frame `bytes` from the router;
//! - `1 kind a b`: a well-formed router message of `kind` (WELCOME, CHALLENGE, ABORT,
//!   GOODBYE, RESULT, ERROR, REGISTERED, UNREGISTERED, INVOCATION, INTERRUPT,
//!   SUBSCRIBED, UNSUBSCRIBED, EVENT, PUBLISHED, a revocation), whose request ID is one
//!   the session used (picked by `a`) or the raw `a`, and whose flags come from `b`, so
//!   the fuzzer reaches the states behind the handshake without guessing IDs;
//! - `2 cmd a`: an application command (call, progressive call part, cancel in each
//!   mode, register, unregister, subscribe, unsubscribe, publish with and without
//!   acknowledge, yield, progressive yield, invocation error, leave);
//! - `3 t`: time advances `t * 10` ms and `handle_timeout` runs;
//! - `4`: the transport closes.
//!
//! Checked, besides "no panic":
//! - every transmitted message decodes as WAMP in the session's serializer;
//! - a `Reply` comes only for a request the session issued, at most once per request,
//!   and by the end (the transport closes after the input) exactly once for each that
//!   expects one;
//! - `Closed` is the last event and comes once; nothing is sent after it;
//! - after `handle_timeout(now)`, `poll_timeout()` is `None` or later than `now`.

#![no_main]

mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{epoch, XorShift};
use libfuzzer_sys::fuzz_target;
use wamp_proto::auth::ticket::Ticket;
use wamp_proto::session::Outcome;
use wamp_proto::session::{Session, SessionConfig, SessionEvent};
use wamp_proto::{serializer::SerializerKind, CancelMode, Dict, Payload, RequestId, Uri};

/// What the harness knows about the session it drives.
#[derive(Default)]
struct Book {
    /// Requests issued that expect exactly one Reply.
    expecting: HashSet<u64>,
    /// Every request ID the session used (including PUBLISH without acknowledge).
    issued: Vec<u64>,
    /// Replies seen, per request.
    replied: HashMap<u64, u32>,
    /// INVOCATION IDs the session reported.
    invocations: Vec<u64>,
    /// Registration and subscription IDs the session reported.
    registrations: Vec<u64>,
    subscriptions: Vec<u64>,
    closed: bool,
}

impl Book {
    fn issue(&mut self, request: Result<RequestId, impl std::fmt::Debug>, expects_reply: bool) {
        if let Ok(request) = request {
            let id = request.get();
            assert!(!self.issued.contains(&id), "request ID {id} used twice");
            self.issued.push(id);
            if expects_reply {
                self.expecting.insert(id);
            }
        }
    }

    fn pick(list: &[u64], a: u8) -> u64 {
        if list.is_empty() || a >= 224 {
            u64::from(a)
        } else {
            list[usize::from(a) % list.len()]
        }
    }
}

fn router_message(book: &Book, kind: u8, a: u8, b: u8) -> String {
    let req = Book::pick(&book.issued, a);
    let inv = Book::pick(&book.invocations, a);
    let reg = Book::pick(&book.registrations, a);
    let sub = Book::pick(&book.subscriptions, a);
    let progress = b & 1 != 0;
    let roles = r#"{"roles":{"broker":{"features":{"publisher_exclusion":true}},"dealer":{"features":{"progressive_call_results":true,"call_canceling":true}}}}"#;
    match kind % 15 {
        0 => format!("[2,{},{roles}]", u64::from(b) + 1),
        1 => r#"[4,"ticket",{}]"#.to_owned(),
        2 => r#"[3,{"message":"no"},"wamp.error.not_authorized"]"#.to_owned(),
        3 => r#"[6,{},"wamp.close.system_shutdown"]"#.to_owned(),
        4 => format!("[50,{req},{{\"progress\":{progress}}},[{b}]]"),
        5 => {
            let types = [48, 64, 66, 32, 34, 16, 68, 49];
            let t = types[usize::from(b) % types.len()];
            format!("[8,{t},{req},{{}},\"wamp.error.runtime_error\",[1]]")
        }
        6 => format!("[65,{req},{}]", u64::from(b) + 100),
        7 => format!("[67,{req}]"),
        8 => format!(
            "[68,{},{reg},{{\"receive_progress\":{progress},\"progress\":{}}},[{b}]]",
            u64::from(a) + 1000,
            b & 2 != 0
        ),
        9 => {
            let modes = ["kill", "killnowait", "skip"];
            let mode = modes[usize::from(b) % modes.len()];
            format!("[69,{inv},{{\"mode\":\"{mode}\"}}]")
        }
        10 => format!("[33,{req},{}]", u64::from(b) + 200),
        11 => format!("[35,{req}]"),
        12 => format!("[36,{sub},{},{{}},[{b}]]", u64::from(a) + 5000),
        13 => format!("[17,{req},{}]", u64::from(b) + 300),
        _ => {
            if b & 1 == 0 {
                format!("[67,0,{{\"registration\":{reg},\"reason\":\"wamp.error.kicked\"}}]")
            } else {
                format!("[35,0,{{\"subscription\":{sub},\"reason\":\"wamp.error.kicked\"}}]")
            }
        }
    }
}

fn command(session: &mut Session, book: &mut Book, now: Instant, cmd: u8, a: u8) {
    let uri = |s: &str| Uri::parse(s).expect("a valid URI");
    let payload = || Payload::from_args(&(a,)).expect("encodes");
    match cmd % 14 {
        0 => {
            let options = Dict::new().with("receive_progress", a & 1 != 0);
            let r = session.call(uri("com.example.proc"), payload(), options);
            book.issue(r, true);
        }
        1 => {
            let request = RequestId::try_from(Book::pick(&book.issued, a)).ok();
            if let Some(request) = request {
                let _ = session.call_part(request, payload(), a & 1 != 0);
            }
        }
        2..=4 => {
            let mode = [CancelMode::Skip, CancelMode::Kill, CancelMode::KillNoWait]
                [usize::from(cmd % 14 - 2)];
            if let Ok(request) = RequestId::try_from(Book::pick(&book.issued, a)) {
                let _ = session.cancel(request, mode);
            }
        }
        5 => {
            let r = session.register(uri("com.example.proc"), Dict::new());
            book.issue(r, true);
        }
        6 => {
            if let Ok(reg) = Book::pick(&book.registrations, a).try_into() {
                let r = session.unregister(reg);
                book.issue(r, true);
            }
        }
        7 => {
            let options = if a & 1 != 0 {
                Dict::new().with("match", "prefix")
            } else {
                Dict::new()
            };
            let r = session.subscribe(uri("com.example"), options);
            book.issue(r, true);
        }
        8 => {
            if let Ok(sub) = Book::pick(&book.subscriptions, a).try_into() {
                let r = session.unsubscribe(sub);
                book.issue(r, true);
            }
        }
        9 => {
            let acknowledge = a & 1 != 0;
            let options = Dict::new().with("acknowledge", acknowledge);
            let r = session.publish(uri("com.example.topic"), payload(), options);
            book.issue(r, acknowledge);
        }
        10 | 11 => {
            if let Ok(inv) = RequestId::try_from(Book::pick(&book.invocations, a)) {
                let options = Dict::new().with("progress", cmd % 14 == 11);
                let _ = session.yield_(inv, options, payload());
            }
        }
        12 => {
            if let Ok(inv) = RequestId::try_from(Book::pick(&book.invocations, a)) {
                let error = uri("com.example.error");
                let _ = session.invocation_error(inv, error, Dict::new(), payload());
            }
        }
        _ => {
            let _ = session.leave(now, Uri::CLOSE_NORMAL, None);
        }
    }
}

fn drain(session: &mut Session, book: &mut Book) {
    while let Some(bytes) = session.poll_transmit() {
        assert!(!book.closed, "output after Closed");
        if let Err(e) = SerializerKind::Json.decode(bytes.clone()) {
            panic!("the session sent what does not decode ({e}): {bytes:?}");
        }
    }
    while let Some(event) = session.poll_event() {
        assert!(!book.closed, "an event after Closed");
        match event {
            SessionEvent::Reply(reply) => {
                let id = reply.request.get();
                assert!(
                    book.expecting.contains(&id),
                    "a Reply for request {id} never issued"
                );
                let n = book.replied.entry(id).or_default();
                *n += 1;
                assert_eq!(*n, 1, "a second Reply for request {id}");
                if let Ok(Outcome::Registered(reg)) = &reply.outcome {
                    book.registrations.push(reg.get());
                }
                if let Ok(Outcome::Subscribed(sub)) = &reply.outcome {
                    book.subscriptions.push(sub.get());
                }
            }
            SessionEvent::Invocation(invocation) => {
                book.invocations.push(invocation.request.get());
            }
            SessionEvent::Closed(_) => book.closed = true,
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut now = epoch();
    let config = SessionConfig::new(Uri::parse("realm1").expect("a valid URI"))
        .serializer(SerializerKind::Json)
        .authenticator(Ticket::new("joe", "secret"));
    let mut session = Session::new(config, Box::new(XorShift(0x9e37_79b9_7f4a_7c15)));
    let mut book = Book::default();
    session.connect(now).expect("a new session connects");
    drain(&mut session, &mut book);

    let mut input = data.iter().copied();
    while let Some(op) = input.next() {
        let mut next = || input.next().unwrap_or(0);
        match op % 5 {
            0 => {
                let len = usize::from(next());
                let frame: Vec<u8> = (0..len).map(|_| next()).collect();
                session.handle_bytes(now, Bytes::from(frame));
            }
            1 => {
                let (kind, a, b) = (next(), next(), next());
                let text = router_message(&book, kind, a, b);
                session.handle_bytes(now, Bytes::from(text));
            }
            2 => {
                let (cmd, a) = (next(), next());
                command(&mut session, &mut book, now, cmd, a);
            }
            3 => {
                now += Duration::from_millis(u64::from(next()) * 10);
                session.handle_timeout(now);
                if let Some(deadline) = session.poll_timeout() {
                    assert!(
                        deadline > now,
                        "a deadline at or before the timeout just handled"
                    );
                }
            }
            _ => session.handle_transport_closed(now),
        }
        drain(&mut session, &mut book);
    }
    session.handle_transport_closed(now);
    drain(&mut session, &mut book);
    assert!(
        book.closed,
        "the transport closed but the session did not report Closed"
    );
    for id in &book.expecting {
        assert_eq!(
            book.replied.get(id),
            Some(&1),
            "request {id} never got its Reply"
        );
    }
    assert_eq!(
        session.pending_requests(),
        0,
        "requests pending after Closed"
    );
});
