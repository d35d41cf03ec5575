//! The scenarios and the plan that runs them against every target: sizes for `all` and
//! `smoke`, the transport/serializer combinations, and turning each measurement into
//! table cells and smoke-test failures.

pub mod fanout;
pub mod idle;
pub mod rpc;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::client::{Buffers, Conn, Transport};
use crate::report::{self, Cell, Report};
use crate::targets::{Kind, Target};
use crate::wamp::Ser;

/// The realm every target serves.
pub const REALM: &str = "realm1";

/// A transport with a serializer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Combo {
    /// WebSocket or RawSocket.
    pub transport: Transport,
    /// JSON or MessagePack.
    pub ser: Ser,
}

impl Combo {
    /// `ws/json`, `rs/msgpack`, ...
    pub fn label(self) -> String {
        let transport = match self.transport {
            Transport::Ws => "ws",
            Transport::Rs => "rs",
        };
        format!("{transport}/{}", self.ser.name())
    }
}

/// The combinations every scenario runs over.
pub const COMBOS: [Combo; 3] = [
    Combo {
        transport: Transport::Ws,
        ser: Ser::Json,
    },
    Combo {
        transport: Transport::Ws,
        ser: Ser::Msgpack,
    },
    Combo {
        transport: Transport::Rs,
        ser: Ser::Msgpack,
    },
];

/// Connects to `target` and joins [`REALM`] (against the echo, "joined" means the
/// HELLO came back).
pub async fn join(target: &Target, combo: Combo, buffers: Buffers) -> crate::error::Result<Conn> {
    let answer = if target.kind == Kind::Echo {
        crate::wamp::code::HELLO
    } else {
        crate::wamp::code::WELCOME
    };
    Conn::join(
        target.endpoint(combo.transport),
        combo.ser,
        buffers,
        REALM,
        answer,
    )
    .await
}

/// A URI no earlier run used (a router may still be tearing down the last run's
/// registration when the next one registers).
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{prefix}.r{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The sizes of a run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Smoke mode: small, and loss is a failure.
    pub smoke: bool,
    /// Latency: warm-up (per round) and measured time (over all rounds).
    pub latency: (Duration, Duration),
    /// Latency: rounds in which the targets take turns.
    pub latency_rounds: usize,
    /// Throughput: warm-up (per round) and measured time (over all rounds).
    pub throughput: (Duration, Duration),
    /// Throughput: rounds in which the targets take turns.
    pub throughput_rounds: usize,
    /// Fan-out: (subscribers, unpaced publications, paced publications).
    pub fanout: Vec<(usize, u64, u64)>,
    /// The paced rate (publications/s).
    pub paced_rate: u64,
    /// Burst: (subscribers, publications).
    pub burst: Vec<(usize, u64)>,
    /// How long a publisher may send.
    pub send_limit: Duration,
    /// How long the last events may take to arrive.
    pub drain_limit: Duration,
    /// Idle sessions per transport.
    pub idle_sessions: usize,
}

impl Config {
    /// The full run (about ten minutes with Crossbar.io).
    pub fn all() -> Config {
        Config {
            smoke: false,
            latency: (Duration::from_millis(100), Duration::from_millis(2000)),
            latency_rounds: 5,
            throughput: (Duration::from_millis(200), Duration::from_millis(1800)),
            throughput_rounds: 3,
            fanout: vec![(1, 100_000, 2_000), (100, 3_000, 2_000), (1000, 300, 300)],
            paced_rate: 1000,
            burst: vec![(1, 1_000_000), (10, 100_000), (100, 10_000)],
            send_limit: Duration::from_secs(8),
            drain_limit: Duration::from_secs(6),
            idle_sessions: 10_000,
        }
    }

