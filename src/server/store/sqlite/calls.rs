//! Calls. Every change is one `BEGIN IMMEDIATE` transaction: read the call with the
//! asker's part in it, ask [`transition`] whether the change is allowed, write it, and when
//! the call is over append its log line to the conversation in the same transaction.

use super::accounts::require_active_user;
use super::blocks::block_between;
use super::messages::append_message;
use super::notifications::notify;
use super::{id_column, prefixed_user_from_row, SqliteStore};
use crate::domain::call::{transition, Call, CallAction, CallMedia, CallState, Party};
use crate::domain::{
    CallId, ClientMsgId, ConversationId, Message, MessageKind, NotificationKind, UserId,
};
use crate::server::store::{CallChange, CallStore, Result, StoreError};
use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

const CALL_SELECT: &str = "SELECT k.id, k.conversation_id, k.media, k.state, k.created_at,
        k.answered_at, k.ended_at,
        a.id AS a_id, a.username AS a_username, a.display_name AS a_display_name, a.role AS a_role,
        b.id AS b_id, b.username AS b_username, b.display_name AS b_display_name, b.role AS b_role
    FROM calls k JOIN users a ON a.id = k.caller_id JOIN users b ON b.id = k.callee_id";

fn call_from_row(row: &SqliteRow) -> Result<Call> {
    let media: String = row.try_get("media")?;
    let state: String = row.try_get("state")?;
    Ok(Call {
        id: id_column(row, "id")?,
        conversation_id: id_column(row, "conversation_id")?,
        caller: prefixed_user_from_row(row, "a_")?,
        callee: prefixed_user_from_row(row, "b_")?,
        media: CallMedia::parse(&media)
            .ok_or_else(|| StoreError::Corrupt(format!("call media {media:?}")))?,
        state: CallState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("call state {state:?}")))?,
        created_at: row.try_get("created_at")?,
        answered_at: row.try_get("answered_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

#[async_trait]
impl CallStore for SqliteStore {
    async fn start_call(
        &self,
        conversation_id: &ConversationId,
        caller: &UserId,
        media: CallMedia,
        now: i64,
    ) -> Result<CallChange> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "SELECT c.kind, other.user_id AS callee
             FROM conversations c
             JOIN members me ON me.conversation_id = c.id AND me.user_id = $2
             LEFT JOIN members other ON other.conversation_id = c.id AND other.user_id <> $2
             WHERE c.id = $1",
        )
        .bind(conversation_id.as_str())
        .bind(caller.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotMember)?;
        let kind: String = row.try_get("kind")?;
        let callee: Option<String> = row.try_get("callee")?;
        let callee = match (kind.as_str(), callee) {
            ("direct", Some(callee)) => UserId::from(callee),
            _ => return Err(StoreError::NotDirect),
        };
        require_active_user(&mut tx, caller).await?;
        require_active_user(&mut tx, &callee).await?;
        if let Some(side) = block_between(&mut tx, caller, &callee).await? {
            return Err(StoreError::Blocked(side));
        }
        if in_live_call(&mut tx, caller).await? {
            return Err(StoreError::AlreadyInCall);
        }
        let busy = in_live_call(&mut tx, &callee).await?;
        let id = CallId::from(uuid::Uuid::now_v7().to_string());
        let (state, ended_at) = if busy {
            (CallState::Busy, Some(now))
        } else {
            (CallState::Ringing, None)
        };
        sqlx::query(
            "INSERT INTO calls (id, conversation_id, caller_id, callee_id, media, state, created_at, ended_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.as_str())
        .bind(conversation_id.as_str())
        .bind(caller.as_str())
        .bind(callee.as_str())
        .bind(media.as_str())
        .bind(state.as_str())
        .bind(now)
        .bind(ended_at)
        .execute(&mut *tx)
        .await?;
        let call = fetch_call(&mut tx, &id).await?;
        let log = log_if_over(&mut tx, &call, now).await?;
        let callee_read = mark_read_by_callee(&mut tx, &call, log.as_ref()).await?;
        tx.commit().await?;
        Ok(CallChange {
            call,
            log,
            callee_read,
        })
    }

    async fn change_call(
        &self,
        call_id: &CallId,
        asker: Option<&UserId>,
        action: CallAction,
        now: i64,
    ) -> Result<CallChange> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut call = fetch_call(&mut tx, call_id).await?;
        let party = match asker {
            None => Party::Server,
            Some(id) if *id == call.caller.id => Party::Caller,
            Some(id) if *id == call.callee.id => Party::Callee,
            Some(_) => return Err(StoreError::NotMember),
        };
        let next = transition(call.state, party, action).map_err(StoreError::Call)?;
        let (answered_at, ended_at) = match next {
            CallState::Active => (Some(now), None),
            _ => (call.answered_at, Some(now)),
        };
        sqlx::query(
            "UPDATE calls SET state = $2, answered_at = $3, ended_at = $4
             WHERE id = $1 AND state = $5",
        )
        .bind(call_id.as_str())
        .bind(next.as_str())
        .bind(answered_at)
        .bind(ended_at)
        .bind(call.state.as_str())
        .execute(&mut *tx)
        .await?;
        // The transaction holds the write lock since the read: the row is what we wrote.
        call.state = next;
        call.answered_at = answered_at;
        call.ended_at = ended_at;
        let log = log_if_over(&mut tx, &call, now).await?;
        let callee_read = mark_read_by_callee(&mut tx, &call, log.as_ref()).await?;
        tx.commit().await?;
        Ok(CallChange {
            call,
            log,
            callee_read,
        })
    }

    async fn call_conversation(&self, call_id: &CallId) -> Result<Option<ConversationId>> {
        let id: Option<String> =
            sqlx::query_scalar("SELECT conversation_id FROM calls WHERE id = $1")
                .bind(call_id.as_str())
                .fetch_optional(&self.pool)
                .await?;
        Ok(id.map(ConversationId::from))
    }

    async fn call_for(&self, call_id: &CallId, asker: &UserId) -> Result<Call> {
        let mut conn = self.pool.acquire().await?;
        let call = fetch_call(&mut conn, call_id).await?;
        if call.caller.id != *asker && call.callee.id != *asker {
            return Err(StoreError::NotMember);
        }
        Ok(call)
    }

    async fn live_calls_between(&self, a: &UserId, b: &UserId) -> Result<Vec<CallId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM calls WHERE state IN ('ringing', 'active')
             AND ((caller_id = $1 AND callee_id = $2) OR (caller_id = $2 AND callee_id = $1))",
        )
        .bind(a.as_str())
        .bind(b.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(CallId::from).collect())
    }

    async fn live_call_ids_of(&self, user: &UserId) -> Result<Vec<CallId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM calls WHERE state IN ('ringing', 'active')
             AND (caller_id = $1 OR callee_id = $1)",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(CallId::from).collect())
    }

    async fn live_call_ids(&self) -> Result<Vec<CallId>> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM calls WHERE state IN ('ringing', 'active')")
                .fetch_all(&self.pool)
                .await?;
        Ok(ids.into_iter().map(CallId::from).collect())
    }
}

