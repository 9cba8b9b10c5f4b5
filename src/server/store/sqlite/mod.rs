//! The SQLite backend (WAL, `synchronous = FULL`), the embedded default. Every query is
//! written in SQL that ports to PostgreSQL ($n placeholders, RETURNING, ON CONFLICT, times
//! as i64 milliseconds). Writes that read before they write take the write lock first
//! (`BEGIN IMMEDIATE`), so a transaction never fails half-way on a lock upgrade.
//!
//! One file per noun: `accounts`, `sessions`, `conversations`, `messages` (the write
//! path), `read_marks`, `calls`, `blocks`, `notifications` (and mute), `settings`,
//! `dashboard`, `health`. This file opens the pool, runs the migrations and turns SQLite's errors
//! into [`StoreError`]s.

use super::{Result, StoreError};
use crate::domain::{Role, User};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::Row;
use std::str::FromStr;
use std::time::Duration;

mod accounts;
mod backup;
mod blocks;
mod calls;
mod conversations;
mod dashboard;
mod health;
mod messages;
mod notifications;
mod read_marks;
mod sessions;
mod settings;

/// A SQLite database, through a pool of connections.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite:...`) and brings its
    /// schema up to date, waiting at most 5 s for a database another process locked.
    ///
    /// # Errors
    /// A URL SQLite cannot read, a file it cannot create or open, a failed migration.
    pub async fn open(url: &str) -> Result<SqliteStore> {
        SqliteStore::open_with(url, Duration::from_secs(5)).await
    }

    /// Like `open`, waiting at most `busy_timeout` for a database another process locked
    /// before a write fails with [`StoreError::Unavailable`].
    ///
    /// # Errors
    /// As [`SqliteStore::open`].
    pub async fn open_with(url: &str, busy_timeout: Duration) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged write survives a power cut, not only a process crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(busy_timeout);
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migration: {e}")))?;
        let store = SqliteStore { pool };
        store.fill_search_keys().await?;
        Ok(store)
    }

    /// Computes the search key of every user that has none yet (rows written before the
    /// column existed): the key needs Unicode case folding, which SQL cannot do here.
    async fn fill_search_keys(&self) -> Result<()> {
        let missing: Vec<(String, String)> =
            sqlx::query_as("SELECT id, display_name FROM users WHERE search_key = ''")
                .fetch_all(&self.pool)
                .await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for (id, display_name) in missing {
            sqlx::query("UPDATE users SET search_key = $2 WHERE id = $1")
                .bind(id)
                .bind(crate::server::store::search_key::search_key(&display_name))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// SQLite's errors, classified: the store's callers see kinds, never the driver's type.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_unique_violation(&e) {
            StoreError::Conflict(e.to_string())
        } else if is_unavailable(&e) {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Backend(e.to_string())
        }
    }
}

/// The database cannot be used right now: locked by another process or busy past the
/// timeout, read-only, full, an I/O error, a file it cannot open, or no connection free in
/// time. The transaction did not commit; the same request may succeed later.
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            // Primary result codes: BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN.
            .is_some_and(|c| matches!(c & 0xff, 5 | 6 | 8 | 10 | 13 | 14)),
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => true,
        _ => false,
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

/// `e` as `unique` when it is a unique violation (the domain's name for that duplicate),
/// classified as any other error otherwise.
fn unique_or(e: sqlx::Error, unique: StoreError) -> StoreError {
    if is_unique_violation(&e) {
        unique
    } else {
        e.into()
    }
}

fn user_from_row(row: &SqliteRow) -> Result<User> {
    prefixed_user_from_row(row, "")
}

/// A user whose columns carry a prefix (`a_id`, `a_username`, ...) in a joined row.
fn prefixed_user_from_row(row: &SqliteRow, prefix: &str) -> Result<User> {
    let col = |name: &str| format!("{prefix}{name}");
    let role: String = row.try_get(col("role").as_str())?;
    Ok(User {
        id: id_column(row, &col("id"))?,
        username: row.try_get(col("username").as_str())?,
        display_name: row.try_get(col("display_name").as_str())?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
    })
}

