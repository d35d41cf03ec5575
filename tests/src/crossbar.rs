//! A Crossbar.io router for one test: its own node directory, free ports, a bounded
//! start, and a stop that leaves no process behind.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::error::{io_error, Error, Result};
use crate::node_config::{node_config, NodeSpec, Ports, TlsFiles};
use crate::ports::free_ports;
use crate::process::{self, POLL};
use crate::python::venv_program;
use crate::tls::TestPki;

/// How a [`Crossbar`] is set up.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CrossbarOptions {
    /// Also configure the TLS transports ([`Crossbar::wss_url`], [`Crossbar::rss_url`])
    /// with a freshly generated certificate. Off by default.
    pub tls: bool,
    /// How long the router may take until every transport accepts connections.
    pub startup_timeout: Duration,
    /// How long the controller gets to stop after SIGTERM before it is killed.
    pub stop_timeout: Duration,
    /// Crossbar's own `--shutdownafter`: a safety net that ends the node even if the test
    /// process dies without stopping it.
    pub max_lifetime: Duration,
    /// Crossbar's `--loglevel` (`error`, `warn`, `info`, `debug`, `trace`).
    pub loglevel: String,
    /// The principal transports' ticket, WAMP-CRA and cryptosign are `dynamic`, decided
    /// by this procedure on the realm (see [`authenticator_principals`](crate::authenticator_principals)) instead
    /// of static principals. Off by default.
    pub authenticator: Option<String>,
    /// The restricted role's requests are decided by this procedure (its `authorizer`)
    /// instead of its static permissions. Off by default.
    pub authorizer: Option<String>,
    /// More transports for the router worker, as Crossbar.io config objects (on ports
    /// the test picked).
    pub transports: Vec<serde_json::Value>,
}

impl Default for CrossbarOptions {
    fn default() -> Self {
        Self {
            tls: false,
            startup_timeout: Duration::from_secs(60),
            stop_timeout: Duration::from_secs(10),
            max_lifetime: Duration::from_secs(1800),
            loglevel: "info".into(),
            authenticator: None,
            authorizer: None,
            transports: Vec::new(),
        }
    }
}

impl CrossbarOptions {
    /// Makes the principal transports' ticket, WAMP-CRA and cryptosign dynamic, decided
    /// by `procedure`.
    pub fn with_authenticator(mut self, procedure: &str) -> Self {
        self.authenticator = Some(procedure.into());
        self
    }

    /// Adds a transport (a Crossbar.io config object) to the router worker.
    pub fn with_transport(mut self, transport: serde_json::Value) -> Self {
        self.transports.push(transport);
        self
    }

    /// Makes the restricted role dynamic, decided by `procedure`.
    pub fn with_authorizer(mut self, procedure: &str) -> Self {
        self.authorizer = Some(procedure.into());
        self
    }

    /// Enables or disables the TLS transports.
    pub fn with_tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// Sets Crossbar's log level.
    pub fn with_loglevel(mut self, loglevel: &str) -> Self {
        loglevel.clone_into(&mut self.loglevel);
        self
    }
}

/// A running Crossbar.io node (one router worker) with realm [`REALM`](crate::REALM):
///
/// | transport | URL | authentication |
/// |---|---|---|
/// | WebSocket | [`ws_url`](Self::ws_url) | anonymous |
/// | RawSocket | [`rawsocket_url`](Self::rawsocket_url) | anonymous |
/// | RawSocket, Unix socket | [`unix_path`](Self::unix_path) | anonymous |
/// | WebSocket | [`ws_auth_url`](Self::ws_auth_url) | ticket, wampcra, cryptosign, scram |
/// | RawSocket | [`rawsocket_auth_url`](Self::rawsocket_auth_url) | ticket, wampcra, cryptosign, scram |
/// | WebSocket + TLS | [`wss_url`](Self::wss_url) | anonymous and all of the above |
/// | RawSocket + TLS | [`rss_url`](Self::rss_url) | anonymous and all of the above |
///
/// The principals are in [`credentials`](crate::credentials). All serializers (json,
/// msgpack, cbor) on every transport. The node runs in a fresh temporary directory (its
/// log is `node.log` there) and is stopped on [`stop`](Self::stop) or drop: SIGTERM to
/// the controller, SIGKILL after [`CrossbarOptions::stop_timeout`], and any worker left
/// over is killed by its pid.
#[derive(Debug)]
pub struct Crossbar {
    dir: TempDir,
    program: PathBuf,
    config_path: PathBuf,
    log_path: PathBuf,
    unix_path: PathBuf,
    ports: Ports,
    ca: Option<(String, PathBuf)>,
    options: CrossbarOptions,
    child: Option<Child>,
    startup_time: Duration,
}

