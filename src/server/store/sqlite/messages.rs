//! Messages: the write path (membership, idempotency, the gap-free seq, in one
//! transaction; many sends to a commit) and reading history.

use super::{id_column, SqliteStore};
use crate::domain::{
    BlockSide, ClientMsgId, ConversationId, Message, MessageId, MessageKind, UserId,
};
use crate::server::store::{MessageStore, NewMessage, Result, Sent, StoreError};
use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

pub(super) const MESSAGE_COLUMNS: &str =
    "m.id, m.conversation_id, m.seq, m.sender_id, m.client_msg_id, m.kind, m.body, m.created_at";

pub(super) fn message_from_row(row: &SqliteRow) -> Result<Message> {
    let kind: String = row.try_get("kind")?;
    Ok(Message {
        id: id_column(row, "id")?,
        conversation_id: id_column(row, "conversation_id")?,
        seq: row.try_get("seq")?,
        sender_id: id_column(row, "sender_id")?,
        client_msg_id: id_column(row, "client_msg_id")?,
        kind: MessageKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("message kind {kind:?}")))?,
        body: row.try_get("body")?,
        created_at: row.try_get("created_at")?,
    })
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn may_send(&self, conversation_id: &ConversationId, sender: &UserId) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        check_sender(&mut conn, conversation_id, sender).await
    }

    /// One `BEGIN IMMEDIATE` transaction; each send inside its own savepoint, rolled back
    /// alone when refused.
    async fn send_messages(&self, batch: &[NewMessage]) -> Result<Vec<Result<Sent>>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for m in batch {
            sqlx::query("SAVEPOINT send").execute(&mut *tx).await?;
            let outcome = send_in(&mut tx, m).await;
            match outcome {
                Ok(_)
                // A refusal of this one send (every refusal `check_sender` and the
                // idempotency check make) leaves the others of the batch be.
                | Err(
                    StoreError::NotMember
                    | StoreError::ClientMsgIdReused
                    | StoreError::Blocked(_)
                    | StoreError::Refused(_),
                ) => {}
                Err(e) => return Err(e),
            }
            if outcome.is_err() {
                sqlx::query("ROLLBACK TO send").execute(&mut *tx).await?;
            }
            sqlx::query("RELEASE send").execute(&mut *tx).await?;
            outcomes.push(outcome);
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn messages_before(
        &self,
        conversation_id: &ConversationId,
        reader: &UserId,
        before: i64,
        limit: i64,
    ) -> Result<Vec<Message>> {
        let mut messages = self
            .page(conversation_id, reader, Direction::Before(before), limit)
            .await?;
        messages.reverse();
        Ok(messages)
    }

    async fn messages_after(
        &self,
        conversation_id: &ConversationId,
        reader: &UserId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Message>> {
        self.page(conversation_id, reader, Direction::After(after), limit)
            .await
    }

    async fn can_resume(
        &self,
        conversation_id: &ConversationId,
        user: &UserId,
        seq: i64,
        message_id: &MessageId,
    ) -> Result<Option<bool>> {
        let row: Option<Option<String>> = sqlx::query_scalar(
            "SELECT (SELECT m.id FROM messages m WHERE m.conversation_id = $1 AND m.seq = $3)
             FROM members WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation_id.as_str())
        .bind(user.as_str())
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|at| at.as_deref() == Some(message_id.as_str())))
    }
}

/// One send inside a transaction: membership, then idempotency, then the append.
async fn send_in(conn: &mut sqlx::SqliteConnection, m: &NewMessage) -> Result<Sent> {
    check_sender(&mut *conn, &m.conversation_id, &m.sender).await?;
    let earlier = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.sender_id = $1 AND m.client_msg_id = $2"
    ))
    .bind(m.sender.as_str())
    .bind(m.client_msg_id.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = earlier {
        let message = message_from_row(&row)?;
        if message.conversation_id != m.conversation_id || message.body != m.body {
            return Err(StoreError::ClientMsgIdReused);
        }
        return Ok(Sent {
            message,
            created: false,
        });
    }
    let message = append_message(
        conn,
        &m.conversation_id,
        &m.sender,
        &m.client_msg_id,
        MessageKind::Text,
        &m.body,
        m.now,
    )
    .await?;
    Ok(Sent {
        message,
        created: true,
    })
}

