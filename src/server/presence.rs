//! Who is online. A user is online while any of their tabs is connected and not away,
//! away when every connected tab is away, and offline a short grace after the last tab
//! closes, so that a reload does not flash offline.

use super::hub::ConnId;
use crate::domain::{PresenceState, UserId};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How long after the last tab closes a user is shown offline.
pub const OFFLINE_GRACE: Duration = Duration::from_secs(3);

#[derive(Default)]
pub struct Presence {
    users: Mutex<HashMap<UserId, UserPresence>>,
    /// Users whose latest change waits for their presence rate to allow announcing it.
    deferred: Mutex<std::collections::HashSet<UserId>>,
}

#[derive(Default)]
struct UserPresence {
    tabs: HashMap<ConnId, PresenceState>,
    /// Bumped on every connect, so a pending "offline" can tell it was overtaken.
    epoch: u64,
    /// What others were last told.
    shown: Option<PresenceState>,
}

impl UserPresence {
    fn aggregate(&self) -> PresenceState {
        if self.tabs.is_empty() {
            PresenceState::Offline
        } else if self.tabs.values().any(|s| *s == PresenceState::Online) {
            PresenceState::Online
        } else {
            PresenceState::Away
        }
    }

    /// The state to announce, if it differs from what was last announced.
    fn changed(&mut self) -> Option<PresenceState> {
        let now = self.aggregate();
        (self.shown != Some(now)).then(|| {
            self.shown = Some(now);
            now
        })
    }
}

/// What a closing tab means for the user's presence.
#[derive(Debug, PartialEq, Eq)]
pub enum Left {
    /// Other tabs remain; announce this state if `Some`.
    Still(Option<PresenceState>),
    /// That was the last tab: confirm offline after the grace with this epoch.
    LastTab(u64),
}

impl Presence {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, UserPresence>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A tab connected, seen (`Online`) or hidden (`Away`) as it said when it opened;
    /// returns the state to announce if it changed.
    pub fn connected(
        &self,
        user: &UserId,
        conn: ConnId,
        state: PresenceState,
    ) -> Option<PresenceState> {
        let state = if state == PresenceState::Offline {
            PresenceState::Online
        } else {
            state
        };
        let mut users = self.lock();
        let p = users.entry(user.clone()).or_default();
        p.epoch += 1;
        p.tabs.insert(conn, state);
        p.changed()
    }

    /// A tab reported online or away.
    pub fn set(&self, user: &UserId, conn: ConnId, state: PresenceState) -> Option<PresenceState> {
        if state == PresenceState::Offline {
            return None;
        }
        let mut users = self.lock();
        let p = users.get_mut(user)?;
        if let Some(s) = p.tabs.get_mut(&conn) {
            *s = state;
        }
        p.changed()
    }

    pub fn disconnected(&self, user: &UserId, conn: ConnId) -> Left {
        let mut users = self.lock();
        let Some(p) = users.get_mut(user) else {
            return Left::Still(None);
        };
        p.tabs.remove(&conn);
        if p.tabs.is_empty() {
            Left::LastTab(p.epoch)
        } else {
            Left::Still(p.changed())
        }
    }

    /// After the grace: true if the user is still gone (then they are shown offline).
    pub fn confirm_offline(&self, user: &UserId, epoch: u64) -> bool {
        let mut users = self.lock();
        let gone = users
            .get(user)
            .is_some_and(|p| p.tabs.is_empty() && p.epoch == epoch);
        if gone {
            users.remove(user);
        }
        gone
    }

    /// Runs `f` with the user's current state while no other change can slip in between:
    /// announcements made this way reach everyone in the order the changes happened.
    pub fn announce<R>(&self, user: &UserId, f: impl FnOnce(PresenceState) -> R) -> R {
        let users = self.lock();
        let state = users
            .get(user)
            .and_then(|p| p.shown)
            .unwrap_or(PresenceState::Offline);
        f(state)
    }

    /// Marks the user's announcement as deferred; false if one already is (the change
    /// will go out with it, since an announcement says the state as it is when sent).
    pub fn defer_announcement(&self, user: &UserId) -> bool {
        self.deferred
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.clone())
    }

    /// The deferred announcement of the user goes out now.
    pub fn deferred_announcement_due(&self, user: &UserId) {
        self.deferred
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(user);
    }

    /// How many people have a tab connected now.
    pub fn online_count(&self) -> usize {
        self.lock().values().filter(|p| !p.tabs.is_empty()).count()
    }

    pub fn state_of(&self, user: &UserId) -> PresenceState {
        self.lock()
            .get(user)
            .and_then(|p| p.shown)
            .unwrap_or(PresenceState::Offline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_while_any_tab_is_online_away_when_all_are_away() {
        let p = Presence::default();
        let a = &UserId::from("a");
        assert_eq!(
            p.connected(a, 1, PresenceState::Online),
            Some(PresenceState::Online)
        );
        assert_eq!(p.connected(a, 2, PresenceState::Online), None);
        assert_eq!(p.set(a, 1, PresenceState::Away), None);
        assert_eq!(p.set(a, 2, PresenceState::Away), Some(PresenceState::Away));
        assert_eq!(p.state_of(a), PresenceState::Away);
        assert_eq!(p.disconnected(a, 2), Left::Still(None));
    }

    #[test]
    fn a_tab_that_opens_hidden_is_away_not_online() {
        let p = Presence::default();
        let a = &UserId::from("a");
        assert_eq!(
            p.connected(a, 1, PresenceState::Away),
            Some(PresenceState::Away)
        );
        assert_eq!(p.state_of(a), PresenceState::Away);
        // Seen later: online.
        assert_eq!(
            p.set(a, 1, PresenceState::Online),
            Some(PresenceState::Online)
        );
    }

    #[test]
    fn a_reload_does_not_go_offline() {
        let p = Presence::default();
        let a = &UserId::from("a");
        p.connected(a, 1, PresenceState::Online);
        let Left::LastTab(epoch) = p.disconnected(a, 1) else {
            panic!("expected the last tab")
        };
        // The reloaded page connects again within the grace.
        assert_eq!(p.connected(a, 2, PresenceState::Online), None);
        assert!(!p.confirm_offline(a, epoch));
        assert_eq!(p.state_of(a), PresenceState::Online);
    }

    #[test]
    fn closing_the_last_tab_goes_offline_after_the_grace() {
        let p = Presence::default();
        let a = &UserId::from("a");
        p.connected(a, 1, PresenceState::Online);
        let Left::LastTab(epoch) = p.disconnected(a, 1) else {
            panic!("expected the last tab")
        };
        assert!(p.confirm_offline(a, epoch));
        assert_eq!(p.state_of(a), PresenceState::Offline);
        assert_eq!(
            p.connected(a, 3, PresenceState::Online),
            Some(PresenceState::Online)
        );
    }
}
