//! The liveness probe: a keepalive at the WAMP level, for transports whose own pings
//! the session's owner cannot see or send (a browser answers WebSocket pings itself and
//! never shows them to the page).
//!
//! After `interval` without a message from the router, the session calls
//! [`PROBE_PROCEDURE`], a reserved URI that no client can register: the router answers
//! with RESULT or (usually) ERROR `wamp.error.no_such_procedure` or `not_authorized`,
//! and any message proves it alive. If nothing at all arrives within `timeout` of the
//! probe, the session closes with [`CloseReason::Unresponsive`](super::CloseReason) and
//! its owner drops the transport. The probe's own answer never reaches the application.

use std::collections::VecDeque;
use std::time::Duration;

use crate::{Instant, RequestId, Uri};

/// What the probe calls: under `wamp.`, which routers keep for themselves, so no client
/// registers it and every router answers at once.
pub const PROBE_PROCEDURE: Uri = Uri::from_static("wamp.keepalive.probe");

/// The shortest interval and timeout.
const MIN_STEP: Duration = Duration::from_millis(1);

/// Probes whose answers are still expected (older ones are forgotten; an answer to a
/// forgotten probe would then be a protocol violation, so the list is generous).
const OUTSTANDING: usize = 8;

/// What the probe wants done now.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Due {
    /// Nothing yet.
    Nothing,
    /// Send a probe.
    Probe,
    /// Nothing came within the timeout after a probe.
    Dead(Duration),
}

#[derive(Debug)]
pub(super) struct Probe {
    interval: Duration,
    timeout: Duration,
    /// When the router last sent anything.
    last_input: Option<Instant>,
    /// When the probe now waiting for an answer (any message) went out.
    sent: Option<Instant>,
    /// The request IDs of probes whose answers have not arrived.
    requests: VecDeque<RequestId>,
}

impl Probe {
    /// Zero durations are taken as one millisecond: a probe is never due again at the
    /// instant it was handled.
    pub(super) fn new(interval: Duration, timeout: Duration) -> Probe {
        Probe {
            interval: interval.max(MIN_STEP),
            timeout: timeout.max(MIN_STEP),
            last_input: None,
            sent: None,
            requests: VecDeque::new(),
        }
    }

    /// A message came from the router: it is alive.
    pub(super) fn on_input(&mut self, now: Instant) {
        self.last_input = Some(now);
        self.sent = None;
    }

    /// Whether `request` is a probe's (its answer is then consumed here).
    pub(super) fn take_answer(&mut self, request: RequestId) -> bool {
        match self.requests.iter().position(|&r| r == request) {
            Some(at) => {
                self.requests.remove(at);
                true
            }
            None => false,
        }
    }

    /// The next time [`due`](Self::due) has something to say.
    pub(super) fn deadline(&self) -> Option<Instant> {
        // A duration too long for the clock means never.
        match self.sent {
            Some(sent) => sent.checked_add(self.timeout),
            None => self.last_input.and_then(|t| t.checked_add(self.interval)),
        }
    }

    pub(super) fn due(&self, now: Instant) -> Due {
        match self.deadline() {
            Some(deadline) if deadline <= now => {
                if self.sent.is_some() {
                    Due::Dead(self.timeout)
                } else {
                    Due::Probe
                }
            }
            _ => Due::Nothing,
        }
    }

    /// A probe went out at `now` (with `request`; `None` if it could not be sent, and
    /// the router then has its timeout to show it is alive all the same).
    pub(super) fn sent(&mut self, now: Instant, request: Option<RequestId>) {
        self.sent = Some(now);
        if let Some(request) = request {
            if self.requests.len() == OUTSTANDING {
                self.requests.pop_front();
            }
            self.requests.push_back(request);
        }
    }
}
