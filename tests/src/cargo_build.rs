//! Building the workspace's executables (the `wamp` binary, the examples) from inside a
//! test, so a test can run them as a user would.
//!
//! `cargo test --all-targets` builds examples only as test harnesses and does not
//! promise a fresh `wamp` binary to another package's tests, so the tests that run them
//! build them here, with the profile the test itself was built with. The nested build
//! uses the whole workspace's features, as `cargo test --workspace` does, so nothing is
//! compiled twice; and it drops the environment cargo sets for a running test, which
//! build scripts watch (ring's does) and would otherwise rebuild on every switch.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a nested build may take: a cold build on a busy two-core machine.
pub const BUILD_LIMIT: Duration = Duration::from_secs(1200);

/// The environment cargo gives a test it runs (`CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`,
/// ...), as opposed to the configuration a user may set (`CARGO_HOME`,
/// `CARGO_TARGET_DIR`, `CARGO_PROFILE_*`, ...), which the nested build keeps.
const SET_BY_CARGO_FOR_TESTS: &[&str] = &[
    "CARGO_MANIFEST_",
    "CARGO_PKG_",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "CARGO_CFG_",
    "OUT_DIR",
];

/// How often a waiting loop looks at a process again.
const POLL: Duration = Duration::from_millis(20);

/// One executable cargo built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// The package's directory name (`wamp-tokio`, `wamp-cli`, ...).
    pub package: String,
    /// The target's name (`demo`, `wamp`, ...).
    pub name: String,
    /// `bin` or `example`.
    pub kind: String,
    /// Where the executable is.
    pub executable: PathBuf,
}

/// Runs `cargo build --workspace SELECTION` (e.g. `["--examples"]`, `["--bin", "wamp"]`)
/// with this test's profile, bounded by [`BUILD_LIMIT`], and returns the executables
/// built. Compiler output goes to the test's stderr; a failed or overlong build panics
/// with what happened (this is for tests).
pub fn build(selection: &[&str]) -> Vec<Artifact> {
    let what = format!("cargo build {}", selection.join(" "));
    let mut command = Command::new(env!("CARGO"));
    command
        .current_dir(crate::python::repo_root())
        .arg("build")
        .args(selection)
        .args(["--workspace", "--message-format=json-render-diagnostics"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if built_in_release() {
        command.arg("--release");
    }
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if SET_BY_CARGO_FOR_TESTS
            .iter()
            .any(|prefix| key.starts_with(prefix))
        {
            command.env_remove(key.as_ref());
        }
    }
    let started = Instant::now();
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot run cargo: {e}"));
    let Some(stdout) = child.stdout.take() else {
        panic!("{what}: no stdout pipe")
    };
    let reader = thread::spawn(move || {
        let mut out = String::new();
        let _ = BufReader::new(stdout).read_to_string(&mut out);
        out
    });
    let Some(status) = wait_timeout(&mut child, BUILD_LIMIT) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{what}: still running after {BUILD_LIMIT:?}; killed");
    };
    let messages = reader.join().unwrap_or_default();
    assert!(status.success(), "{what}: {status}");
    let artifacts: Vec<Artifact> = messages
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter_map(|message| artifact(&message))
        .collect();
    eprintln!(
        "{what}: built in {:?}: {:?}",
        started.elapsed(),
        artifacts.iter().map(|a| &a.name).collect::<Vec<_>>()
    );
    artifacts
}

fn artifact(message: &Value) -> Option<Artifact> {
    let executable = message["executable"].as_str()?;
    let name = message["target"]["name"].as_str()?;
    let manifest = message["manifest_path"].as_str()?;
    let kind = message["target"]["kind"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find(|kind| *kind == "bin" || *kind == "example")?;
    let package = Path::new(manifest)
        .parent()
        .and_then(Path::file_name)
        .map(|dir| dir.to_string_lossy().into_owned())
        .unwrap_or_default();
    Some(Artifact {
        package,
        name: name.to_owned(),
        kind: kind.to_owned(),
        executable: PathBuf::from(executable),
    })
}

/// Whether this test binary was built with the release profile (then so is what it
/// builds).
pub fn built_in_release() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let profile_dir = exe.parent()?.parent()?.file_name()?.to_owned();
            Some(profile_dir == "release")
        })
        .unwrap_or(false)
}

/// Waits up to `limit` for `child` to exit; `None` if it is still running.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => return None,
            Ok(None) => thread::sleep(POLL),
            Err(e) => panic!("wait for pid {}: {e}", child.id()),
        }
    }
}
