//! Conversations: the list, finding people, direct conversations, groups and their
//! members, and muting. Membership is checked by the store inside each query.

use super::within_invitation_rate;
use crate::domain::PresenceState;
use crate::domain::{ConversationId, ConversationSummary, Member, User, UserId};
use crate::error::AppError;
use crate::protocol::{Event, Topic};
use crate::server::{now_ms, AppState};

/// Tells these users' tabs that their conversation lists changed.
fn lists_changed<'a>(state: &AppState, users: impl IntoIterator<Item = &'a UserId>) {
    for user in users {
        state
            .hub
            .publish(&Topic::User(user.clone()), Event::ConversationsChanged);
    }
}

/// The asker's conversations, newest activity first, each with the peer's presence for a
/// direct one (offline, and no last seen, across a block either way).
///
/// # Errors
/// [`AppError::Internal`] or [`AppError::Unavailable`] from the database.
#[tracing::instrument(skip_all, fields(user = %me.id))]
pub async fn list(state: &AppState, me: &User) -> Result<Vec<ConversationSummary>, AppError> {
    let mut list = state.store.conversations_of(&me.id).await?;
    for c in &mut list {
        if let Some(peer) = &c.peer {
            c.peer_presence = Some(match c.block {
                None => state.presence.state_of(&peer.id),
                Some(_) => PresenceState::Offline,
            });
            if c.block.is_some() {
                c.peer_last_seen_at = None;
            }
        }
    }
    Ok(list)
}

/// People to start a conversation with, by username or display name: at most 20, for a
/// query cut to 64 characters.
///
/// # Errors
/// [`AppError::Internal`] or [`AppError::Unavailable`] from the database.
#[tracing::instrument(skip_all, fields(user = %me.id))]
pub async fn search_people(
    state: &AppState,
    me: &User,
    query: &str,
) -> Result<Vec<User>, AppError> {
    let query: String = query.trim().chars().take(64).collect();
    Ok(state.store.search_users(&query, &me.id, 20).await?)
}

/// The direct conversation with `user_id`, created on first use; returns its id. Both
/// people's lists change.
///
/// # Errors
/// [`AppError::Invalid`] for oneself; [`AppError::RateLimited`] over the invitation rate;
/// [`AppError::NotFound`] for nobody; [`AppError::Refused`] across a block.
#[tracing::instrument(skip_all, fields(user = %me.id, with = %user_id))]
pub async fn open_direct(
    state: &AppState,
    me: &User,
    user_id: &UserId,
) -> Result<ConversationId, AppError> {
    if *user_id == me.id {
        return Err(AppError::invalid(
            "user_id",
            "Pick someone else to talk to.",
        ));
    }
    within_invitation_rate(state, me, "starting conversations")?;
    let id = state.store.open_direct(&me.id, user_id, now_ms()).await?;
    lists_changed(state, [&me.id, user_id]);
    Ok(id)
}

/// A group titled `title` with the asker as owner and `member_ids` as members; returns its
/// id. Every member's list changes, and the others get a notification.
///
/// # Errors
/// [`AppError::Invalid`] for a bad title or nobody else in it; [`AppError::RateLimited`]
/// over the invitation rate; [`AppError::Invalid`] for too many members.
#[tracing::instrument(skip_all, fields(user = %me.id, members = member_ids.len()))]
pub async fn create_group(
    state: &AppState,
    me: &User,
    title: &str,
    member_ids: &[UserId],
) -> Result<ConversationId, AppError> {
    let title = crate::domain::parse_group_title(title)?;
    if member_ids.iter().all(|m| *m == me.id) {
        return Err(AppError::invalid("members", "Pick at least one person."));
    }
    within_invitation_rate(state, me, "starting conversations")?;
    let id = state
        .store
        .create_group(&me.id, &title, member_ids, now_ms())
        .await?;
    lists_changed(state, member_ids.iter().chain([&me.id]));
    for member in member_ids.iter().filter(|m| **m != me.id) {
        let topic = Topic::User(member.clone());
        state.hub.publish(&topic, Event::NotificationsChanged);
    }
    Ok(id)
}

/// The group's owner adds `user_id`, who gets it in their list and a notification.
///
/// # Errors
/// [`AppError::RateLimited`] over the invitation rate; [`AppError::Forbidden`] unless the
/// asker owns the group; [`AppError::NotFound`] for nobody; [`AppError::Invalid`] when full.
#[tracing::instrument(skip_all, fields(user = %me.id, conversation = %conversation_id, member = %user_id))]
pub async fn add_member(
    state: &AppState,
    me: &User,
    conversation_id: &ConversationId,
    user_id: &UserId,
) -> Result<(), AppError> {
    within_invitation_rate(state, me, "starting conversations")?;
    state
        .store
        .add_group_member(conversation_id, &me.id, user_id, now_ms())
        .await?;
    let theirs = Topic::User(user_id.clone());
    state.hub.publish(&theirs, Event::ConversationsChanged);
    state.hub.publish(&theirs, Event::NotificationsChanged);
    state.hub.publish(
        &Topic::Conversation(conversation_id.clone()),
        Event::ConversationsChanged,
    );
    Ok(())
}

/// The group's owner removes `user_id`, whose open tabs stop receiving the group at once.
/// Subscribing takes the conversation's publish-order lock around its membership check,
/// and this holds it from the removal to the unsubscribe, so no subscription of the
/// removed member's can land in between and outlive the removal.
///
/// # Errors
/// [`AppError::Forbidden`] unless the asker owns the group; the database.
#[tracing::instrument(skip_all, fields(user = %me.id, conversation = %conversation_id, member = %user_id))]
pub async fn remove_member(
    state: &AppState,
    me: &User,
    conversation_id: &ConversationId,
    user_id: &UserId,
) -> Result<(), AppError> {
    let topic = Topic::Conversation(conversation_id.clone());
    {
        let _order = state.publish_order.lock(conversation_id).await;
        state
            .store
            .remove_group_member(conversation_id, &me.id, user_id)
            .await?;
        state.hub.unsubscribe_user(&topic, user_id);
    }
    state
        .hub
        .publish(&Topic::User(user_id.clone()), Event::ConversationsChanged);
    state.hub.publish(&topic, Event::ConversationsChanged);
    Ok(())
}

/// The members of a conversation, for its members only.
///
/// # Errors
/// [`AppError::Forbidden`] for a conversation the asker is not in (or that does not exist).
#[tracing::instrument(skip_all, fields(user = %me.id, conversation = %conversation_id))]
pub async fn members(
    state: &AppState,
    me: &User,
    conversation_id: &ConversationId,
) -> Result<Vec<Member>, AppError> {
    Ok(state.store.members(conversation_id, &me.id).await?)
}

/// Mutes or unmutes a conversation for the asker (still counted unread; no sound, no
/// desktop notification); their tabs reload the list.
///
/// # Errors
/// [`AppError::Forbidden`] for a conversation the asker is not in.
#[tracing::instrument(skip_all, fields(user = %me.id, conversation = %conversation_id, muted))]
pub async fn set_muted(
    state: &AppState,
    me: &User,
    conversation_id: &ConversationId,
    muted: bool,
) -> Result<(), AppError> {
    state
        .store
        .set_muted(conversation_id, &me.id, muted)
        .await?;
    state
        .hub
        .publish(&Topic::User(me.id.clone()), Event::ConversationsChanged);
    Ok(())
}
