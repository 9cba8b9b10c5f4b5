//! Login sessions, stored by the hash of their token.

use super::{user_from_row, SqliteStore};
use crate::domain::User;
use crate::server::store::{NewSession, Result, SessionStore};
use async_trait::async_trait;

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, user_id: &str, session: &NewSession<'_>) -> Result<()> {
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

    async fn delete_sessions_of(&self, user: &str) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}

/// Inserts a session inside the caller's transaction (or on a connection).
pub(super) async fn insert_session(
    conn: &mut sqlx::SqliteConnection,
    user_id: &str,
    s: &NewSession<'_>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, created_at, expires_at, user_agent)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(s.token_hash)
    .bind(user_id)
    .bind(s.created_at)
    .bind(s.expires_at)
    .bind(s.user_agent)
    .execute(conn)
    .await?;
    Ok(())
}
