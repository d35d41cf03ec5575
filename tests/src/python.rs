//! The interop venv's Python, and Python scripts run as supervised child processes.
//!
//! The interpreter is `WAMP_INTEROP_PYTHON` when set (`scripts/test.sh` sets it), else the
//! last line printed by `scripts/python-env.sh`, which creates the venv (Autobahn|Python,
//! Crossbar.io) on first use and is fast when it is up to date. Nothing is skipped: a venv
//! that cannot be made is an error that fails the test with the script's explanation.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{io_error, Error, Result};
use crate::process;

/// The environment variable that names the interop venv's python.
pub const PYTHON_ENV_VAR: &str = "WAMP_INTEROP_PYTHON";

/// How long `scripts/python-env.sh` may take (a fresh install takes a few minutes).
const PYTHON_ENV_LIMIT: Duration = Duration::from_secs(900);

/// Stdout lines buffered per process before its reader thread (and so the process, once
/// its pipe is full) waits for the test to read them.
const STDOUT_LINES: usize = 1024;

/// How many of the stdout lines already read are kept for error messages.
const SEEN_LINES: usize = 32;

/// The tail of a process's stderr that is kept for error messages.
const STDERR_TAIL: usize = 64 * 1024;

/// How long a process gets to exit after SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(5);

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// The directory of the Python peer scripts (`tests/interop`).
pub fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// The interop venv's python interpreter, prepared once per test binary.
pub fn python() -> Result<PathBuf> {
    // Concurrent tests wait here for the first one's answer instead of running the
    // installer in parallel (the script also takes a file lock across processes).
    static PYTHON: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    let script = repo_root().join("scripts/python-env.sh");
    PYTHON
        .get_or_init(|| locate_python(&script))
        .clone()
        .map_err(|reason| Error::PythonEnv { script, reason })
}

/// A program installed in the interop venv (such as `crossbar`).
pub fn venv_program(name: &str) -> Result<PathBuf> {
    let python = python()?;
    let program = python
        .parent()
        .map(|bin| bin.join(name))
        .filter(|p| p.is_file())
        .ok_or_else(|| Error::PythonEnv {
            script: repo_root().join("scripts/python-env.sh"),
            reason: format!(
                "no {name} beside {} (is {PYTHON_ENV_VAR} pointing to an old venv? \
                 run scripts/python-env.sh)",
                python.display()
            ),
        })?;
    Ok(program)
}

fn locate_python(script: &Path) -> std::result::Result<PathBuf, String> {
    if let Some(python) = std::env::var_os(PYTHON_ENV_VAR) {
        let python = PathBuf::from(python);
        return if python.is_file() {
            Ok(python)
        } else {
            Err(format!(
                "{PYTHON_ENV_VAR}={} is not a file",
                python.display()
            ))
        };
    }
    let python = PathBuf::from(env_script(script, PYTHON_ENV_LIMIT)?);
    if python.is_file() {
        Ok(python)
    } else {
        Err(format!("printed {}, which is not a file", python.display()))
    }
}

/// Runs one of the `scripts/*-env.sh` scripts, which make an environment for the tests
/// and print where it is as their last line; returns that line.
pub(crate) fn env_script(script: &Path, limit: Duration) -> std::result::Result<String, String> {
    // The script logs its progress on stderr; let that through to the test output, as a
    // first install takes minutes.
    let mut child = Command::new("bash")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run bash: {e}"))?;
    let stdout = child.stdout.take();
    let reader = thread::spawn(move || {
        let mut out = String::new();
        if let Some(mut stdout) = stdout {
            let _ = stdout.read_to_string(&mut out);
        }
        out
    });
    let status = match process::wait_timeout(&mut child, limit) {
        Ok(Some(status)) => status,
        Ok(None) => {
            let _ = process::terminate(&mut child, TERM_GRACE);
            return Err(format!("still running after {limit:?}; killed"));
        }
        Err(e) => return Err(format!("waiting for it: {e}")),
    };
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("exited with {status} (its log is above)"));
    }
    out.lines()
        .last()
        .map(|line| line.trim().to_owned())
        .ok_or_else(|| "printed nothing".to_string())
}

/// How a supervised process ended, with everything it printed.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The exit status.
    pub status: ExitStatus,
    /// Its stdout, line by line (lines already read with [`PyProcess::next_line`] excluded).
    pub stdout: Vec<String>,
    /// The tail of its stderr.
    pub stderr: String,
}

/// A Python script from `tests/interop` running as a child process of the test.
///
/// Stdout is read line by line ([`next_line`](Self::next_line),
/// [`wait_for_line`](Self::wait_for_line)), stderr is kept for error messages, every wait
/// is bounded, and the process is stopped by its pid (SIGTERM, then SIGKILL) when this is
/// dropped.
#[derive(Debug)]
pub struct PyProcess {
    name: String,
    child: Child,
    lines: Receiver<String>,
    /// The last stdout lines handed out, for error messages.
    seen: VecDeque<String>,
    stderr: Arc<Mutex<VecDeque<u8>>>,
}

impl PyProcess {
    /// Starts `python tests/interop/SCRIPT ARGS...` with unbuffered stdout.
    pub fn spawn<I, S>(script: &str, args: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let python = python()?;
        let path = interop_dir().join(script);
        let mut child = Command::new(&python)
            .arg(&path)
            .args(args)
            .current_dir(interop_dir())
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io_error(format!(
                "spawn {} {}",
                python.display(),
                path.display()
            )))?;
        let name = format!("{script} (pid {})", child.id());

