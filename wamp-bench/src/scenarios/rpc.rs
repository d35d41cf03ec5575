//! RPC scenarios: latency with one call in flight, and throughput with a fixed number of
//! calls in flight over a fixed time. Against a router a callee connection registers the
//! procedure and yields its arguments back; against the echo the caller's CALL frame
//! itself comes back, which is the same client work per message.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::client::{self, Buffers};
use crate::error::{within, BenchError, Result};
use crate::proc::CpuMark;
use crate::scenarios::{join, unique, Combo};
use crate::targets::{Kind, Target};
use crate::wamp::{self, code};

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Calls measured.
    pub samples: usize,
}

/// Throughput over the measured interval.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// Replies per second (calls/s; for the echo, echoed messages/s).
    pub rate: f64,
    /// CPU cores the target's processes used meanwhile (none for the echo).
    pub cores: Option<f64>,
    /// ERROR replies seen.
    pub errors: u64,
}

/// A callee that yields every invocation's arguments back, for router targets.
struct Callee {
    _tasks: JoinSet<()>,
}

async fn start_callee(target: &Target, combo: Combo, procedure: &str) -> Result<Option<Callee>> {
    if target.kind == Kind::Echo {
        return Ok(None);
    }
    let ser = combo.ser;
    let conn = join(target, combo, Buffers::BUSY).await?;
    conn.send(wamp::register_or_subscribe(
        ser,
        code::REGISTER,
        1,
        procedure,
    ))
    .await?;
    let (tx, mut inbox, writer) = conn.split();
    within(
        client::SETUP_TIMEOUT,
        "register",
        inbox.expect(code::REGISTERED, "REGISTER"),
    )
    .await?;
    let mut tasks = JoinSet::new();
    tasks.spawn(async move {
        let _writer = writer;
        while let Ok(Some(msg)) = inbox.recv().await {
            if msg.code != code::INVOCATION {
                continue;
            }
            let Ok(args) = ser.encode(&msg.args) else {
                return;
            };
            if client::send(&tx, wamp::yield_(ser, msg.int(0), &args))
                .await
                .is_err()
            {
                return;
            }
        }
    });
    Ok(Some(Callee { _tasks: tasks }))
}

/// One call after another for `warmup + measure`; the round trips (µs) of the measured
/// part, in the order they happened.
pub async fn latency_samples(
    target: &Target,
    combo: Combo,
    warmup: Duration,
    measure: Duration,
) -> Result<Vec<f64>> {
    let procedure = unique("bench.echo");
    let _callee = start_callee(target, combo, &procedure).await?;
    let ser = combo.ser;
    let mut caller = join(target, combo, Buffers::BUSY).await?;
    let blob = wamp::blob(ser, 32)?;
    let started = Instant::now();
    let mut samples = Vec::with_capacity(100_000);
    let mut request = 0u64;
    while started.elapsed() < warmup + measure {
        request += 1;
        let frame = wamp::numbered_call_or_publish(ser, code::CALL, request, &procedure, &blob);
        let sent = Instant::now();
        caller.send(frame).await?;
        let reply = within(Duration::from_secs(10), "call reply", async {
            loop {
                match caller.inbox.recv().await? {
                    Some(msg) if msg.code == code::RESULT || msg.code == code::CALL => {
                        return Ok(msg)
                    }
                    Some(msg) if msg.code == code::ERROR => {
                        return Err(BenchError::Protocol(format!(
                            "call failed: {}",
                            msg.uri.unwrap_or_default()
                        )))
                    }
                    Some(_) => {}
                    None => return Err(BenchError::Protocol("caller connection closed".into())),
                }
            }
        })
        .await?;
        if reply.int(0) != request {
            return Err(BenchError::Protocol(format!(
                "reply to request {} while waiting for {request}",
                reply.int(0)
            )));
        }
        if sent.duration_since(started) >= warmup {
            samples.push(sent.elapsed().as_secs_f64() * 1e6);
        }
    }
    if samples.is_empty() {
        return Err(BenchError::Protocol(
            "no call completed in the measured interval".into(),
        ));
    }
    Ok(samples)
}

