//! Reconnect backoff as pure computation: the runtime asks for the next delay and sleeps;
//! this module never reads a clock.
//!
//! The policy follows Autobahn's Component transport settings (`max_retries`,
//! `initial_retry_delay`, `max_retry_delay`, `retry_delay_growth`, `retry_delay_jitter`)
//! and fixes what its users complain about:
//!
//! - the first retry waits `initial_delay` (not `initial_delay * growth`);
//! - the jitter is bounded: a delay `d` becomes a uniform value in
//!   `[d * (1 - jitter), d * (1 + jitter)]`, then is clamped to `max_delay`;
//! - [`Backoff::reset`] is called after every successful join, so delays never accumulate
//!   across healthy sessions.
//!
//! ```
//! use std::time::Duration;
//! use wamp_proto::backoff::{Backoff, BackoffPolicy};
//! let policy = BackoffPolicy { jitter: 0.0, ..BackoffPolicy::default() };
//! let mut backoff = Backoff::new(policy);
//! let mut rng = rand::rngs::mock::StepRng::new(0, 0);
//! assert_eq!(backoff.next_delay(&mut rng), Some(Duration::from_millis(1500)));
//! assert_eq!(backoff.next_delay(&mut rng), Some(Duration::from_millis(2250)));
//! backoff.reset(); // joined again
//! assert_eq!(backoff.next_delay(&mut rng), Some(Duration::from_millis(1500)));
//! ```

use std::time::Duration;

/// How retries are spaced and when they stop.
#[derive(Debug, Clone, PartialEq)]
pub struct BackoffPolicy {
    /// How many retries after the first attempt; `None` retries forever. (Autobahn's
    /// `max_retries`, with `-1` meaning forever.)
    pub max_retries: Option<u32>,
    /// The delay before the first retry.
    pub initial_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// Each delay is the previous one times this (at least 1).
    pub growth: f64,
    /// Relative jitter in `[0, 1]`: a delay `d` is drawn uniformly from
    /// `[d * (1 - jitter), d * (1 + jitter)]`.
    pub jitter: f64,
}

impl Default for BackoffPolicy {
    /// Autobahn's defaults: retry forever, 1.5 s first, growth 1.5, at most 300 s, 10 %
    /// jitter.
    fn default() -> Self {
        BackoffPolicy {
            max_retries: None,
            initial_delay: Duration::from_millis(1500),
            max_delay: Duration::from_secs(300),
            growth: 1.5,
            jitter: 0.1,
        }
    }
}

/// The retry state of one transport.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: BackoffPolicy,
    retries: u32,
    /// The delay before jitter for the next retry.
    base: f64,
}

impl Backoff {
    /// A fresh state for `policy`.
    pub fn new(policy: BackoffPolicy) -> Self {
        let base = policy.initial_delay.as_secs_f64();
        Backoff {
            policy,
            retries: 0,
            base,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &BackoffPolicy {
        &self.policy
    }

    /// How many retries were handed out since the last reset.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Whether another retry is allowed.
    pub fn can_retry(&self) -> bool {
        self.policy.max_retries.is_none_or(|max| self.retries < max)
    }

    /// The delay before the next retry, or `None` when the retries are used up. Jitter
    /// comes from `rng`.
    pub fn next_delay<R: rand_core::RngCore + ?Sized>(&mut self, rng: &mut R) -> Option<Duration> {
        if !self.can_retry() {
            return None;
        }
        let max = self.policy.max_delay.as_secs_f64();
        let base = self.base.min(max).max(0.0);
        let jitter = self.policy.jitter.clamp(0.0, 1.0);
        // A uniform number in [-1, 1) from the top 53 bits of a u64.
        let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let delay = (base * (1.0 + jitter * (2.0 * unit - 1.0))).clamp(0.0, max);
        self.retries = self.retries.saturating_add(1);
        self.base = (base * self.policy.growth.max(1.0)).min(max);
        Some(Duration::from_secs_f64(delay))
    }

    /// Starts over: after a successful join, the next failure waits `initial_delay` again.
    pub fn reset(&mut self) {
        self.retries = 0;
        self.base = self.policy.initial_delay.as_secs_f64();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn delays_grow_to_the_cap_and_stop_after_max_retries() {
        let policy = BackoffPolicy {
            max_retries: Some(5),
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(3),
            growth: 2.0,
            jitter: 0.0,
        };
        let mut b = Backoff::new(policy);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let delays: Vec<_> = std::iter::from_fn(|| b.next_delay(&mut rng)).collect();
        let secs: Vec<f64> = delays.iter().map(Duration::as_secs_f64).collect();
        assert_eq!(secs, vec![1.0, 2.0, 3.0, 3.0, 3.0]);
        assert!(!b.can_retry());
        b.reset();
        assert_eq!(b.next_delay(&mut rng), Some(Duration::from_secs(1)));
    }

    #[test]
    fn zero_retries_means_no_retry() {
        let mut b = Backoff::new(BackoffPolicy {
            max_retries: Some(0),
            ..BackoffPolicy::default()
        });
        assert_eq!(
            b.next_delay(&mut rand::rngs::StdRng::seed_from_u64(0)),
            None
        );
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let policy = BackoffPolicy {
            jitter: 0.25,
            max_delay: Duration::from_secs(10_000),
            ..BackoffPolicy::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let mut b = Backoff::new(policy.clone());
            let mut expected = 1.5;
            for _ in 0..10 {
                let d = b
                    .next_delay(&mut rng)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(-1.0);
                assert!(
                    d >= expected * 0.75 - 1e-9 && d <= expected * 1.25 + 1e-9,
                    "{d} vs {expected}"
                );
                expected *= 1.5;
            }
        }
    }
}
