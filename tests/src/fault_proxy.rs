//! A TCP proxy on 127.0.0.1 that a test can turn into a bad network: it forwards both
//! ways until told to stall (bytes vanish in both directions while the connections stay
//! open, as behind a dead NAT or a sleeping laptop), to cut (every connection is shut
//! down at once), or to slow what the client receives to a byte rate (a reader on a
//! thin link, which the router must hold with backpressure, not drop). Plain threads and blocking sockets, so it serves any runtime; every
//! thread ends when its sockets do, and dropping the proxy shuts everything.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// The kernel buffer size of a slowed connection's sockets on the proxy.
const SLOW_BUFFER: usize = 16 << 10;

/// A proxy in front of one address; see the module docs.
pub struct FaultProxy {
    addr: SocketAddr,
    stalled: Arc<AtomicBool>,
    closing: Arc<AtomicBool>,
    /// Bytes per second from the target to the client; 0: as fast as they come.
    downstream_rate: Arc<AtomicU64>,
    /// Both ends of every connection, to shut them down.
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl FaultProxy {
    /// Listens on a free port of 127.0.0.1 and forwards every connection to `target`.
    pub fn start(target: SocketAddr) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let proxy = FaultProxy {
            addr,
            stalled: Arc::new(AtomicBool::new(false)),
            closing: Arc::new(AtomicBool::new(false)),
            downstream_rate: Arc::new(AtomicU64::new(0)),
            streams: Arc::new(Mutex::new(Vec::new())),
        };
        let (stalled, closing, streams, rate) = (
            proxy.stalled.clone(),
            proxy.closing.clone(),
            proxy.streams.clone(),
            proxy.downstream_rate.clone(),
        );
        thread::spawn(move || {
            for client in listener.incoming() {
                if closing.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                if rate.load(Ordering::SeqCst) > 0 {
                    // A slow link holds little in flight: small kernel buffers on the
                    // proxy's sockets, so the router (not the kernel) feels the backlog.
                    use rustix::net::sockopt::{
                        set_socket_recv_buffer_size, set_socket_send_buffer_size,
                    };
                    let _ = set_socket_recv_buffer_size(&server, SLOW_BUFFER);
                    let _ = set_socket_send_buffer_size(&client, SLOW_BUFFER);
                }
                let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                if let Ok(mut all) = streams.lock() {
                    all.extend(client.try_clone().ok());
                    all.extend(server.try_clone().ok());
                }
                forward(client, server2, stalled.clone(), None);
                forward(server, client2, stalled.clone(), Some(rate.clone()));
            }
        });
        Ok(proxy)
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// From now on nothing gets through in either direction; the connections stay open.
    pub fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    /// Forwards again (what was sent while stalled is lost).
    pub fn resume(&self) {
        self.stalled.store(false, Ordering::SeqCst);
    }

    /// From now on the client receives at most `bytes_per_second` (0: no limit).
    /// Connections made while it is set also get small kernel buffers on the proxy, so
    /// that what the client has not read waits at the router, not in the kernel.
    pub fn slow_downstream(&self, bytes_per_second: u64) {
        self.downstream_rate
            .store(bytes_per_second, Ordering::SeqCst);
    }

    /// Shuts every connection down at once, both ways.
    pub fn cut(&self) {
        if let Ok(mut all) = self.streams.lock() {
            for stream in all.drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.closing.store(true, Ordering::SeqCst);
        self.cut();
        // Wakes the accept loop so that it sees `closing`.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Copies `from` to `to` on a thread until either ends; drops the bytes while stalled,
/// and keeps to `rate` bytes per second when one is given and set.
fn forward(
    mut from: TcpStream,
    mut to: TcpStream,
    stalled: Arc<AtomicBool>,
    rate: Option<Arc<AtomicU64>>,
) {
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let limit = rate.as_ref().map_or(0, |r| r.load(Ordering::SeqCst));
            // At most a twentieth of a second's worth per read, then the pause it costs.
            let room = if limit == 0 {
                buf.len()
            } else {
                (limit / 20).clamp(1, buf.len() as u64) as usize
            };
            let n = match from.read(&mut buf[..room]) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if stalled.load(Ordering::SeqCst) {
                continue;
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
            if limit > 0 {
                thread::sleep(Duration::from_secs_f64(n as f64 / limit as f64));
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
