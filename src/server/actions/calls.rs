//! Calls: start, answer, decline, hang up, signal. The store keeps the state machine and
//! the record (one transaction per change, with the call's log line and, for a missed
//! call, the callee's notification); this binds each live call to the two tabs taking part
//! ([`LiveCalls`](crate::server::calls::LiveCalls)), relays their signaling to each other and to nobody else, rings the
//! callee's tabs, and ends calls whose tab went away or whose ring timed out. Every change
//! holds the conversation's publish-order lock until it is published (its log line is a
//! message with a seq).

use crate::domain::call::{Call, CallAction, CallMedia, CallOptions, CallState, CallTicket};
use crate::domain::{CallId, ConversationId, User, UserId};
use crate::error::AppError;
use crate::protocol::{Event, ServerFrame, Signal, Topic};
use crate::server::calls::ice_servers;
use crate::server::hub::{ConnId, Connection};
use crate::server::store::{CallChange, StoreError};
use crate::server::{metrics, now_ms, within_rate, AppState};
use std::time::Duration;

/// Whether this server allows calls, and how long they ring (in seconds).
pub fn options(state: &AppState) -> CallOptions {
    crate::server::calls::options_of(&state.settings())
}

/// The connection must be one of the asker's own open tabs.
fn own_connection(state: &AppState, me: &User, conn: ConnId) -> Result<Connection, AppError> {
    state
        .hub
        .connection(conn)
        .filter(|c| c.user_id == me.id)
        .ok_or_else(|| {
            AppError::Refused(
                "This tab is not connected to the server; wait a moment and try again.".into(),
            )
        })
}

fn enabled(state: &AppState) -> Result<(), AppError> {
    if state.settings().calls_enabled {
        Ok(())
    } else {
        Err(AppError::Refused(
            "Calls are switched off on this server.".into(),
        ))
    }
}

/// Holds the call's conversation in order (its log line is a message with a seq) until the
/// change is published. No lock for a call that does not exist: the change will refuse it.
async fn lock_conversation_of<'a>(
    state: &'a AppState,
    call_id: &CallId,
) -> Option<tokio::sync::MutexGuard<'a, ()>> {
    match state.store.call_conversation(call_id).await {
        Ok(Some(conversation)) => Some(state.publish_order.lock(&conversation).await),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("finding the conversation of call {call_id}: {e}");
            None
        }
    }
}

/// Tells both participants' tabs about the call, and the conversation about its log line;
/// a missed call is a notification for the callee. A call over counts in the metrics by
/// its outcome.
fn publish(state: &AppState, change: &CallChange) {
    metrics::call_over(change.call.state);
    if change.call.state == CallState::Missed {
        state.hub.publish(
            &Topic::User(change.call.callee.id.clone()),
            Event::NotificationsChanged,
        );
    }
    for user in [&change.call.caller.id, &change.call.callee.id] {
        state.hub.publish(
            &Topic::User(user.clone()),
            Event::Call {
                call: Box::new(change.call.clone()),
            },
        );
    }
    if let Some(message) = &change.log {
        let topic = Topic::Conversation(message.conversation_id.clone());
        if change.callee_read {
            // Before the line itself: the callee's tabs know it is read when it arrives,
            // so it makes no sound and counts as no unread.
            state.hub.publish(
                &topic,
                Event::ReadMarked {
                    conversation_id: message.conversation_id.clone(),
                    user_id: change.call.callee.id.clone(),
                    seq: message.seq,
                },
            );
        }
        state.hub.publish(
            &topic,
            Event::MessageCreated {
                message: message.clone(),
            },
        );
    }
}

/// Rings the other member of a direct conversation from the asker's tab `conn` (the
/// `connection_id` of its `Hello`). A ringing call is bound to that tab before anyone hears
/// of it, and ends as missed after `call_ring_timeout_secs` unanswered. A callee already in
/// a call makes it `Busy` at once. Returns the call with the ICE servers to use.
///
/// # Errors
/// [`AppError::Refused`] when calls are off, for a tab not the asker's own, outside a
/// direct conversation, across a block, or when the asker is already in a call;
/// [`AppError::RateLimited`] over `calls_per_minute`; [`AppError::Forbidden`] for a
/// conversation the asker is not in.
#[tracing::instrument(skip_all, fields(user = %me.id, conversation = %conversation_id, conn))]
pub async fn start(
    state: &AppState,
    me: &User,
    conversation_id: &ConversationId,
    media: CallMedia,
    conn: ConnId,
) -> Result<CallTicket, AppError> {
    enabled(state)?;
    own_connection(state, me, conn)?;
    within_rate(&state.rates.calls, me.id.as_str(), || {
        format!(
            "You are starting calls too fast (at most {} a minute).",
            state.settings().calls_per_minute
        )
    })?;
    let order = state.publish_order.lock(conversation_id).await;
    let change = state
        .store
        .start_call(conversation_id, &me.id, media, now_ms())
        .await
        .map_err(|e| match e {
            // The other person's account is blocked by an admin (or gone).
            StoreError::NoSuchUser => AppError::Refused("This person cannot be called.".into()),
            other => other.into(),
        })?;
    let ringing = change.call.state == CallState::Ringing;
    if ringing {
        // Bound before anyone hears of the call, so an answer always finds the binding.
        state.calls.bind_caller(&change.call.id, &me.id, conn);
        let (timer, id) = (state.clone(), change.call.id.clone());
        let ring = Duration::from_secs(u64::from(state.settings().call_ring_timeout_secs));
        // A call still ringing when the server stops is ended at the next start.
        state.spawn(async move {
            tokio::time::sleep(ring).await;
            // Answered or over by now is the usual case, not an error.
            let _ = finish(&timer, None, &id, CallAction::RingTimeout).await;
        });
    }
    publish(state, &change);
    drop(order);
    if ringing {
        end_if_gone(state, &me.id, &change.call.id, conn).await;
    }
    Ok(CallTicket {
        ice_servers: ice_servers(state, &me.id),
        call: change.call,
    })
}

