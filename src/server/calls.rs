//! Calls on the server: the store keeps the state machine and the record; this module binds
//! each live call to the two connections (tabs) taking part, relays their signaling to each
//! other and to nobody else, rings the callee's tabs, and ends calls whose tab went away or
//! whose ring timed out.

use super::hub::{ConnId, Connection};
use super::store::{CallChange, StoreError};
use super::{now_ms, AppState};
use crate::call::{Call, CallAction, CallMedia, CallState, CallTicket, IceServer};
use crate::error::AppError;
use crate::model::User;
use crate::protocol::{Event, ServerFrame, Signal, Topic};
use base64::Engine;
use hmac::{Hmac, Mac};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Most signaling frames one side may send in one call: an offer, an answer and some
/// dozens of ICE candidates are normal; thousands are abuse.
const MAX_SIGNALS_PER_SIDE: u32 = 500;

/// Which connection of each participant a live call belongs to.
#[derive(Default)]
pub struct CallRoom {
    bindings: Mutex<HashMap<String, Binding>>,
}

struct Binding {
    caller: (String, ConnId),
    /// Set when the callee answers, on the tab that answered.
    callee: Option<(String, ConnId)>,
    signals: HashMap<ConnId, u32>,
}

impl CallRoom {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Binding>> {
        self.bindings.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bind_caller(&self, call_id: &str, user_id: &str, conn: ConnId) {
        self.lock().insert(
            call_id.to_string(),
            Binding {
                caller: (user_id.to_string(), conn),
                callee: None,
                signals: HashMap::new(),
            },
        );
    }

    fn bind_callee(&self, call_id: &str, user_id: &str, conn: ConnId) {
        if let Some(b) = self.lock().get_mut(call_id) {
            b.callee = Some((user_id.to_string(), conn));
        }
    }

    fn unbind(&self, call_id: &str) {
        self.lock().remove(call_id);
    }

    /// The connection a signal from `from` in this call goes to: the other participant's
    /// bound tab, once the call is answered. None for anyone else.
    fn peer_of(&self, call_id: &str, from: ConnId) -> Result<ConnId, &'static str> {
        let mut all = self.lock();
        let b = all.get_mut(call_id).ok_or("You are not in that call.")?;
        let peer = match &b.callee {
            Some((_, callee)) if b.caller.1 == from => *callee,
            Some((_, callee)) if *callee == from => b.caller.1,
            _ => return Err("You are not in that call."),
        };
        let sent = b.signals.entry(from).or_default();
        *sent += 1;
        if *sent > MAX_SIGNALS_PER_SIDE {
            return Err("Too many signaling messages for one call.");
        }
        Ok(peer)
    }

    /// The calls a connection is bound to, with the user it speaks for.
    fn calls_of(&self, conn: ConnId) -> Vec<(String, String)> {
        self.lock()
            .iter()
            .filter_map(|(id, b)| {
                if b.caller.1 == conn {
                    Some((id.clone(), b.caller.0.clone()))
                } else {
                    match &b.callee {
                        Some((user, c)) if *c == conn => Some((id.clone(), user.clone())),
                        _ => None,
                    }
                }
            })
            .collect()
    }
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
    call_id: &str,
) -> Option<tokio::sync::MutexGuard<'a, ()>> {
    match state.store.call_conversation(call_id).await {
        Ok(Some(conversation)) => Some(state.in_order.lock(&conversation).await),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("finding the conversation of call {call_id}: {e}");
            None
        }
    }
}

