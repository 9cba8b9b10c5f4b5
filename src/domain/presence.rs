//! Presence: whether a person is here right now.

use serde::{Deserialize, Serialize};

/// What the people someone talks to see of them: `Online` while a tab of theirs is open and
/// in use, `Away` while their tabs are open but idle or hidden, `Offline` once none is open
/// (after a short grace, so a reload does not flash offline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PresenceState {
    Online,
    Away,
    Offline,
}
