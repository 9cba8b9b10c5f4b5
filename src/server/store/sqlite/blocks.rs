//! Personal blocks: who keeps whom out.

use super::{id_column, user_from_row, SqliteStore};
use crate::domain::{BlockSide, User, UserId};
use crate::server::store::{BlockStore, Result, StoreError};
use async_trait::async_trait;

#[async_trait]
impl BlockStore for SqliteStore {
    async fn block_person(&self, blocker: &UserId, blocked: &UserId, now: i64) -> Result<bool> {
        if blocker == blocked {
            return Err(StoreError::Refused("You cannot block yourself."));
        }
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = $1")
            .bind(blocked.as_str())
            .fetch_optional(&self.pool)
            .await?;
        if found.is_none() {
            return Err(StoreError::NoSuchUser);
        }
        Ok(sqlx::query(
            "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (blocker_id, blocked_id) DO NOTHING",
        )
        .bind(blocker.as_str())
        .bind(blocked.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    async fn unblock_person(&self, blocker: &UserId, blocked: &UserId) -> Result<bool> {
        Ok(
            sqlx::query("DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2")
                .bind(blocker.as_str())
                .bind(blocked.as_str())
                .execute(&self.pool)
                .await?
                .rows_affected()
                == 1,
        )
    }

    async fn blocked_by(&self, user: &UserId) -> Result<Vec<User>> {
        let rows = sqlx::query(
            "SELECT u.id, u.username, u.display_name, u.role FROM blocks b
             JOIN users u ON u.id = b.blocked_id
             WHERE b.blocker_id = $1 ORDER BY u.username_normalized",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn all_blocks(&self) -> Result<Vec<(UserId, UserId)>> {
        let rows = sqlx::query("SELECT blocker_id, blocked_id FROM blocks")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((id_column(r, "blocker_id")?, id_column(r, "blocked_id")?)))
            .collect()
    }
}

/// Whether a block stands between two people, seen from `me`, inside the caller's
/// transaction.
pub(super) async fn block_between(
    conn: &mut sqlx::SqliteConnection,
    me: &UserId,
    other: &UserId,
) -> Result<Option<BlockSide>> {
    let blocker: Option<String> = sqlx::query_scalar(
        "SELECT blocker_id FROM blocks
         WHERE (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1)
         ORDER BY blocker_id = $1 DESC LIMIT 1",
    )
    .bind(me.as_str())
    .bind(other.as_str())
    .fetch_optional(conn)
    .await?;
    Ok(blocker.map(|b| {
        if b == me.as_str() {
            BlockSide::ByMe
        } else {
            BlockSide::ByThem
        }
    }))
}

/// Nobody puts a person into a group (and their bell) after that person blocked them.
pub(super) async fn require_not_blocked_by(
    conn: &mut sqlx::SqliteConnection,
    person: &UserId,
    by: &UserId,
) -> Result<()> {
    match block_between(conn, person, by).await? {
        Some(BlockSide::ByMe) => Err(StoreError::Blocked(BlockSide::ByThem)),
        _ => Ok(()),
    }
}