        let (tx, lines) = mpsc::sync_channel(STDOUT_LINES);
        if let Some(stdout) = child.stdout.take() {
            thread::spawn(move || forward_lines(stdout, &tx));
        }
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(pipe) = child.stderr.take() {
            let tail = Arc::clone(&stderr);
            thread::spawn(move || keep_tail(pipe, &tail));
        }
        Ok(Self {
            name,
            child,
            lines,
            seen: VecDeque::new(),
            stderr,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next stdout line, `None` once stdout is closed (the process is ending).
    pub fn next_line(&mut self, limit: Duration) -> Result<Option<String>> {
        match self.lines.recv_timeout(limit) {
            Ok(line) => {
                if self.seen.len() >= SEEN_LINES {
                    self.seen.pop_front();
                }
                self.seen.push_back(line.clone());
                Ok(Some(line))
            }
            Err(RecvTimeoutError::Disconnected) => Ok(None),
            Err(RecvTimeoutError::Timeout) => Err(Error::Timeout {
                what: format!("{}: waiting for a line", self.name),
                limit,
                output: self.output(),
            }),
        }
    }

    /// Reads stdout until a line equal to `wanted` (other lines are skipped), within `limit`.
    pub fn wait_for_line(&mut self, wanted: &str, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left) {
                Ok(Some(line)) if line == wanted => return Ok(()),
                Ok(Some(_)) => {}
                Ok(None) => {
                    // Give the process a moment to be reaped so the status is accurate.
                    let status = process::wait_timeout(&mut self.child, Duration::from_secs(2))
                        .map_err(io_error(format!("wait for {}", self.name)))?;
                    return match status {
                        Some(status) => Err(Error::Exited {
                            what: format!("{}: waiting for {wanted:?}", self.name),
                            status,
                            output: self.output(),
                        }),
                        None => Err(Error::Output {
                            what: format!("{}: closed stdout", self.name),
                            line: format!("(end of output, {wanted:?} never came)"),
                        }),
                    };
                }
                Err(Error::Timeout { output, .. }) => {
                    return Err(Error::Timeout {
                        what: format!("{}: waiting for {wanted:?}", self.name),
                        limit,
                        output,
                    })
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits up to `limit` for the process to exit on its own and returns how it ended
    /// with its remaining output. On timeout it is stopped and the error says so.
    pub fn finish(mut self, limit: Duration) -> Result<Finished> {
        let status = process::wait_timeout(&mut self.child, limit)
            .map_err(io_error(format!("wait for {}", self.name)))?;
        let Some(status) = status else {
            let _ = process::terminate(&mut self.child, TERM_GRACE);
            return Err(Error::Timeout {
                what: format!("{}: waiting for it to exit", self.name),
                limit,
                output: self.drain_output(),
            });
        };
        Ok(self.finished(status))
    }

    /// Stops the process now (SIGTERM, then SIGKILL after a grace period) and returns how
    /// it ended with its remaining output.
    pub fn stop(mut self) -> Result<Finished> {
        let (status, _) = process::terminate(&mut self.child, TERM_GRACE)
            .map_err(io_error(format!("stop {}", self.name)))?;
        Ok(self.finished(status))
    }

    /// The tail of what the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        let tail = self
            .stderr
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        String::from_utf8_lossy(&tail.iter().copied().collect::<Vec<_>>()).into_owned()
    }

    fn finished(&mut self, status: ExitStatus) -> Finished {
        // The pipes close when the process exits; the reader threads then drain them.
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut stdout = Vec::new();
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            stdout.push(line);
        }
        Finished {
            status,
            stdout,
            stderr: self.stderr(),
        }
    }

    /// The output for an error message, reading what stdout still has without waiting.
    fn drain_output(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            if self.seen.len() >= SEEN_LINES {
                self.seen.pop_front();
            }
            self.seen.push_back(line);
        }
        self.output()
    }

    fn output(&self) -> String {
        let stdout: Vec<&str> = self.seen.iter().map(String::as_str).collect();
        format!(
            "--- {} stdout (last lines) ---\n{}\n--- stderr ---\n{}",
            self.name,
            stdout.join("\n"),
            self.stderr()
        )
    }
}

impl Drop for PyProcess {
    fn drop(&mut self) {
        let _ = process::terminate(&mut self.child, TERM_GRACE);
    }
}

/// Sends each stdout line to the test; ends at EOF or when the test no longer listens.
fn forward_lines(stdout: impl Read, tx: &SyncSender<String>) {
    let mut reader = BufReader::new(stdout);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end_matches(['\n', '\r']).to_owned();
                if tx.send(line).is_err() {
                    return;
                }
            }
        }
    }
}

/// Keeps the last [`STDERR_TAIL`] bytes of a stream.
fn keep_tail(mut pipe: impl Read, tail: &Mutex<VecDeque<u8>>) {
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let mut tail = tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                tail.extend(buf.get(..n).unwrap_or_default());
                let excess = tail.len().saturating_sub(STDERR_TAIL);
                tail.drain(..excess);
            }
        }
    }
}

/// Runs `python tests/interop/SCRIPT ARGS...` to completion within `limit`.
pub fn run_script<I, S>(script: &str, args: I, limit: Duration) -> Result<Finished>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    PyProcess::spawn(script, args)?.finish(limit)
}
