//! The targets under test: the echo ceiling and `wamp router` (child processes on free
//! ports, stopped by their pids) and Crossbar.io (through the integration
//! harness). Each is reduced to a [`Target`]: two endpoints and the pids whose CPU and
//! memory the scenarios sample.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use wamp_integration::{Crossbar, CrossbarOptions};

use crate::client::{Endpoint, Transport};
use crate::echo::EchoProcess;
use crate::error::{io_ctx, BenchError, Result};

/// How long `wamp router` may take to accept connections.
const ROUTER_START: Duration = Duration::from_secs(20);
/// How long it gets after SIGTERM before it is killed.
const ROUTER_STOP: Duration = Duration::from_secs(5);

/// Which kind of target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The echo servers.
    Echo,
    /// `wamp router`.
    Router,
    /// Crossbar.io.
    Crossbar,
}

impl Kind {
    /// The column title.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Echo => "ceiling (echo)",
            Kind::Router => "wamp router",
            Kind::Crossbar => "Crossbar.io",
        }
    }

    /// The short name used in JSON lines.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Echo => "echo",
            Kind::Router => "router",
            Kind::Crossbar => "crossbar",
        }
    }
}

/// A running target as the scenarios see it.
#[derive(Debug, Clone)]
pub struct Target {
    /// What it is.
    pub kind: Kind,
    /// Its WebSocket endpoint.
    pub ws: Endpoint,
    /// Its RawSocket endpoint.
    pub rs: Endpoint,
    /// The processes to sample for CPU and RSS.
    pub pids: Vec<u32>,
}

impl Target {
    /// The endpoint for a transport.
    pub fn endpoint(&self, transport: Transport) -> &Endpoint {
        match transport {
            Transport::Ws => &self.ws,
            Transport::Rs => &self.rs,
        }
    }
}

fn endpoint(port: u16, transport: Transport) -> Endpoint {
    Endpoint {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        transport,
        path: "/ws".into(),
    }
}

/// The echo servers as a target.
pub fn echo_target(echo: &EchoProcess) -> Target {
    Target {
        kind: Kind::Echo,
        ws: endpoint(echo.ws.port(), Transport::Ws),
        rs: endpoint(echo.rs.port(), Transport::Rs),
        pids: vec![echo.pid()],
    }
}

/// Where the `wamp` binary is: `explicit`, else next to this executable (both are in
/// `target/release` after `cargo build --release -p wamp-cli`).
pub fn router_binary(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(BenchError::Setup(format!(
                "no router binary at {}",
                path.display()
            )))
        };
    }
    let exe = std::env::current_exe().map_err(io_ctx("find this executable"))?;
    let candidate = exe
        .parent()
        .map(|dir| dir.join("wamp"))
        .ok_or_else(|| BenchError::Setup("this executable has no directory".into()))?;
    if candidate.is_file() {
        Ok(candidate)
    } else {
        Err(BenchError::Setup(format!(
            "no `wamp` binary at {}: build it first with `cargo build --release -p wamp-cli` \
             (or pass --router PATH)",
            candidate.display()
        )))
    }
}

/// A `wamp router` child process.
#[derive(Debug)]
pub struct RouterProcess {
    child: Option<Child>,
    dir: PathBuf,
    /// Its target view.
    pub target: Target,
}

impl RouterProcess {
    /// Writes a config on free ports into a fresh temp directory and starts the router,
    /// with its open-file limit raised to the hard limit; returns once both ports accept.
    pub fn start(binary: &Path) -> Result<RouterProcess> {
        RouterProcess::start_with(binary, &[])
    }

    /// [`RouterProcess::start`] with more arguments for `wamp router`.
    pub fn start_with(binary: &Path, extra: &[&str]) -> Result<RouterProcess> {
        let ports = wamp_integration::ports::free_ports(2)?;
        let (Some(&ws), Some(&rs)) = (ports.first(), ports.get(1)) else {
            return Err(BenchError::Setup(format!(
                "asked for 2 ports, got {ports:?}"
            )));
        };
        let dir =
            std::env::temp_dir().join(format!("wamp-bench-router-{}-{ws}", std::process::id()));
        fs::create_dir_all(&dir).map_err(io_ctx(format!("create {}", dir.display())))?;
        let config = dir.join("router.toml");
        let text = format!(
            "# written by wamp-bench\n[listen]\nws = \"127.0.0.1:{ws}\"\nws_path = \"/ws\"\n\
             rawsocket = \"127.0.0.1:{rs}\"\n"
        );
        fs::write(&config, text).map_err(io_ctx(format!("write {}", config.display())))?;
        let log_path = dir.join("router.log");
        let log = fs::File::create(&log_path).map_err(io_ctx("create the router log"))?;
        let log_err = log.try_clone().map_err(io_ctx("open the router log"))?;
        // `exec` keeps the pid, so the pid we hold is the router's own.
        let child = Command::new("sh")
            .arg("-c")
            .arg("ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec \"$0\" \"$@\"")
            .arg(binary)
            .arg("router")
            .arg("--config")
            .arg(&config)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .map_err(io_ctx(format!("spawn {}", binary.display())))?;
        let pid = child.id();
        let mut router = RouterProcess {
            child: Some(child),
            dir,
            target: Target {
                kind: Kind::Router,
                ws: endpoint(ws, Transport::Ws),
                rs: endpoint(rs, Transport::Rs),
                pids: vec![pid],
            },
        };
        if let Err(e) = router.wait_ready([ws, rs]) {
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            router.stop();
            return Err(BenchError::Setup(format!("{e}; router log:\n{log}")));
        }
        Ok(router)
    }

    fn wait_ready(&mut self, ports: [u16; 2]) -> Result<()> {
        let deadline = Instant::now() + ROUTER_START;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    return Err(BenchError::Setup(format!(
                        "wamp router exited with {status}"
                    )));
                }
            }
            let ready = ports.iter().all(|&port| {
                let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            });
            if ready {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(BenchError::Timeout(format!(
                    "wamp router not accepting on {ports:?} within {ROUTER_START:?}"
                )));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// SIGTERM, then SIGKILL after [`ROUTER_STOP`]; removes the temp directory.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child, ROUTER_STOP);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Drop for RouterProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Stops a child: SIGTERM, up to `grace` to exit, then kill.
fn terminate(child: &mut Child, grace: Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    if let Some(pid) = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A running Crossbar.io node.
#[derive(Debug)]
pub struct CrossbarNode {
    node: Crossbar,
    /// Its target view.
    pub target: Target,
}

impl CrossbarNode {
    /// Starts Crossbar.io through the harness (which prepares its Python venv with
    /// `scripts/python-env.sh` when `WAMP_INTEROP_PYTHON` is not set).
    pub fn start() -> Result<CrossbarNode> {
        let node = Crossbar::start(CrossbarOptions::default().with_loglevel("warn"))?;
        let ports = node.ports();
        let mut pids = node.node_processes();
        if pids.is_empty() {
            pids.extend(node.pid());
        }
        Ok(CrossbarNode {
            target: Target {
                kind: Kind::Crossbar,
                ws: endpoint(ports.ws, Transport::Ws),
                rs: endpoint(ports.rawsocket, Transport::Rs),
                pids,
            },
            node,
        })
    }

    /// Stops the node (the harness kills anything left by pid).
    pub fn stop(&mut self) -> Result<()> {
        self.node.stop().map_err(BenchError::from)
    }
}
