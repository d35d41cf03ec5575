//! The decisions of a long-lived client (Autobahn's `Component`) as pure functions of
//! events: which transport to try next and after how long, whether a failure takes a
//! transport out for good, and whether a session's end means done or reconnect.
//!
//! A runtime's component loop asks [`Schedule::next_attempt`], sleeps the delay,
//! connects, and reports back with [`Schedule::joined`] or [`Schedule::failed`]; when a
//! session ends it asks [`after_close`]. Nothing here reads a clock or touches a
//! socket, so the reconnect policy is tested without a router or time passing.
//!
//! The rules, fixing what Autobahn's users report:
//! - transports are tried round-robin, skipping the ones that cannot retry any more;
//! - the first attempt on a transport is immediate, retry `n` waits the policy's delay `n`
//!   (the first retry waits `initial_delay`, with bounded jitter);
//! - a successful join resets that transport's backoff and retry budget; the reconnect after
//!   that session ends is the first retry and waits `initial_delay` (never an immediate
//!   reconnect, so a router that accepts and drops at once cannot cause a hot loop);
//! - a fatal failure takes the transport out for good; by default the fatal ones are the
//!   router's rejections of the credentials or the realm ([`is_fatal_abort`]): retrying
//!   them with the same configuration fails the same way;
//! - a session that ends with GOODBYE started by this side, or by the router with
//!   `wamp.close.normal` or `wamp.close.goodbye_and_out`, is done; every other end
//!   (a lost transport, ABORT, a router shutting down) reconnects.
//!
//! ```
//! use std::time::Duration;
//! use wamp_proto::backoff::BackoffPolicy;
//! use wamp_proto::component::Schedule;
//!
//! let policy = BackoffPolicy { jitter: 0.0, ..BackoffPolicy::default() };
//! let mut schedule = Schedule::new([policy.clone(), policy]);
//! let mut rng = rand::rngs::mock::StepRng::new(0, 0);
//! // Both transports once, at once; then the first again after the initial delay.
//! let first = schedule.next_attempt(&mut rng).unwrap();
//! assert_eq!((first.transport, first.delay), (0, Duration::ZERO));
//! schedule.failed(0, false);
//! let second = schedule.next_attempt(&mut rng).unwrap();
//! assert_eq!((second.transport, second.delay), (1, Duration::ZERO));
//! schedule.failed(1, false);
//! let retry = schedule.next_attempt(&mut rng).unwrap();
//! assert_eq!((retry.transport, retry.delay), (0, Duration::from_millis(1500)));
//! ```

use std::time::Duration;

use rand_core::RngCore;

use crate::backoff::{Backoff, BackoffPolicy};
use crate::session::CloseReason;
use crate::Uri;

/// Whether an ABORT reason says the router rejected the credentials, the authentication
/// method or the role: retrying with the same configuration fails the same way.
pub fn is_auth_rejection(reason: &Uri) -> bool {
    [
        Uri::NOT_AUTHORIZED,
        Uri::AUTHENTICATION_FAILED,
        Uri::AUTHENTICATION_DENIED,
        Uri::AUTHORIZATION_FAILED,
        Uri::NO_SUCH_PRINCIPAL,
        Uri::NO_MATCHING_AUTH_METHOD,
        Uri::from_static("wamp.error.no_auth_method"),
        Uri::CANNOT_AUTHENTICATE,
        Uri::NO_SUCH_ROLE,
    ]
    .contains(reason)
}

/// Whether an ABORT reason takes a component's transport out for good by default: an
/// authentication rejection ([`is_auth_rejection`]) or a realm the router does not
/// serve.
pub fn is_fatal_abort(reason: &Uri) -> bool {
    is_auth_rejection(reason) || *reason == Uri::NO_SUCH_REALM
}

/// What a component does when its session has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterClose {
    /// The session was meant to end: stop.
    Done,
    /// Reconnect (after the schedule's delay).
    Reconnect,
}

