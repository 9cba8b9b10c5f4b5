//! Per-key rates (a user, an address) for what people do through the server: messages,
//! typing, presence, calls, invitations, sign-ups. Each key has a bucket of `limit` tokens
//! that refills steadily over a window, so a key can do `limit` things at once after a quiet
//! window and `limit` a window sustained. A token is taken before the work it pays for, so
//! requests that arrive together cannot all pass.
//!
//! The buckets are `governor`'s keyed rate limiter (the generic cell rate algorithm). Login
//! failures are counted separately (`throttle`), because there only failures count.

use super::metrics::Rate;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::Quota;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Past this many keys held, keys whose buckets are full again are dropped.
const SWEEP_AT: usize = 10_000;

type Buckets<C> = governor::RateLimiter<
    String,
    DefaultKeyedStateStore<String>,
    C,
    NoOpMiddleware<<C as Clock>::Instant>,
>;

/// `limit` actions per `window` for each key; the limit can change while the server runs.
pub struct RateLimiter<C: Clock = DefaultClock> {
    /// Which rate this is, for the metrics.
    rate: Rate,
    window: Duration,
    limit: AtomicU32,
    clock: C,
    buckets: RwLock<Arc<Buckets<C>>>,
}

impl RateLimiter {
    /// `per_minute` tokens a minute for each key (at least 1) of `rate`.
    pub fn new(rate: Rate, per_minute: u32) -> Self {
        Self::per_window(rate, per_minute, Duration::from_secs(60))
    }

    /// `limit` tokens (at least 1) per `window` for each key.
    pub fn per_window(rate: Rate, limit: u32, window: Duration) -> Self {
        Self::with_clock(rate, limit, window, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimiter<C> {
    /// The same, on `clock` (tests use a clock they move by hand).
    pub fn with_clock(rate: Rate, limit: u32, window: Duration, clock: C) -> Self {
        let buckets = RwLock::new(Arc::new(buckets(limit, window, &clock)));
        RateLimiter {
            rate,
            window,
            limit: AtomicU32::new(limit),
            clock,
            buckets,
        }
    }

    /// Gives `limit` tokens (at least 1) per window from now on. When the limit changes,
    /// every key starts again from a full bucket of the new size; setting the limit in force
    /// changes nothing (the buckets keep what they hold).
    pub fn set_limit(&self, limit: u32) {
        if self.limit.swap(limit, Ordering::Relaxed) == limit {
            return;
        }
        let fresh = Arc::new(buckets(limit, self.window, &self.clock));
        *self.buckets.write().unwrap_or_else(|p| p.into_inner()) = fresh;
    }

    /// Takes one token for `key`; a refusal counts in the metrics, under the rate.
    ///
    /// # Errors
    /// How long until the key has a token again, when it has none now.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        let buckets = self
            .buckets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if buckets.len() >= SWEEP_AT {
            buckets.retain_recent();
        }
        buckets.check_key(&key.to_string()).map_err(|not_until| {
            super::metrics::rate_limited(self.rate);
            not_until.wait_time_from(self.clock.now())
        })
    }
}

fn buckets<C: Clock + Clone>(limit: u32, window: Duration, clock: &C) -> Buckets<C> {
    let limit = NonZeroU32::new(limit).unwrap_or(NonZeroU32::MIN);
    // One token comes back every `window / limit`; a whole window's worth may be spent at once.
    let quota = Quota::with_period(window / limit.get())
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
        .allow_burst(limit);
    governor::RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn a_rate_allows_a_minute_at_once_then_refills_steadily_and_per_user() {
        let clock = FakeRelativeClock::default();
        let r = RateLimiter::with_clock(Rate::Message, 60, Duration::from_secs(60), clock.clone());
        for i in 0..60 {
            assert!(r.take("ann").is_ok(), "message {i}");
        }
        let wait = r.take("ann").unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        // Someone else is not slowed by Ann.
        assert!(r.take("ben").is_ok());
        // One per second comes back.
        clock.advance(Duration::from_secs(1));
        assert!(r.take("ann").is_ok());
        assert!(r.take("ann").is_err());
    }

    #[test]
    fn a_new_limit_applies_at_once_and_the_same_limit_changes_nothing() {
        let clock = FakeRelativeClock::default();
        let r = RateLimiter::with_clock(Rate::Message, 2, Duration::from_secs(60), clock);
        assert!(r.take("ann").is_ok());
        assert!(r.take("ann").is_ok());
        assert!(r.take("ann").is_err());
        // Setting the limit in force gives nobody tokens back.
        r.set_limit(2);
        assert!(r.take("ann").is_err());
        r.set_limit(5);
        for i in 0..5 {
            assert!(r.take("ann").is_ok(), "message {i} under the new limit");
        }
        assert!(r.take("ann").is_err());
    }
}
