//! The database. SQLite (WAL) is the embedded default; every query is written in SQL that
//! ports to PostgreSQL ($n placeholders, RETURNING, ON CONFLICT, times as i64 milliseconds)
//! so that a second implementation can sit beside this one with the same public methods.

use crate::model::{normalize_username, Role, User};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::Row;
use std::str::FromStr;
use std::time::Duration;

mod admin;
mod calls;
pub use calls::CallChange;
mod conversations;
pub use conversations::{NewMessage, Sent};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("that username is taken")]
    UsernameTaken,
    /// The user is not a member of the conversation (or it does not exist: the two are
    /// deliberately indistinguishable to the asker).
    #[error("not a member of that conversation")]
    NotMember,
    #[error("no such user")]
    NoSuchUser,
    /// Only the group's owner may do that (and only in a group).
    #[error("only the owner of a group may do that")]
    NotOwner,
    #[error("a group has at most {0} members")]
    GroupFull(usize),
    #[error("that message id was already used for another message")]
    ClientMsgIdReused,
    /// A call could not change state (or start); the refusal says why.
    #[error("call refused: {0:?}")]
    Call(crate::call::CallRefusal),
    /// Calls are between the two people of a direct conversation.
    #[error("not a direct conversation")]
    NotDirect,
    /// The caller is already ringing or talking.
    #[error("already in a call")]
    AlreadyInCall,
    /// One of the two people blocked the other; the side is the asker's.
    #[error("blocked")]
    Blocked(crate::model::BlockSide),
    /// Refused by a rule that protects the server or the person; the text says which.
    #[error("{0}")]
    Refused(&'static str),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The write was committed together with others, and that transaction failed.
    #[error("the transaction this write was part of failed: {reason}")]
    BatchFailed { reason: String, unavailable: bool },
    /// The task that writes messages has stopped (the server is going down).
    #[error("the message writer has stopped")]
    WriterGone,
}

impl StoreError {
    /// The database cannot be used right now (locked by another process, read-only, full,
    /// gone): the transaction did not commit, and the same request may succeed later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(d)) => d
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                // Primary result codes: BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN.
                .is_some_and(|c| matches!(c & 0xff, 5 | 6 | 8 | 10 | 13 | 14)),
            StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => true,
            StoreError::BatchFailed { unavailable, .. } => *unavailable,
            StoreError::WriterGone => true,
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A new session to store together with (or for) a user.
pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
    pub user_agent: Option<&'a str>,
}

