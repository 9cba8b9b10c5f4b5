//! Login sessions, stored by the hash of their token.

use super::{user_from_row, SqliteStore};
use crate::domain::{SessionInfo, User, UserId};
use crate::server::store::{NewSession, Result, SessionStore};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, user_id: &UserId, session: &NewSession<'_>) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        insert_session(&mut conn, user_id, session).await
    }

    async fn session_user(&self, token_hash: &str, now: i64) -> Result<Option<User>> {
        let row = sqlx::query(
            "SELECT u.id, u.username, u.display_name, u.role
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1 AND s.expires_at > $2 AND u.blocked_at IS NULL
               AND u.must_change_password = 0",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_expired_sessions(&self, now: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    async fn delete_sessions_of(&self, user: &UserId, except: Option<&str>) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id IS NOT $2")
                .bind(user.as_str())
                .bind(except)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    async fn sessions_of(&self, user: &UserId, now: i64) -> Result<Vec<SessionInfo>> {
        let rows = sqlx::query(
            "SELECT id, user_agent, address, created_at,
                    COALESCE(last_active_at, created_at) AS last_active_at
             FROM sessions WHERE user_id = $1 AND expires_at > $2
             ORDER BY last_active_at DESC, created_at DESC",
        )
        .bind(user.as_str())
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SessionInfo {
                    id: row.try_get("id")?,
                    user_agent: row.try_get("user_agent")?,
                    address: row.try_get("address")?,
                    created_at: row.try_get("created_at")?,
                    last_active_at: row.try_get("last_active_at")?,
                    current: false,
                })
            })
            .collect()
    }

    async fn delete_session_of(&self, user: &UserId, session: &str) -> Result<bool> {
        Ok(
            sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
                .bind(session)
                .bind(user.as_str())
                .execute(&self.pool)
                .await?
                .rows_affected()
                == 1,
        )
    }

    async fn touch_session(&self, session: &str, now: i64, address: Option<&str>) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET last_active_at = $2, address = COALESCE($3, address)
             WHERE id = $1 AND COALESCE(last_active_at, created_at) <= $2 - 60000",
        )
        .bind(session)
        .bind(now)
        .bind(address)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Inserts a session inside the caller's transaction (or on a connection).
pub(super) async fn insert_session(
    conn: &mut sqlx::SqliteConnection,
    user_id: &UserId,
    s: &NewSession<'_>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, created_at, expires_at, user_agent, address)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(s.token_hash)
    .bind(user_id.as_str())
    .bind(s.created_at)
    .bind(s.expires_at)
    .bind(s.user_agent)
    .bind(s.address)
    .execute(conn)
    .await?;
    Ok(())
}
