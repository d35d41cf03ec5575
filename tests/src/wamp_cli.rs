//! The `wamp` executable, built by cargo for this test's profile, run as a user runs it:
//! `wamp router` started with arguments, its stderr read line by line (that is where it
//! says where it listens), stopped with SIGTERM or killed with SIGKILL by its pid, and
//! killed by its pid if the test lets go of it; and client commands (`wamp call`, ...)
//! run to completion within a bound.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

pub use rustix::process::Signal;
use rustix::process::{kill_process, Pid};

use crate::cargo_build::{self, wait_timeout};

/// How long the router may take to print where it listens.
pub const START_LIMIT: Duration = Duration::from_secs(20);
/// How long one client command (`wamp call`, ...) may run.
pub const CLIENT_LIMIT: Duration = Duration::from_secs(30);
/// How long the router may take to exit after SIGTERM (it says goodbye to every session
/// and waits for the answers; well-behaved peers answer at once).
pub const STOP_LIMIT: Duration = Duration::from_secs(5);

/// Sends `signal` to `pid` (a child of this test); one already gone is fine.
pub fn signal(pid: u32, signal: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        match kill_process(pid, signal) {
            Ok(()) | Err(rustix::io::Errno::SRCH) => {}
            Err(e) => panic!("signal {pid:?}: {e}"),
        }
    }
}

/// The `wamp` executable, built once per test process with the profile this test was
/// built with.
pub fn wamp_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(build_wamp)
}

fn build_wamp() -> PathBuf {
    cargo_build::build(&["--bin", "wamp"])
        .into_iter()
        .find(|artifact| artifact.kind == "bin" && artifact.name == "wamp")
        .map(|artifact| artifact.executable)
        .expect("cargo built no `wamp` executable")
}

/// A running `wamp router`: its stderr line by line (that is where it says where it
/// listens), killed by its pid if the test lets go of it without [`stop`](Self::stop).
pub struct RouterProcess {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl RouterProcess {
    /// Starts `wamp router ARGS` and waits until it has printed every listener (the
    /// `realms:` line comes after them); returns it and the listening URLs.
    pub fn start(args: &[&str]) -> (RouterProcess, Vec<String>) {
        let mut child = Command::new(wamp_binary())
            .arg("router")
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn wamp router");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut router = RouterProcess {
            child,
            lines,
            seen: Vec::new(),
        };
        router.wait_for("realms:", START_LIMIT);
        let urls = router
            .seen
            .iter()
            .filter_map(|line| line.strip_prefix("listening on "))
            .map(str::to_owned)
            .collect();
        (router, urls)
    }

    /// Reads stderr until a line starts with `prefix`, within `limit`.
    pub fn wait_for(&mut self, prefix: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.starts_with(prefix);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    signal(self.child.id(), Signal::KILL);
                    panic!(
                        "wamp router printed no {prefix:?} line within {limit:?}:\n{}",
                        self.seen.join("\n")
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait();
                    panic!(
                        "wamp router ended ({status:?}) before printing {prefix:?}:\n{}",
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// SIGTERM; asserts that the router exits 0 within [`STOP_LIMIT`] after saying it
    /// stopped. Returns everything it printed.
    pub fn stop(mut self) -> String {
        let pid = self.child.id();
        let asked = Instant::now();
        signal(pid, Signal::TERM);
        let status = wait_timeout(&mut self.child, STOP_LIMIT);
        let took = asked.elapsed();
        if status.is_none() {
            signal(pid, Signal::KILL);
            let _ = self.child.wait();
        }
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(line);
        }
        let log = self.seen.join("\n");
        let Some(status) = status else {
            panic!("wamp router (pid {pid}) still running {STOP_LIMIT:?} after SIGTERM:\n{log}")
        };
        assert_eq!(
            status.code(),
            Some(0),
            "wamp router exited with {status} after SIGTERM:\n{log}"
        );
        assert!(log.ends_with("stopped"), "no `stopped` at the end:\n{log}");
        eprintln!("wamp router stopped {took:?} after SIGTERM");
        log
    }
}

impl Drop for RouterProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl RouterProcess {
    /// `wamp router ARGS` with a WebSocket and a RawSocket listener on free ports of
    /// 127.0.0.1; returns it and their URLs (`ws://.../ws`, `rs://...`).
    pub fn start_local(args: &[&str]) -> (RouterProcess, String, String) {
        let ports = crate::ports::free_ports(2).expect("free ports");
        let (ws, rs) = (
            format!("127.0.0.1:{}", ports[0]),
            format!("127.0.0.1:{}", ports[1]),
        );
        let mut all = vec!["--ws", &ws, "--rawsocket", &rs];
        all.extend_from_slice(args);
        let (router, urls) = RouterProcess::start(&all);
        let [ws_url, rs_url] = <[String; 2]>::try_from(urls).expect("two listeners");
        (router, ws_url, rs_url)
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a crash or the OOM killer would: no goodbye, sockets reset by the
    /// kernel. Waits for the process to be gone.
    pub fn kill(mut self) {
        signal(self.child.id(), Signal::KILL);
        let _ = self.child.wait();
    }

    /// The resident memory of the process (`VmRSS` in `/proc/PID/status`), in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Everything it printed to stderr so far.
    pub fn log(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

/// How a client command ended.
#[derive(Debug)]
pub struct Output {
    /// How it exited.
    pub status: ExitStatus,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

/// Runs `wamp ARGS` to completion within [`CLIENT_LIMIT`] (without `RUST_LOG` and
/// `WAMP_SECRET` from the test's environment).
pub fn run_wamp(args: &[&str]) -> Output {
    run_wamp_with(args, &[])
}

/// [`run_wamp`] with extra environment variables.
pub fn run_wamp_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(wamp_binary());
    command
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("WAMP_SECRET");
    let child = spawn_piped(&mut command, env).expect("spawn wamp");
    finish(child, CLIENT_LIMIT, &format!("wamp {}", args.join(" ")))
}

/// Spawns `command` with `env` added to its environment, its stdin closed, and its
/// stdout and stderr piped (for [`finish`], or for a test that reads them as they come).
pub fn spawn_piped(command: &mut Command, env: &[(&str, &str)]) -> std::io::Result<Child> {
    command
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
}

/// Waits up to `limit` for `child` (killed after that) and gathers its output.
pub fn finish(mut child: Child, limit: Duration, label: &str) -> Output {
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = wait_timeout(&mut child, limit);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let output = Output {
        status: status.unwrap_or_else(|| child.wait().expect("wait after kill")),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    assert!(
        status.is_some(),
        "{label}: still running after {limit:?}: {output:?}"
    );
    output
}