    /// The CI run: small counts, a few seconds per scenario.
    pub fn smoke() -> Config {
        Config {
            smoke: true,
            latency: (Duration::from_millis(100), Duration::from_millis(300)),
            latency_rounds: 1,
            throughput: (Duration::from_millis(50), Duration::from_millis(250)),
            throughput_rounds: 1,
            fanout: vec![(1, 1_000, 200), (10, 500, 200), (100, 100, 100)],
            paced_rate: 1000,
            burst: vec![(1, 2_000), (10, 500), (100, 50)],
            send_limit: Duration::from_secs(10),
            drain_limit: Duration::from_secs(10),
            idle_sessions: 200,
        }
    }
}

/// "RPC throughput (1 caller, 100 in flight, 32 B)" and the like, with `suffix`.
fn throughput_name(callers: usize, payload: usize, suffix: &str) -> String {
    let how = if callers == 1 {
        "1 caller, 100 in flight".to_string()
    } else {
        format!("{callers} callers, 100 in flight in total")
    };
    let size = if payload >= 1024 {
        format!("{} KiB", payload / 1024)
    } else {
        format!("{payload} B")
    };
    format!("RPC throughput ({how}, {size}{suffix})")
}

/// The combinations the idle-session scenario runs over.
pub const IDLE_COMBOS: [Combo; 2] = [COMBOS[0], COMBOS[2]];

/// Runs the scenarios against targets, filling a report; adds to `failures` (errors
/// and, in smoke mode, any loss or drop on a router).
pub struct Plan<'a> {
    config: &'a Config,
    report: &'a mut Report,
    failures: &'a mut Vec<String>,
}

fn details(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// ", rounds ±N%": how far the rounds strayed from their mean (empty for one round).
fn spread_text(rates: impl Iterator<Item = f64>) -> String {
    let rates: Vec<f64> = rates.collect();
    if rates.len() < 2 {
        return String::new();
    }
    let mean = rates.iter().sum::<f64>() / rates.len() as f64;
    let worst = rates
        .iter()
        .map(|r| (r - mean).abs() / mean)
        .fold(0.0, f64::max);
    format!(", rounds ±{:.0}%", worst * 100.0)
}

fn cores_text(cores: Option<f64>) -> String {
    cores.map(|c| format!(", {c:.2} cores")).unwrap_or_default()
}

/// When the first scenario started (for the progress lines).
fn started() -> std::time::Instant {
    static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *STARTED.get_or_init(std::time::Instant::now)
}

/// Pause between runs so a target finishes closing the last run's connections.
async fn breathe(config: &Config) {
    let pause = if config.smoke { 50 } else { 200 };
    tokio::time::sleep(Duration::from_millis(pause)).await;
}

impl<'a> Plan<'a> {
    /// A plan writing into `report` and `failures`.
    pub fn new(
        config: &'a Config,
        report: &'a mut Report,
        failures: &'a mut Vec<String>,
    ) -> Plan<'a> {
        Plan {
            config,
            report,
            failures,
        }
    }
}