async fn fetch_call(conn: &mut sqlx::SqliteConnection, call_id: &CallId) -> Result<Call> {
    let row = sqlx::query(&format!("{CALL_SELECT} WHERE k.id = $1"))
        .bind(call_id.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotMember)?;
    call_from_row(&row)
}

async fn in_live_call(conn: &mut sqlx::SqliteConnection, user: &UserId) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM calls WHERE state IN ('ringing', 'active')
         AND (caller_id = $1 OR callee_id = $1) LIMIT 1",
    )
    .bind(user.as_str())
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Moves the callee's read mark past the call's log line when they took part in the call
/// (answered or declined it) and had read everything before it; true if it moved.
async fn mark_read_by_callee(
    conn: &mut sqlx::SqliteConnection,
    call: &Call,
    log: Option<&Message>,
) -> Result<bool> {
    let Some(log) = log else {
        return Ok(false);
    };
    let took_part = call.answered_at.is_some() || call.state == CallState::Declined;
    if !took_part {
        return Ok(false);
    }
    let moved = sqlx::query(
        "UPDATE members SET last_read_seq = $3
         WHERE conversation_id = $1 AND user_id = $2 AND last_read_seq = $3 - 1",
    )
    .bind(log.conversation_id.as_str())
    .bind(call.callee.id.as_str())
    .bind(log.seq)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(moved > 0)
}

/// The log line of a finished call, written as the caller's, once per call.
async fn log_if_over(
    conn: &mut sqlx::SqliteConnection,
    call: &Call,
    now: i64,
) -> Result<Option<Message>> {
    let Some(text) = call.log_text() else {
        return Ok(None);
    };
    if call.state == CallState::Missed {
        let (callee, caller) = (&call.callee.id, &call.caller.id);
        let kind = NotificationKind::MissedCall;
        notify(conn, callee, kind, &call.conversation_id, caller, now).await?;
    }
    // Clients may only use letters, digits and '-' in their ids, so this cannot collide.
    let client_msg_id = ClientMsgId::from(format!("call:{}", call.id));
    let message = append_message(
        conn,
        &call.conversation_id,
        &call.caller.id,
        &client_msg_id,
        MessageKind::Call,
        &text,
        now,
    )
    .await?;
    Ok(Some(message))
}
