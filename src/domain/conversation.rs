//! Conversations: how the list shows one to a member (`ConversationSummary`), its
//! members, group titles, and how much history one page holds.

use super::check_name;
use super::{BlockSide, ConversationId, Message, PresenceState, User};
use crate::error::AppError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How many messages one page of history holds (the server's answer and the client's
/// "is there more" test agree on it).
pub const PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    Direct,
    Group,
}

/// A conversation as the list shows it to one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: ConversationId,
    pub kind: ConversationKind,
    /// The group title, or the other person's display name for a direct conversation.
    pub title: String,
    /// For a direct conversation, the other person.
    pub peer: Option<User>,
    pub last_seq: i64,
    pub last_read_seq: i64,
    pub last_activity_at: i64,
    pub last_message: Option<Message>,
    /// For a direct conversation: whether the other person is online now.
    pub peer_presence: Option<PresenceState>,
    /// For a direct conversation: when the other person was last connected.
    pub peer_last_seen_at: Option<i64>,
    /// Muted: still counts unread, but no sound and no desktop notification.
    pub muted: bool,
    /// For a direct conversation: whether one of the two blocked the other.
    pub block: Option<BlockSide>,
}

impl ConversationSummary {
    pub fn unread(&self) -> i64 {
        (self.last_seq - self.last_read_seq).max(0)
    }
}

/// A member of a conversation and how far they have read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user: User,
    pub last_read_seq: i64,
    /// The group's owner (who adds and removes members).
    pub owner: bool,
    /// The asker blocked this member.
    pub blocked_by_me: bool,
}

/// Longest group title.
pub const GROUP_TITLE_MAX_CHARS: usize = 80;

/// A group's title that passed the rules of [`parse_group_title`]: trimmed, 1 to
/// [`GROUP_TITLE_MAX_CHARS`] characters, by the rules of [`check_name`]. The only way to one
/// is that function, so a stored title has always been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTitle(String);

impl GroupTitle {
    /// The title as it is stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GroupTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a group title: trimmed, 1 to 80 characters, by the rules of [`check_name`].
///
/// # Errors
/// [`AppError::Invalid`] on the field `title`, saying which rule the title breaks.
pub fn parse_group_title(title: &str) -> Result<GroupTitle, AppError> {
    let title = title.trim();
    if title.is_empty() {
        return Err(AppError::invalid("title", "A group needs a name."));
    }
    check_name(title, "A group name", GROUP_TITLE_MAX_CHARS)
        .map_err(|message| AppError::invalid("title", message))?;
    Ok(GroupTitle(title.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_title_is_trimmed_and_must_not_be_empty() {
        assert_eq!(
            parse_group_title("  Launch plans ").unwrap().as_str(),
            "Launch plans"
        );
        assert_eq!(
            parse_group_title("   ")
                .unwrap_err()
                .field("title")
                .as_deref(),
            Some("A group needs a name.")
        );
        assert!(parse_group_title(&"x".repeat(GROUP_TITLE_MAX_CHARS + 1)).is_err());
    }
}
