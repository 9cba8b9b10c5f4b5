//! Conversations and messages: who asks, the action (`server::actions::conversations`,
//! `server::actions::messages`), the answer.

use crate::domain::{
    ClientMsgId, ConversationId, ConversationSummary, Member, Message, User, UserId,
};
use crate::error::AppError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::support::{answer, request_headers},
    crate::server::actions::{conversations, messages},
    crate::server::{auth, AppState},
};

/// Who asks: the user of the request's live session, with the server's state.
#[cfg(feature = "ssr")]
pub(crate) async fn signed_in() -> Result<(AppState, User), AppError> {
    let state = AppState::current()?;
    match auth::user_from_headers(&*state.store, &state.settings(), &request_headers()).await? {
        Some(user) => Ok((state, user)),
        None => Err(AppError::Unauthorized),
    }
}

#[server(endpoint = "conversations")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "list_conversations", skip_all)
)]
pub async fn list_conversations() -> Result<Vec<ConversationSummary>, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            conversations::list(&state, &me).await
        }
        .await,
    )
}

/// People to start a conversation with, by username or display name.
#[server(endpoint = "search_users")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "search_users", skip_all))]
pub async fn search_users(query: String) -> Result<Vec<User>, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            conversations::search_people(&state, &me, &query).await
        }
        .await,
    )
}

/// The direct conversation with `user_id`, created on first use.
#[server(endpoint = "open_direct")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "open_direct", skip_all))]
pub async fn open_direct(user_id: UserId) -> Result<ConversationId, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            conversations::open_direct(&state, &me, &user_id).await
        }
        .await,
    )
}

/// A group with a name and at least one other member; the creator owns it.
#[server(endpoint = "create_group")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "create_group", skip_all))]
pub async fn create_group(
    title: String,
    #[server(default)] member_ids: Vec<UserId>,
) -> Result<ConversationId, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            conversations::create_group(&state, &me, &title, &member_ids).await
        }
        .await,
    )
}

/// The group's owner adds someone.
#[server(endpoint = "add_member")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "add_member", skip_all))]
pub async fn add_member(conversation_id: ConversationId, user_id: UserId) -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            conversations::add_member(&state, &me, &conversation_id, &user_id).await
        }
        .await,
    )
}

/// The group's owner removes someone; their open tabs stop receiving the group at once.
#[server(endpoint = "remove_member")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "remove_member", skip_all))]
pub async fn remove_member(
    conversation_id: ConversationId,
    user_id: UserId,
) -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            conversations::remove_member(&state, &me, &conversation_id, &user_id).await
        }
        .await,
    )
}

/// Sends a message (idempotent on `client_msg_id`): see `actions::messages::send`.
#[server(endpoint = "send_message")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "send_message", skip_all))]
pub async fn send_message(
    conversation_id: ConversationId,
    client_msg_id: ClientMsgId,
    body: String,
) -> Result<Message, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            messages::send(&state, &me, &conversation_id, client_msg_id, &body).await
        }
        .await,
    )
}

/// A page of history: the newest messages before `before_seq` (or the newest of all).
#[server(endpoint = "messages")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "load_messages", skip_all))]
pub async fn load_messages(
    conversation_id: ConversationId,
    before_seq: Option<i64>,
) -> Result<Vec<Message>, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            messages::before(&state, &me, &conversation_id, before_seq).await
        }
        .await,
    )
}

/// What a client missed: messages after `after_seq`, oldest first, a page at a time.
#[server(endpoint = "messages_after")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "messages_after", skip_all)
)]
pub async fn messages_after(
    conversation_id: ConversationId,
    after_seq: i64,
) -> Result<Vec<Message>, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            messages::after(&state, &me, &conversation_id, after_seq).await
        }
        .await,
    )
}

/// Marks the conversation read up to `seq`; other members and the user's other tabs hear.
#[server(endpoint = "mark_read")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "mark_read", skip_all))]
pub async fn mark_read(conversation_id: ConversationId, seq: i64) -> Result<i64, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            messages::mark_read(&state, &me, &conversation_id, seq).await
        }
        .await,
    )
}

/// The members of a conversation, for members only.
#[server(endpoint = "members")]
#[cfg_attr(
    feature = "ssr",
    tracing::instrument(name = "conversation_members", skip_all)
)]
pub async fn conversation_members(
    conversation_id: ConversationId,
) -> Result<Vec<Member>, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            conversations::members(&state, &me, &conversation_id).await
        }
        .await,
    )
}
