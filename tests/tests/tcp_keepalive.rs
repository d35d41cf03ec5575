//! Every TCP connection the runtimes open or accept has TCP keepalive on, with the
//! idle time of [`TCP_KEEPALIVE`], so a peer whose host or network vanished is found by
//! the kernel even where the WAMP transport sends no keepalive of its own (RawSocket
//! with peers that answer no PING).
//!
//! Checked from outside the process, as the kernel reports it: in `/proc/net/tcp` an
//! idle established socket with keepalive on runs the keepalive timer (`tr` 2), due
//! within the idle time. Linux only (that file); on both runtimes.

#![cfg(target_os = "linux")]

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use wamp_tokio::wamp_runtime::{Runtime, SocketAddress, TCP_KEEPALIVE};

/// The timer of the socket with this local and remote address: (`tr`, seconds until
/// it fires), from `/proc/net/tcp`.
fn timer(local: SocketAddr, remote: SocketAddr) -> Option<(u32, f64)> {
    let hex = |a: SocketAddr| {
        let SocketAddr::V4(v4) = a else {
            return String::new();
        };
        format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        )
    };
    let (local, remote) = (hex(local), hex(remote));
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&local.as_str()) || fields.get(2) != Some(&remote.as_str()) {
            return None;
        }
        let (tr, when) = fields.get(5)?.split_once(':')?;
        // `tm->when` is in clock ticks (USER_HZ, 100 per second on Linux).
        let ticks = u64::from_str_radix(when, 16).ok()?;
        Some((tr.parse().ok()?, ticks as f64 / 100.0))
    })
}

fn assert_keepalive(side: &str, local: SocketAddr, remote: SocketAddr) {
    let idle = TCP_KEEPALIVE.idle.as_secs_f64();
    match timer(local, remote) {
        Some((2, due)) if due > 0.0 && due <= idle => {}
        other => panic!(
            "{side} {local} -> {remote}: expected the keepalive timer (tr 2) due within \
             {idle} s, found {other:?}"
        ),
    }
}

async fn case<R: Runtime>(rt: R) {
    // Opened: our client to a plain listener.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let _client = rt
        .connect_tcp("127.0.0.1".into(), addr.port())
        .await
        .expect("connects");
    let (_accepted, client_addr) = listener.accept().expect("accepts");
    assert_keepalive("opened", client_addr, addr);

    // Accepted: a plain client to our listener.
    let mut ours = rt.bind_tcp("127.0.0.1:0".into()).await.expect("binds");
    let SocketAddress::Tcp(listen_addr) = ours.local_addr().expect("addr") else {
        panic!("a TCP listener");
    };
    let plain = std::thread::spawn(move || {
        let s = TcpStream::connect(listen_addr).expect("connects");
        std::thread::sleep(Duration::from_millis(300));
        s
    });
    let (_stream, peer) = ours.accept().await.expect("accepts");
    let SocketAddress::Tcp(peer) = peer else {
        panic!("a TCP peer");
    };
    assert_keepalive("accepted", listen_addr, peer);
    drop(plain.join());
}

#[test]
fn tcp_connections_have_keepalive_on_both_runtimes() {
    common::on_both_runtimes("tcp keepalive", case, case);
}
