//! A TCP proxy on 127.0.0.1 that a test can turn into a bad network: it forwards both
//! ways until told to stall (bytes vanish in both directions while the connections stay
//! open, as behind a dead NAT or a sleeping laptop) or to cut (every connection is shut
//! down at once). Plain threads and blocking sockets, so it serves any runtime; every
//! thread ends when its sockets do, and dropping the proxy shuts everything.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// A proxy in front of one address; see the module docs.
pub struct FaultProxy {
    addr: SocketAddr,
    stalled: Arc<AtomicBool>,
    closing: Arc<AtomicBool>,
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
            streams: Arc::new(Mutex::new(Vec::new())),
        };
        let (stalled, closing, streams) = (
            proxy.stalled.clone(),
            proxy.closing.clone(),
            proxy.streams.clone(),
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
                let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                if let Ok(mut all) = streams.lock() {
                    all.extend(client.try_clone().ok());
                    all.extend(server.try_clone().ok());
                }
                forward(client, server2, stalled.clone());
                forward(server, client2, stalled.clone());
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

/// Copies `from` to `to` on a thread until either ends; drops the bytes while stalled.
fn forward(mut from: TcpStream, mut to: TcpStream, stalled: Arc<AtomicBool>) {
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if stalled.load(Ordering::SeqCst) {
                continue;
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
