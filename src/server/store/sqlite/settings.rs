//! Settings changed in the admin area.

use super::SqliteStore;
use crate::domain::UserId;
use crate::server::store::{Result, SettingStore};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl SettingStore for SqliteStore {
    async fn stored_settings(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT key, value FROM settings ORDER BY key")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("key")?, r.try_get("value")?)))
            .collect()
    }

    async fn store_setting(&self, key: &str, value: &str, by: &UserId, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO UPDATE SET value = $2, updated_at = $3, updated_by = $4",
        )
        .bind(key)
        .bind(value)
        .bind(now)
        .bind(by.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
