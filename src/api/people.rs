//! Personal blocks and notifications: what each person controls for themselves.

use crate::domain::{ConversationId, Notification, User, UserId};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::chat::signed_in,
    super::support::answer,
    crate::server::actions::{blocks, conversations, notifications},
};

/// Keeps someone out: no new direct conversation, no messages in the existing one, no
/// calls (one under way ends), and neither sees the other's presence or typing.
#[server(endpoint = "block")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "block_person", skip_all))]
pub async fn block_person(user_id: UserId) -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            blocks::block(&state, &me, &user_id).await
        }
        .await,
    )
}

#[server(endpoint = "unblock")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "unblock_person", skip_all)
)]
pub async fn unblock_person(user_id: UserId) -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            blocks::unblock(&state, &me, &user_id).await
        }
        .await,
    )
}

/// Blocks (`true`) or unblocks someone: what a Block / Unblock button calls.
pub async fn set_blocked(user_id: UserId, block: bool) -> Result<(), AppError> {
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
            blocks::blocked(&state, &me).await
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
            notifications::list(&state, &me).await
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
            notifications::mark_read(&state, &me, &id).await
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
            notifications::mark_all_read(&state, &me).await
        }
        .await,
    )
}

/// Mutes a conversation (still counted unread; no sound, no desktop notification).
#[server(endpoint = "mute")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "set_muted", skip_all))]
pub async fn set_muted(conversation_id: ConversationId, muted: bool) -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            conversations::set_muted(&state, &me, &conversation_id, muted).await
        }
        .await,
    )
}