/// The sender must be a member, and in a direct conversation neither of the two may have
/// blocked the other. One query, so the check cannot be skipped.
async fn check_sender(
    conn: &mut sqlx::SqliteConnection,
    conversation_id: &ConversationId,
    sender: &UserId,
) -> Result<()> {
    let row = sqlx::query(
        "SELECT CASE WHEN c.kind = 'direct' THEN (
                    SELECT b.blocker_id FROM members o
                    JOIN blocks b ON (b.blocker_id = o.user_id AND b.blocked_id = $2)
                                  OR (b.blocker_id = $2 AND b.blocked_id = o.user_id)
                    WHERE o.conversation_id = c.id AND o.user_id <> $2
                    ORDER BY b.blocker_id = $2 DESC LIMIT 1)
                END AS blocker,
                CASE WHEN c.kind = 'direct' THEN (
                    SELECT u.deleted_at IS NOT NULL FROM members o
                    JOIN users u ON u.id = o.user_id
                    WHERE o.conversation_id = c.id AND o.user_id <> $2)
                END AS peer_deleted
         FROM members me JOIN conversations c ON c.id = me.conversation_id
         WHERE me.conversation_id = $1 AND me.user_id = $2",
    )
    .bind(conversation_id.as_str())
    .bind(sender.as_str())
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotMember)?;
    if row.try_get::<Option<i64>, _>("peer_deleted")?.unwrap_or(0) != 0 {
        return Err(StoreError::Refused("This account was deleted."));
    }
    match row.try_get::<Option<String>, _>("blocker")? {
        None => Ok(()),
        Some(b) if b == sender.as_str() => Err(StoreError::Blocked(BlockSide::ByMe)),
        Some(_) => Err(StoreError::Blocked(BlockSide::ByThem)),
    }
}

/// Appends a message inside the caller's transaction: `seq = last_seq + 1`, the insert,
/// and the sender's read mark. Gap-free because the UPDATE holds the conversation's row.
pub(super) async fn append_message(
    conn: &mut sqlx::SqliteConnection,
    conversation_id: &ConversationId,
    sender: &UserId,
    client_msg_id: &ClientMsgId,
    kind: MessageKind,
    body: &str,
    now: i64,
) -> Result<Message> {
    let seq: i64 = sqlx::query_scalar(
        "UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = $2
         WHERE id = $1 RETURNING last_seq",
    )
    .bind(conversation_id.as_str())
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let row = sqlx::query(
        "INSERT INTO messages (id, conversation_id, seq, sender_id, client_msg_id, kind, body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING id, conversation_id, seq, sender_id, client_msg_id, kind, body, created_at",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(conversation_id.as_str())
    .bind(seq)
    .bind(sender.as_str())
    .bind(client_msg_id.as_str())
    .bind(kind.as_str())
    .bind(body)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| super::unique_or(e, StoreError::ClientMsgIdReused))?;
    // The sender has read their own message.
    sqlx::query(
        "UPDATE members SET last_read_seq = $3 WHERE conversation_id = $1 AND user_id = $2",
    )
    .bind(conversation_id.as_str())
    .bind(sender.as_str())
    .bind(seq)
    .execute(&mut *conn)
    .await?;
    message_from_row(&row)
}

/// Which side of a seq a page of history lies on.
enum Direction {
    /// Seqs below this one, newest first.
    Before(i64),
    /// Seqs above this one, oldest first.
    After(i64),
}

impl SqliteStore {
    /// At most `limit` messages of the conversation on one side of a seq, in the order
    /// [`Direction`] gives, for a reader who must be a member (`NotMember` otherwise).
    async fn page(
        &self,
        conversation_id: &ConversationId,
        reader: &UserId,
        direction: Direction,
        limit: i64,
    ) -> Result<Vec<Message>> {
        let (condition, seq) = match direction {
            Direction::Before(seq) => ("m.seq < $3 ORDER BY m.seq DESC", seq),
            Direction::After(seq) => ("m.seq > $3 ORDER BY m.seq ASC", seq),
        };
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m
             JOIN members me ON me.conversation_id = m.conversation_id AND me.user_id = $2
             WHERE m.conversation_id = $1 AND {condition} LIMIT $4"
        ))
        .bind(conversation_id.as_str())
        .bind(reader.as_str())
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            self.require_member(conversation_id, reader).await?;
        }
        rows.iter().map(message_from_row).collect()
    }
}
