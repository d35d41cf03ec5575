//! What the router counts for monitoring, and its Prometheus text exposition
//! ([`Router::metrics`](super::Router::metrics)).
//!
//! Counting is a few integer additions per message, in the state the router already
//! touches; nothing is allocated per message.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use wamp_proto::message::MessageType;

/// The upper bounds of the call duration histogram's buckets, in seconds.
const CALL_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Wire codes go up to 70 (YIELD); counters are kept per code.
const CODES: usize = 72;

/// The router's counters (since it started).
#[derive(Debug, Clone)]
pub(crate) struct Counters {
    received: [u64; CODES],
    sent: [u64; CODES],
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub joined: u64,
    pub slow_consumers: u64,
    auth_failures: BTreeMap<&'static str, u64>,
    /// Per bucket of [`CALL_BUCKETS`], then the overflow.
    call_buckets: [u64; CALL_BUCKETS.len() + 1],
    call_seconds: f64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            received: [0; CODES],
            sent: [0; CODES],
            bytes_received: 0,
            bytes_sent: 0,
            joined: 0,
            slow_consumers: 0,
            auth_failures: BTreeMap::new(),
            call_buckets: [0; CALL_BUCKETS.len() + 1],
            call_seconds: 0.0,
        }
    }
}

fn slot(kind: MessageType) -> usize {
    usize::try_from(kind.code()).map_or(CODES - 1, |c| c.min(CODES - 1))
}

impl Counters {
    pub fn received(&mut self, kind: MessageType) {
        self.received[slot(kind)] += 1;
    }

    pub fn sent(&mut self, kind: MessageType, bytes: usize) {
        self.sent[slot(kind)] += 1;
        self.bytes_sent += bytes as u64;
    }

    pub fn auth_failed(&mut self, method: &'static str) {
        *self.auth_failures.entry(method).or_default() += 1;
    }

    /// A call answered after `took`.
    pub fn call_answered(&mut self, took: Duration) {
        let secs = took.as_secs_f64();
        let bucket = CALL_BUCKETS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(CALL_BUCKETS.len());
        self.call_buckets[bucket] += 1;
        self.call_seconds += secs;
    }
}

/// The gauges read when the metrics are asked for.
pub(crate) struct Gauges<'a> {
    pub sessions: Vec<(&'a str, usize)>,
    pub connections: usize,
    pub queued_bytes: usize,
    pub largest_queue: usize,
}

/// The Prometheus text exposition format (version 0.0.4).
pub(crate) fn render(c: &Counters, g: &Gauges<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP wamp_router_sessions Joined sessions, by realm.\n# TYPE wamp_router_sessions gauge"
    );
    for (realm, n) in &g.sessions {
        let _ = writeln!(
            out,
            "wamp_router_sessions{{realm=\"{}\"}} {n}",
            escape(realm)
        );
    }
    for (name, value, help) in [
        (
            "connections",
            g.connections,
            "Open connections, with or without a session.",
        ),
        (
            "queued_bytes",
            g.queued_bytes,
            "Bytes held for connections whose writers are full.",
        ),
        (
            "largest_queue_bytes",
            g.largest_queue,
            "Bytes held for the connection with the most.",
        ),
    ] {
        let _ = writeln!(out, "# HELP wamp_router_{name} {help}\n# TYPE wamp_router_{name} gauge\nwamp_router_{name} {value}");
    }
    for (name, counts, help) in [
        (
            "messages_received_total",
            &c.received,
            "WAMP messages received, by type.",
        ),
        (
            "messages_sent_total",
            &c.sent,
            "WAMP messages sent, by type.",
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP wamp_router_{name} {help}\n# TYPE wamp_router_{name} counter"
        );
        for kind in MessageType::ALL {
            let n = counts[slot(*kind)];
            if n > 0 {
                let _ = writeln!(out, "wamp_router_{name}{{type=\"{}\"}} {n}", kind.name());
            }
        }
    }
    for (name, value, help) in [
        (
            "bytes_received_total",
            c.bytes_received,
            "Bytes of WAMP messages received.",
        ),
        (
            "bytes_sent_total",
            c.bytes_sent,
            "Bytes of WAMP messages sent.",
        ),
        (
            "sessions_joined_total",
            c.joined,
            "Sessions that joined a realm.",
        ),
        (
            "slow_consumer_disconnects_total",
            c.slow_consumers,
            "Sessions cut as slow consumers.",
        ),
    ] {
        let _ = writeln!(out, "# HELP wamp_router_{name} {help}\n# TYPE wamp_router_{name} counter\nwamp_router_{name} {value}");
    }
    let _ = writeln!(out, "# HELP wamp_router_auth_failures_total Refused joins, by authentication method.\n# TYPE wamp_router_auth_failures_total counter");
    for (method, n) in &c.auth_failures {
        let _ = writeln!(
            out,
            "wamp_router_auth_failures_total{{method=\"{method}\"}} {n}"
        );
    }
    let name = "wamp_router_call_duration_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Time from a call to its final answer.\n# TYPE {name} histogram"
    );
    let mut cumulative = 0;
    for (bound, n) in CALL_BUCKETS.iter().zip(&c.call_buckets) {
        cumulative += n;
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    cumulative += c.call_buckets[CALL_BUCKETS.len()];
    let _ = writeln!(
        out,
        "{name}_bucket{{le=\"+Inf\"}} {cumulative}\n{name}_sum {}\n{name}_count {cumulative}",
        c.call_seconds
    );
    out
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_every_family_and_a_cumulative_histogram() {
        let mut c = Counters::default();
        c.received(MessageType::Call);
        c.received(MessageType::Call);
        c.sent(MessageType::Result, 10);
        c.auth_failed("ticket");
        c.call_answered(Duration::from_micros(300));
        c.call_answered(Duration::from_millis(30));
        c.call_answered(Duration::from_secs(60));
        let g = Gauges {
            sessions: vec![("realm\"1", 3)],
            connections: 4,
            queued_bytes: 0,
            largest_queue: 0,
        };
        let text = render(&c, &g);
        for line in [
            "wamp_router_sessions{realm=\"realm\\\"1\"} 3",
            "wamp_router_connections 4",
            "wamp_router_messages_received_total{type=\"CALL\"} 2",
            "wamp_router_messages_sent_total{type=\"RESULT\"} 1",
            "wamp_router_bytes_sent_total 10",
            "wamp_router_auth_failures_total{method=\"ticket\"} 1",
            "wamp_router_call_duration_seconds_bucket{le=\"0.0005\"} 1",
            "wamp_router_call_duration_seconds_bucket{le=\"0.05\"} 2",
            "wamp_router_call_duration_seconds_bucket{le=\"10\"} 2",
            "wamp_router_call_duration_seconds_bucket{le=\"+Inf\"} 3",
            "wamp_router_call_duration_seconds_count 3",
            "# TYPE wamp_router_call_duration_seconds histogram",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}
