//! What the server holds about calls besides the store: [`LiveCalls`], which tab of each
//! participant a live call is bound to; ending the calls a previous process left live; and
//! the ICE servers (STUN, and TURN with expiring credentials) handed to participants. What
//! people do with calls (start, answer, hang up, signal) is `actions::calls`.

use super::hub::ConnId;
use super::store::StoreError;
use super::{now_ms, AppState};
use crate::domain::call::{CallAction, CallOptions, IceServer};
use crate::domain::{CallId, UserId};
use base64::Engine;
use hmac::{Hmac, Mac};
use std::collections::HashMap;
use std::sync::Mutex;

/// Most signaling frames one side may send in one call: an offer, an answer and some
/// dozens of ICE candidates are normal; thousands are abuse.
pub const MAX_SIGNALS_PER_SIDE: u32 = 500;

/// The live calls of this server: which connection (tab) of each participant a call is
/// bound to, and how many signals each side has sent.
#[derive(Default)]
pub struct LiveCalls {
    bindings: Mutex<HashMap<CallId, Binding>>,
}

struct Binding {
    caller: (UserId, ConnId),
    /// Set when the callee answers, on the tab that answered.
    callee: Option<(UserId, ConnId)>,
    signals: HashMap<ConnId, u32>,
}

impl LiveCalls {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CallId, Binding>> {
        self.bindings.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn bind_caller(&self, call_id: &CallId, user_id: &UserId, conn: ConnId) {
        self.lock().insert(
            call_id.clone(),
            Binding {
                caller: (user_id.clone(), conn),
                callee: None,
                signals: HashMap::new(),
            },
        );
    }

    pub(crate) fn bind_callee(&self, call_id: &CallId, user_id: &UserId, conn: ConnId) {
        if let Some(b) = self.lock().get_mut(call_id) {
            b.callee = Some((user_id.clone(), conn));
        }
    }

    pub(crate) fn unbind(&self, call_id: &CallId) {
        self.lock().remove(call_id);
    }

    /// The connection a signal from `from` in this call goes to: the other participant's
    /// bound tab, once the call is answered. None for anyone else.
    pub(crate) fn peer_of(&self, call_id: &CallId, from: ConnId) -> Result<ConnId, &'static str> {
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
    pub(crate) fn calls_of(&self, conn: ConnId) -> Vec<(CallId, UserId)> {
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

/// Whether calls are allowed under these settings, and how long they ring (in seconds).
pub fn options_of(settings: &super::config::Settings) -> CallOptions {
    CallOptions {
        enabled: settings.calls_enabled,
        ring_timeout_secs: settings.call_ring_timeout_secs,
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
pub fn ice_servers(state: &AppState, user_id: &UserId) -> Vec<IceServer> {
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
    user_id: &UserId,
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
            &UserId::from("u-1"),
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
        let u = UserId::from("u");
        assert!(build_ice_servers(&[], &[], "", 1, &u).is_empty());
        // TURN without a secret would hand out credentials no server accepts.
        assert!(build_ice_servers(&[], &["turn:t".into()], "", 1, &u).is_empty());
    }

    #[test]
    fn signals_go_only_between_the_two_bound_tabs_of_an_answered_call() {
        let room = LiveCalls::default();
        let (k, other) = (CallId::from("k"), CallId::from("other"));
        let (ann, ben) = (UserId::from("ann"), UserId::from("ben"));
        room.bind_caller(&k, &ann, 1);
        // Not answered yet: nobody to relay to.
        assert!(room.peer_of(&k, 1).is_err());
        room.bind_callee(&k, &ben, 7);
        assert_eq!(room.peer_of(&k, 1), Ok(7));
        assert_eq!(room.peer_of(&k, 7), Ok(1));
        // Ben's other tab, a stranger's connection, another call: refused.
        assert!(room.peer_of(&k, 8).is_err());
        assert!(room.peer_of(&other, 1).is_err());
        assert_eq!(room.calls_of(7), vec![(k.clone(), ben.clone())]);
        room.unbind(&k);
        assert!(room.peer_of(&k, 1).is_err());
    }

    #[test]
    fn a_flood_of_signals_is_cut_off() {
        let room = LiveCalls::default();
        let k = CallId::from("k");
        let (ann, ben) = (UserId::from("ann"), UserId::from("ben"));
        room.bind_caller(&k, &ann, 1);
        room.bind_callee(&k, &ben, 2);
        for _ in 0..MAX_SIGNALS_PER_SIDE {
            assert!(room.peer_of(&k, 1).is_ok());
        }
        assert!(room.peer_of(&k, 1).is_err());
        // The other side's own allowance is untouched.
        assert!(room.peer_of(&k, 2).is_ok());
    }
}