/// An id column of `row` as the id type it holds (`UserId`, `ConversationId`, ...).
fn id_column<T: From<String>>(row: &SqliteRow, column: &str) -> Result<T> {
    Ok(T::from(row.try_get::<String, _>(column)?))
}

/// A LIKE pattern matching a search key (or a lower-case username) that contains `query`,
/// folded the same way (`store::search_key::search_key`), wildcards escaped.
fn like_pattern(query: &str) -> String {
    let escaped = crate::server::store::search_key::search_key(query.trim())
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::server::store::Store;
    use std::sync::Arc;

    /// A fresh database in its own temporary directory.
    pub(crate) async fn fresh_store() -> (Arc<dyn Store>, tempfile::TempDir) {
        let (store, dir) = fresh_sqlite().await;
        (Arc::new(store), dir)
    }

    /// A store whose pool is closed, as a stopping server's is: every call fails at once.
    pub(crate) async fn closed_store() -> (Arc<dyn Store>, tempfile::TempDir) {
        let (store, dir) = fresh_sqlite().await;
        store.pool.close().await;
        (Arc::new(store), dir)
    }

    /// [`fresh_store`] as the SQLite type, for tests of SQLite itself.
    async fn fresh_sqlite() -> (SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/natter.db", dir.path().display());
        (SqliteStore::open(&url).await.unwrap(), dir)
    }

    /// A connection of another program holding the write lock of the database at `url`
    /// (a backup, a stuck migration) until released.
    pub(crate) struct WriteLock(sqlx::SqliteConnection);

    impl WriteLock {
        pub(crate) async fn take(url: &str) -> WriteLock {
            use sqlx::{Connection, Executor};
            let mut other = sqlx::SqliteConnection::connect(url).await.unwrap();
            other.execute("BEGIN EXCLUSIVE").await.unwrap();
            WriteLock(other)
        }

        pub(crate) async fn release(mut self) {
            use sqlx::Executor;
            self.0.execute("ROLLBACK").await.unwrap();
        }
    }

    #[tokio::test]
    async fn the_database_runs_in_wal_mode() {
        let (store, _dir) = fresh_sqlite().await;
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    /// A store that waits at most 100 ms for a lock, and another program holding the write
    /// lock of its database.
    async fn store_locked_by_another_program() -> (SqliteStore, WriteLock, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/natter.db", dir.path().display());
        let store = SqliteStore::open_with(&url, Duration::from_millis(100))
            .await
            .unwrap();
        let lock = WriteLock::take(&url).await;
        (store, lock, dir)
    }

    #[tokio::test]
    async fn a_ping_answers_while_another_program_writes_and_fails_once_closed() {
        use crate::server::store::HealthStore;
        let (store, lock, _dir) = store_locked_by_another_program().await;
        store.ping().await.unwrap();
        lock.release().await;
        store.pool.close().await;
        assert!(store.ping().await.is_err());
    }

    #[tokio::test]
    async fn a_locked_database_is_unavailable_and_a_duplicate_is_a_conflict() {
        let (store, lock, _dir) = store_locked_by_another_program().await;
        let locked =
            sqlx::query("INSERT INTO settings (key, value, updated_at) VALUES ('k', 'v', 1)")
                .execute(&store.pool)
                .await
                .map_err(StoreError::from);
        assert!(
            matches!(&locked, Err(e @ StoreError::Unavailable(_)) if e.is_unavailable()),
            "{locked:?}"
        );
        lock.release().await;
        let insert = || {
            sqlx::query("INSERT INTO settings (key, value, updated_at) VALUES ('k', 'v', 1)")
                .execute(&store.pool)
        };
        insert().await.unwrap();
        let twice = insert().await.map_err(StoreError::from);
        assert!(
            matches!(&twice, Err(e @ StoreError::Conflict(_)) if !e.is_unavailable()),
            "{twice:?}"
        );
        let bad = sqlx::query("SELECT nothing FROM nowhere")
            .execute(&store.pool)
            .await
            .map_err(StoreError::from);
        assert!(matches!(bad, Err(StoreError::Backend(_))), "{bad:?}");
    }
}
