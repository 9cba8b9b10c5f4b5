//! Presence announcements. [`crate::server::presence::Presence`] keeps each tab's stated
//! presence and the aggregate (online if any tab is, away if every tab is, offline with
//! none); this decides who hears of a change, and when.

use crate::domain::PresenceState;
use crate::domain::{User, UserId};
use crate::error::AppError;
use crate::protocol::{Event, Topic};
use crate::server::hub::ConnId;
use crate::server::presence::{Left, OFFLINE_GRACE};
use crate::server::{now_ms, AppState};

/// A tab opened its socket with this presence (`/ws?presence=away` for a hidden tab).
#[tracing::instrument(skip_all, fields(user = %me.id, conn, ?presence))]
pub async fn connected(state: &AppState, me: &User, conn: ConnId, presence: PresenceState) {
    if state.presence.connected(&me.id, conn, presence).is_some() {
        changed(state, &me.id).await;
    }
}

/// A tab says whether it is seen (it sends this on `visibilitychange`). Always recorded;
/// announced within the user's presence rate.
///
/// # Errors
/// None today: a change over the rate is deferred, not refused.
#[tracing::instrument(skip_all, fields(user = %me.id, conn, ?presence))]
pub async fn set(
    state: &AppState,
    me: &User,
    conn: ConnId,
    presence: PresenceState,
) -> Result<(), AppError> {
    if state.presence.set(&me.id, conn, presence).is_some() {
        changed(state, &me.id).await;
    }
    Ok(())
}

/// A tab closed. If others remain, a change is announced as usual. If it was the last, the
/// user goes offline only after [`OFFLINE_GRACE`] (3 s) with no tab back (a reload never
/// flashes offline); then `last_seen_at` (ms since the epoch) is written and announced.
#[tracing::instrument(skip_all, fields(user = %me.id, conn))]
pub async fn disconnected(state: &AppState, me: &User, conn: ConnId) {
    match state.presence.disconnected(&me.id, conn) {
        Left::Still(Some(_)) => changed(state, &me.id).await,
        Left::Still(None) => {}
        Left::LastTab(epoch) => {
            let (task_state, user_id) = (state.clone(), me.id.clone());
            state.spawn(async move {
                let state = task_state;
                tokio::time::sleep(OFFLINE_GRACE).await;
                if state.presence.confirm_offline(&user_id, epoch) {
                    let now = now_ms();
                    if let Err(e) = state.store.touch_last_seen(&user_id, now).await {
                        tracing::warn!("recording last seen: {e}");
                    }
                    announce(&state, &user_id, Some(now)).await;
                }
            });
        }
    }
}

/// A user's presence changed (a tab opened, closed, hid or showed): announced now if the
/// user's presence rate allows (`PRESENCE_PER_MINUTE`), otherwise once, when it does, as it
/// is then. Changes from opening and closing sockets count like those a tab states, so
/// neither can be used to flood the people the user talks with.
async fn changed(state: &AppState, user_id: &UserId) {
    match state.rates.presence.take(user_id.as_str()) {
        Ok(()) => announce(state, user_id, None).await,
        Err(wait) => {
            if !state.presence.defer_announcement(user_id) {
                return; // one is already on its way
            }
            let (task_state, user_id) = (state.clone(), user_id.clone());
            state.spawn(async move {
                let state = task_state;
                tokio::time::sleep(wait).await;
                state.presence.deferred_announcement_due(&user_id);
                announce(&state, &user_id, None).await;
            });
        }
    }
}

/// Tells the people the user has a direct conversation with what their presence is now.
/// Only direct conversations show presence; announcing it in groups too would send every
/// member of a room of a thousand a frame each time anyone in it opened or closed a tab.
/// The state is read when it is sent, not when it changed: two changes announced by two
/// tasks can finish their database look-ups in either order, and the last word must be
/// the current state.
async fn announce(state: &AppState, user_id: &UserId, last_seen_at: Option<i64>) {
    let ids = match state.store.direct_conversation_ids_of(user_id).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!("announcing presence: {e}");
            return;
        }
    };
    state.presence.announce(user_id, |presence| {
        let last_seen_at = last_seen_at.filter(|_| presence == PresenceState::Offline);
        for id in ids {
            state.hub.publish(
                &Topic::Conversation(id),
                Event::Presence {
                    user_id: user_id.clone(),
                    state: presence,
                    last_seen_at,
                },
            );
        }
    });
}
