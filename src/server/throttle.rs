//! Login throttling: failed logins are counted per account and per address over a sliding
//! one-minute window. A throttled account opens again by itself once old failures leave
//! the window, so the real owner is never locked out for good.
//!
//! Per account means per (account, address): someone failing against Alice's account from
//! another address cannot lock Alice out. Distributed guessing is slowed by the per-address
//! limit of each address instead.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(60);
/// Past this many tracked keys, expired ones are swept on the next failure.
const SWEEP_AT: usize = 10_000;

pub struct LoginThrottle {
    per_account: u32,
    per_address: u32,
    failures: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String, IpAddr),
    Address(IpAddr),
}

impl LoginThrottle {
    pub fn new(per_account: u32, per_address: u32) -> Self {
        Self {
            per_account,
            per_address,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(account: &str, addr: IpAddr) -> [(Key, bool); 2] {
        [
            (Key::Account(account.to_string(), addr), true),
            (Key::Address(addr), false),
        ]
    }

    /// `Err(wait)` when this attempt must be refused without checking the password.
    pub fn check(&self, account: &str, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        for (key, is_account) in Self::keys(account, addr) {
            let limit = if is_account {
                self.per_account
            } else {
                self.per_address
            } as usize;
            if let Some(times) = map.get_mut(&key) {
                prune(times, now);
                if times.len() >= limit {
                    // Open again when enough of the failures have left the window.
                    let oldest_that_matters = times[times.len() - limit];
                    wait = wait.max(WINDOW.saturating_sub(now - oldest_that_matters));
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(wait.max(Duration::from_secs(1)))
        }
    }

    pub fn record_failure(&self, account: &str, addr: IpAddr, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= SWEEP_AT {
            map.retain(|_, times| {
                prune(times, now);
                !times.is_empty()
            });
        }
        for (key, _) in Self::keys(account, addr) {
            let times = map.entry(key).or_default();
            prune(times, now);
            times.push_back(now);
        }
    }

    /// A successful login forgets that account's failures from that address.
    pub fn record_success(&self, account: &str, addr: IpAddr) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Key::Account(account.to_string(), addr));
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
}

/// A per-user rate: a bucket of `per_minute` tokens that refills continuously, so a user
/// can do `per_minute` things at once after a quiet minute and `per_minute` a minute
/// sustained. Buckets that are full again are forgotten.
pub struct RateLimiter {
    per_minute: std::sync::atomic::AtomicU32,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1).into(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Changes the rate from the next `take` on.
    pub fn set_per_minute(&self, per_minute: u32) {
        self.per_minute
            .store(per_minute.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Takes one token for `key`; `Err(wait)` (how long until one is free) when empty.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(self.per_minute.load(std::sync::atomic::Ordering::Relaxed));
        let per_sec = capacity / 60.0;
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= SWEEP_AT {
            map.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_sec < capacity
            });
        }
        let (tokens, at) = map.entry(key.to_string()).or_insert((capacity, now));
        let refilled =
            (*tokens + now.saturating_duration_since(*at).as_secs_f64() * per_sec).min(capacity);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(Duration::from_secs_f64((1.0 - refilled) / per_sec))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_allows_a_minute_at_once_then_refills_steadily_and_per_user() {
        let r = RateLimiter::new(60);
        let now = Instant::now();
        for i in 0..60 {
            assert!(r.take("ann", now).is_ok(), "message {i}");
        }
        let wait = r.take("ann", now).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        // Someone else is not slowed by Ann.
        assert!(r.take("ben", now).is_ok());
        // One per second comes back.
        assert!(r.take("ann", now + Duration::from_secs(1)).is_ok());
        assert!(r.take("ann", now + Duration::from_secs(1)).is_err());
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn five_failures_a_minute_throttle_the_account_then_it_opens_again() {
        let t = LoginThrottle::new(5, 20);
        let start = Instant::now();
        for i in 0..5 {
            assert!(
                t.check("alice", ip("10.0.0.1"), start).is_ok(),
                "attempt {i}"
            );
            t.record_failure("alice", ip("10.0.0.1"), start + Duration::from_secs(i));
        }
        let wait = t
            .check("alice", ip("10.0.0.1"), start + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        // A minute after the first failure, one slot is free again: never a permanent lock.
        assert!(t
            .check("alice", ip("10.0.0.1"), start + Duration::from_secs(60))
            .is_ok());
    }

    #[test]
    fn failures_from_another_address_do_not_lock_the_owner_out() {
        let t = LoginThrottle::new(5, 20);
        let now = Instant::now();
        for _ in 0..5 {
            t.record_failure("alice", ip("203.0.113.9"), now);
        }
        assert!(t.check("alice", ip("203.0.113.9"), now).is_err());
        assert!(t.check("alice", ip("198.51.100.7"), now).is_ok());
    }

    #[test]
    fn one_address_guessing_many_accounts_is_throttled() {
        let t = LoginThrottle::new(5, 20);
        let now = Instant::now();
        for i in 0..20 {
            t.record_failure(&format!("user{i}"), ip("10.0.0.2"), now);
        }
        assert!(t.check("someone_new", ip("10.0.0.2"), now).is_err());
        assert!(t.check("someone_new", ip("10.0.0.3"), now).is_ok());
    }

    #[test]
    fn a_successful_login_clears_the_account_failures() {
        let t = LoginThrottle::new(2, 20);
        let now = Instant::now();
        t.record_failure("bob", ip("10.0.0.4"), now);
        t.record_success("bob", ip("10.0.0.4"));
        t.record_failure("bob", ip("10.0.0.4"), now);
        assert!(t.check("bob", ip("10.0.0.4"), now).is_ok());
    }
}
