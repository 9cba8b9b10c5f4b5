//! Personal blocks: what each person controls for themselves. A block keeps someone out:
//! no new direct conversation, no messages in the existing one, no calls (one under way
//! ends), and neither sees the other's presence or typing.

use super::within_invitation_rate;
use crate::domain::call::CallAction;
use crate::domain::PresenceState;
use crate::domain::{User, UserId};
use crate::error::AppError;
use crate::protocol::{Event, Topic};
use crate::server::{now_ms, AppState};

/// The asker blocks `user_id`. A new block hides each one's presence from the other at
/// once and reloads both lists; a block that already stood changes nothing and tells
/// nobody. A call between the two ends, hung up by the one who blocked.
///
/// # Errors
/// [`AppError::RateLimited`] over the invitation rate; [`AppError::NotFound`] for nobody.
#[tracing::instrument(skip_all, fields(user = %me.id, blocked = %user_id))]
pub async fn block(state: &AppState, me: &User, user_id: &UserId) -> Result<(), AppError> {
    within_invitation_rate(state, me, "blocking and unblocking")?;
    let added = state.store.block_person(&me.id, user_id, now_ms()).await?;
    if added {
        changed(state, &me.id, user_id, true);
    }
    let live = state.store.live_calls_between(&me.id, user_id).await?;
    for call_id in live {
        // Over by now is the usual reason for a refusal here, not an error.
        let _ = super::calls::finish(state, Some(&me.id), &call_id, CallAction::HangUp).await;
    }
    Ok(())
}

/// The asker lifts their block of `user_id`; both lists reload and show presence again
/// where it belongs (a direct conversation, no block left either way).
///
/// # Errors
/// [`AppError::RateLimited`] over the invitation rate.
#[tracing::instrument(skip_all, fields(user = %me.id, blocked = %user_id))]
pub async fn unblock(state: &AppState, me: &User, user_id: &UserId) -> Result<(), AppError> {
    within_invitation_rate(state, me, "blocking and unblocking")?;
    let lifted = state.store.unblock_person(&me.id, user_id).await?;
    if lifted {
        changed(state, &me.id, user_id, false);
    }
    Ok(())
}

/// The people the asker has blocked.
///
/// # Errors
/// From the database.
#[tracing::instrument(skip_all, fields(user = %me.id))]
pub async fn blocked(state: &AppState, me: &User) -> Result<Vec<User>, AppError> {
    Ok(state.store.blocked_by(&me.id).await?)
}

/// After a personal block changes: the in-memory copy follows, and both lists show it. A
/// new block hides each one's presence from the other at once.
fn changed(state: &AppState, blocker: &UserId, blocked: &UserId, on: bool) {
    state.blocks.set(blocker, blocked, on);
    for (me, other) in [(blocker, blocked), (blocked, blocker)] {
        if on {
            state.hub.publish(
                &Topic::User(other.clone()),
                Event::Presence {
                    user_id: me.clone(),
                    state: PresenceState::Offline,
                    last_seen_at: None,
                },
            );
        }
        state
            .hub
            .publish(&Topic::User(me.clone()), Event::ConversationsChanged);
    }
}
