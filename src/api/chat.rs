//! Conversations and messages. Membership is checked by the store inside each query.

use crate::error::AppError;
use crate::model::{ConversationSummary, Member, Message, User};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use {
    super::support::{answer, request_headers},
    crate::model::{check_client_msg_id, parse_message_body},
    crate::protocol::{Event, Topic},
    crate::server::{auth, now_ms, store::NewMessage, AppState},
};

/// How many messages one page of history holds.
pub const PAGE_SIZE: i64 = 50;

#[cfg(feature = "ssr")]
pub(crate) async fn signed_in() -> Result<(AppState, User), AppError> {
    let state = AppState::current()?;
    match auth::user_from_headers(&*state.store, &request_headers()).await? {
        Some(user) => Ok((state, user)),
        None => Err(AppError::Unauthorized),
    }
}

/// Tells these users' tabs that their conversation lists changed.
#[cfg(feature = "ssr")]
fn lists_changed<'a>(state: &AppState, users: impl IntoIterator<Item = &'a String>) {
    for user in users {
        state
            .hub
            .publish(&Topic::User(user.clone()), Event::ConversationsChanged);
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
            let mut list = state.store.conversations_of(&me.id).await?;
            for c in &mut list {
                if let Some(peer) = &c.peer {
                    c.peer_presence = Some(match c.block {
                        None => state.presence.state_of(&peer.id),
                        Some(_) => crate::protocol::PresenceState::Offline,
                    });
                    if c.block.is_some() {
                        c.peer_last_seen_at = None;
                    }
                }
            }
            Ok(list)
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
            let query: String = query.trim().chars().take(64).collect();
            state
                .store
                .search_users(&query, &me.id, 20)
                .await
                .map_err(AppError::from)
        }
        .await,
    )
}

/// The direct conversation with `user_id`, created on first use.
#[server(endpoint = "open_direct")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "open_direct", skip_all))]
pub async fn open_direct(user_id: String) -> Result<String, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            if user_id == me.id {
                return Err(AppError::invalid(
                    "user_id",
                    "Pick someone else to talk to.",
                ));
            }
            crate::server::within_rate(&state.rates.invitations, &me.id, || {
                format!(
                    "You are starting conversations too fast (at most {} a minute).",
                    crate::server::INVITATIONS_PER_MINUTE
                )
            })?;
            let id = state.store.open_direct(&me.id, &user_id, now_ms()).await?;
            lists_changed(&state, [&me.id, &user_id]);
            Ok(id)
        }
        .await,
    )
}

/// A group with a name and at least one other member; the creator owns it.
#[server(endpoint = "create_group")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "create_group", skip_all))]
pub async fn create_group(
    title: String,
    #[server(default)] member_ids: Vec<String>,
) -> Result<String, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            let title = crate::model::parse_group_title(&title)?;
            if member_ids.iter().all(|m| *m == me.id) {
                return Err(AppError::invalid("members", "Pick at least one person."));
            }
            crate::server::within_rate(&state.rates.invitations, &me.id, || {
                format!(
                    "You are starting conversations too fast (at most {} a minute).",
                    crate::server::INVITATIONS_PER_MINUTE
                )
            })?;
            let id = state
                .store
                .create_group(&me.id, &title, &member_ids, now_ms())
                .await?;
            lists_changed(&state, member_ids.iter().chain([&me.id]));
            for member in member_ids.iter().filter(|m| **m != me.id) {
                let topic = Topic::User(member.clone());
                state.hub.publish(&topic, Event::NotificationsChanged);
            }
            Ok(id)
        }
        .await,
    )
}

/// The group's owner adds someone.
#[server(endpoint = "add_member")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "add_member", skip_all))]
pub async fn add_member(conversation_id: String, user_id: String) -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            crate::server::within_rate(&state.rates.invitations, &me.id, || {
                format!(
                    "You are starting conversations too fast (at most {} a minute).",
                    crate::server::INVITATIONS_PER_MINUTE
                )
            })?;
            state
                .store
                .add_group_member(&conversation_id, &me.id, &user_id, now_ms())
                .await?;
            let theirs = Topic::User(user_id);
            state.hub.publish(&theirs, Event::ConversationsChanged);
            state.hub.publish(&theirs, Event::NotificationsChanged);
            state.hub.publish(
                &Topic::Conversation(conversation_id),
                Event::ConversationsChanged,
            );
            Ok(())
        }
        .await,
    )
}

