//! Personal blocks and notifications: what each person controls for themselves.

use crate::error::AppError;
use crate::model::{Notification, User};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::chat::signed_in,
    super::support::answer,
    crate::protocol::{Event, Topic},
    crate::server::{calls, moderation, now_ms},
};

/// How many notifications the bell lists.
pub const NOTIFICATIONS_SHOWN: i64 = 50;

/// Keeps someone out: no new direct conversation, no messages in the existing one, no
/// calls (one under way ends), and neither sees the other's presence or typing.
#[server(endpoint = "block")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "block_person", skip_all))]
pub async fn block_person(user_id: String) -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            blocks_within_rate(&state, &me.id)?;
            let added = state.store.block_person(&me.id, &user_id, now_ms()).await?;
            if added {
                // A block that already stood changes nothing: nobody is told again.
                moderation::block_changed(&state, &me.id, &user_id, true);
            }
            // A call between the two ends with the block, hung up by the one who blocked.
            let live = state.store.live_calls_between(&me.id, &user_id).await?;
            for call_id in live {
                let hang_up = crate::call::CallAction::HangUp;
                // Over by now is the usual reason for a refusal here, not an error.
                let _ = calls::finish(&state, Some(&me.id), &call_id, hang_up).await;
            }
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "unblock")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "unblock_person", skip_all)
)]
pub async fn unblock_person(user_id: String) -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            blocks_within_rate(&state, &me.id)?;
            let lifted = state.store.unblock_person(&me.id, &user_id).await?;
            if lifted {
                moderation::block_changed(&state, &me.id, &user_id, false);
            }
            Ok(())
        }
        .await,
    )
}

/// Blocking and unblocking reach the other person's tabs (presence, the composer): rated
/// with opening conversations, per user.
#[cfg(feature = "ssr")]
fn blocks_within_rate(state: &crate::server::AppState, me: &str) -> Result<(), AppError> {
    crate::server::within_rate(&state.rates.invitations, me, || {
        format!(
            "You are blocking and unblocking too fast (at most {} a minute).",
            crate::server::INVITATIONS_PER_MINUTE
        )
    })
}

/// Blocks (`true`) or unblocks someone: what a Block / Unblock button calls.
pub async fn set_blocked(user_id: String, block: bool) -> Result<(), AppError> {
    if block {
        block_person(user_id).await
    } else {
        unblock_person(user_id).await
    }
}

/// The people the user has blocked.
#[server(endpoint = "blocked_people")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "blocked_people", skip_all)
)]
pub async fn blocked_people() -> Result<Vec<User>, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            state.store.blocked_by(&me.id).await.map_err(AppError::from)
        }
        .await,
    )
}

/// The newest missed calls and group additions, read or not.
#[server(endpoint = "notifications")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "list_notifications", skip_all)
)]
pub async fn list_notifications() -> Result<Vec<Notification>, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            state
                .store
                .notifications_of(&me.id, NOTIFICATIONS_SHOWN)
                .await
                .map_err(AppError::from)
        }
        .await,
    )
}

/// Marks one notification read; the user's other tabs hear.
#[server(endpoint = "notification_read")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "mark_notification_read", skip_all)
)]
pub async fn mark_notification_read(id: String) -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            let changed = state
                .store
                .mark_notifications_read(&me.id, Some(&id), now_ms())
                .await?;
            if changed > 0 {
                state
                    .hub
                    .publish(&Topic::User(me.id), Event::NotificationsChanged);
            }
            Ok(())
        }
        .await,
    )
}

/// Marks every notification and every conversation read.
#[server(endpoint = "all_read")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "mark_all_read", skip_all))]
pub async fn mark_all_read() -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
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
            let mine = Topic::User(me.id);
            state.hub.publish(&mine, Event::NotificationsChanged);
            state.hub.publish(&mine, Event::ConversationsChanged);
            Ok(())
        }
        .await,
    )
}

/// Mutes a conversation (still counted unread; no sound, no desktop notification).
#[server(endpoint = "mute")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "set_muted", skip_all))]
pub async fn set_muted(conversation_id: String, muted: bool) -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            state
                .store
                .set_muted(&conversation_id, &me.id, muted)
                .await?;
            state
                .hub
                .publish(&Topic::User(me.id), Event::ConversationsChanged);
            Ok(())
        }
        .await,
    )
}