impl Crossbar {
    /// Writes a node configuration on free ports and starts the node; returns once every
    /// transport accepts connections.
    pub fn start(options: CrossbarOptions) -> Result<Self> {
        let program = venv_program("crossbar")?;
        let dir = tempfile::Builder::new()
            .prefix("wamp-crossbar-")
            .tempdir()
            .map_err(io_error("create a crossbar node directory"))?;
        // Canonical, so the path matches what the processes see in their command lines.
        let cbdir = dir
            .path()
            .canonicalize()
            .map_err(io_error("canonicalize the node directory"))?;

        let wanted = if options.tls { 6 } else { 4 };
        let picked = free_ports(wanted)?;
        let port = |i: usize| picked.get(i).copied();
        let (Some(ws), Some(rawsocket), Some(ws_auth), Some(rawsocket_auth)) =
            (port(0), port(1), port(2), port(3))
        else {
            return Err(Error::Ports(format!("asked for {wanted}, got {picked:?}")));
        };
        let ports = Ports {
            ws,
            rawsocket,
            ws_auth,
            rawsocket_auth,
            wss: port(4),
            rss: port(5),
        };

        let (tls, ca) = if options.tls {
            let (files, ca) = write_pki(&cbdir)?;
            (Some(files), Some(ca))
        } else {
            (None, None)
        };
        let unix_path = cbdir.join("rawsocket.sock");
        let spec = NodeSpec {
            ports,
            unix_path: unix_path.clone(),
            tls,
            authenticator: options.authenticator.clone(),
            authorizer: options.authorizer.clone(),
            transports: options.transports.clone(),
        };
        let config_path = cbdir.join("config.json");
        let config = serde_json::to_vec_pretty(&node_config(&spec))?;
        fs::write(&config_path, config).map_err(io_error("write the node configuration"))?;

        let mut node = Self {
            dir,
            program,
            config_path,
            log_path: cbdir.join("node.log"),
            unix_path,
            ports,
            ca,
            options,
            child: None,
            startup_time: Duration::ZERO,
        };
        node.launch()?;
        Ok(node)
    }