impl Latency {
    /// The percentiles of round trips (µs); `None` for no samples.
    pub fn from_samples(mut samples: Vec<f64>) -> Option<Latency> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_by(f64::total_cmp);
        let pick = |q: f64| {
            let at = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
            samples.get(at).copied().unwrap_or(0.0)
        };
        Some(Latency {
            p50: pick(0.50),
            p99: pick(0.99),
            p999: pick(0.999),
            samples: samples.len(),
        })
    }
}

/// `callers` connections with `in_flight` calls in flight in total (split as evenly as
/// possible), for `warmup + measure`; the rate over the measured part.
pub async fn throughput(
    target: &Target,
    combo: Combo,
    callers: usize,
    in_flight: usize,
    payload: usize,
    warmup: Duration,
    measure: Duration,
) -> Result<Throughput> {
    let procedure = Arc::new(unique("bench.echo"));
    let _callee = start_callee(target, combo, &procedure).await?;
    let ser = combo.ser;
    let blob = Arc::new(wamp::blob(ser, payload)?);
    let replies = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = JoinSet::new();
    for i in 0..callers {
        let share = in_flight / callers + usize::from(i < in_flight % callers);
        if share == 0 {
            continue;
        }
        let conn = join(target, combo, Buffers::BUSY).await?;
        let (procedure, blob) = (Arc::clone(&procedure), Arc::clone(&blob));
        let (replies, errors, stop) =
            (Arc::clone(&replies), Arc::clone(&errors), Arc::clone(&stop));
        tasks.spawn(async move {
            let (tx, mut inbox, _writer) = conn.split();
            let call = |request: u64| {
                wamp::numbered_call_or_publish(ser, code::CALL, request, &procedure, &blob)
            };
            let mut request = 0u64;
            let mut outstanding = 0usize;
            for _ in 0..share {
                request += 1;
                client::send(&tx, call(request)).await?;
                outstanding += 1;
            }
            loop {
                let Some(msg) = inbox.recv().await? else {
                    return Err(BenchError::Protocol("caller connection closed".into()));
                };
                match msg.code {
                    code::RESULT | code::CALL => {}
                    code::ERROR => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => continue,
                }
                replies.fetch_add(1, Ordering::Relaxed);
                outstanding -= 1;
                if !stop.load(Ordering::Relaxed) {
                    request += 1;
                    client::send(&tx, call(request)).await?;
                    outstanding += 1;
                } else if outstanding == 0 {
                    return Ok(());
                }
            }
        });
    }
    tokio::time::sleep(warmup).await;
    let (count0, cpu0, t0) = (
        replies.load(Ordering::Relaxed),
        CpuMark::now(&target.pids),
        Instant::now(),
    );
    tokio::time::sleep(measure).await;
    let (count1, cpu1) = (replies.load(Ordering::Relaxed), CpuMark::now(&target.pids));
    let elapsed = t0.elapsed().as_secs_f64().max(1e-9);
    stop.store(true, Ordering::Relaxed);
    // Let the calls in flight finish (bounded), then drop whatever is left.
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            if let Ok(Err(e)) = joined {
                first_error.get_or_insert(e);
            }
        }
        first_error
    })
    .await;
    if let Ok(Some(e)) = drained {
        return Err(e);
    }
    if count1 == count0 {
        return Err(BenchError::Protocol(
            "no call completed in the measured interval".into(),
        ));
    }
    Ok(Throughput {
        rate: (count1 - count0) as f64 / elapsed,
        cores: (!target.pids.is_empty()).then(|| cpu0.cores_until(&cpu1)),
        errors: errors.load(Ordering::Relaxed),
    })
}
