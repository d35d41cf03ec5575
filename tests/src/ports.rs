//! Free TCP ports on 127.0.0.1 for the routers a test starts.
//!
//! The OS picks the ports (bind to port 0). There is an unavoidable window between our
//! probe and the router's bind in which another process could take a port; within this
//! process, though, a port is handed out at most once, so tests running in parallel (and
//! a router restarted on its old ports) never collide with each other.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Ports handed out by this process so far.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// How many probes per wanted port before giving up.
const ATTEMPTS_PER_PORT: usize = 64;

/// Returns `n` distinct TCP ports that were free on 127.0.0.1 a moment ago and that this
/// process has not handed out before.
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    // Hold every probe listener until all ports are picked, so the OS cannot give the
    // same port twice in one call.
    let mut probes = Vec::with_capacity(n);
    let mut ports = Vec::with_capacity(n);
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for _ in 0..n.saturating_mul(ATTEMPTS_PER_PORT) {
        if ports.len() == n {
            break;
        }
        let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| Error::Ports(format!("bind 127.0.0.1:0: {e}")))?;
        let port = probe
            .local_addr()
            .map_err(|e| Error::Ports(format!("local_addr: {e}")))?
            .port();
        if !handed_out.contains(&port) {
            ports.push(port);
        }
        probes.push(probe);
    }
    if ports.len() < n {
        return Err(Error::Ports(format!(
            "found {} of {n} unused ports",
            ports.len()
        )));
    }
    handed_out.extend(ports.iter().copied());
    Ok(ports)
}

/// Returns one TCP port that was free on 127.0.0.1 a moment ago (see [`free_ports`]).
pub fn free_port() -> Result<u16> {
    let ports = free_ports(1)?;
    ports
        .first()
        .copied()
        .ok_or_else(|| Error::Ports("no port picked".into()))
}
