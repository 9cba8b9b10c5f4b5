//! Typing indicators. The server keeps no timer: a tab refreshes `active: true` while its
//! person types (the browser sends one at most every 2 s) and the browser drops an
//! indicator not refreshed for `TYPING_TTL_MS` (5 s).

use crate::domain::{ConversationId, User};
use crate::error::AppError;
use crate::protocol::{Event, Topic};
use crate::server::hub::Connection;
use crate::server::AppState;

/// Where one connection last said its user is typing: one conversation at most. Each
/// connection keeps its own, so a closing tab can take back only what it said.
#[derive(Debug, Default)]
pub struct TypingIn(Option<ConversationId>);

/// A connection says its user started (`active`) or stopped typing in a conversation.
/// Accepted only in a conversation the connection is subscribed to (subscribing checked
/// membership, and leaving a conversation unsubscribes). A start takes a token from the
/// user's typing rate (over all their tabs) and is relayed every time, as the refresh;
/// starting in another conversation stops the one before. A stop is relayed only if this
/// connection had said it was typing there: a stop that changes nothing tells nobody.
///
/// # Errors
/// [`AppError::Refused`] outside the connection's subscriptions;
/// [`AppError::RateLimited`] over `typing_per_minute` (its message gives the wait in ms).
#[tracing::instrument(skip_all, fields(user = %me.id, conversation = %conversation_id, active))]
pub fn set(
    state: &AppState,
    me: &User,
    conn: &Connection,
    typing_in: &mut TypingIn,
    conversation_id: ConversationId,
    active: bool,
) -> Result<(), AppError> {
    let topic = Topic::Conversation(conversation_id.clone());
    if !state.hub.is_subscribed(&topic, conn.id) {
        return Err(AppError::Refused(
            "You can only type in conversations you have open.".into(),
        ));
    }
    if active {
        if let Err(wait) = state.rates.typing.take(me.id.as_str()) {
            return Err(AppError::RateLimited {
                message: format!(
                    "Typing updates are too frequent: at most {} a minute. Wait {} ms.",
                    state.settings().typing_per_minute,
                    wait.as_millis()
                ),
                retry_after_secs: wait.as_secs() + 1,
            });
        }
        // Typing moved to another conversation: it stopped in the one before.
        if let Some(before) = typing_in.0.take().filter(|c| *c != conversation_id) {
            publish(state, me, before, false);
        }
        typing_in.0 = Some(conversation_id.clone());
    } else if typing_in.0.as_ref() == Some(&conversation_id) {
        typing_in.0 = None;
    } else {
        // Not typing there: nothing changed, so nothing is told.
        return Ok(());
    }
    publish(state, me, conversation_id, active);
    Ok(())
}

/// A closing connection stops showing its user as typing, where it had said so.
pub fn stop(state: &AppState, me: &User, typing_in: &mut TypingIn) {
    if let Some(conversation_id) = typing_in.0.take() {
        publish(state, me, conversation_id, false);
    }
}

/// To the other people's tabs in the conversation (never the typist's own: nobody is told
/// that they themselves are typing), except those of people on either side of a personal
/// block with the typist (the in-memory copy, so the filter costs no query).
fn publish(state: &AppState, me: &User, conversation_id: ConversationId, active: bool) {
    let topic = Topic::Conversation(conversation_id.clone());
    let blocks = &state.blocks;
    state.hub.publish_to(
        &topic,
        Event::Typing {
            conversation_id,
            user_id: me.id.clone(),
            display_name: me.display_name.clone(),
            active,
        },
        |c| c.user_id != me.id && !blocks.between(&me.id, &c.user_id),
    );
}
