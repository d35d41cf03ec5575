//! The ceiling: RawSocket and WebSocket echo servers on their own Tokio runtime. They do
//! what any router must at least do per message (read a frame, write a frame) and nothing
//! else, so their rate bounds what a router can reach on this machine with this client.
//!
//! The bench runs them in a child process of its own ([`EchoProcess`], the hidden
//! subcommand `wamp-bench echo-server`), as the router runs in one: an echo inside the
//! load client's process would be spared the process switch every message to a router
//! pays, and its floor would be lower than any router's could be.

use std::io::{BufRead, Read};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread;

use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::error::{io_ctx, BenchError, Result};
use crate::framing::{self, Control, Frame, FrameReader, FrameWriter, Wire};

/// The subprotocols the WebSocket echo accepts.
const SUBPROTOCOLS: [&str; 2] = ["wamp.2.json", "wamp.2.msgpack"];

/// Running echo servers; stopped (runtime shut down) on drop.
#[derive(Debug)]
pub struct EchoServers {
    /// The WebSocket echo (any path).
    pub ws: SocketAddr,
    /// The RawSocket echo.
    pub rs: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EchoServers {
    /// Binds both servers on 127.0.0.1 (port 0) and serves them on a runtime with
    /// `workers` threads.
    pub fn start(workers: usize) -> Result<EchoServers> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name("echo")
            .enable_all()
            .build()
            .map_err(io_ctx("start the echo runtime"))?;
        let (ws_listener, rs_listener) = runtime.block_on(async {
            let ws = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
            let rs = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
            Ok::<_, std::io::Error>((ws, rs))
        })?;
        let ws = ws_listener.local_addr()?;
        let rs = rs_listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name("echo-main".into())
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::spawn(accept_loop(ws_listener, true));
                    tokio::spawn(accept_loop(rs_listener, false));
                    let _ = stopped.await;
                });
                runtime.shutdown_background();
            })
            .map_err(io_ctx("start the echo thread"))?;
        Ok(EchoServers {
            ws,
            rs,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EchoServers {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The echo servers in a child process: `wamp-bench echo-server`, stopped by pid (and by
/// the end of its stdin) on drop.
#[derive(Debug)]
pub struct EchoProcess {
    /// The WebSocket echo.
    pub ws: SocketAddr,
    /// The RawSocket echo.
    pub rs: SocketAddr,
    child: Child,
}

impl EchoProcess {
    /// Starts this executable as `echo-server` and reads the two ports it bound.
    pub fn start() -> Result<EchoProcess> {
        let exe = std::env::current_exe().map_err(io_ctx("find this executable"))?;
        let mut child = Command::new(exe)
            .arg("echo-server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(io_ctx("start the echo process"))?;
        let ports = child
            .stdout
            .take()
            .ok_or_else(|| BenchError::Setup("the echo process has no stdout".into()))
            .and_then(read_ports);
        match ports {
            Ok((ws, rs)) => Ok(EchoProcess { ws, rs, child }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }

    /// The echo process's pid (sampled for CPU like the router's).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for EchoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the line `ws PORT rs PORT` that `echo-server` prints once it listens.
fn read_ports(stdout: ChildStdout) -> Result<(SocketAddr, SocketAddr)> {
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(io_ctx("read the echo ports"))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let port = |i: usize| words.get(i).and_then(|w| w.parse::<u16>().ok());
    match (words.first(), port(1), words.get(2), port(3)) {
        (Some(&"ws"), Some(ws), Some(&"rs"), Some(rs)) => Ok((
            SocketAddr::from((Ipv4Addr::LOCALHOST, ws)),
            SocketAddr::from((Ipv4Addr::LOCALHOST, rs)),
        )),
        _ => Err(BenchError::Setup(format!(
            "the echo process said {line:?}, not `ws PORT rs PORT`"
        ))),
    }
}

/// The `echo-server` subcommand: serves both echoes with `workers` threads, prints
/// their ports, and exits when stdin ends (the bench went away) or on a signal.
pub fn serve_until_stdin_closes(workers: usize) -> Result<()> {
    let echo = EchoServers::start(workers)?;
    println!("ws {} rs {}", echo.ws.port(), echo.rs.port());
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(echo);
    Ok(())
}

async fn accept_loop(listener: TcpListener, websocket: bool) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(async move {
                    // A client that goes away mid-frame ends its echo; nothing to report.
                    let _ = serve(stream, websocket).await;
                });
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

/// Echoes every message on one connection; flushes whenever no further input is
/// already buffered, so many queued echoes go out in one write.
async fn serve(stream: TcpStream, websocket: bool) -> Result<()> {
    stream.set_nodelay(true)?;
    let (read, write) = stream.into_split();
    let mut read = BufReader::with_capacity(64 * 1024, read);
    let wire;
    let mut writer;
    if websocket {
        let mut raw = tokio::io::BufWriter::new(write);
        let chosen = framing::websocket_server(&mut read, &mut raw, &SUBPROTOCOLS).await?;
        wire = Wire::WebSocket {
            client: false,
            text: chosen == "wamp.2.json",
        };
        writer = FrameWriter::new(raw.into_inner(), wire, 64 * 1024);
    } else {
        let mut raw = tokio::io::BufWriter::new(write);
        framing::rawsocket_server(&mut read, &mut raw).await?;
        wire = Wire::RawSocket;
        writer = FrameWriter::new(raw.into_inner(), wire, 64 * 1024);
    }
    let mut reader = FrameReader::new(read, wire);
    loop {
        match reader.next().await? {
            Some(Frame::Message(bytes)) => writer.message(&bytes).await?,
            Some(Frame::Ping(payload)) => writer.control(Control::Pong, &payload).await?,
            Some(Frame::Pong) => {}
            Some(Frame::Close) => {
                writer.control(Control::Close, &[]).await?;
                writer.flush().await?;
                return Ok(());
            }
            None => {
                writer.flush().await?;
                return Ok(());
            }
        }
        if reader.buffered() == 0 {
            writer.flush().await?;
        }
    }
}