/// Tells both participants' tabs about the call, and the conversation about its log line;
/// a missed call is a notification for the callee.
fn publish(state: &AppState, change: &CallChange) {
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

/// Rings the other member of a direct conversation from the asker's tab `conn`.
#[tracing::instrument(name = "start_call", skip_all)]
pub async fn start(
    state: &AppState,
    me: &User,
    conversation_id: &str,
    media: CallMedia,
    conn: ConnId,
) -> Result<CallTicket, AppError> {
    enabled(state)?;
    own_connection(state, me, conn)?;
    super::within_rate(&state.rates.calls, &me.id, || {
        format!(
            "You are starting calls too fast (at most {} a minute).",
            state.settings().calls_per_minute
        )
    })?;
    let in_order = state.in_order.lock(conversation_id).await;
    let change = state
        .store
        .start_call(conversation_id, &me.id, media, now_ms())
        .await?;
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
    drop(in_order);
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
async fn end_if_gone(state: &AppState, user: &str, call_id: &str, conn: ConnId) {
    if state.hub.connection(conn).is_none() {
        let _ = finish(state, Some(user), call_id, CallAction::HangUp).await;
    }
}

/// Answers a ringing call on the asker's tab `conn`; their other tabs stop ringing.
#[tracing::instrument(name = "answer_call", skip_all)]
pub async fn answer(
    state: &AppState,
    me: &User,
    call_id: &str,
    conn: ConnId,
) -> Result<CallTicket, AppError> {
    enabled(state)?;
    own_connection(state, me, conn)?;
    let in_order = lock_conversation_of(state, call_id).await;
    let change = state
        .store
        .change_call(call_id, Some(&me.id), CallAction::Answer, now_ms())
        .await?;
    state.calls.bind_callee(call_id, &me.id, conn);
    publish(state, &change);
    drop(in_order);
    end_if_gone(state, &me.id, call_id, conn).await;
    Ok(CallTicket {
        ice_servers: ice_servers(state, &me.id),
        call: change.call,
    })
}

/// Declines, cancels, hangs up or times out a call (`asker` None: the server).
#[tracing::instrument(name = "finish_call", skip_all)]
pub async fn finish(
    state: &AppState,
    asker: Option<&str>,
    call_id: &str,
    action: CallAction,
) -> Result<Call, AppError> {
    let _in_order = lock_conversation_of(state, call_id).await;
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

/// Relays a participant's signal to the other participant's tab, and to nobody else.
pub fn relay(
    state: &AppState,
    from: &Connection,
    call_id: String,
    signal: Signal,
) -> Result<(), &'static str> {
    let peer = state.calls.peer_of(&call_id, from.id)?;
    let peer = state
        .hub
        .connection(peer)
        .ok_or("The other person is not connected.")?;
    peer.send(&ServerFrame::Event {
        topic: Topic::User(peer.user_id.clone()),
        event: Event::CallSignal { call_id, signal },
    });
    Ok(())
}

/// A tab closed: the calls it took part in end (a ringing call it placed is cancelled).
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
pub async fn tell_live_calls(state: &AppState, user_id: &str, conn: &Connection) {
    let ids = match state.store.live_call_ids_of(user_id).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!("reading the live calls of a new connection: {e}");
            return;
        }
    };
    for id in ids {
        let _in_order = lock_conversation_of(state, &id).await;
        match state.store.call_for(&id, user_id).await {
            Ok(call) if call.state.is_live() => {
                conn.send(&ServerFrame::Event {
                    topic: Topic::User(user_id.to_string()),
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

/// After a restart nobody holds the calls that were live: they end, with their log lines.
pub async fn abandon_stale(store: &dyn super::store::Store) -> Result<usize, StoreError> {
    let ids = store.live_call_ids().await?;
    for id in &ids {
        store
            .change_call(id, None, CallAction::Abandon, now_ms())
            .await?;
    }
    Ok(ids.len())
}

/// The ICE servers for a participant: STUN as configured, and TURN with credentials made
/// for this user that expire (the TURN REST API scheme: username `expiry:user`, password
/// base64 HMAC-SHA1 of it with the shared secret).
pub fn ice_servers(state: &AppState, user_id: &str) -> Vec<IceServer> {
    let s = state.settings();
    let now_secs = (now_ms() / 1000).max(0) as u64;
    build_ice_servers(
        &s.stun_urls.0,
        &s.turn_urls.0,
        &s.turn_secret,
        now_secs + u64::from(s.turn_credential_ttl_secs),
        user_id,
    )
}

fn build_ice_servers(
    stun: &[String],
    turn: &[String],
    secret: &str,
    expires_at_secs: u64,
    user_id: &str,
) -> Vec<IceServer> {
    let mut servers = Vec::new();
    if !stun.is_empty() {
        servers.push(IceServer {
            urls: stun.to_vec(),
            username: None,
            credential: None,
        });
    }
    if !turn.is_empty() && !secret.is_empty() {
        let username = format!("{expires_at_secs}:{user_id}");
        servers.push(IceServer {
            urls: turn.to_vec(),
            credential: Some(turn_password(secret, &username)),
            username: Some(username),
        });
    }
    servers
}

fn turn_password(secret: &str, username: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_credentials_follow_the_turn_rest_api_scheme() {
        // Known answer, computed independently:
        // base64(hmac_sha1(b"north-wind", b"1700086400:u-1"))
        let servers = build_ice_servers(
            &["stun:stun.example:3478".into()],
            &["turn:turn.example:3478".into()],
            "north-wind",
            1_700_086_400,
            "u-1",
        );
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].urls, vec!["stun:stun.example:3478"]);
        assert_eq!(servers[0].username, None);
        assert_eq!(servers[1].username.as_deref(), Some("1700086400:u-1"));
        assert_eq!(
            servers[1].credential.as_deref(),
            Some("7ZmXB+egdKTqYi1bzhKW12D5R9w=")
        );
    }

    #[test]
    fn with_no_ice_servers_configured_none_are_handed_out() {
        assert!(build_ice_servers(&[], &[], "", 1, "u").is_empty());
        // TURN without a secret would hand out credentials no server accepts.
        assert!(build_ice_servers(&[], &["turn:t".into()], "", 1, "u").is_empty());
    }

    #[test]
    fn signals_go_only_between_the_two_bound_tabs_of_an_answered_call() {
        let room = CallRoom::default();
        room.bind_caller("k", "ann", 1);
        // Not answered yet: nobody to relay to.
        assert!(room.peer_of("k", 1).is_err());
        room.bind_callee("k", "ben", 7);
        assert_eq!(room.peer_of("k", 1), Ok(7));
        assert_eq!(room.peer_of("k", 7), Ok(1));
        // Ben's other tab, a stranger's connection, another call: refused.
        assert!(room.peer_of("k", 8).is_err());
        assert!(room.peer_of("other", 1).is_err());
        assert_eq!(room.calls_of(7), vec![("k".to_string(), "ben".to_string())]);
        room.unbind("k");
        assert!(room.peer_of("k", 1).is_err());
    }

    #[test]
    fn a_flood_of_signals_is_cut_off() {
        let room = CallRoom::default();
        room.bind_caller("k", "ann", 1);
        room.bind_callee("k", "ben", 2);
        for _ in 0..MAX_SIGNALS_PER_SIDE {
            assert!(room.peer_of("k", 1).is_ok());
        }
        assert!(room.peer_of("k", 1).is_err());
        // The other side's own allowance is untouched.
        assert!(room.peer_of("k", 2).is_ok());
    }
}
