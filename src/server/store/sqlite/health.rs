//! Whether the database answers (`/readyz`).

use super::SqliteStore;
use crate::server::store::{HealthStore, Result};
use async_trait::async_trait;

#[async_trait]
impl HealthStore for SqliteStore {
    async fn ping(&self) -> Result<()> {
        // A read of a real table (not `SELECT 1`, which SQLite answers without the file).
        // In WAL mode readers never wait for a writer, so a long write does not fail it.
        sqlx::query("SELECT 1 FROM users LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(())
    }
}