/// The tab may have closed while the call was being written; its close found nothing
/// bound then, so the call ends here. (The hub forgets a connection before its close
/// looks for calls, so one of the two always sees the other.)
async fn end_if_gone(state: &AppState, user: &UserId, call_id: &CallId, conn: ConnId) {
    if state.hub.connection(conn).is_none() {
        let _ = finish(state, Some(user), call_id, CallAction::HangUp).await;
    }
}

/// Answers a ringing call on the asker's tab `conn`, which the call is bound to; their
/// other tabs stop ringing. Returns the call with the ICE servers to use.
///
/// # Errors
/// [`AppError::Refused`] when calls are off, for a tab not the asker's own, or a call no
/// longer ringing; [`AppError::Forbidden`] for a call the asker is not the callee of.
#[tracing::instrument(skip_all, fields(user = %me.id, call = %call_id, conn))]
pub async fn answer(
    state: &AppState,
    me: &User,
    call_id: &CallId,
    conn: ConnId,
) -> Result<CallTicket, AppError> {
    enabled(state)?;
    own_connection(state, me, conn)?;
    let order = lock_conversation_of(state, call_id).await;
    let change = state
        .store
        .change_call(call_id, Some(&me.id), CallAction::Answer, now_ms())
        .await?;
    state.calls.bind_callee(call_id, &me.id, conn);
    publish(state, &change);
    drop(order);
    end_if_gone(state, &me.id, call_id, conn).await;
    Ok(CallTicket {
        ice_servers: ice_servers(state, &me.id),
        call: change.call,
    })
}

/// The callee declines a ringing call.
///
/// # Errors
/// As [`finish`].
pub async fn decline(state: &AppState, me: &User, call_id: &CallId) -> Result<Call, AppError> {
    finish(state, Some(&me.id), call_id, CallAction::Decline).await
}

/// Cancels a ringing call (caller), declines it (callee) or ends an answered one.
///
/// # Errors
/// As [`finish`].
pub async fn hang_up(state: &AppState, me: &User, call_id: &CallId) -> Result<Call, AppError> {
    finish(state, Some(&me.id), call_id, CallAction::HangUp).await
}

/// Declines, cancels, hangs up or times out a call (`asker` None: the server); a call over
/// is unbound from its tabs, and both people's tabs hear the change.
///
/// # Errors
/// [`AppError::Refused`] for a change the call's state does not allow (already over, say);
/// [`AppError::Forbidden`] for a call the asker takes no part in (or that does not exist).
#[tracing::instrument(skip_all, fields(call = %call_id, ?action))]
pub async fn finish(
    state: &AppState,
    asker: Option<&UserId>,
    call_id: &CallId,
    action: CallAction,
) -> Result<Call, AppError> {
    let _order = lock_conversation_of(state, call_id).await;
    let change = state
        .store
        .change_call(call_id, asker, action, now_ms())
        .await?;
    if !change.call.state.is_live() {
        state.calls.unbind(call_id);
    }
    publish(state, &change);
    Ok(change.call)
}

/// Relays a participant's signal (an offer, an answer, an ICE candidate: never read here)
/// from the tab `from` to the other participant's bound tab, and to nobody else.
///
/// # Errors
/// [`AppError::Refused`] from a tab not bound to the answered call, past
/// [`MAX_SIGNALS_PER_SIDE`](crate::server::calls::MAX_SIGNALS_PER_SIDE) (500) signals, or when the other tab is gone.
#[tracing::instrument(skip_all, fields(call = %call_id, conn = from.id))]
pub fn signal(
    state: &AppState,
    from: &Connection,
    call_id: CallId,
    signal: Signal,
) -> Result<(), AppError> {
    let refused = |why: &str| AppError::Refused(why.to_string());
    let peer = state.calls.peer_of(&call_id, from.id).map_err(refused)?;
    let peer = state
        .hub
        .connection(peer)
        .ok_or_else(|| refused("The other person is not connected."))?;
    peer.send(&ServerFrame::Event {
        topic: Topic::User(peer.user_id.clone()),
        event: Event::CallSignal { call_id, signal },
    });
    Ok(())
}

