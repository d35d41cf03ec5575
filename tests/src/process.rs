//! Stopping processes by their pid, and finding processes through `/proc` (Linux).
//!
//! A test must never leave a router or peer behind, and must never touch a process it
//! did not start: everything here acts on pids the harness got from its own children.

use std::io;
use std::path::Path;
use std::process::{Child, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

/// How often a waiting loop looks at a process again.
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// Sends `signal` to `pid`. A process that is already gone is not an error.
fn signal(pid: u32, signal: Signal) -> io::Result<()> {
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a pid: {pid}"),
        ));
    };
    match kill_process(pid, signal) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Sends SIGTERM to `pid`.
pub(crate) fn sigterm(pid: u32) -> io::Result<()> {
    signal(pid, Signal::TERM)
}

/// Sends SIGKILL to `pid`.
pub(crate) fn sigkill(pid: u32) -> io::Result<()> {
    signal(pid, Signal::KILL)
}

/// Waits up to `limit` for `child` to exit; `None` if it is still running.
pub(crate) fn wait_timeout(child: &mut Child, limit: Duration) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(POLL);
    }
}

/// Stops `child`: SIGTERM, up to `grace` for it to exit, then SIGKILL. Returns how it
/// ended and whether it had to be killed.
pub(crate) fn terminate(child: &mut Child, grace: Duration) -> io::Result<(ExitStatus, bool)> {
    if let Some(status) = child.try_wait()? {
        return Ok((status, false));
    }
    sigterm(child.id())?;
    if let Some(status) = wait_timeout(child, grace)? {
        return Ok((status, false));
    }
    child.kill()?;
    Ok((child.wait()?, true))
}

/// Polls `condition` until it holds or `limit` passes; whether it held.
pub(crate) fn poll_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(POLL);
    }
}

/// Whether `pid` names a running process (zombies count as gone: they run no code and
/// hold no sockets, and reaping them is their parent's business).
pub(crate) fn is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(stat_state(&stat), Some('Z' | 'X') | None),
        Err(_) => false,
    }
}

/// The state letter of a `/proc/PID/stat` line. The command name (field 2) may contain
/// spaces and parentheses, so the fields are read after its last `)`.
fn stat_state(stat: &str) -> Option<char> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().next()?.chars().next()
}

/// The parent pid of a `/proc/PID/stat` line.
fn stat_ppid(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Every process id currently listed in `/proc`.
fn all_pids() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// The running descendants of `root` (children, their children, ...), found through the
/// parent pids in `/proc`.
pub(crate) fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = all_pids()
        .into_iter()
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            Some((pid, stat_ppid(&stat)?))
        })
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while let Some(&parent) = found.get(i) {
        found.extend(
            parents
                .iter()
                .filter(|&&(pid, ppid)| ppid == parent && !found.contains(&pid))
                .map(|&(pid, _)| pid)
                .collect::<Vec<_>>(),
        );
        i += 1;
    }
    found.retain(|&pid| pid != root && is_running(pid));
    found
}

/// The running processes (other than this one) that work in `dir` or below it, or name
/// it in their command line.
///
/// The working directory is what identifies Crossbar's processes: the controller and its
/// workers rewrite their command lines (setproctitle: `crossbar-controller`,
/// `crossbar-worker [...]`), so `pgrep -f <cbdir>` cannot find them, but they all run in
/// the node directory.
pub fn pids_using_dir(dir: &Path) -> Vec<u32> {
    let me = std::process::id();
    let needle = dir.to_string_lossy();
    all_pids()
        .into_iter()
        .filter(|&pid| pid != me && is_running(pid))
        .filter(|&pid| {
            let in_dir = std::fs::read_link(format!("/proc/{pid}/cwd"))
                .is_ok_and(|cwd| cwd.starts_with(dir));
            in_dir
                || std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                    cmdline
                        .split(|&b| b == 0)
                        .any(|arg| String::from_utf8_lossy(arg).contains(needle.as_ref()))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        let stat = "4242 (a (weird) name) S 17 4242 4242 0 -1";
        assert_eq!(stat_state(stat), Some('S'));
        assert_eq!(stat_ppid(stat), Some(17));
        assert_eq!(stat_state("garbage"), None);
    }

    #[test]
    fn this_process_is_running_and_a_bogus_pid_is_not() {
        assert!(is_running(std::process::id()));
        assert!(!is_running(u32::MAX));
    }
}
