//! Conversations and their members. Every method takes the asking user and checks
//! membership inside its own query, so no caller can forget to.

use super::accounts::require_active_user;
use super::blocks::{block_between, require_not_blocked_by};
use super::messages::{message_from_row, MESSAGE_COLUMNS};
use super::notifications::notify;
use super::{id_column, user_from_row, SqliteStore};
use crate::domain::{
    BlockSide, ConversationId, ConversationKind, ConversationSummary, GroupTitle, Member,
    NotificationKind, User, UserId,
};
use crate::server::store::{ConversationStore, Result, StoreError, GROUP_MAX_MEMBERS};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl ConversationStore for SqliteStore {
    async fn open_direct(&self, me: &UserId, other: &UserId, now: i64) -> Result<ConversationId> {
        let (a, b) = if me <= other {
            (me, other)
        } else {
            (other, me)
        };
        let key = format!("{a}:{b}");
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT id FROM conversations WHERE direct_key = $1")
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(id) = exists {
            return Ok(ConversationId::from(id));
        }
        require_active_user(&mut tx, other).await?;
        if let Some(side) = block_between(&mut tx, me, other).await? {
            return Err(StoreError::Blocked(side));
        }
        let id = insert_conversation(&mut tx, "direct", None, Some(&key), me, now).await?;
        for user in [a, b] {
            add_member(&mut tx, &id, user, "member", now).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn create_group(
        &self,
        owner: &UserId,
        title: &GroupTitle,
        members: &[UserId],
        now: i64,
    ) -> Result<ConversationId> {
        let mut others: Vec<&UserId> = members.iter().filter(|m| *m != owner).collect();
        others.sort();
        others.dedup();
        if others.len() + 1 > GROUP_MAX_MEMBERS {
            return Err(StoreError::GroupFull(GROUP_MAX_MEMBERS));
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let title = Some(title.as_str());
        let id = insert_conversation(&mut tx, "group", title, None, owner, now).await?;
        add_member(&mut tx, &id, owner, "owner", now).await?;
        for user in others {
            require_active_user(&mut tx, user).await?;
            require_not_blocked_by(&mut tx, user, owner).await?;
            add_member(&mut tx, &id, user, "member", now).await?;
            notify(
                &mut tx,
                user,
                NotificationKind::AddedToGroup,
                &id,
                owner,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn add_group_member(
        &self,
        conversation_id: &ConversationId,
        owner: &UserId,
        user: &UserId,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        require_group_owner(&mut tx, conversation_id, owner).await?;
        require_active_user(&mut tx, user).await?;
        require_not_blocked_by(&mut tx, user, owner).await?;
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE conversation_id = $1")
                .bind(conversation_id.as_str())
                .fetch_one(&mut *tx)
                .await?;
        if count as usize >= GROUP_MAX_MEMBERS {
            return Err(StoreError::GroupFull(GROUP_MAX_MEMBERS));
        }
        let added = sqlx::query(
            "INSERT INTO members (conversation_id, user_id, role, joined_at) VALUES ($1, $2, 'member', $3)
             ON CONFLICT (conversation_id, user_id) DO NOTHING",
        )
        .bind(conversation_id.as_str())
        .bind(user.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if added {
            let kind = NotificationKind::AddedToGroup;
            notify(&mut tx, user, kind, conversation_id, owner, now).await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    async fn remove_group_member(
        &self,
        conversation_id: &ConversationId,
        owner: &UserId,
        user: &UserId,
    ) -> Result<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        require_group_owner(&mut tx, conversation_id, owner).await?;
        let removed = sqlx::query(
            "DELETE FROM members WHERE conversation_id = $1 AND user_id = $2 AND role <> 'owner'",
        )
        .bind(conversation_id.as_str())
        .bind(user.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(removed)
    }

    async fn direct_conversation_ids_of(&self, user: &UserId) -> Result<Vec<ConversationId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT m.conversation_id FROM members m
             JOIN conversations c ON c.id = m.conversation_id AND c.kind = 'direct'
             WHERE m.user_id = $1 AND NOT EXISTS (
                 SELECT 1 FROM members o
                 JOIN blocks b ON (b.blocker_id = $1 AND b.blocked_id = o.user_id)
                               OR (b.blocker_id = o.user_id AND b.blocked_id = $1)
                 WHERE o.conversation_id = m.conversation_id AND o.user_id <> $1)",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(ConversationId::from).collect())
    }

    async fn is_member(&self, conversation_id: &ConversationId, user: &UserId) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2")
                .bind(conversation_id.as_str())
                .bind(user.as_str())
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn members(
        &self,
        conversation_id: &ConversationId,
        asker: &UserId,
    ) -> Result<Vec<Member>> {
        self.require_member(conversation_id, asker).await?;
        let rows = sqlx::query(
            "SELECT u.id, u.username, u.display_name, u.role, m.last_read_seq, m.role AS member_role,
                    EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $2 AND b.blocked_id = u.id)
                        AS blocked_by_me
             FROM members m
             JOIN users u ON u.id = m.user_id
             WHERE m.conversation_id = $1 ORDER BY u.display_name",
        )
        .bind(conversation_id.as_str())
        .bind(asker.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Member {
                    blocked_by_me: row.try_get::<bool, _>("blocked_by_me")?,
                    user: user_from_row(row)?,
                    last_read_seq: row.try_get("last_read_seq")?,
                    owner: row.try_get::<String, _>("member_role")? == "owner",
                })
            })
            .collect()
    }

    async fn conversations_of(&self, user: &UserId) -> Result<Vec<ConversationSummary>> {
        let rows = sqlx::query(
            "SELECT c.id, c.kind, c.title, c.last_seq, c.last_activity_at, me.last_read_seq,
                    me.muted,
                    p.id AS peer_id, p.username AS peer_username,
                    p.display_name AS peer_display_name, p.role AS peer_role,
                    p.last_seen_at AS peer_last_seen_at,
                    (SELECT b.blocker_id FROM blocks b
                     WHERE (b.blocker_id = $1 AND b.blocked_id = p.id)
                        OR (b.blocker_id = p.id AND b.blocked_id = $1)
                     ORDER BY b.blocker_id = $1 DESC LIMIT 1) AS blocker
             FROM members me
             JOIN conversations c ON c.id = me.conversation_id
             LEFT JOIN members pm ON c.kind = 'direct'
                  AND pm.conversation_id = c.id AND pm.user_id <> me.user_id
             LEFT JOIN users p ON p.id = pm.user_id
             WHERE me.user_id = $1
             ORDER BY c.last_activity_at DESC, c.id DESC",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut list = Vec::with_capacity(rows.len());
        for row in rows {
            let id: ConversationId = id_column(&row, "id")?;
            let kind = match row.try_get::<String, _>("kind")?.as_str() {
                "direct" => ConversationKind::Direct,
                _ => ConversationKind::Group,
            };
            let peer = match row.try_get::<Option<String>, _>("peer_id")? {
                Some(peer_id) => Some(User {
                    id: UserId::from(peer_id),
                    username: row.try_get("peer_username")?,
                    display_name: row.try_get("peer_display_name")?,
                    role: crate::domain::Role::parse(&row.try_get::<String, _>("peer_role")?)
                        .unwrap_or(crate::domain::Role::User),
                }),
                None => None,
            };
            let last_seq: i64 = row.try_get("last_seq")?;
            let last_message = if last_seq > 0 {
                let m = sqlx::query(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.conversation_id = $1 AND m.seq = $2"
                ))
                .bind(id.as_str())
                .bind(last_seq)
                .fetch_optional(&self.pool)
                .await?;
                m.as_ref().map(message_from_row).transpose()?
            } else {
                None
            };
            let title = match (&kind, &peer) {
                (ConversationKind::Direct, Some(p)) => p.display_name.clone(),
                _ => row
                    .try_get::<Option<String>, _>("title")?
                    .unwrap_or_default(),
            };
            list.push(ConversationSummary {
                id,
                kind,
                title,
                peer,
                last_seq,
                last_read_seq: row.try_get("last_read_seq")?,
                last_activity_at: row.try_get("last_activity_at")?,
                last_message,
                peer_presence: None,
                peer_last_seen_at: row.try_get("peer_last_seen_at")?,
                muted: row.try_get::<i64, _>("muted")? != 0,
                block: row.try_get::<Option<String>, _>("blocker")?.map(|b| {
                    match b == user.as_str() {
                        true => BlockSide::ByMe,
                        false => BlockSide::ByThem,
                    }
                }),
            });
        }
        Ok(list)
    }

    async fn membership_count(&self, user: &UserId) -> Result<usize> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE user_id = $1")
            .bind(user.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

impl SqliteStore {
    /// Fails with `NotMember` unless `user` is a member of the conversation.
    pub(super) async fn require_member(
        &self,
        conversation_id: &ConversationId,
        user: &UserId,
    ) -> Result<()> {
        if self.is_member(conversation_id, user).await? {
            Ok(())
        } else {
            Err(StoreError::NotMember)
        }
    }
}

/// Inserts a conversation row (members are added separately) and returns its new id.
async fn insert_conversation(
    conn: &mut sqlx::SqliteConnection,
    kind: &str,
    title: Option<&str>,
    direct_key: Option<&str>,
    created_by: &UserId,
    now: i64,
) -> Result<ConversationId> {
    let id = ConversationId::from(uuid::Uuid::now_v7().to_string());
    sqlx::query(
        "INSERT INTO conversations (id, kind, title, direct_key, created_by, created_at, last_activity_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(id.as_str())
    .bind(kind)
    .bind(title)
    .bind(direct_key)
    .bind(created_by.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(id)
}

async fn require_group_owner(
    conn: &mut sqlx::SqliteConnection,
    conversation_id: &ConversationId,
    owner: &UserId,
) -> Result<()> {
    let role: Option<String> = sqlx::query_scalar(
        "SELECT m.role FROM members m JOIN conversations c ON c.id = m.conversation_id
         WHERE m.conversation_id = $1 AND m.user_id = $2 AND c.kind = 'group'",
    )
    .bind(conversation_id.as_str())
    .bind(owner.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    match role.as_deref() {
        Some("owner") => Ok(()),
        Some(_) => Err(StoreError::NotOwner),
        None => Err(StoreError::NotMember),
    }
}

async fn add_member(
    conn: &mut sqlx::SqliteConnection,
    conversation_id: &ConversationId,
    user: &UserId,
    role: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO members (conversation_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (conversation_id, user_id) DO NOTHING",
    )
    .bind(conversation_id.as_str())
    .bind(user.as_str())
    .bind(role)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
