//! The realtime channel: one WebSocket per tab at `/ws`.
//!
//! - [`socket`]: the upgrade, the socket loop (frames in, queued frames out, pings) and the
//!   closing handshake;
//! - [`handler`]: one connection's frames, each decoded, charged to the socket's budget,
//!   checked against the session as it is now and dispatched, to the actions
//!   (`super::actions`) for what the product does (typing, presence, call signals);
//! - [`subscribe`]: who may listen to which topic.
//!
//! Fan-out to subscribers is the hub's (`super::hub`).

pub mod handler;
pub mod socket;
pub mod subscribe;
#[cfg(test)]
pub(crate) mod testing;

use crate::protocol::Limits;

pub use socket::{opening_presence, upgrade};

/// What the browser should check before it sends.
pub fn limits(settings: &super::config::Settings) -> Limits {
    Limits {
        max_message_chars: settings.max_message_chars,
        max_frame_bytes: settings.max_frame_bytes,
    }
}
