//! Pub/sub scenarios: N subscriber connections on one topic and one publisher sending
//! numbered events, unpaced (as fast as its socket takes them) or paced (a fixed rate).
//! Every subscriber counts what it gets, so loss is `sent × subscribers − delivered`
//! after a bounded drain; a subscriber whose connection the router closes counts as
//! dropped. The burst scenario is the unpaced case with the router's RSS sampled.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::client::{self, Buffers, Conn};
use crate::error::{within, BenchError, Result};
use crate::proc::RssSampler;
use crate::scenarios::{unique, Combo, REALM};
use crate::targets::Target;
use crate::wamp::{self, code};

/// How many subscriber connections are being set up at once.
const SETUP_PARALLEL: usize = 64;
/// Once events flow, the drain ends early when none arrived for this long. (Before the
/// first event it waits the whole drain limit: a router may read a whole burst before it
/// writes anything.)
const NO_PROGRESS: Duration = Duration::from_secs(2);

/// What one fan-out run is.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Subscriber connections.
    pub subscribers: usize,
    /// Publications to send.
    pub publications: u64,
    /// Publications per second, or `None` for unpaced.
    pub rate: Option<u64>,
    /// Payload bytes per event.
    pub payload: usize,
    /// The publisher stops sending after this long (what it sent is reported).
    pub send_limit: Duration,
    /// How long to wait for the last events after the last publication.
    pub drain_limit: Duration,
}

/// What a fan-out run measured.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// Publications sent.
    pub sent: u64,
    /// Events that should have arrived (sent × subscribers).
    pub expected: u64,
    /// Events that arrived.
    pub delivered: u64,
    /// Events that arrived with a sequence number not above the previous one.
    pub out_of_order: u64,
    /// Subscriber connections closed before the end.
    pub dropped: u64,
    /// Delivered events per second, from the first publication to the last event.
    pub events_per_s: f64,
    /// Seconds the publisher spent sending.
    pub send_seconds: f64,
    /// The target's RSS before, and its peak meanwhile (bytes; 0 when not sampled).
    pub rss_before: u64,
    /// See `rss_before`.
    pub rss_peak: u64,
}

impl Outcome {
    /// Events that never arrived.
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.delivered)
    }
}

/// Runs one fan-out plan against `target`.
pub async fn run(target: &Target, combo: Combo, plan: Plan) -> Result<Outcome> {
    let ser = combo.ser;
    let endpoint = target.endpoint(combo.transport).clone();
    let topic = Arc::new(unique("bench.fanout"));

    // Subscribers, joined and subscribed before anything is published.
    let gate = Arc::new(Semaphore::new(SETUP_PARALLEL));
    let mut setup = JoinSet::new();
    for _ in 0..plan.subscribers {
        let (gate, endpoint, topic) = (Arc::clone(&gate), endpoint.clone(), Arc::clone(&topic));
        setup.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let mut conn = Conn::join(&endpoint, ser, Buffers::QUIET, REALM, code::WELCOME).await?;
            conn.send(wamp::register_or_subscribe(ser, code::SUBSCRIBE, 1, &topic))
                .await?;
            within(
                client::SETUP_TIMEOUT,
                "subscribe",
                conn.inbox.expect(code::SUBSCRIBED, "SUBSCRIBE"),
            )
            .await?;
            Ok::<_, BenchError>(conn)
        });
    }
    let mut subscribers = Vec::with_capacity(plan.subscribers);
    while let Some(joined) = setup.join_next().await {
        match joined {
            Ok(Ok(conn)) => subscribers.push(conn),
            Ok(Err(e)) => return Err(BenchError::Setup(format!("subscriber setup: {e}"))),
            Err(e) => return Err(BenchError::Setup(format!("subscriber setup task: {e}"))),
        }
    }

    let delivered = Arc::new(AtomicU64::new(0));
    let out_of_order = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicU64::new(0));
    let last_event_ns = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let base = Instant::now();
    let mut readers = JoinSet::new();
    for conn in subscribers {
        let (delivered, out_of_order, dropped, last_event_ns, finished) = (
            Arc::clone(&delivered),
            Arc::clone(&out_of_order),
            Arc::clone(&dropped),
            Arc::clone(&last_event_ns),
            Arc::clone(&finished),
        );
        readers.spawn(async move {
            let (_tx, mut inbox, _writer) = conn.split();
            let mut last_seq = 0u64;
            loop {
                match inbox.recv().await {
                    Ok(Some(msg)) if msg.code == code::EVENT => {
                        let seq = msg.seq().unwrap_or(0);
                        if seq <= last_seq {
                            out_of_order.fetch_add(1, Ordering::Relaxed);
                        }
                        last_seq = seq;
                        delivered.fetch_add(1, Ordering::Relaxed);
                        last_event_ns
                            .fetch_max(base.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    }
                    Ok(Some(msg)) if msg.code == code::ABORT || msg.code == code::GOODBYE => {
                        dropped.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => {
                        if !finished.load(Ordering::Relaxed) {
                            dropped.fetch_add(1, Ordering::Relaxed);
                        }
                        return;
                    }
                }
            }
        });
    }

    let publisher = Conn::join(&endpoint, ser, Buffers::BUSY, REALM, code::WELCOME).await?;
    let blob = wamp::blob(ser, plan.payload)?;
    let sampler = RssSampler::start(target.pids.clone());
    let start = Instant::now();
    let start_ns = start.duration_since(base).as_nanos() as u64;
    let mut sent = 0u64;
    while sent < plan.publications && start.elapsed() < plan.send_limit {
        if let Some(rate) = plan.rate {
            let due = (start.elapsed().as_secs_f64() * rate as f64) as u64 + 1;
            if sent >= due {
                let next = Duration::from_secs_f64((sent as f64) / rate as f64);
                tokio::time::sleep_until((start + next).into()).await;
                continue;
            }
        }
        sent += 1;
        let frame = wamp::numbered_call_or_publish(ser, code::PUBLISH, sent, &topic, &blob);
        publisher.send(frame).await?;
    }
    client::sync(&publisher.tx, Duration::from_secs(60)).await?;
    let send_seconds = start.elapsed().as_secs_f64();

    // Drain: until everything arrived, nothing arrives any more, or the limit.
    let expected = sent * plan.subscribers as u64;
    let drain_start = Instant::now();
    let mut seen = delivered.load(Ordering::Relaxed);
    let mut progress_at = Instant::now();
    loop {
        let now_delivered = delivered.load(Ordering::Relaxed);
        if now_delivered >= expected {
            break;
        }
        if now_delivered != seen {
            seen = now_delivered;
            progress_at = Instant::now();
        }
        if (seen > 0 && progress_at.elapsed() > NO_PROGRESS)
            || drain_start.elapsed() > plan.drain_limit
        {
            break;
        }
        if dropped.load(Ordering::Relaxed) >= plan.subscribers as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rss_before = sampler.before;
    let rss_peak = sampler.finish();
    finished.store(true, Ordering::Relaxed);
    readers.abort_all();
    drop(publisher);

    let delivered = delivered.load(Ordering::Relaxed);
    let last_ns = last_event_ns.load(Ordering::Relaxed);
    let span = (last_ns.saturating_sub(start_ns)) as f64 / 1e9;
    Ok(Outcome {
        sent,
        expected,
        delivered,
        out_of_order: out_of_order.load(Ordering::Relaxed),
        dropped: dropped.load(Ordering::Relaxed),
        events_per_s: if span > 0.0 {
            delivered as f64 / span
        } else {
            0.0
        },
        send_seconds,
        rss_before,
        rss_peak,
    })
}
