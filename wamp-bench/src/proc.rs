//! What the bench reads about other processes from `/proc` (Linux): resident memory
//! (`VmRSS` in `/proc/PID/status`) and CPU time (utime + stime in `/proc/PID/stat`), and a
//! sampler that tracks the peak RSS of a set of processes while a scenario runs.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// The resident set of `pid` in bytes; `None` if it cannot be read (process gone).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The summed resident set of `pids` in bytes (processes that are gone count 0).
pub fn total_rss(pids: &[u32]) -> u64 {
    pids.iter().filter_map(|&pid| rss_bytes(pid)).sum()
}

/// Clock ticks per second of `/proc/PID/stat` (`getconf CLK_TCK`, 100 if unknown).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse::<f64>().ok())
            .filter(|&t| t > 0.0)
            .unwrap_or(100.0)
    })
}

/// CPU seconds (user + system) `pid` has used so far.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let after = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Field 3 (state) is index 0 here, so utime (14) and stime (15) are 11 and 12.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// CPU seconds used by all of `pids`.
pub fn total_cpu(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|&pid| cpu_seconds(pid)).sum()
}

/// A CPU reading at one instant, to turn into "cores used" over an interval.
#[derive(Debug, Clone, Copy)]
pub struct CpuMark {
    at: Instant,
    cpu: f64,
}

impl CpuMark {
    /// Reads the CPU time of `pids` now.
    pub fn now(pids: &[u32]) -> CpuMark {
        CpuMark {
            at: Instant::now(),
            cpu: total_cpu(pids),
        }
    }

    /// Cores used between `self` and `later` (CPU seconds / wall seconds).
    pub fn cores_until(&self, later: &CpuMark) -> f64 {
        let wall = later.at.duration_since(self.at).as_secs_f64();
        if wall <= 0.0 {
            return 0.0;
        }
        (later.cpu - self.cpu).max(0.0) / wall
    }
}

/// Samples the summed RSS of some processes every 50 ms on its own thread, keeping the
/// peak.
#[derive(Debug)]
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<u64>>,
    /// RSS when sampling started.
    pub before: u64,
}

impl RssSampler {
    /// Starts sampling `pids`.
    pub fn start(pids: Vec<u32>) -> RssSampler {
        let before = total_rss(&pids);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("rss-sampler".into())
            .spawn(move || {
                let mut peak = total_rss(&pids);
                while !flag.load(Ordering::Relaxed) {
                    thread::sleep(Duration::from_millis(50));
                    peak = peak.max(total_rss(&pids));
                }
                peak
            })
            .ok();
        RssSampler {
            stop,
            thread,
            before,
        }
    }

    /// Stops sampling; the peak RSS seen (at least `before`).
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let peak = self
            .thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or(self.before);
        peak.max(self.before)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(rss_bytes(me).is_some_and(|rss| rss > 0));
        assert!(cpu_seconds(me).is_some());
        assert_eq!(rss_bytes(u32::MAX), None);
    }
}