/// Whether a component whose session closed for `reason` is done or reconnects: done
/// after GOODBYE from this side, or from the router with `wamp.close.normal` or
/// `wamp.close.goodbye_and_out`; a reconnect after anything else.
pub fn after_close(reason: &CloseReason) -> AfterClose {
    match reason {
        CloseReason::Goodbye { local: true, .. } => AfterClose::Done,
        CloseReason::Goodbye { reason, .. }
            if *reason == Uri::CLOSE_NORMAL || *reason == Uri::GOODBYE_AND_OUT =>
        {
            AfterClose::Done
        }
        _ => AfterClose::Reconnect,
    }
}

/// One planned connection attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attempt {
    /// Index of the transport in the component's list.
    pub transport: usize,
    /// How long to wait before connecting.
    pub delay: Duration,
    /// 0 for the very first attempt on this transport, then 1, 2, ... (starting over at 1
    /// after a join)
    pub retry: u32,
}

#[derive(Debug)]
struct TransportState {
    backoff: Backoff,
    /// Attempts since the last join (or the start).
    attempts: u32,
    /// Marked failed by `is_fatal`: never tried again.
    failed: bool,
}

impl TransportState {
    fn can_attempt(&self) -> bool {
        !self.failed && (self.attempts == 0 || self.backoff.can_retry())
    }
}

/// Round-robin transport choice with per-transport backoff.
#[derive(Debug)]
pub struct Schedule {
    transports: Vec<TransportState>,
    /// Where the round-robin search starts next time.
    cursor: usize,
}

impl Schedule {
    /// A schedule over transports with these retry policies, in order.
    pub fn new(policies: impl IntoIterator<Item = BackoffPolicy>) -> Self {
        let transports = policies
            .into_iter()
            .map(|policy| TransportState {
                backoff: Backoff::new(policy),
                attempts: 0,
                failed: false,
            })
            .collect();
        Schedule {
            transports,
            cursor: 0,
        }
    }

    /// The next attempt, or `None` when every transport is failed or out of retries.
    pub fn next_attempt<R: RngCore + ?Sized>(&mut self, rng: &mut R) -> Option<Attempt> {
        let count = self.transports.len();
        for offset in 0..count {
            let index = (self.cursor + offset) % count;
            let Some(state) = self.transports.get_mut(index) else {
                continue;
            };
            if !state.can_attempt() {
                continue;
            }
            let retry = state.attempts;
            let delay = if retry == 0 {
                Duration::ZERO
            } else {
                match state.backoff.next_delay(rng) {
                    Some(delay) => delay,
                    None => continue,
                }
            };
            state.attempts = state.attempts.saturating_add(1);
            self.cursor = (index + 1) % count;
            return Some(Attempt {
                transport: index,
                delay,
                retry,
            });
        }
        None
    }

    /// The session on `transport` joined: its backoff starts over, and the connection that
    /// joined counts as the first attempt.
    pub fn joined(&mut self, transport: usize) {
        if let Some(state) = self.transports.get_mut(transport) {
            state.backoff.reset();
            state.attempts = 1;
        }
        // Reconnect to the transport that worked last, first.
        self.cursor = transport;
    }

    /// The attempt on `transport` failed; `fatal` takes it out for good.
    pub fn failed(&mut self, transport: usize, fatal: bool) {
        if let Some(state) = self.transports.get_mut(transport) {
            state.failed |= fatal;
        }
    }

