//! Memory per idle session: many connections that join the realm and then do nothing,
//! with the target's RSS read before and after. The connections here have no tasks,
//! only small buffers, so the bench itself stays small at 10,000 of them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::client::{self, Buffers, Endpoint};
use crate::error::{within, BenchError, Result};
use crate::framing::Frame;
use crate::proc;
use crate::scenarios::{Combo, REALM};
use crate::targets::Target;
use crate::wamp::{self, code, Ser};

/// Handshakes in progress at once.
const PARALLEL: usize = 128;

/// What the idle scenario measured.
#[derive(Debug, Clone, Copy)]
pub struct Idle {
    /// Sessions that joined.
    pub joined: usize,
    /// Sessions that could not join.
    pub failed: usize,
    /// Target RSS before the first connection (bytes).
    pub rss_before: u64,
    /// Target RSS with all sessions joined and settled (bytes).
    pub rss_after: u64,
    /// Seconds it took to join them all.
    pub join_seconds: f64,
}

impl Idle {
    /// KiB of target memory per joined session.
    pub fn kib_per_session(&self) -> f64 {
        if self.joined == 0 {
            return 0.0;
        }
        self.rss_after.saturating_sub(self.rss_before) as f64 / 1024.0 / self.joined as f64
    }
}

/// One joined connection, kept open and unread.
type Held = (
    crate::framing::FrameReader<tokio::net::tcp::OwnedReadHalf>,
    crate::framing::FrameWriter<tokio::net::tcp::OwnedWriteHalf>,
);

async fn join_one(endpoint: &Endpoint, ser: Ser) -> Result<Held> {
    let (mut reader, mut writer) = client::connect_raw(endpoint, ser, Buffers::QUIET).await?;
    writer.message(&wamp::hello(ser, REALM)?).await?;
    writer.flush().await?;
    loop {
        match reader.next().await? {
            Some(Frame::Message(bytes)) => {
                let msg = ser.decode(&bytes)?;
                if msg.code == code::WELCOME {
                    return Ok((reader, writer));
                }
                return Err(BenchError::Protocol(format!(
                    "HELLO answered with {}",
                    msg.code
                )));
            }
            Some(Frame::Ping(_) | Frame::Pong) => {}
            Some(Frame::Close) | None => {
                return Err(BenchError::Protocol("closed before WELCOME".into()))
            }
        }
    }
}

/// Opens `sessions` joined connections, lets the target settle for `settle`, reads its
/// RSS, and closes them all.
pub async fn run(target: &Target, combo: Combo, sessions: usize, settle: Duration) -> Result<Idle> {
    let endpoint = target.endpoint(combo.transport).clone();
    let rss_before = proc::total_rss(&target.pids);
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(PARALLEL));
    let mut tasks = JoinSet::new();
    for _ in 0..sessions {
        let (gate, endpoint) = (Arc::clone(&gate), endpoint.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            within(
                client::SETUP_TIMEOUT,
                "join an idle session",
                join_one(&endpoint, combo.ser),
            )
            .await
        });
    }
    let mut held = Vec::with_capacity(sessions);
    let mut failed = 0;
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(conn)) => held.push(conn),
            Ok(Err(e)) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
            Err(_) => failed += 1,
        }
    }
    let join_seconds = started.elapsed().as_secs_f64();
    tokio::time::sleep(settle).await;
    let rss_after = proc::total_rss(&target.pids);
    drop(held);
    // Give the target a moment to close them before the next scenario.
    tokio::time::sleep(Duration::from_millis(500)).await;
    if let Some(e) = first_error {
        if failed == sessions {
            return Err(e);
        }
        eprintln!("wamp-bench: {failed} idle sessions failed to join; first error: {e}");
    }
    Ok(Idle {
        joined: sessions - failed,
        failed,
        rss_before,
        rss_after,
        join_seconds,
    })
}
