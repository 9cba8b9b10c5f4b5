//! Personal blocks: one person keeps another out of direct contact.

use serde::{Deserialize, Serialize};

/// Which side of a personal block the asker is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockSide {
    /// The asker blocked the other person (and can unblock them).
    ByMe,
    /// The other person blocked the asker.
    ByThem,
}
