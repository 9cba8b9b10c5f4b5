//! The bell: missed calls and group additions.

use crate::domain::NOTIFICATIONS_SHOWN;
use crate::domain::{Notification, User};
use crate::error::AppError;
use crate::protocol::{Event, Topic};
use crate::server::{now_ms, AppState};

/// The asker's newest [`NOTIFICATIONS_SHOWN`] notifications, read or not.
///
/// # Errors
/// From the database.
#[tracing::instrument(skip_all, fields(user = %me.id))]
pub async fn list(state: &AppState, me: &User) -> Result<Vec<Notification>, AppError> {
    Ok(state
        .store
        .notifications_of(&me.id, NOTIFICATIONS_SHOWN)
        .await?)
}

/// Marks one of the asker's notifications read; their other tabs hear if it changed.
///
/// # Errors
/// From the database.
#[tracing::instrument(skip_all, fields(user = %me.id, notification = %id))]
pub async fn mark_read(state: &AppState, me: &User, id: &str) -> Result<(), AppError> {
    let changed = state
        .store
        .mark_notifications_read(&me.id, Some(id), now_ms())
        .await?;
    if changed > 0 {
        state
            .hub
            .publish(&Topic::User(me.id.clone()), Event::NotificationsChanged);
    }
    Ok(())
}

/// Marks every notification and every conversation of the asker read: each conversation
/// whose mark moved hears `ReadMarked`, and the asker's tabs reload the bell and the list.
///
/// # Errors
/// From the database.
#[tracing::instrument(skip_all, fields(user = %me.id))]
pub async fn mark_all_read(state: &AppState, me: &User) -> Result<(), AppError> {
    state
        .store
        .mark_notifications_read(&me.id, None, now_ms())
        .await?;
    let marks = state.store.mark_all_conversations_read(&me.id).await?;
    for (conversation_id, seq) in marks {
        state.hub.publish(
            &Topic::Conversation(conversation_id.clone()),
            Event::ReadMarked {
                conversation_id,
                user_id: me.id.clone(),
                seq,
            },
        );
    }
    let mine = Topic::User(me.id.clone());
    state.hub.publish(&mine, Event::NotificationsChanged);
    state.hub.publish(&mine, Event::ConversationsChanged);
    Ok(())
}