/// What a login needs to check a password.
pub struct LoginRecord {
    pub user: User,
    pub password_hash: String,
    pub blocked: bool,
    /// Holds a temporary password from an admin: a new one must be chosen first.
    pub must_change_password: bool,
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

pub(crate) fn user_from_row(row: &SqliteRow) -> Result<User> {
    prefixed_user_from_row(row, "")
}

/// A user whose columns carry a prefix (`a_id`, `a_username`, ...) in a joined row.
pub(crate) fn prefixed_user_from_row(row: &SqliteRow, prefix: &str) -> Result<User> {
    let col = |name: &str| format!("{prefix}{name}");
    let role: String = row.try_get(col("role").as_str())?;
    Ok(User {
        id: row.try_get(col("id").as_str())?,
        username: row.try_get(col("username").as_str())?,
        display_name: row.try_get(col("display_name").as_str())?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
    })
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

impl Store {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_with(url, Duration::from_secs(5)).await
    }

    /// Like `open`, waiting at most `busy_timeout` for a database another process locked
    /// before a write fails with "unavailable".
    pub async fn open_with(url: &str, busy_timeout: Duration) -> Result<Store> {
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
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        let store = Store { pool };
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
                .bind(crate::text::search_key(&display_name))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Creates a user, and a session for them if one is given, in one transaction: either
    /// both exist afterwards or neither does.
    pub async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        password_hash: &str,
        role: Role,
        session: Option<NewSession<'_>>,
        now: i64,
    ) -> Result<User> {
        let id = uuid::Uuid::now_v7().to_string();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "INSERT INTO users (id, username, username_normalized, display_name, search_key,
                                password_hash, role, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             RETURNING id, username, display_name, role",
        )
        .bind(&id)
        .bind(username)
        .bind(normalize_username(username))
        .bind(display_name)
        .bind(crate::text::search_key(display_name))
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::UsernameTaken
            } else {
                StoreError::Database(e)
            }
        })?;
        let user = user_from_row(&row)?;
        if let Some(s) = session {
            insert_session(&mut tx, &user.id, &s).await?;
        }
        tx.commit().await?;
        Ok(user)
    }

    pub async fn login_record(&self, username: &str) -> Result<Option<LoginRecord>> {
        let row = sqlx::query(
            "SELECT id, username, display_name, role, password_hash, blocked_at,
                    must_change_password
             FROM users WHERE username_normalized = $1",
        )
        .bind(normalize_username(username))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(LoginRecord {
                user: user_from_row(&row)?,
                password_hash: row.try_get("password_hash")?,
                blocked: row.try_get::<Option<i64>, _>("blocked_at")?.is_some(),
                must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
            })
        })
        .transpose()
    }

    pub async fn create_session(&self, user_id: &str, session: &NewSession<'_>) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        insert_session(&mut conn, user_id, session).await
    }

    /// The user behind a live session: not expired, not blocked, not holding a temporary
    /// password (a login that raced the reset gets no use of its session).
    pub async fn session_user(&self, token_hash: &str, now: i64) -> Result<Option<User>> {
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

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes expired sessions; returns how many.
    pub async fn delete_expired_sessions(&self, now: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Users whose username or display name contains `query`, except `except`.
    pub async fn search_users(&self, query: &str, except: &str, limit: i64) -> Result<Vec<User>> {
        let pattern = admin::like_pattern(query);
        let rows = sqlx::query(
            "SELECT id, username, display_name, role FROM users
             WHERE id <> $1 AND blocked_at IS NULL
               AND (username_normalized LIKE $2 ESCAPE '\\' OR search_key LIKE $2 ESCAPE '\\')
             ORDER BY username_normalized LIMIT $3",
        )
        .bind(except)
        .bind(pattern)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn users_by_username(&self, usernames: &[&str]) -> Result<Vec<User>> {
        let mut users = Vec::new();
        for name in usernames {
            let row = sqlx::query(
                "SELECT id, username, display_name, role FROM users WHERE username_normalized = $1",
            )
            .bind(normalize_username(name))
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = row {
                users.push(user_from_row(&row)?);
            }
        }
        Ok(users)
    }
}

async fn insert_session(
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh database in its own temporary directory.
    pub(crate) async fn fresh_store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/natter.db", dir.path().display());
        (Store::open(&url).await.unwrap(), dir)
    }

    /// Ann and Ben with a direct conversation, and Eve, who is in none of it:
    /// `(ann, ben, eve, conversation)`.
    pub(crate) async fn ann_ben_and_eve(store: &Store) -> (String, String, String, String) {
        let (ann, ben, eve) = (
            user(store, "ann").await,
            user(store, "ben").await,
            user(store, "eve").await,
        );
        let c = store.open_direct(&ann, &ben, 1).await.unwrap();
        (ann, ben, eve, c)
    }

    /// A new ordinary user named `name`; returns their id.
    pub(crate) async fn user(store: &Store, name: &str) -> String {
        store
            .create_user(name, name, "h", Role::User, None, 1)
            .await
            .unwrap()
            .id
    }

    #[tokio::test]
    async fn people_search_finds_non_ascii_names_typed_exactly_in_any_case() {
        let (store, _dir) = fresh_store().await;
        let me = user(&store, "me").await;
        for (name, display) in [("elise", "Élise Dupont"), ("anna", "Анна Петрова")] {
            store
                .create_user(name, display, "h", Role::User, None, 1)
                .await
                .unwrap();
        }
        let found = |q: &'static str| {
            let store = store.clone();
            let me = me.clone();
            async move {
                let users = store.search_users(q, &me, 10).await.unwrap();
                users.into_iter().map(|u| u.username).collect::<Vec<_>>()
            }
        };
        for q in ["Élise", "élise", "ÉLISE", "E\u{301}lise", "lise", "dupont"] {
            assert_eq!(found(q).await, ["elise"], "searching {q:?}");
        }
        for q in ["Анна", "анна", "АННА", "Петрова", "нна"] {
            assert_eq!(found(q).await, ["anna"], "searching {q:?}");
        }
        // The admin's user list searches the same way.
        let (page, total) = store.admin_users("ÉLISE", 0, 10).await.unwrap();
        assert_eq!((page.len(), total), (1, 1));
        // Wildcards are text.
        assert!(found("%").await.is_empty());
    }

    fn session(hash: &str, expires_at: i64) -> NewSession<'_> {
        NewSession {
            token_hash: hash,
            created_at: 0,
            expires_at,
            user_agent: None,
        }
    }

    #[tokio::test]
    async fn a_username_that_differs_only_in_case_is_taken() {
        let (store, _dir) = fresh_store().await;
        store
            .create_user("alice", "Alice", "h", Role::User, None, 1)
            .await
            .unwrap();
        let err = store
            .create_user("ALICE", "Other", "h", Role::User, None, 2)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::UsernameTaken), "{err}");
        assert_eq!(store.user_count().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_refused_sign_up_leaves_no_user_behind() {
        let (store, _dir) = fresh_store().await;
        let bob = store
            .create_user("bob", "Bob", "h", Role::User, Some(session("s1", 10)), 1)
            .await
            .unwrap();
        // The session insert fails (its id is taken), so the user insert must roll back too.
        let err = store
            .create_user(
                "carol",
                "Carol",
                "h",
                Role::User,
                Some(session("s1", 10)),
                1,
            )
            .await;
        assert!(err.is_err());
        assert_eq!(store.user_count().await.unwrap(), 1);
        assert!(store.login_record("carol").await.unwrap().is_none());
        assert_eq!(store.session_user("s1", 5).await.unwrap(), Some(bob));
    }

    #[tokio::test]
    async fn an_expired_or_deleted_session_finds_nobody() {
        let (store, _dir) = fresh_store().await;
        let u = store
            .create_user("dave", "Dave", "h", Role::User, Some(session("s", 100)), 1)
            .await
            .unwrap();
        assert_eq!(store.session_user("s", 99).await.unwrap(), Some(u.clone()));
        assert_eq!(store.session_user("s", 100).await.unwrap(), None);
        store
            .create_session(&u.id, &session("t", 100))
            .await
            .unwrap();
        store.delete_session("t").await.unwrap();
        assert_eq!(store.session_user("t", 1).await.unwrap(), None);
        assert_eq!(store.delete_expired_sessions(1000).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn the_database_runs_in_wal_mode() {
        let (store, _dir) = fresh_store().await;
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }
}
