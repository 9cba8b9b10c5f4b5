//! Keeping the server civil, where the store meets the live connections: personal blocks
//! (held in memory too, so that typing can be filtered per listener without a query per
//! frame), an admin blocking an account (its sockets close at once), and the dashboard
//! pushed to admins while any has it open.

use super::hub::Hub;
use super::presence::Presence;
use super::store::Store;
use super::{now_ms, AppState};
use crate::domain::admin::Dashboard;
use crate::domain::UserId;
use crate::protocol::{Event, Topic, CLOSE_SESSION_ENDED};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Every personal block: who each blocker blocked. The store is the truth; this copy is
/// loaded at start and changed with it. Looked up once per listener of a typing event,
/// so a look-up allocates nothing.
#[derive(Default)]
pub struct Blocks {
    by_blocker: RwLock<HashMap<UserId, HashSet<UserId>>>,
}

impl Blocks {
    pub fn load(&self, pairs: Vec<(UserId, UserId)>) {
        let mut map = self.by_blocker.write().unwrap_or_else(|p| p.into_inner());
        map.clear();
        for (blocker, blocked) in pairs {
            map.entry(blocker).or_default().insert(blocked);
        }
    }

    pub fn set(&self, blocker: &UserId, blocked: &UserId, on: bool) {
        let mut map = self.by_blocker.write().unwrap_or_else(|p| p.into_inner());
        if on {
            map.entry(blocker.clone())
                .or_default()
                .insert(blocked.clone());
        } else if let Some(set) = map.get_mut(blocker) {
            set.remove(blocked);
            if set.is_empty() {
                map.remove(blocker);
            }
        }
    }

    /// Drops every block `user` made or was the object of (their account was deleted).
    pub fn forget(&self, user: &UserId) {
        let mut map = self.by_blocker.write().unwrap_or_else(|p| p.into_inner());
        map.remove(user);
        map.retain(|_, blocked| {
            blocked.remove(user);
            !blocked.is_empty()
        });
    }

    /// Whether either of the two blocked the other.
    pub fn between(&self, a: &UserId, b: &UserId) -> bool {
        let map = self.by_blocker.read().unwrap_or_else(|p| p.into_inner());
        let blocked = |x: &UserId, y: &UserId| map.get(x).is_some_and(|s| s.contains(y));
        !map.is_empty() && (blocked(a, b) || blocked(b, a))
    }
}

/// After an account's sessions were deleted (an admin blocked it, or gave it a temporary
/// password): its open tabs close now, saying why, which also ends its calls and shows it
/// offline.
pub fn sessions_ended(state: &AppState, user: &UserId, reason: &'static str) {
    for conn in state.hub.connections_of(user) {
        conn.close(CLOSE_SESSION_ENDED, reason);
    }
}

/// What someone on either side of a personal block is told when refused.
pub fn blocked_error(side: crate::domain::BlockSide) -> crate::error::AppError {
    use crate::domain::BlockSide;
    use crate::error::AppError;
    AppError::Refused(match side {
        BlockSide::ByMe => "You blocked this person. Unblock them to message or call.".into(),
        BlockSide::ByThem => "This person is not accepting messages or calls from you.".into(),
    })
}

/// The dashboard as it is now.
pub async fn dashboard(
    store: &dyn Store,
    hub: &Hub,
    presence: &Presence,
) -> Result<Dashboard, super::store::StoreError> {
    let mut d = store.dashboard(now_ms()).await?;
    d.online_now = presence.online_count() as i64;
    d.connections = hub.connection_count() as i64;
    Ok(d)
}

/// How often the dashboard is recomputed while an admin has it open.
const DASHBOARD_EVERY: Duration = Duration::from_secs(1);

/// Pushes the dashboard to the admin topic when its figures change, while anyone listens.
/// Costs nothing while nobody has the dashboard open. Runs until dropped: `AppState::new`
/// runs it as a background task, which ends when the server begins to stop.
pub async fn push_dashboard(store: Arc<dyn Store>, hub: Arc<Hub>, presence: Arc<Presence>) {
    let mut last: Option<Dashboard> = None;
    let mut tick = tokio::time::interval(DASHBOARD_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !hub.has_subscribers(&Topic::Admin) {
            last = None;
            continue;
        }
        match dashboard(&*store, &hub, &presence).await {
            Ok(d) if last.as_ref() != Some(&d) => {
                hub.publish(
                    &Topic::Admin,
                    Event::Dashboard {
                        stats: Box::new(d.clone()),
                    },
                );
                last = Some(d);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("computing the dashboard: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Blocks;
    use crate::domain::UserId;

    #[test]
    fn a_block_stands_between_two_people_either_way_until_lifted() {
        let (ann, ben, cat) = (
            UserId::from("ann"),
            UserId::from("ben"),
            UserId::from("cat"),
        );
        let blocks = Blocks::default();
        blocks.load(vec![(ann.clone(), ben.clone())]);
        assert!(blocks.between(&ann, &ben) && blocks.between(&ben, &ann));
        assert!(!blocks.between(&ann, &cat));
        blocks.set(&cat, &ann, true);
        blocks.set(&ann, &ben, false);
        assert!(!blocks.between(&ben, &ann));
        assert!(blocks.between(&ann, &cat));
    }
}
