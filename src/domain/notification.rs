//! The bell: what it lists besides unread messages.

use super::{ConversationId, User};
use serde::{Deserialize, Serialize};

/// How many notifications the bell lists.
pub const NOTIFICATIONS_SHOWN: i64 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    MissedCall,
    AddedToGroup,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::MissedCall => "missed_call",
            NotificationKind::AddedToGroup => "added_to_group",
        }
    }

    pub fn parse(s: &str) -> Option<NotificationKind> {
        [NotificationKind::MissedCall, NotificationKind::AddedToGroup]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Something for the bell besides unread messages: a missed call, being added to a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    pub kind: NotificationKind,
    pub conversation_id: ConversationId,
    /// The group's title, or the other person's name for a direct conversation.
    pub conversation_title: String,
    /// Who called, or who added the user.
    pub actor: User,
    pub created_at: i64,
    pub read: bool,
}

impl Notification {
    /// What the bell says, with the names in it isolated ([`crate::domain::text::isolate`]).
    pub fn text(&self) -> String {
        use crate::domain::text::isolate;
        match self.kind {
            NotificationKind::MissedCall => {
                format!("Missed call from {}", isolate(&self.actor.display_name))
            }
            NotificationKind::AddedToGroup => format!(
                "{} added you to {}",
                isolate(&self.actor.display_name),
                isolate(&self.conversation_title)
            ),
        }
    }
}
