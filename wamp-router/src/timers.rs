//! The router's deadlines: handshakes, GOODBYE replies and call timeouts, ordered by time
//! so the next one is cheap to find and each can be stopped.

use std::collections::BTreeSet;

use std::time::{Duration, Instant};
use wamp_proto::IdHashMap;

use super::event::ConnectionId;

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// HELLO (and authentication) must be done by then.
    Handshake(ConnectionId),
    /// The reply to the router's GOODBYE must have come by then.
    Goodbye(ConnectionId),
    /// A call times out (realm index, call key).
    Call(usize, u64),
    /// A paused writer must have made progress by then.
    WriteStall(ConnectionId),
    /// The runtime must have answered the router's question by then.
    Hook(wamp_proto::RequestId),
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    queue: BTreeSet<(Instant, Timer)>,
    index: IdHashMap<Timer, Instant>,
}

impl Timers {
    /// Sets (or moves) `timer` to `at`.
    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.cancel(timer);
        self.queue.insert((at, timer));
        self.index.insert(timer, at);
    }

    /// Sets `timer` to `now + after`. A deadline beyond what `Instant` can represent
    /// (a huge configured or requested timeout) never fires, so it is not set.
    pub fn set_after(&mut self, timer: Timer, now: Instant, after: Duration) {
        match now.checked_add(after) {
            Some(at) => self.set(timer, at),
            None => self.cancel(timer),
        }
    }

    /// Whether `timer` is set.
    pub fn is_set(&self, timer: Timer) -> bool {
        self.index.contains_key(&timer)
    }

    /// Stops `timer`, if it is set.
    pub fn cancel(&mut self, timer: Timer) {
        if let Some(at) = self.index.remove(&timer) {
            self.queue.remove(&(at, timer));
        }
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.queue.first().map(|(at, _)| *at)
    }

    /// Removes and returns a timer that expired at or before `now`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<Timer> {
        let &(at, timer) = self.queue.first()?;
        if at > now {
            return None;
        }
        self.queue.remove(&(at, timer));
        self.index.remove(&timer);
        Some(timer)
    }
}