impl Plan<'_> {
    /// Every scenario except the idle sessions (only the RPC ones if `rpc_only`)
    /// against every target.
    pub async fn load(&mut self, targets: &[Target], rpc_only: bool) {
        self.latency(targets).await;
        self.throughput(targets).await;
        if rpc_only {
            return;
        }
        self.fanout(targets).await;
        self.burst(targets).await;
    }

    /// The idle-session scenario over `combo` against one target, which should be
    /// freshly started: allocators keep what earlier scenarios freed, which would hide
    /// the sessions' memory.
    pub async fn idle_sessions(&mut self, target: &Target, combo: Combo) {
        self.idle(target, combo).await;
    }

    /// Records an error: in the table, on stderr, and as a failure unless the target is
    /// the baseline (Crossbar.io's problems are its own).
    fn error(
        &mut self,
        scenario: &str,
        combo: Combo,
        unit: &'static str,
        target: &Target,
        e: &dyn std::fmt::Display,
    ) {
        eprintln!(
            "wamp-bench: {scenario} {} on {}: {e}",
            combo.label(),
            target.kind.name()
        );
        self.report.missing(
            scenario,
            &combo.label(),
            unit,
            target.kind,
            "error (see stderr)",
        );
        if target.kind != Kind::Crossbar {
            self.failures.push(format!(
                "{scenario} {} on {}: {e}",
                combo.label(),
                target.kind.name()
            ));
        }
    }

    fn progress(scenario: &str, combo: Combo, target: &Target) {
        eprintln!(
            "wamp-bench: [{:5.0} s] {scenario} | {} | {}",
            started().elapsed().as_secs_f64(),
            combo.label(),
            target.kind.title()
        );
    }

    async fn latency(&mut self, targets: &[Target]) {
        let (warmup, measure) = self.config.latency;
        let rounds = self.config.latency_rounds.max(1);
        let names = [
            "RPC latency p50 (1 in flight, 32 B)",
            "RPC latency p99 (1 in flight, 32 B)",
            "RPC latency p99.9 (1 in flight, 32 B)",
        ];
        for combo in COMBOS {
            // The targets take turns, several short rounds each, and each one's samples
            // are pooled: the echo's round trip on a shared machine drifts by a quarter
            // from one connection (and core placement) to the next, and a floor measured
            // once, minutes apart from the router, would make the ratio a coin toss.
            let mut pooled: Vec<Result<Vec<f64>, String>> = vec![Ok(Vec::new()); targets.len()];
            for round in 0..rounds {
                for (target, pool) in targets.iter().zip(pooled.iter_mut()) {
                    let Ok(samples) = pool else {
                        continue;
                    };
                    if round == 0 {
                        Self::progress("RPC latency", combo, target);
                    }
                    let share = measure / u32::try_from(rounds).unwrap_or(1);
                    match rpc::latency_samples(target, combo, warmup, share).await {
                        Ok(more) => samples.extend(more),
                        Err(e) => *pool = Err(e.to_string()),
                    }
                    breathe(self.config).await;
                }
            }
            for (target, pool) in targets.iter().zip(pooled) {
                let latency = pool.and_then(|samples| {
                    rpc::Latency::from_samples(samples).ok_or_else(|| "no samples".to_string())
                });
                let l = match latency {
                    Ok(l) => l,
                    Err(e) => {
                        self.error(names[0], combo, "µs", target, &e);
                        continue;
                    }
                };
                for (name, us) in names.iter().zip([l.p50, l.p99, l.p999]) {
                    let cell = if target.kind == Kind::Echo {
                        Cell {
                            value: 2.0 * us,
                            text: format!(
                                "{} (echo RTT {})",
                                report::micros(2.0 * us),
                                report::micros(us)
                            ),
                            details: details(
                                json!({"floor_us": 2.0 * us, "echo_rtt_us": us, "samples": l.samples, "rounds": rounds}),
                            ),
                        }
                    } else {
                        Cell {
                            value: us,
                            text: report::micros(us),
                            details: details(
                                json!({"latency_us": us, "samples": l.samples, "rounds": rounds}),
                            ),
                        }
                    };
                    self.report
                        .set(name, &combo.label(), "µs", target.kind, cell);
                }
            }
        }
    }

    async fn throughput(&mut self, targets: &[Target]) {
        let all: Vec<&Target> = targets.iter().collect();
        for payload in [32usize, 16 * 1024] {
            for callers in [1usize, 8] {
                let name = throughput_name(callers, payload, "");
                for combo in COMBOS {
                    self.throughput_row(&name, combo, &all, callers, payload)
                        .await;
                }
            }
        }
    }

    /// The 32 B rows again against `router` (another `wamp router`, started with
    /// `--threads` one per core), with the echo measured beside it for the ratio.
    pub async fn throughput_per_core(&mut self, echo: &Target, router: &Target) {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let suffix = format!(", `wamp router --threads {cores}`");
        for callers in [1usize, 8] {
            let name = throughput_name(callers, 32, &suffix);
            for combo in COMBOS {
                self.throughput_row(&name, combo, &[echo, router], callers, 32)
                    .await;
            }
        }
    }

    /// One row: the targets take turns for several rounds (as for latency: this
    /// machine's speed drifts, and both sides of a ratio should see the same drift);
    /// each target's figure is the mean over its rounds.
    async fn throughput_row(
        &mut self,
        name: &str,
        combo: Combo,
        targets: &[&Target],
        callers: usize,
        payload: usize,
    ) {
        let (warmup, measure) = self.config.throughput;
        let rounds = self.config.throughput_rounds.max(1);
        let share = measure / u32::try_from(rounds).unwrap_or(1);
        let mut results: Vec<Result<Vec<rpc::Throughput>, String>> =
            vec![Ok(Vec::new()); targets.len()];
        for round in 0..rounds {
            for (target, result) in targets.iter().zip(results.iter_mut()) {
                let Ok(runs) = result else {
                    continue;
                };
                if round == 0 {
                    Self::progress(name, combo, target);
                }
                match rpc::throughput(target, combo, callers, 100, payload, warmup, share).await {
                    Ok(t) => runs.push(t),
                    Err(e) => *result = Err(e.to_string()),
                }
                breathe(self.config).await;
            }
        }
        for (target, result) in targets.iter().zip(results) {
            let runs = match result {
                Ok(runs) if !runs.is_empty() => runs,
                Ok(_) => {
                    self.error(name, combo, "calls/s", target, &"no rounds");
                    continue;
                }
                Err(e) => {
                    self.error(name, combo, "calls/s", target, &e);
                    continue;
                }
            };
            let n = runs.len() as f64;
            let rate = runs.iter().map(|t| t.rate).sum::<f64>() / n;
            let cores = runs
                .iter()
                .map(|t| t.cores)
                .sum::<Option<f64>>()
                .map(|c| c / n);
            let errors: u64 = runs.iter().map(|t| t.errors).sum();
            let spread = spread_text(runs.iter().map(|t| t.rate));
            let cell = if target.kind == Kind::Echo {
                Cell {
                    value: rate / 2.0,
                    text: format!(
                        "{} calls/s (echo {} msg/s{}{spread})",
                        report::si(rate / 2.0),
                        report::si(rate),
                        cores_text(cores)
                    ),
                    details: details(
                        json!({"ceiling_calls_per_s": rate / 2.0, "echo_msgs_per_s": rate, "rounds": runs.len()}),
                    ),
                }
            } else {
                if errors > 0 {
                    self.failures.push(format!(
                        "{name} {} on {}: {errors} ERROR replies",
                        combo.label(),
                        target.kind.name(),
                    ));
                }
                Cell {
                    value: rate,
                    text: format!("{} calls/s{}{spread}", report::si(rate), cores_text(cores)),
                    details: details(
                        json!({"calls_per_s": rate, "cores": cores, "errors": errors, "rounds": runs.len()}),
                    ),
                }
            };
            self.report
                .set(name, &combo.label(), "calls/s", target.kind, cell);
        }
    }

    /// Records a fan-out or burst outcome; in smoke mode any loss or drop on a router is
    /// a failure.
    fn record_fanout(
        &mut self,
        name: &str,
        combo: Combo,
        target: &Target,
        o: &fanout::Outcome,
        with_rss: bool,
    ) {
        let growth = o.rss_peak.saturating_sub(o.rss_before);
        let mut text = format!(
            "{} ev/s, lost {}, dropped {}",
            report::si(o.events_per_s),
            o.lost(),
            o.dropped
        );
        if with_rss {
            text.push_str(&format!(", RSS +{}", report::mib(growth as f64)));
        }
        if o.out_of_order > 0 {
            text.push_str(&format!(", {} out of order", o.out_of_order));
        }
        let cell = Cell {
            value: o.events_per_s,
            text,
            details: details(json!({
                "events_per_s": o.events_per_s, "sent": o.sent, "expected": o.expected,
                "delivered": o.delivered, "lost": o.lost(), "dropped": o.dropped,
                "out_of_order": o.out_of_order, "send_seconds": o.send_seconds,
                "rss_before": o.rss_before, "rss_peak": o.rss_peak, "rss_growth": growth,
            })),
        };
        self.report
            .set(name, &combo.label(), "events/s", target.kind, cell);
        let bad = o.lost() > 0 || o.dropped > 0 || o.out_of_order > 0;
        if self.config.smoke && bad && target.kind == Kind::Router {
            self.failures.push(format!(
                "{name} {} on {}: lost {}, dropped {}, out of order {}",
                combo.label(),
                target.kind.name(),
                o.lost(),
                o.dropped,
                o.out_of_order
            ));
        }
    }

    async fn fanout(&mut self, targets: &[Target]) {
        let fanout = self.config.fanout.clone();
        let rate = self.config.paced_rate;
        for (subscribers, unpaced, paced) in fanout {
            for (publications, pace) in [(unpaced, None), (paced, Some(rate))] {
                let how = match pace {
                    Some(rate) => format!("paced {rate}/s"),
                    None => "unpaced".to_string(),
                };
                let name =
                    format!("Fan-out to {subscribers} subs, {how}, {publications} pubs × 32 B");
                for combo in COMBOS {
                    for target in targets.iter().filter(|t| t.kind != Kind::Echo) {
                        Self::progress(&name, combo, target);
                        let plan = fanout::Plan {
                            subscribers,
                            publications,
                            rate: pace,
                            payload: 32,
                            send_limit: self.config.send_limit,
                            drain_limit: self.config.drain_limit,
                        };
                        match fanout::run(target, combo, plan).await {
                            Ok(o) => self.record_fanout(&name, combo, target, &o, false),
                            Err(e) => self.error(&name, combo, "events/s", target, &e),
                        }
                        breathe(self.config).await;
                    }
                }
            }
        }
    }

    async fn burst(&mut self, targets: &[Target]) {
        let burst = self.config.burst.clone();
        for (subscribers, publications) in burst {
            let name = format!("Burst to {subscribers} subs, {publications} pubs × 32 B");
            for combo in COMBOS {
                for target in targets.iter().filter(|t| t.kind != Kind::Echo) {
                    Self::progress(&name, combo, target);
                    let plan = fanout::Plan {
                        subscribers,
                        publications,
                        rate: None,
                        payload: 32,
                        send_limit: self.config.send_limit,
                        drain_limit: self.config.drain_limit,
                    };
                    match fanout::run(target, combo, plan).await {
                        Ok(o) => {
                            if o.sent < publications {
                                self.report.notes.push(format!(
                                    "{name} {} on {}: only {} publications fit in the {:?} send limit",
                                    combo.label(),
                                    target.kind.title(),
                                    o.sent,
                                    self.config.send_limit
                                ));
                            }
                            self.record_fanout(&name, combo, target, &o, true);
                        }
                        Err(e) => self.error(&name, combo, "events/s", target, &e),
                    }
                    breathe(self.config).await;
                }
            }
        }
    }

    async fn idle(&mut self, target: &Target, combo: Combo) {
        let sessions = self.config.idle_sessions;
        let name = format!("Memory per idle joined session ({sessions} sessions, fresh process)");
        Self::progress(&name, combo, target);
        match idle::run(target, combo, sessions, Duration::from_secs(1)).await {
            Ok(i) => {
                let kib = i.kib_per_session();
                let cell = Cell {
                    value: kib,
                    text: format!(
                        "{kib:.1} KiB/session ({} joined in {:.1} s{})",
                        i.joined,
                        i.join_seconds,
                        if i.failed > 0 {
                            format!(", {} failed", i.failed)
                        } else {
                            String::new()
                        }
                    ),
                    details: details(json!({
                        "kib_per_session": kib, "joined": i.joined, "failed": i.failed,
                        "rss_before": i.rss_before, "rss_after": i.rss_after,
                        "join_seconds": i.join_seconds,
                    })),
                };
                if i.failed > 0 && target.kind == Kind::Router {
                    self.failures.push(format!(
                        "{name} {} on router: {} sessions failed to join",
                        combo.label(),
                        i.failed
                    ));
                }
                self.report
                    .set(&name, &combo.label(), "KiB/session", target.kind, cell);
            }
            Err(e) => self.error(&name, combo, "KiB/session", target, &e),
        }
        breathe(self.config).await;
    }
}
