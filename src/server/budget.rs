//! What one WebSocket connection may send. Every frame a client sends costs the server
//! work (a look-up, a lock, a relay to other people), so each kind has a budget: a burst,
//! then a steady rate (the generic cell rate algorithm, by the `governor` crate). A frame
//! over its budget is answered with a `rate_limited` error and not acted on; a connection
//! that goes on sending after [`REFUSED_BEFORE_CLOSE`] refusals in a row is closed with
//! 1008 (policy violation).
//!
//! Rates that follow a person across all their tabs (messages, typing, presence) are kept
//! per user in [`super::Rates`]; these budgets bound what a single socket can do on top.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

/// Subscribe and unsubscribe frames: a tab subscribes to every conversation in its list
/// when it connects, so the burst is large; afterwards a steady 20 a second.
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

/// Refused frames in a row after which the connection is closed.
pub const REFUSED_BEFORE_CLOSE: u32 = 50;

/// A burst of `burst` frames, refilled at `per_minute`.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub burst: u32,
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
    Subscription,
    Other,
}

/// One connection's budgets and how many frames in a row were refused.
pub struct FrameBudget {
    subscriptions: DefaultDirectRateLimiter,
    frames: DefaultDirectRateLimiter,
    refused_in_a_row: u32,
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
        FrameBudget {
            subscriptions: SUBSCRIPTIONS.limiter(),
            frames: FRAMES.limiter(),
            refused_in_a_row: 0,
        }
    }
}

impl FrameBudget {
    /// Takes one frame of `kind` from its budget.
    ///
    /// # Errors
    /// [`Over::Refuse`] when the budget is spent, [`Over::Close`] once
    /// [`REFUSED_BEFORE_CLOSE`] frames in a row were refused.
    pub fn take(&mut self, kind: FrameKind) -> Result<(), Over> {
        let (limiter, budget) = match kind {
            FrameKind::Subscription => (&self.subscriptions, SUBSCRIPTIONS),
            FrameKind::Other => (&self.frames, FRAMES),
        };
        if limiter.check().is_ok() {
            self.refused_in_a_row = 0;
            return Ok(());
        }
        self.refused(budget.refusal())
    }

    /// Counts a frame refused for another rate (a per-user one), with its error.
    ///
    /// # Errors
    /// Always: [`Over::Refuse`] with `message`, or [`Over::Close`] past the limit.
    pub fn refused(&mut self, message: String) -> Result<(), Over> {
        self.refused_in_a_row += 1;
        if self.refused_in_a_row >= REFUSED_BEFORE_CLOSE {
            Err(Over::Close)
        } else {
            Err(Over::Refuse(message))
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
        for _ in 1..REFUSED_BEFORE_CLOSE {
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
}
