//! The bell (missed calls, being added to a group) and muting a conversation.

use super::{id_column, SqliteStore};
use crate::domain::{ConversationId, Notification, NotificationKind, Role, User, UserId};
use crate::server::store::{NotificationStore, Result, StoreError};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl NotificationStore for SqliteStore {
    async fn notifications_of(&self, user: &UserId, limit: i64) -> Result<Vec<Notification>> {
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
        .bind(user.as_str())
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
                    conversation_id: id_column(r, "conversation_id")?,
                    conversation_title: r.try_get("conversation_title")?,
                    actor: User {
                        id: id_column(r, "actor_id")?,
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

    async fn mark_notifications_read(
        &self,
        user: &UserId,
        id: Option<&str>,
        now: i64,
    ) -> Result<u64> {
        Ok(sqlx::query(
            "UPDATE notifications SET read_at = $3
             WHERE user_id = $1 AND read_at IS NULL AND ($2 IS NULL OR id = $2)",
        )
        .bind(user.as_str())
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    async fn set_muted(
        &self,
        conversation_id: &ConversationId,
        user: &UserId,
        muted: bool,
    ) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE members SET muted = $3 WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation_id.as_str())
        .bind(user.as_str())
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
}

/// Inserts a notification inside the caller's transaction.
pub(super) async fn notify(
    conn: &mut sqlx::SqliteConnection,
    user: &UserId,
    kind: NotificationKind,
    conversation_id: &ConversationId,
    actor: &UserId,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO notifications (id, user_id, kind, conversation_id, actor_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(user.as_str())
    .bind(kind.as_str())
    .bind(conversation_id.as_str())
    .bind(actor.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