    /// Whether no transport can be tried any more.
    pub fn exhausted(&self) -> bool {
        !self.transports.iter().any(TransportState::can_attempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_retries: Option<u32>) -> BackoffPolicy {
        BackoffPolicy {
            max_retries,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
            growth: 2.0,
            jitter: 0.0,
        }
    }

    struct Zero;
    impl RngCore for Zero {
        fn next_u32(&mut self) -> u32 {
            0
        }
        fn next_u64(&mut self) -> u64 {
            0
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.fill(0);
        }
    }

    fn delays(schedule: &mut Schedule, n: usize) -> Vec<(usize, u64)> {
        (0..n)
            .map_while(|_| schedule.next_attempt(&mut Zero))
            .map(|a| (a.transport, a.delay.as_secs()))
            .collect()
    }

    #[test]
    fn first_attempt_is_immediate_and_the_first_retry_waits_the_initial_delay() {
        let mut schedule = Schedule::new([policy(None)]);
        assert_eq!(
            delays(&mut schedule, 5),
            [(0, 0), (0, 1), (0, 2), (0, 4), (0, 8)]
        );
    }

    #[test]
    fn round_robin_with_independent_backoff() {
        let mut schedule = Schedule::new([policy(None), policy(None)]);
        assert_eq!(
            delays(&mut schedule, 5),
            [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2)]
        );
    }

    #[test]
    fn max_retries_counts_retries_after_the_first_attempt() {
        let mut schedule = Schedule::new([policy(Some(2))]);
        assert_eq!(delays(&mut schedule, 10), [(0, 0), (0, 1), (0, 2)]);
        assert!(schedule.exhausted());
    }

    #[test]
    fn a_join_resets_backoff_and_budget() {
        let mut schedule = Schedule::new([policy(Some(2))]);
        assert_eq!(delays(&mut schedule, 3), [(0, 0), (0, 1), (0, 2)]);
        schedule.joined(0);
        assert!(!schedule.exhausted());
        // The reconnect after a lost session is the first retry: never immediate.
        assert_eq!(delays(&mut schedule, 10), [(0, 1), (0, 2)]);
    }

    #[test]
    fn rejected_credentials_and_unknown_realms_are_fatal_other_aborts_are_not() {
        for fatal in [
            "wamp.error.not_authorized",
            "wamp.error.authentication_failed",
            "wamp.error.no_auth_method",
            "wamp.error.no_such_role",
            "wamp.error.no_such_realm",
        ] {
            assert!(is_fatal_abort(&Uri::from_static(fatal)), "{fatal}");
        }
        assert!(!is_auth_rejection(&Uri::NO_SUCH_REALM));
        for passing in [
            "wamp.close.system_shutdown",
            "wamp.error.protocol_violation",
        ] {
            assert!(!is_fatal_abort(&Uri::from_static(passing)), "{passing}");
        }
    }

    #[test]
    fn a_session_ends_for_good_only_by_an_intended_goodbye() {
        let goodbye = |reason: &'static str, local: bool| CloseReason::Goodbye {
            reason: Uri::from_static(reason),
            local,
            message: None,
        };
        let cases = [
            (("wamp.close.normal", true), AfterClose::Done),
            // Whatever this side said when it left.
            (("com.example.bye", true), AfterClose::Done),
            (("wamp.close.goodbye_and_out", false), AfterClose::Done),
            (("wamp.close.normal", false), AfterClose::Done),
            // The router going down, an ABORT, a lost transport: reconnect.
            (("wamp.close.system_shutdown", false), AfterClose::Reconnect),
        ];
        for ((reason, local), expected) in cases {
            assert_eq!(
                after_close(&goodbye(reason, local)),
                expected,
                "{reason} local={local}"
            );
        }
        assert_eq!(
            after_close(&CloseReason::Aborted {
                reason: Uri::from_static("wamp.close.killed"),
                message: None,
            }),
            AfterClose::Reconnect
        );
        assert_eq!(
            after_close(&CloseReason::TransportLost),
            AfterClose::Reconnect
        );
    }

    #[test]
    fn fatal_failures_take_a_transport_out() {
        let mut schedule = Schedule::new([policy(None), policy(None)]);
        let first = schedule.next_attempt(&mut Zero).map(|a| a.transport);
        assert_eq!(first, Some(0));
        schedule.failed(0, true);
        assert_eq!(delays(&mut schedule, 3), [(1, 0), (1, 1), (1, 2)]);
        schedule.failed(1, true);
        assert!(schedule.exhausted());
        assert_eq!(schedule.next_attempt(&mut Zero), None);
    }
}
