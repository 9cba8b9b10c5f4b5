//! What one WebSocket connection may send. Every frame a client sends costs the server
//! work (a look-up, a lock, a relay to other people), so each kind has a budget: a burst,
//! then a steady rate (the generic cell rate algorithm, by the `governor` crate). A frame
//! over its budget is answered with a `rate_limited` error and not acted on; a connection
//! that goes on sending regardless, [`REFUSED_BEFORE_CLOSE`] refusals within a minute, is
//! closed with 1008 (policy violation).
//!
//! Rates that follow a person across all their tabs (messages, typing, presence) are kept
//! per user in [`super::Rates`]; these budgets bound what a single socket can do on top.

use super::metrics::Rate;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

/// Subscribe and unsubscribe frames: a tab subscribes to every conversation in its list
/// when it connects, so the burst is at least twice the user's conversations (see
/// [`FrameBudget::for_member_of`]); afterwards a steady 20 a second.
pub const SUBSCRIPTIONS: Budget = Budget {
    burst: 2000,
    per_minute: 1200,
    what: "subscriptions",
};

/// Every other frame (typing, call signaling, presence, pings, and frames that could not
/// be read): a person typing and calling sends a few a second at most.
pub const FRAMES: Budget = Budget {
    burst: 300,
    per_minute: 1200,
    what: "frames",
};

/// Refused frames within a minute (a burst of this many, refilled at this many a minute)
/// after which the connection is closed.
pub const REFUSED_BEFORE_CLOSE: u32 = 50;

/// A burst of `burst` frames, refilled at `per_minute`.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Frames that may come at once, after a quiet spell.
    pub burst: u32,
    /// Frames a minute, sustained.
    pub per_minute: u32,
    /// What the frames are, for the error message ("subscriptions").
    pub what: &'static str,
}

impl Budget {
    fn limiter(self) -> DefaultDirectRateLimiter {
        let nz = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        RateLimiter::direct(Quota::per_minute(nz(self.per_minute)).allow_burst(nz(self.burst)))
    }

    /// The error a refused frame is answered with.
    pub fn refusal(self) -> String {
        format!(
            "Too many {} from this tab: at most {} a minute. Slow down.",
            self.what, self.per_minute
        )
    }
}

/// What a frame counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Subscribe and unsubscribe: [`SUBSCRIPTIONS`].
    Subscription,
    /// Everything else: [`FRAMES`].
    Other,
}

/// One connection's budgets, and its budget of refusals before it is closed.
pub struct FrameBudget {
    subscriptions: DefaultDirectRateLimiter,
    frames: DefaultDirectRateLimiter,
    refusals: DefaultDirectRateLimiter,
}

/// What to do with a frame over its budget.
#[derive(Debug, PartialEq, Eq)]
pub enum Over {
    /// Answer it with this error and go on.
    Refuse(String),
    /// The client keeps sending regardless: close the connection.
    Close,
}

impl Default for FrameBudget {
    fn default() -> Self {
        FrameBudget::for_member_of(0)
    }
}

impl FrameBudget {
    /// The budgets of a connection of someone who is a member of `conversations`: the
    /// subscription burst covers subscribing to all of them twice over, so that a person
    /// in many conversations is never refused on connecting.
    pub fn for_member_of(conversations: usize) -> FrameBudget {
        let wanted = u32::try_from(conversations.saturating_mul(2)).unwrap_or(u32::MAX);
        let subscriptions = Budget {
            burst: SUBSCRIPTIONS.burst.max(wanted),
            ..SUBSCRIPTIONS
        };
        FrameBudget {
            subscriptions: subscriptions.limiter(),
            frames: FRAMES.limiter(),
            refusals: Budget {
                burst: REFUSED_BEFORE_CLOSE,
                per_minute: REFUSED_BEFORE_CLOSE,
                what: "refusals",
            }
            .limiter(),
        }
    }

    /// Takes one frame of `kind` from its budget.
    ///
    /// # Errors
    /// [`Over::Refuse`] when the budget is spent, [`Over::Close`] once
    /// [`REFUSED_BEFORE_CLOSE`] frames were refused within a minute. A refused subscription
    /// never closes the connection (a client may retry it after the wait).
    pub fn take(&mut self, kind: FrameKind) -> Result<(), Over> {
        match kind {
            FrameKind::Subscription => match self.subscriptions.check() {
                Ok(()) => Ok(()),
                Err(_) => {
                    super::metrics::rate_limited(Rate::Subscription);
                    Err(Over::Refuse(SUBSCRIPTIONS.refusal()))
                }
            },
            FrameKind::Other => match self.frames.check() {
                Ok(()) => Ok(()),
                Err(_) => {
                    super::metrics::rate_limited(Rate::Frame);
                    Err(self.refused(FRAMES.refusal()))
                }
            },
        }
    }

    /// Counts a frame refused for another rate (a per-user one): answer it with `message`
    /// ([`Over::Refuse`]), or close ([`Over::Close`]) past [`REFUSED_BEFORE_CLOSE`].
    pub fn refused(&mut self, message: String) -> Over {
        match self.refusals.check() {
            Ok(()) => Over::Refuse(message),
            Err(_) => Over::Close,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_frames_are_refused_then_the_connection_closes() {
        let mut budget = FrameBudget::default();
        for i in 0..FRAMES.burst {
            assert_eq!(budget.take(FrameKind::Other), Ok(()), "frame {i}");
        }
        for _ in 0..REFUSED_BEFORE_CLOSE {
            assert!(matches!(
                budget.take(FrameKind::Other),
                Err(Over::Refuse(_))
            ));
        }
        assert_eq!(budget.take(FrameKind::Other), Err(Over::Close));
    }

    #[test]
    fn subscriptions_have_their_own_budget() {
        let mut budget = FrameBudget::default();
        for _ in 0..FRAMES.burst {
            budget.take(FrameKind::Other).unwrap();
        }
        assert_eq!(budget.take(FrameKind::Subscription), Ok(()));
    }

    #[test]
    fn refusals_for_a_per_user_rate_close_the_connection_too() {
        let mut budget = FrameBudget::default();
        for _ in 0..REFUSED_BEFORE_CLOSE {
            // Accepted frames in between do not wipe the count.
            budget.take(FrameKind::Other).unwrap();
            assert!(matches!(
                budget.refused("slow down".into()),
                Over::Refuse(_)
            ));
        }
        assert_eq!(budget.refused("slow down".into()), Over::Close);
    }

    #[test]
    fn someone_in_many_conversations_subscribes_to_all_of_them_and_stays() {
        let mut budget = FrameBudget::for_member_of(5000);
        for i in 0..10_000 {
            assert_eq!(
                budget.take(FrameKind::Subscription),
                Ok(()),
                "subscription {i}"
            );
        }
        // Past it: refused, never closed.
        for _ in 0..200 {
            assert!(matches!(
                budget.take(FrameKind::Subscription),
                Err(Over::Refuse(_))
            ));
        }
    }
}
