//! The two clocks every framing machine keeps once its transport is open, written once
//! for the WebSocket and RawSocket machines: the keepalive (after `interval` without a
//! byte from the peer, ping it; if nothing comes within `timeout`, it is gone) and the
//! message timeout (a message that has begun to arrive must arrive whole in time; the
//! clock restarts after every whole frame, so a busy peer is never cut, and a peer that
//! trickles a frame cannot hold a connection by sending a byte now and then).
//!
//! Pure bookkeeping: the machine reports input and whole frames, asks for the next
//! deadline, and on [`Liveness::handle_timeout`] learns what is due.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use wamp_proto::liveness::{Due, Liveness};
//!
//! let t0 = Instant::now();
//! let s = Duration::from_secs(1);
//! let mut clock = Liveness::new(Some((10 * s, 5 * s)), None);
//! clock.handle_input(t0);
//! assert_eq!(clock.poll_timeout(), Some(t0 + 10 * s));
//! assert!(matches!(clock.handle_timeout(t0 + 10 * s), Some(Due::Ping(_))));
//! assert_eq!(clock.poll_timeout(), Some(t0 + 15 * s));
//! assert_eq!(clock.handle_timeout(t0 + 15 * s), Some(Due::PingTimeout(5 * s)));
//! ```

use std::time::Duration;

use crate::Instant;

use bytes::Bytes;

/// What [`Liveness::handle_timeout`] found due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Send a ping with this payload (a counter, so pongs can be told apart).
    Ping(Bytes),
    /// The last ping went unanswered for the keepalive timeout: the peer is gone.
    PingTimeout(Duration),
    /// A message took longer than the message timeout to arrive.
    MessageTimeout(Duration),
}

/// The keepalive and message clocks of one open transport.
#[derive(Debug, Clone)]
pub struct Liveness {
    keepalive: Option<(Duration, Duration)>,
    message_timeout: Option<Duration>,
    /// When the peer last sent anything.
    last_rx: Option<Instant>,
    /// When the outstanding ping went out.
    ping_sent: Option<Instant>,
    pings: u64,
    /// While a message is arriving: when it began, or when the last whole frame before
    /// it did.
    message_started: Option<Instant>,
}

impl Liveness {
    /// Clocks for a keepalive `(interval, timeout)` and a message timeout, each off when
    /// `None`.
    pub fn new(keepalive: Option<(Duration, Duration)>, message_timeout: Option<Duration>) -> Self {
        Liveness {
            keepalive,
            message_timeout,
            last_rx: None,
            ping_sent: None,
            pings: 0,
            message_started: None,
        }
    }

    /// Bytes arrived from the peer: it is alive, and any ping is answered.
    pub fn handle_input(&mut self, now: Instant) {
        self.last_rx = Some(now);
        self.ping_sent = None;
    }

    /// After the input was read: `whole` frames came complete, and `mid_message` says
    /// whether part of a message is still buffered.
    pub fn handle_frames(&mut self, now: Instant, whole: usize, mid_message: bool) {
        self.message_started = match self.message_started {
            _ if !mid_message => None,
            Some(started) if whole == 0 => Some(started),
            _ => Some(now),
        };
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let ping = self
            .keepalive
            .and_then(|(interval, timeout)| match self.ping_sent {
                Some(sent) => sent.checked_add(timeout),
                None => self.last_rx?.checked_add(interval),
            });
        [ping, self.message_deadline()].into_iter().flatten().min()
    }

    /// Advances time; says what is due, if anything. Afterwards
    /// [`poll_timeout`](Self::poll_timeout) is `None` or later than `now`, unless a
    /// timeout was returned (the machine then fails and calls [`stop`](Self::stop)).
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Due> {
        if self.message_deadline().is_some_and(|d| d <= now) {
            return Some(Due::MessageTimeout(
                self.message_timeout.unwrap_or_default(),
            ));
        }
        let (interval, timeout) = self.keepalive?;
        match self.ping_sent {
            Some(sent) => sent
                .checked_add(timeout)
                .is_some_and(|d| d <= now)
                .then_some(Due::PingTimeout(timeout)),
            None if self
                .last_rx?
                .checked_add(interval)
                .is_some_and(|d| d <= now) =>
            {
                self.pings += 1;
                self.ping_sent = Some(now);
                Some(Due::Ping(Bytes::copy_from_slice(&self.pings.to_be_bytes())))
            }
            None => None,
        }
    }

    /// The transport is over: no more deadlines.
    pub fn stop(&mut self) {
        self.keepalive = None;
        self.message_timeout = None;
        self.ping_sent = None;
        self.message_started = None;
    }

    fn message_deadline(&self) -> Option<Instant> {
        self.message_started?.checked_add(self.message_timeout?)
    }
}
