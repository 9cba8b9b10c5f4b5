//! Administration and moderation: stored settings, the user list, admin blocks and roles,
//! temporary passwords, the dashboard's figures; personal blocks; notifications and mutes.
//!
//! Rules that protect the server itself (the last admin stays an admin and unblocked) are
//! checked inside the same transaction as the change.

use super::{user_from_row, Result, Store, StoreError};
use crate::admin::{AdminUser, CallOutcome, Dashboard, CHART_HOURS};
use crate::model::{BlockSide, Notification, NotificationKind, Role, User};
use sqlx::Row;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Inserts a notification inside the caller's transaction.
pub(super) async fn notify(
    conn: &mut sqlx::SqliteConnection,
    user: &str,
    kind: NotificationKind,
    conversation_id: &str,
    actor: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO notifications (id, user_id, kind, conversation_id, actor_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(user)
    .bind(kind.as_str())
    .bind(conversation_id)
    .bind(actor)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether a block stands between two people, seen from `me`.
pub(super) async fn block_between(
    conn: &mut sqlx::SqliteConnection,
    me: &str,
    other: &str,
) -> Result<Option<BlockSide>> {
    let blocker: Option<String> = sqlx::query_scalar(
        "SELECT blocker_id FROM blocks
         WHERE (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1)
         ORDER BY blocker_id = $1 DESC LIMIT 1",
    )
    .bind(me)
    .bind(other)
    .fetch_optional(conn)
    .await?;
    Ok(blocker.map(|b| {
        if b == me {
            BlockSide::ByMe
        } else {
            BlockSide::ByThem
        }
    }))
}

impl Store {
    /// Settings changed in the admin area: (key, text).
    pub async fn stored_settings(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT key, value FROM settings ORDER BY key")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("key")?, r.try_get("value")?)))
            .collect()
    }

    pub async fn store_setting(&self, key: &str, value: &str, by: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO UPDATE SET value = $2, updated_at = $3, updated_by = $4",
        )
        .bind(key)
        .bind(value)
        .bind(now)
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A page of users whose username or display name contains `query`, by username;
    /// `online` is filled in by the caller. Returns the page and how many match in all.
    pub async fn admin_users(
        &self,
        query: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<AdminUser>, i64)> {
        let pattern = like_pattern(query);
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users
             WHERE username_normalized LIKE $1 ESCAPE '\\' OR search_key LIKE $1 ESCAPE '\\'",
        )
        .bind(&pattern)
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query(
            "SELECT id, username, display_name, role, blocked_at, must_change_password,
                    created_at, last_seen_at
             FROM users
             WHERE username_normalized LIKE $1 ESCAPE '\\' OR search_key LIKE $1 ESCAPE '\\'
             ORDER BY username_normalized LIMIT $2 OFFSET $3",
        )
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let users = rows
            .iter()
            .map(|row| {
                Ok(AdminUser {
                    user: user_from_row(row)?,
                    blocked: row.try_get::<Option<i64>, _>("blocked_at")?.is_some(),
                    must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
                    created_at: row.try_get("created_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                    online: false,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((users, total))
    }

    /// Blocks or unblocks an account. Blocking ends every session of it in the same
    /// transaction. Nobody blocks themselves, and the last active admin stays unblocked.
    /// Returns false when the account was already in that state.
    pub async fn set_account_blocked(
        &self,
        admin: &str,
        target: &str,
        blocked: bool,
        now: i64,
    ) -> Result<bool> {
        if admin == target && blocked {
            return Err(StoreError::Refused("You cannot block your own account."));
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let role = role_of(&mut tx, target).await?;
        if blocked && role == Role::Admin && other_active_admins(&mut tx, target).await? == 0 {
            return Err(StoreError::Refused(
                "This is the last admin: make someone else an admin first.",
            ));
        }
        let change = if blocked {
            sqlx::query("UPDATE users SET blocked_at = $2 WHERE id = $1 AND blocked_at IS NULL")
                .bind(target)
                .bind(now)
        } else {
            sqlx::query(
                "UPDATE users SET blocked_at = NULL WHERE id = $1 AND blocked_at IS NOT NULL",
            )
            .bind(target)
        };
        let changed = change.execute(&mut *tx).await?.rows_affected() == 1;
        if blocked {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(target)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Makes an account an admin or an ordinary user; the last active admin stays one.
    pub async fn set_role(&self, target: &str, role: Role) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let current = role_of(&mut tx, target).await?;
        if current == Role::Admin
            && role == Role::User
            && other_active_admins(&mut tx, target).await? == 0
        {
            return Err(StoreError::Refused(
                "This is the last admin: make someone else an admin first.",
            ));
        }
        sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
            .bind(target)
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives an account a temporary password (already hashed): its sessions end, and the
    /// next login must choose a new password before it gets a session.
    pub async fn set_temporary_password(&self, target: &str, password_hash: &str) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let updated = sqlx::query(
            "UPDATE users SET password_hash = $2, must_change_password = 1 WHERE id = $1",
        )
        .bind(target)
        .bind(password_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::NoSuchUser);
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(target)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces a password chosen by its owner, if the stored hash is still the one the
    /// caller checked (a concurrent change wins otherwise); clears "must change" and ends
    /// every session made before, in one transaction.
    pub async fn replace_password(
        &self,
        user: &str,
        checked_hash: &str,
        new_hash: &str,
    ) -> Result<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let replaced = sqlx::query(
            "UPDATE users SET password_hash = $3, must_change_password = 0
             WHERE id = $1 AND password_hash = $2",
        )
        .bind(user)
        .bind(checked_hash)
        .bind(new_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if replaced {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(replaced)
    }

    /// The dashboard's figures from the database; `online_now` and `connections` are the
    /// caller's to fill in.
    pub async fn dashboard(&self, now: i64) -> Result<Dashboard> {
        let day_start = now - now.rem_euclid(DAY_MS);
        let last_hour_start = now - now.rem_euclid(HOUR_MS);
        let chart_start = last_hour_start - (CHART_HOURS as i64 - 1) * HOUR_MS;
        let counts = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM users) AS users,
                    (SELECT COUNT(*) FROM users WHERE blocked_at IS NOT NULL) AS blocked,
                    (SELECT COUNT(*) FROM conversations) AS conversations,
                    (SELECT COUNT(*) FROM messages WHERE created_at >= $1 AND kind = 'text')
                        AS messages_today",
        )
        .bind(day_start)
        .fetch_one(&self.pool)
        .await?;
        let outcomes = sqlx::query(
            "SELECT CASE state WHEN 'ended' THEN 'answered'
                               WHEN 'ringing' THEN 'live' WHEN 'active' THEN 'live'
                               ELSE state END AS outcome,
                    COUNT(*) AS n
             FROM calls WHERE created_at >= $1 GROUP BY outcome ORDER BY n DESC, outcome",
        )
        .bind(day_start)
        .fetch_all(&self.pool)
        .await?;
        let call_outcomes = outcomes
            .iter()
            .map(|r| {
                Ok(CallOutcome {
                    outcome: r.try_get("outcome")?,
                    count: r.try_get("n")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let hours = sqlx::query(
            "SELECT (created_at - $1) / $2 AS slot, COUNT(*) AS n FROM messages
             WHERE created_at >= $1 AND kind = 'text' GROUP BY slot",
        )
        .bind(chart_start)
        .bind(HOUR_MS)
        .fetch_all(&self.pool)
        .await?;
        let mut messages_per_hour = vec![0; CHART_HOURS];
        for r in &hours {
            let slot: i64 = r.try_get("slot")?;
            if let Some(n) = usize::try_from(slot)
                .ok()
                .and_then(|i| messages_per_hour.get_mut(i))
            {
                *n = r.try_get("n")?;
            }
        }
        Ok(Dashboard {
            users: counts.try_get("users")?,
            blocked_users: counts.try_get("blocked")?,
            online_now: 0,
            conversations: counts.try_get("conversations")?,
            messages_today: counts.try_get("messages_today")?,
            calls_today: call_outcomes.iter().map(|o| o.count).sum(),
            call_outcomes,
            connections: 0,
            messages_per_hour,
            last_hour_start,
        })
    }

    /// `blocker` keeps `blocked` out. Returns false if that block already stood.
    pub async fn block_person(&self, blocker: &str, blocked: &str, now: i64) -> Result<bool> {
        if blocker == blocked {
            return Err(StoreError::Refused("You cannot block yourself."));
        }
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = $1")
            .bind(blocked)
            .fetch_optional(&self.pool)
            .await?;
        if found.is_none() {
            return Err(StoreError::NoSuchUser);
        }
        Ok(sqlx::query(
            "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (blocker_id, blocked_id) DO NOTHING",
        )
        .bind(blocker)
        .bind(blocked)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Lifts a block `blocker` made. Returns false if there was none.
    pub async fn unblock_person(&self, blocker: &str, blocked: &str) -> Result<bool> {
        Ok(
            sqlx::query("DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2")
                .bind(blocker)
                .bind(blocked)
                .execute(&self.pool)
                .await?
                .rows_affected()
                == 1,
        )
    }

    /// The people `user` has blocked, by name.
    pub async fn blocked_by(&self, user: &str) -> Result<Vec<User>> {
        let rows = sqlx::query(
            "SELECT u.id, u.username, u.display_name, u.role FROM blocks b
             JOIN users u ON u.id = b.blocked_id
             WHERE b.blocker_id = $1 ORDER BY u.username_normalized",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Every block, as (blocker, blocked): loaded once at start into memory.
    pub async fn all_blocks(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT blocker_id, blocked_id FROM blocks")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("blocker_id")?, r.try_get("blocked_id")?)))
            .collect()
    }

    /// The user's newest notifications, with who and where.
    pub async fn notifications_of(&self, user: &str, limit: i64) -> Result<Vec<Notification>> {
        let rows = sqlx::query(
            "SELECT n.id, n.kind, n.conversation_id, n.created_at, n.read_at,
                    a.id AS actor_id, a.username, a.display_name, a.role,
                    COALESCE(c.title, a.display_name) AS conversation_title
             FROM notifications n
             JOIN users a ON a.id = n.actor_id
             JOIN conversations c ON c.id = n.conversation_id
             WHERE n.user_id = $1
             ORDER BY n.created_at DESC, n.id DESC LIMIT $2",
        )
        .bind(user)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                Ok(Notification {
                    id: r.try_get("id")?,
                    kind: NotificationKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("notification {kind:?}")))?,
                    conversation_id: r.try_get("conversation_id")?,
                    conversation_title: r.try_get("conversation_title")?,
                    actor: User {
                        id: r.try_get("actor_id")?,
                        username: r.try_get("username")?,
                        display_name: r.try_get("display_name")?,
                        role: Role::parse(&r.try_get::<String, _>("role")?).unwrap_or(Role::User),
                    },
                    created_at: r.try_get("created_at")?,
                    read: r.try_get::<Option<i64>, _>("read_at")?.is_some(),
                })
            })
            .collect()
    }

    /// Marks one of the user's notifications read (`Some`), or all of them (`None`).
    /// Returns how many changed; someone else's notification is never touched.
    pub async fn mark_notifications_read(
        &self,
        user: &str,
        id: Option<&str>,
        now: i64,
    ) -> Result<u64> {
        Ok(sqlx::query(
            "UPDATE notifications SET read_at = $3
             WHERE user_id = $1 AND read_at IS NULL AND ($2 IS NULL OR id = $2)",
        )
        .bind(user)
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Mutes or unmutes a conversation for one member.
    pub async fn set_muted(&self, conversation_id: &str, user: &str, muted: bool) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE members SET muted = $3 WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation_id)
        .bind(user)
        .bind(muted)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated == 1 {
            Ok(())
        } else {
            Err(StoreError::NotMember)
        }
    }

    /// Marks every conversation of the user read to its newest message; returns the
    /// (conversation, seq) marks that moved.
    pub async fn mark_all_conversations_read(&self, user: &str) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "UPDATE members SET last_read_seq = (
                 SELECT c.last_seq FROM conversations c WHERE c.id = members.conversation_id)
             WHERE user_id = $1 AND last_read_seq < (
                 SELECT c.last_seq FROM conversations c WHERE c.id = members.conversation_id)
             RETURNING conversation_id, last_read_seq",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("conversation_id")?, r.try_get("last_read_seq")?)))
            .collect()
    }
}

/// A LIKE pattern matching a search key (or a lower-case username) that contains `query`,
/// folded the same way (`text::search_key`), wildcards escaped.
pub(super) fn like_pattern(query: &str) -> String {
    let escaped = crate::text::search_key(query.trim())
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

async fn role_of(conn: &mut sqlx::SqliteConnection, user: &str) -> Result<Role> {
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
        .bind(user)
        .fetch_optional(conn)
        .await?;
    let role = role.ok_or(StoreError::NoSuchUser)?;
    Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))
}

async fn other_active_admins(conn: &mut sqlx::SqliteConnection, except: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND blocked_at IS NULL AND id <> $1",
    )
    .bind(except)
    .fetch_one(conn)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ann_ben_and_eve, fresh_store, user};
    use super::super::{NewSession, Sent};
    use super::*;
    use crate::call::{CallAction, CallMedia};

    async fn send(
        store: &Store,
        conversation_id: &str,
        sender: &str,
        id: &str,
        now: i64,
    ) -> Result<Sent> {
        store
            .send_message(conversation_id, sender, id, "hello", now)
            .await
    }

    async fn admin(store: &Store, name: &str) -> String {
        store
            .create_user(name, name, "h", Role::Admin, None, 1)
            .await
            .unwrap()
            .id
    }

    #[tokio::test]
    async fn a_personal_block_stops_dms_messages_and_calls_both_ways_until_lifted() {
        let (store, _dir) = fresh_store().await;
        let (ann, ben, eve, dm) = ann_ben_and_eve(&store).await;
        assert!(store.block_person(&ann, &ben, 5).await.unwrap());
        assert!(!store.block_person(&ann, &ben, 6).await.unwrap());
        for (who, side) in [(&ann, BlockSide::ByMe), (&ben, BlockSide::ByThem)] {
            let sent = send(&store, &dm, who, &format!("m-{who}"), 7).await;
            assert!(
                matches!(sent, Err(StoreError::Blocked(s)) if s == side),
                "{sent:?}"
            );
            let call = store.start_call(&dm, who, CallMedia::Audio, 7).await;
            assert!(
                matches!(call, Err(StoreError::Blocked(s)) if s == side),
                "{call:?}"
            );
        }
        // Lifted; then a block between Ben and Eve hides their presence from each other,
        // and a block stops a new direct conversation.
        store
            .unblock_person(&ann, &ben)
            .await
            .map(|lifted| assert!(lifted))
            .unwrap();
        let eve_ben = store.open_direct(&eve, &ben, 8).await.unwrap();
        store.block_person(&ben, &eve, 9).await.unwrap();
        assert!(matches!(
            send(&store, &eve_ben, &eve, "e-1", 10).await,
            Err(StoreError::Blocked(BlockSide::ByThem))
        ));
        assert_eq!(
            store.direct_conversation_ids_of(&eve).await.unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            store.direct_conversation_ids_of(&ben).await.unwrap(),
            vec![dm.clone()]
        );
        let cat = user(&store, "cat").await;
        store.block_person(&cat, &ann, 11).await.unwrap();
        assert!(matches!(
            store.open_direct(&ann, &cat, 12).await,
            Err(StoreError::Blocked(BlockSide::ByThem))
        ));
        // Lifted: Ann and Ben talk again.
        assert!(send(&store, &dm, &ann, "a-2", 13).await.is_ok());
        assert_eq!(store.blocked_by(&ben).await.unwrap()[0].id, eve);
        assert!(matches!(
            store.block_person(&ann, &ann, 1).await,
            Err(StoreError::Refused(_))
        ));
    }

    #[tokio::test]
    async fn a_send_refused_by_a_block_leaves_the_rest_of_its_commit_written() {
        let (store, _dir) = fresh_store().await;
        let (ann, ben, eve, dm) = ann_ben_and_eve(&store).await;
        let other = store.open_direct(&eve, &ann, 1).await.unwrap();
        store.block_person(&ben, &ann, 2).await.unwrap();
        let new = |conversation_id: &str, id: &str| super::super::NewMessage {
            conversation_id: conversation_id.to_string(),
            sender: ann.clone(),
            client_msg_id: id.to_string(),
            body: "hi".to_string(),
            now: 3,
        };
        let outcomes = store
            .send_messages(&[new(&dm, "a-1"), new(&other, "a-2")])
            .await
            .unwrap();
        assert!(matches!(
            outcomes[0],
            Err(StoreError::Blocked(BlockSide::ByThem))
        ));
        assert_eq!(outcomes[1].as_ref().map(|s| s.message.seq).ok(), Some(1));
    }

    #[tokio::test]
    async fn a_block_does_not_silence_anyone_in_a_group() {
        let (store, _dir) = fresh_store().await;
        let (ann, ben, _eve, _dm) = ann_ben_and_eve(&store).await;
        let group = store
            .create_group(&ann, "Team", std::slice::from_ref(&ben), 2)
            .await
            .unwrap();
        store.block_person(&ben, &ann, 3).await.unwrap();
        assert!(send(&store, &group, &ann, "g-1", 4).await.is_ok());
        assert!(send(&store, &group, &ben, "g-2", 5).await.is_ok());
    }

    #[tokio::test]
    async fn nobody_adds_a_person_who_blocked_them_to_a_group() {
        let (store, _dir) = fresh_store().await;
        let (ann, ben, eve, _dm) = ann_ben_and_eve(&store).await;
        store.block_person(&ben, &ann, 2).await.unwrap();
        assert!(matches!(
            store
                .create_group(&ann, "Team", &[eve.clone(), ben.clone()], 3)
                .await,
            Err(StoreError::Blocked(BlockSide::ByThem))
        ));
        let group = store
            .create_group(&ann, "Team", std::slice::from_ref(&eve), 4)
            .await
            .unwrap();
        assert!(matches!(
            store.add_group_member(&group, &ann, &ben, 5).await,
            Err(StoreError::Blocked(BlockSide::ByThem))
        ));
        assert!(store.notifications_of(&ben, 10).await.unwrap().is_empty());
        // Ben may still add Ann to his own group: he chose to.
        let his = store
            .create_group(&ben, "Ben's", std::slice::from_ref(&ann), 6)
            .await;
        assert!(his.is_ok());
    }

    #[tokio::test]
    async fn the_last_admin_can_be_neither_demoted_nor_blocked() {
        let (store, _dir) = fresh_store().await;
        let root = admin(&store, "root").await;
        let ann = user(&store, "ann").await;
        assert!(matches!(
            store.set_role(&root, Role::User).await,
            Err(StoreError::Refused(_))
        ));
        assert!(matches!(
            store.set_account_blocked(&ann, &root, true, 2).await,
            Err(StoreError::Refused(_))
        ));
        assert!(matches!(
            store.set_account_blocked(&root, &root, true, 2).await,
            Err(StoreError::Refused(_))
        ));
        // With a second admin, the first can step down.
        store.set_role(&ann, Role::Admin).await.unwrap();
        store.set_role(&root, Role::User).await.unwrap();
        assert!(matches!(
            store.set_role(&ann, Role::User).await,
            Err(StoreError::Refused(_))
        ));
        assert!(matches!(
            store.set_role("nobody", Role::Admin).await,
            Err(StoreError::NoSuchUser)
        ));
    }

    fn session(hash: &str) -> NewSession<'_> {
        NewSession {
            token_hash: hash,
            created_at: 0,
            expires_at: i64::MAX,
            user_agent: None,
        }
    }

    #[tokio::test]
    async fn blocking_an_account_ends_its_sessions_and_its_login() {
        let (store, _dir) = fresh_store().await;
        let root = admin(&store, "root").await;
        let ann = user(&store, "ann").await;
        store.create_session(&ann, &session("s-ann")).await.unwrap();
        assert!(store
            .set_account_blocked(&root, &ann, true, 5)
            .await
            .unwrap());
        assert_eq!(store.session_user("s-ann", 6).await.unwrap(), None);
        assert!(store.login_record("ann").await.unwrap().unwrap().blocked);
        // Unblocked: they log in again (the old session stays gone).
        assert!(store
            .set_account_blocked(&root, &ann, false, 7)
            .await
            .unwrap());
        assert!(!store.login_record("ann").await.unwrap().unwrap().blocked);
        assert_eq!(store.session_user("s-ann", 8).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_temporary_password_ends_sessions_and_must_be_replaced() {
        let (store, _dir) = fresh_store().await;
        let ann = user(&store, "ann").await;
        store.create_session(&ann, &session("s-ann")).await.unwrap();
        store
            .set_temporary_password(&ann, "temp-hash")
            .await
            .unwrap();
        assert_eq!(store.session_user("s-ann", 1).await.unwrap(), None);
        let record = store.login_record("ann").await.unwrap().unwrap();
        assert!(record.must_change_password);
        // A replacement checked against a hash that is no longer stored does nothing.
        assert!(!store.replace_password(&ann, "old", "new").await.unwrap());
        assert!(store
            .replace_password(&ann, "temp-hash", "new")
            .await
            .unwrap());
        assert!(
            !store
                .login_record("ann")
                .await
                .unwrap()
                .unwrap()
                .must_change_password
        );
    }

    #[tokio::test]
    async fn a_missed_call_and_a_group_addition_are_notifications_for_their_person_only() {
        let (store, _dir) = fresh_store().await;
        let (ann, ben, eve, dm) = ann_ben_and_eve(&store).await;
        let call = store
            .start_call(&dm, &ann, CallMedia::Video, 10)
            .await
            .unwrap();
        store
            .change_call(&call.call.id, None, CallAction::RingTimeout, 20)
            .await
            .unwrap();
        let group = store
            .create_group(&ann, "Team", std::slice::from_ref(&eve), 30)
            .await
            .unwrap();
        store
            .add_group_member(&group, &ann, &ben, 40)
            .await
            .unwrap();
        let bens = store.notifications_of(&ben, 50).await.unwrap();
        let kinds: Vec<_> = bens.iter().map(|n| (n.kind, n.read)).collect();
        assert_eq!(
            kinds,
            vec![
                (NotificationKind::AddedToGroup, false),
                (NotificationKind::MissedCall, false)
            ]
        );
        assert_eq!(crate::text::plain(&bens[1].text()), "Missed call from ann");
        assert_eq!(crate::text::plain(&bens[0].text()), "ann added you to Team");
        assert!(store.notifications_of(&ann, 50).await.unwrap().is_empty());
        // Eve cannot mark Ben's; Ben marks one, then all.
        let id = bens[0].id.clone();
        assert_eq!(
            store
                .mark_notifications_read(&eve, Some(&id), 60)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .mark_notifications_read(&ben, Some(&id), 60)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store.mark_notifications_read(&ben, None, 61).await.unwrap(),
            1
        );
        assert!(store
            .notifications_of(&ben, 50)
            .await
            .unwrap()
            .iter()
            .all(|n| n.read));
        assert_eq!(store.notifications_of(&eve, 50).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn mute_is_per_member_and_marking_all_read_moves_every_mark() {
        let (store, _dir) = fresh_store().await;
        let (ann, ben, eve, dm) = ann_ben_and_eve(&store).await;
        send(&store, &dm, &ann, "a-1", 2).await.unwrap();
        send(&store, &dm, &ann, "a-2", 3).await.unwrap();
        store.set_muted(&dm, &ben, true).await.unwrap();
        assert!(matches!(
            store.set_muted(&dm, &eve, true).await,
            Err(StoreError::NotMember)
        ));
        let bens = store.conversations_of(&ben).await.unwrap();
        assert!(bens[0].muted);
        assert_eq!(bens[0].unread(), 2, "muted still counts unread");
        assert!(!store.conversations_of(&ann).await.unwrap()[0].muted);
        assert_eq!(
            store.mark_all_conversations_read(&ben).await.unwrap(),
            vec![(dm.clone(), 2)]
        );
        assert!(store
            .mark_all_conversations_read(&ben)
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn the_dashboard_counts_todays_messages_and_calls_by_outcome() {
        let (store, _dir) = fresh_store().await;
        let (ann, ben, _eve, dm) = ann_ben_and_eve(&store).await;
        let day = 20_000 * DAY_MS;
        let now = day + 10 * HOUR_MS + 5;
        // Yesterday, an hour ago, and now.
        send(&store, &dm, &ann, "y", day - HOUR_MS).await.unwrap();
        send(&store, &dm, &ann, "h", now - HOUR_MS).await.unwrap();
        send(&store, &dm, &ben, "n", now).await.unwrap();
        let missed = store
            .start_call(&dm, &ann, CallMedia::Audio, now)
            .await
            .unwrap();
        store
            .change_call(&missed.call.id, None, CallAction::RingTimeout, now)
            .await
            .unwrap();
        let d = store.dashboard(now).await.unwrap();
        assert_eq!((d.users, d.conversations, d.messages_today), (3, 1, 2));
        assert_eq!(d.calls_today, 1);
        assert_eq!(d.call_outcomes[0].outcome, "missed");
        assert_eq!(d.messages_per_hour.len(), CHART_HOURS);
        let tail: Vec<i64> = d.messages_per_hour.iter().rev().take(3).copied().collect();
        assert_eq!(tail, vec![1, 1, 0]);
        assert_eq!(
            d.messages_per_hour.iter().sum::<i64>(),
            3,
            "yesterday's is in range"
        );
        assert_eq!(d.last_hour_start, day + 10 * HOUR_MS);
    }

    #[tokio::test]
    async fn the_admin_user_list_searches_and_pages() {
        let (store, _dir) = fresh_store().await;
        for i in 0..7 {
            user(&store, &format!("user_{i}")).await;
        }
        user(&store, "other").await;
        user(&store, "orbit").await;
        let (page, total) = store.admin_users("user_", 0, 5).await.unwrap();
        assert_eq!((page.len(), total), (5, 7));
        let (page, _) = store.admin_users("user_", 5, 5).await.unwrap();
        assert_eq!(page.len(), 2);
        let (all, total) = store.admin_users("", 0, 100).await.unwrap();
        assert_eq!((all.len(), total), (9, 9));
        // `_` is a literal, not a wildcard ("orbit" would match `r_` as a pattern).
        assert_eq!(store.admin_users("r_", 0, 5).await.unwrap().1, 7);
    }

    #[tokio::test]
    async fn stored_settings_are_kept_and_replaced() {
        let (store, _dir) = fresh_store().await;
        let root = admin(&store, "root").await;
        store
            .store_setting("max_message_chars", "10", &root, 1)
            .await
            .unwrap();
        store
            .store_setting("max_message_chars", "20", &root, 2)
            .await
            .unwrap();
        assert_eq!(
            store.stored_settings().await.unwrap(),
            vec![("max_message_chars".to_string(), "20".to_string())]
        );
    }
}
