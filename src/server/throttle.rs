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

    /// Starts a login attempt: `Err(wait)` when it must be refused without checking the
    /// password. Otherwise the attempt is counted as a failure at once, before the password
    /// is checked, so that guesses sent together cannot all pass the check before any of
    /// them is counted; [`Attempt::succeeded`] takes it back.
    pub fn begin(&self, account: &str, addr: IpAddr, now: Instant) -> Result<Attempt, Duration> {
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
        if !wait.is_zero() {
            super::metrics::rate_limited(super::metrics::Rate::Login);
            return Err(wait.max(Duration::from_secs(1)));
        }
        if map.len() >= SWEEP_AT {
            map.retain(|_, times| {
                prune(times, now);
                !times.is_empty()
            });
        }
        for (key, _) in Self::keys(account, addr) {
            map.entry(key).or_default().push_back(now);
        }
        Ok(Attempt {
            account: account.to_string(),
            addr,
            at: now,
        })
    }

    /// A successful login: its attempt is no failure, and that account's failures from
    /// that address are forgotten.
    fn succeeded(&self, attempt: &Attempt) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Key::Account(attempt.account.clone(), attempt.addr));
        if let Some(times) = map.get_mut(&Key::Address(attempt.addr)) {
            if let Some(i) = times.iter().rposition(|t| *t == attempt.at) {
                times.remove(i);
            }
        }
    }
}

/// A login attempt under way, counted as a failure until it is known to have succeeded.
#[must_use = "an attempt counts as a failure unless it is marked as succeeded"]
pub struct Attempt {
    account: String,
    addr: IpAddr,
    at: Instant,
}

impl Attempt {
    /// The password was right: take the attempt back, and forget the account's failures
    /// from this address.
    pub fn succeeded(self, throttle: &LoginThrottle) {
        throttle.succeeded(&self);
    }
}

/// The network an address stands for when counting per address: an IPv4 address itself,
/// an IPv6 address's /64 (what one subscriber is usually given, RFC 6177), so that one
/// machine cannot pass a per-address limit by changing the low bits of its address.
pub fn network_of(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn five_failures_a_minute_throttle_the_account_then_it_opens_again() {
        let t = LoginThrottle::new(5, 20);
        let start = Instant::now();
        for i in 0..5 {
            assert!(
                t.begin("alice", ip("10.0.0.1"), start + Duration::from_secs(i))
                    .is_ok(),
                "attempt {i}"
            );
        }
        let wait = t
            .begin("alice", ip("10.0.0.1"), start + Duration::from_secs(10))
            .err()
            .unwrap();
        assert_eq!(wait, Duration::from_secs(50));
        // A minute after the first failure, one slot is free again: never a permanent lock.
        assert!(t
            .begin("alice", ip("10.0.0.1"), start + Duration::from_secs(60))
            .is_ok());
    }

    #[test]
    fn guesses_sent_together_are_counted_before_any_is_checked() {
        let t = LoginThrottle::new(5, 20);
        let now = Instant::now();
        // Fifty attempts begun before any password check finishes: five get through.
        let begun: Vec<_> = (0..50)
            .filter_map(|_| t.begin("alice", ip("10.0.0.1"), now).ok())
            .collect();
        assert_eq!(begun.len(), 5);
    }

    #[test]
    fn an_ipv6_address_counts_as_its_64() {
        assert_eq!(
            network_of(ip("2001:db8:1:2:aaaa::1")),
            network_of(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            network_of(ip("2001:db8:1:2::1")),
            network_of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(network_of(ip("::ffff:10.0.0.1")), "10.0.0.1");
    }

    #[test]
    fn failures_from_another_address_do_not_lock_the_owner_out() {
        let t = LoginThrottle::new(5, 20);
        let now = Instant::now();
        for _ in 0..5 {
            let _failed = t.begin("alice", ip("203.0.113.9"), now);
        }
        assert!(t.begin("alice", ip("203.0.113.9"), now).is_err());
        assert!(t.begin("alice", ip("198.51.100.7"), now).is_ok());
    }

    #[test]
    fn one_address_guessing_many_accounts_is_throttled() {
        let t = LoginThrottle::new(5, 20);
        let now = Instant::now();
        for i in 0..20 {
            let _failed = t.begin(&format!("user{i}"), ip("10.0.0.2"), now);
        }
        assert!(t.begin("someone_new", ip("10.0.0.2"), now).is_err());
        assert!(t.begin("someone_new", ip("10.0.0.3"), now).is_ok());
    }

    #[test]
    fn a_successful_login_clears_the_account_failures_and_is_no_failure() {
        let t = LoginThrottle::new(2, 3);
        let now = Instant::now();
        let _failed = t.begin("bob", ip("10.0.0.4"), now);
        t.begin("bob", ip("10.0.0.4"), now).unwrap().succeeded(&t);
        let _failed = t.begin("bob", ip("10.0.0.4"), now);
        assert!(t.begin("bob", ip("10.0.0.4"), now).is_ok());
        // Two failures and a success from the address: a third failure still fits.
        assert!(t.begin("carol", ip("10.0.0.4"), now).is_err());
    }
}