/// A tab closed: the calls it took part in end (a ringing call it placed is cancelled).
#[tracing::instrument(skip_all, fields(conn))]
pub async fn connection_closed(state: &AppState, conn: ConnId) {
    for (call_id, user) in state.calls.calls_of(conn) {
        if let Err(e) = finish(state, Some(&user), &call_id, CallAction::HangUp).await {
            tracing::debug!("ending call {call_id} of a closed connection: {e}");
        }
    }
}

/// Tells a tab that just connected about the calls its user is in or being rung for, as
/// they are now: a ringing call rings there too, and a call under way elsewhere is known.
/// Each call is read under its conversation's lock, which every change of a call holds
/// until it is published, so this tab (already subscribed to its user's topic) hears the
/// state and then every later change, never an older state after a newer one.
#[tracing::instrument(skip_all, fields(user = %user_id, conn = conn.id))]
pub async fn tell_live_calls(state: &AppState, user_id: &UserId, conn: &Connection) {
    let ids = match state.store.live_call_ids_of(user_id).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!("reading the live calls of a new connection: {e}");
            return;
        }
    };
    for id in ids {
        let _order = lock_conversation_of(state, &id).await;
        match state.store.call_for(&id, user_id).await {
            Ok(call) if call.state.is_live() => {
                conn.send(&ServerFrame::Event {
                    topic: Topic::User(user_id.clone()),
                    event: Event::Call {
                        call: Box::new(call),
                    },
                });
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("reading call {id} for a new connection: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::realtime::testing::{events_of, fixture, signed_in};
    use serde_json::json;

    #[tokio::test]
    async fn a_tab_opened_while_a_call_rings_hears_it_ring() {
        let f = fixture().await;
        let ben = signed_in(&f, "ben", "ben-session").await;
        let change = f
            .state
            .store
            .start_call(
                &f.ours,
                &ben.id,
                crate::domain::call::CallMedia::Audio,
                now_ms(),
            )
            .await
            .unwrap();
        // Ann opens a tab after the ring began.
        let (tab, mut rx) = f.state.hub.connect(&f.ann.id, "ann-session");
        tell_live_calls(&f.state, &f.ann.id, &tab).await;
        let calls = events_of(&mut rx, "call");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0]["event"]["call"]["id"], json!(change.call.id));
        assert_eq!(calls[0]["event"]["call"]["state"], json!("ringing"));
        // Nobody else's calls: Cat's tab hears nothing.
        let cat = "cat".into();
        let (cat_tab, mut cat_rx) = f.state.hub.connect(&cat, "cat-session");
        tell_live_calls(&f.state, &cat, &cat_tab).await;
        assert!(events_of(&mut cat_rx, "call").is_empty());
    }

    #[tokio::test]
    async fn calls_over_count_by_outcome() {
        use crate::server::metrics::{self, tests::value_of};
        metrics::recorder();
        let f = fixture().await;
        let ben = signed_in(&f, "ben", "ben-session").await;
        let (ann_tab, _ann_rx) = f.state.hub.connect(&f.ann.id, "ann-session");
        let (ben_tab, _ben_rx) = f.state.hub.connect(&ben.id, "ben-session");
        let outcome = |o: &str| value_of(&format!("natter_calls_total{{outcome=\"{o}\"}}"));
        let (declined, ended) = (outcome("declined"), outcome("ended"));
        let call = start(&f.state, &f.ann, &f.ours, CallMedia::Audio, ann_tab.id)
            .await
            .unwrap()
            .call;
        decline(&f.state, &ben, &call.id).await.unwrap();
        assert!(outcome("declined") >= declined + 1.0);
        let call = start(&f.state, &f.ann, &f.ours, CallMedia::Video, ann_tab.id)
            .await
            .unwrap()
            .call;
        answer(&f.state, &ben, &call.id, ben_tab.id).await.unwrap();
        hang_up(&f.state, &f.ann, &call.id).await.unwrap();
        assert!(outcome("ended") >= ended + 1.0);
    }

    #[tokio::test]
    async fn calling_someone_whose_account_is_blocked_is_refused_with_a_reason() {
        let f = fixture().await;
        let ben = signed_in(&f, "ben", "ben-session").await;
        f.state
            .store
            .set_account_blocked(&f.ann.id, &ben.id, true, now_ms())
            .await
            .unwrap();
        let (tab, _rx) = f.state.hub.connect(&f.ann.id, "ann-session");
        let refused = start(&f.state, &f.ann, &f.ours, CallMedia::Audio, tab.id).await;
        assert_eq!(
            refused.err(),
            Some(AppError::Refused("This person cannot be called.".into()))
        );
    }
}