    /// Stops the node (see [`Crossbar`] for how). Does nothing if it is not running.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let controller = child.id();
        // The worker processes, remembered before the controller can no longer be asked.
        let workers = process::descendants(controller);
        let (status, killed) = process::terminate(&mut child, self.options.stop_timeout)
            .map_err(io_error(format!("stop crossbar (pid {controller})")))?;
        if killed {
            self.note(&format!(
                "controller {controller} ignored SIGTERM for {:?}; killed",
                self.options.stop_timeout
            ));
        } else {
            self.note(&format!("controller {controller} exited: {status}"));
        }
        // The controller stops its workers before it exits; anything still running is
        // killed by pid, as is any process still working in the node directory.
        let stragglers = |workers: &[u32]| -> Vec<u32> {
            let mut pids: Vec<u32> = workers
                .iter()
                .copied()
                .filter(|&pid| process::is_running(pid))
                .collect();
            pids.extend(self.node_processes());
            pids.sort_unstable();
            pids.dedup();
            pids
        };
        if !process::poll_until(Duration::from_secs(5), || stragglers(&workers).is_empty()) {
            for pid in stragglers(&workers) {
                self.note(&format!("process {pid} outlived the controller; killed"));
                process::sigkill(pid).map_err(io_error(format!("kill {pid}")))?;
            }
        }
        Ok(())
    }

    /// Stops the node and starts it again with the same configuration, so on the same
    /// ports (for reconnect tests).
    pub fn restart(&mut self) -> Result<()> {
        self.stop()?;
        self.launch()
    }

    /// Whether the controller process is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// The controller's pid while the node runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The processes (other than the test) that run in this node's directory (see
    /// [`pids_using_dir`](crate::pids_using_dir)): the controller and its worker while the
    /// node runs, none once it is stopped.
    pub fn node_processes(&self) -> Vec<u32> {
        process::pids_using_dir(self.cbdir())
    }

    /// The node directory (config, log, TLS files, Unix socket).
    pub fn cbdir(&self) -> &Path {
        self.config_path.parent().unwrap_or_else(|| self.dir.path())
    }

    /// How long the last start took, from spawning the process until every transport
    /// accepted a connection.
    pub fn startup_time(&self) -> Duration {
        self.startup_time
    }

    /// The node's log so far (crossbar's stdout and stderr, and the harness's notes).
    pub fn log(&self) -> String {
        fs::read(&self.log_path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_else(|e| format!("(cannot read {}: {e})", self.log_path.display()))
    }

    /// Prints the node's log to stderr (for a failing test).
    pub fn print_log(&self) {
        eprintln!(
            "--- crossbar log {} ---\n{}",
            self.log_path.display(),
            self.log()
        );
    }

    /// The ports of all TCP transports.
    pub fn ports(&self) -> Ports {
        self.ports
    }

    /// `ws://127.0.0.1:PORT/ws`: WebSocket, anonymous.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.ports.ws)
    }

    /// `rs://127.0.0.1:PORT`: RawSocket, anonymous.
    pub fn rawsocket_url(&self) -> String {
        format!("rs://127.0.0.1:{}", self.ports.rawsocket)
    }

    /// `ws://127.0.0.1:PORT/ws`: WebSocket for the static principals.
    pub fn ws_auth_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.ports.ws_auth)
    }

    /// `rs://127.0.0.1:PORT`: RawSocket for the static principals.
    pub fn rawsocket_auth_url(&self) -> String {
        format!("rs://127.0.0.1:{}", self.ports.rawsocket_auth)
    }

    /// `wss://127.0.0.1:PORT/ws`: WebSocket over TLS (with [`CrossbarOptions::tls`]).
    pub fn wss_url(&self) -> Option<String> {
        self.ports
            .wss
            .map(|port| format!("wss://127.0.0.1:{port}/ws"))
    }

    /// `rss://127.0.0.1:PORT`: RawSocket over TLS (with [`CrossbarOptions::tls`]).
    pub fn rss_url(&self) -> Option<String> {
        self.ports.rss.map(|port| format!("rss://127.0.0.1:{port}"))
    }

    /// The PEM of the CA that signed the router's certificate (with
    /// [`CrossbarOptions::tls`]). The certificate is for `localhost` and `127.0.0.1`.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca.as_ref().map(|(pem, _)| pem.as_str())
    }

    /// The file holding [`ca_pem`](Self::ca_pem).
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca.as_ref().map(|(_, path)| path.as_path())
    }

    /// The Unix domain socket of the anonymous RawSocket transport.
    pub fn unix_path(&self) -> &Path {
        &self.unix_path
    }

    /// Starts the node process and waits until every transport accepts connections.
    fn launch(&mut self) -> Result<()> {
        let cbdir = self.cbdir().to_path_buf();
        self.note(&format!(
            "starting {} (ports {:?}, unix {})",
            self.program.display(),
            self.ports.all(),
            self.unix_path.display()
        ));
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(io_error("open the crossbar log"))?;
        let log_err = log.try_clone().map_err(io_error("open the crossbar log"))?;
        let started = Instant::now();
        let child = Command::new(&self.program)
            .arg("start")
            .arg("--cbdir")
            .arg(&cbdir)
            // Absolute: crossbar resolves a relative --config against the cbdir.
            .arg("--config")
            .arg(&self.config_path)
            .args(["--loglevel", &self.options.loglevel, "--color", "false"])
            .arg("--shutdownafter")
            .arg(self.options.max_lifetime.as_secs().max(1).to_string())
            .current_dir(&cbdir)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .map_err(io_error(format!("spawn {}", self.program.display())))?;
        self.child = Some(child);

        match self.wait_until_accepting() {
            Ok(()) => {
                self.startup_time = started.elapsed();
                self.note(&format!("ready after {:?}", self.startup_time));
                Ok(())
            }
            Err(reason) => {
                // Stop whatever did start; the error carries the log that says why.
                let _ = self.stop();
                Err(Error::CrossbarStart {
                    reason,
                    log: self.log(),
                })
            }
        }
    }

    /// Polls every transport until it accepts a connection, the controller exits, or the
    /// startup timeout passes.
    fn wait_until_accepting(&mut self) -> std::result::Result<(), String> {
        let deadline = Instant::now() + self.options.startup_timeout;
        let mut tcp_pending = self.ports.all();
        let mut unix_pending = true;
        loop {
            if let Some(child) = self.child.as_mut() {
                match child.try_wait() {
                    Ok(Some(status)) => return Err(format!("crossbar exited with {status}")),
                    Ok(None) => {}
                    Err(e) => return Err(format!("cannot wait for crossbar: {e}")),
                }
            }
            tcp_pending.retain(|&port| {
                let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                TcpStream::connect_timeout(&addr, Duration::from_millis(250)).is_err()
            });
            if unix_pending {
                unix_pending = UnixStream::connect(&self.unix_path).is_err();
            }
            if tcp_pending.is_empty() && !unix_pending {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "not accepting within {:?}: TCP ports {tcp_pending:?}{}",
                    self.options.startup_timeout,
                    if unix_pending {
                        " and the Unix socket"
                    } else {
                        ""
                    }
                ));
            }
            thread::sleep(POLL.max(Duration::from_millis(50)));
        }
    }

    /// Appends a harness line to the node log (best effort: it is only diagnostics).
    fn note(&self, line: &str) {
        if let Ok(mut log) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
        {
            let _ = writeln!(log, "=== harness: {line}");
        }
    }
}

impl Drop for Crossbar {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("wamp-integration: {e}");
        }
    }
}

/// Generates the test PKI into `CBDIR/tls`; returns the transport files and the CA.
fn write_pki(cbdir: &Path) -> Result<(TlsFiles, (String, PathBuf))> {
    let pki = TestPki::generate()?;
    let dir = cbdir.join("tls");
    fs::create_dir(&dir).map_err(io_error("create the TLS directory"))?;
    let write = |name: &str, pem: &str| -> Result<PathBuf> {
        let path = dir.join(name);
        let mut file = File::create(&path).map_err(io_error(format!("create {name}")))?;
        file.write_all(pem.as_bytes())
            .map_err(io_error(format!("write {name}")))?;
        Ok(path)
    };
    let ca_file = write("ca.pem", &pki.ca_pem)?;
    let files = TlsFiles {
        key: write("server.key", &pki.key_pem)?,
        certificate: write("server.crt", &pki.cert_pem)?,
    };
    Ok((files, (pki.ca_pem, ca_file)))
}