/// The group's owner removes someone; their open tabs stop receiving the group at once.
#[server(endpoint = "remove_member")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "remove_member", skip_all))]
pub async fn remove_member(conversation_id: String, user_id: String) -> Result<(), AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            state
                .remove_group_member(&conversation_id, &me.id, &user_id)
                .await?;
            let topic = Topic::Conversation(conversation_id);
            state
                .hub
                .publish(&Topic::User(user_id), Event::ConversationsChanged);
            state.hub.publish(&topic, Event::ConversationsChanged);
            Ok(())
        }
        .await,
    )
}

/// The send path: who asks -> may they (membership, in the store's transaction) -> valid
/// -> persist (idempotent on `client_msg_id`) -> only after commit, publish.
#[server(endpoint = "send_message")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "send_message", skip_all))]
pub async fn send_message(
    conversation_id: String,
    client_msg_id: String,
    body: String,
) -> Result<Message, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            check_client_msg_id(&client_msg_id)?;
            let body = parse_message_body(&body, state.settings().max_message_chars)?;
            let now = std::time::Instant::now();
            if let Err(wait) = state.rates.messages.take(&me.id, now) {
                let secs = wait.as_secs() + 1;
                return Err(AppError::RateLimited {
                    message: format!(
                        "You are sending messages too fast (at most {} a minute). \
                         Waiting {secs} s before sending.",
                        state.settings().messages_per_minute
                    ),
                    retry_after_secs: secs,
                });
            }
            // Until published: events of one conversation go out in seq order.
            let _in_order = state.in_order.lock(&conversation_id).await;
            let sent = if state.settings().store_messages {
                state
                    .writer
                    .send(NewMessage {
                        conversation_id: conversation_id.clone(),
                        sender: me.id.clone(),
                        client_msg_id,
                        body,
                        now: now_ms(),
                    })
                    .await
            } else {
                state
                    .relay
                    .message(
                        &*state.store,
                        &conversation_id,
                        &me.id,
                        &client_msg_id,
                        &body,
                    )
                    .await
            }?;
            if sent.created {
                state.hub.publish(
                    &Topic::Conversation(conversation_id),
                    Event::MessageCreated {
                        message: sent.message.clone(),
                    },
                );
            }
            Ok(sent.message)
        }
        .await,
    )
}

/// A page of history: the newest messages before `before_seq` (or the newest of all).
#[server(endpoint = "messages")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "load_messages", skip_all))]
pub async fn load_messages(
    conversation_id: String,
    before_seq: Option<i64>,
) -> Result<Vec<Message>, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            state
                .store
                .messages_before(
                    &conversation_id,
                    &me.id,
                    before_seq.unwrap_or(i64::MAX),
                    PAGE_SIZE,
                )
                .await
                .map_err(AppError::from)
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
    conversation_id: String,
    after_seq: i64,
) -> Result<Vec<Message>, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            state
                .store
                .messages_after(&conversation_id, &me.id, after_seq, PAGE_SIZE)
                .await
                .map_err(AppError::from)
        }
        .await,
    )
}

/// Marks the conversation read up to `seq`; other members and the user's other tabs hear.
#[server(endpoint = "mark_read")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "mark_read", skip_all))]
pub async fn mark_read(conversation_id: String, seq: i64) -> Result<i64, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            let (mark, moved) = state
                .store
                .move_read_mark(&conversation_id, &me.id, seq)
                .await?;
            if !moved {
                // Nothing changed: nobody is told.
                return Ok(mark);
            }
            state.hub.publish(
                &Topic::Conversation(conversation_id.clone()),
                Event::ReadMarked {
                    conversation_id,
                    user_id: me.id.clone(),
                    seq: mark,
                },
            );
            state
                .hub
                .publish(&Topic::User(me.id), Event::ConversationsChanged);
            Ok(mark)
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
pub async fn conversation_members(conversation_id: String) -> Result<Vec<Member>, AppError> {
    answer(
        async move {
            let (state, me) = signed_in().await?;
            state
                .store
                .members(&conversation_id, &me.id)
                .await
                .map_err(AppError::from)
        }
        .await,
    )
}
