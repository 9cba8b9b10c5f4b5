//! Accounts: sign-up, login records, people search, and what admins change about an
//! account. Rules that protect the server itself (the last admin stays an admin and
//! unblocked) are checked inside the same transaction as the change.

use super::sessions::insert_session;
use super::{like_pattern, unique_or, user_from_row, SqliteStore};
use crate::domain::admin::AdminUser;
use crate::domain::{normalize_username, Role, User, UserId};
use crate::server::store::{AccountStore, LoginRecord, NewSession, Result, StoreError};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl AccountStore for SqliteStore {
    async fn user_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        password_hash: &str,
        role: Role,
        session: Option<NewSession<'_>>,
        now: i64,
    ) -> Result<User> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let user = insert_user(
            &mut tx,
            (username, display_name, password_hash, role),
            false,
            now,
        )
        .await?;
        if let Some(s) = session {
            insert_session(&mut tx, &user.id, &s).await?;
        }
        tx.commit().await?;
        Ok(user)
    }

    async fn create_user_with_temporary_password(
        &self,
        username: &str,
        display_name: &str,
        password_hash: &str,
        role: Role,
        now: i64,
    ) -> Result<User> {
        // One INSERT: atomic on its own.
        let mut conn = self.pool.acquire().await?;
        insert_user(
            &mut conn,
            (username, display_name, password_hash, role),
            true,
            now,
        )
        .await
    }

    async fn set_display_name(&self, user: &UserId, display_name: &str) -> Result<User> {
        let row = sqlx::query(
            "UPDATE users SET display_name = $2, search_key = $3
             WHERE id = $1 AND deleted_at IS NULL
             RETURNING id, username, display_name, role",
        )
        .bind(user.as_str())
        .bind(display_name)
        .bind(crate::server::store::search_key::search_key(display_name))
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => user_from_row(&row),
            None => Err(StoreError::NoSuchUser),
        }
    }

    async fn delete_account(&self, user: &UserId, now: i64) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let role = role_of(&mut tx, user).await?;
        if role == Role::Admin && other_active_admins(&mut tx, user).await? == 0 {
            return Err(StoreError::Refused(
                "You are the last admin: make someone else an admin first.",
            ));
        }
        // Blocked as well, so that everything that leaves blocked accounts out (search,
        // sessions, new conversations, calls) leaves it out too. The normalized name holds
        // a ':' no username can have, so the name is free and the row stays unique.
        let deleted = sqlx::query(
            "UPDATE users SET username = 'deleted', username_normalized = 'deleted:' || id,
                    display_name = 'Deleted user', search_key = '', password_hash = '',
                    role = 'user', must_change_password = 0, deleted_at = $2,
                    blocked_at = COALESCE(blocked_at, $2)
             WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(user.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NoSuchUser);
        }
        for sql in [
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM blocks WHERE blocker_id = $1 OR blocked_id = $1",
            "DELETE FROM notifications WHERE user_id = $1",
            "UPDATE members SET muted = 0 WHERE user_id = $1",
        ] {
            sqlx::query(sql)
                .bind(user.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn contacts_of(&self, user: &UserId) -> Result<Vec<UserId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT other.user_id FROM members mine
             JOIN members other ON other.conversation_id = mine.conversation_id
             WHERE mine.user_id = $1 AND other.user_id <> $1",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(UserId::from).collect())
    }

    async fn login_record(&self, username: &str) -> Result<Option<LoginRecord>> {
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

    async fn search_users(&self, query: &str, except: &UserId, limit: i64) -> Result<Vec<User>> {
        let pattern = like_pattern(query);
        let rows = sqlx::query(
            "SELECT id, username, display_name, role FROM users
             WHERE id <> $1 AND blocked_at IS NULL
               AND (username_normalized LIKE $2 ESCAPE '\\' OR search_key LIKE $2 ESCAPE '\\')
             ORDER BY username_normalized LIMIT $3",
        )
        .bind(except.as_str())
        .bind(pattern)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn users_by_username(&self, usernames: &[&str]) -> Result<Vec<User>> {
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

    async fn touch_last_seen(&self, user: &UserId, now: i64) -> Result<()> {
        sqlx::query("UPDATE users SET last_seen_at = $2 WHERE id = $1")
            .bind(user.as_str())
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn replace_password(
        &self,
        user: &UserId,
        checked_hash: &str,
        new_hash: &str,
        keep: Option<&str>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let replaced = sqlx::query(
            "UPDATE users SET password_hash = $3, must_change_password = 0
             WHERE id = $1 AND password_hash = $2",
        )
        .bind(user.as_str())
        .bind(checked_hash)
        .bind(new_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if replaced {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id IS NOT $2")
                .bind(user.as_str())
                .bind(keep)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(replaced)
    }

    async fn set_temporary_password(&self, target: &UserId, password_hash: &str) -> Result<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let updated = sqlx::query(
            "UPDATE users SET password_hash = $2, must_change_password = 1 WHERE id = $1",
        )
        .bind(target.as_str())
        .bind(password_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::NoSuchUser);
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(target.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn admin_users(
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

    async fn set_account_blocked(
        &self,
        admin: &UserId,
        target: &UserId,
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
                .bind(target.as_str())
                .bind(now)
        } else {
            sqlx::query(
                "UPDATE users SET blocked_at = NULL
                 WHERE id = $1 AND blocked_at IS NOT NULL AND deleted_at IS NULL",
            )
            .bind(target.as_str())
        };
        let changed = change.execute(&mut *tx).await?.rows_affected() == 1;
        if blocked {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(target.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn set_role(&self, target: &UserId, role: Role) -> Result<()> {
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
            .bind(target.as_str())
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Fails with `NoSuchUser` unless the user exists and is not blocked.
pub(super) async fn require_active_user(
    conn: &mut sqlx::SqliteConnection,
    user: &UserId,
) -> Result<()> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM users WHERE id = $1 AND blocked_at IS NULL")
            .bind(user.as_str())
            .fetch_optional(conn)
            .await?;
    found.map(|_| ()).ok_or(StoreError::NoSuchUser)
}

async fn role_of(conn: &mut sqlx::SqliteConnection, user: &UserId) -> Result<Role> {
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
        .bind(user.as_str())
        .fetch_optional(conn)
        .await?;
    let role = role.ok_or(StoreError::NoSuchUser)?;
    Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))
}

async fn other_active_admins(conn: &mut sqlx::SqliteConnection, except: &UserId) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND blocked_at IS NULL AND id <> $1",
    )
    .bind(except.as_str())
    .fetch_one(conn)
    .await?)
}

/// Inserts an account (username, display name, password hash, role) inside the caller's
/// transaction, with a new id; `must_change_password` marks the password temporary.
async fn insert_user(
    conn: &mut sqlx::SqliteConnection,
    (username, display_name, password_hash, role): (&str, &str, &str, Role),
    must_change_password: bool,
    now: i64,
) -> Result<User> {
    let id = uuid::Uuid::now_v7().to_string();
    let row = sqlx::query(
        "INSERT INTO users (id, username, username_normalized, display_name, search_key,
                            password_hash, role, created_at, must_change_password)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         RETURNING id, username, display_name, role",
    )
    .bind(&id)
    .bind(username)
    .bind(normalize_username(username))
    .bind(display_name)
    .bind(crate::server::store::search_key::search_key(display_name))
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now)
    .bind(i64::from(must_change_password))
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| unique_or(e, StoreError::UsernameTaken))?;
    user_from_row(&row)
}
