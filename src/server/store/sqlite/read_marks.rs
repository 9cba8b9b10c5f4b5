//! Read marks: up to which seq each member has read a conversation.

use super::{id_column, SqliteStore};
use crate::domain::{ConversationId, UserId};
use crate::server::store::{ReadMarkStore, Result, StoreError};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl ReadMarkStore for SqliteStore {
    async fn move_read_mark(
        &self,
        conversation_id: &ConversationId,
        reader: &UserId,
        seq: i64,
    ) -> Result<(i64, bool)> {
        // Written only when it moves; a mark already there is read, not rewritten.
        let moved: Option<i64> = sqlx::query_scalar(
            "UPDATE members SET last_read_seq =
                 MIN($3, (SELECT last_seq FROM conversations WHERE id = $1))
             WHERE conversation_id = $1 AND user_id = $2
               AND last_read_seq < MIN($3, (SELECT last_seq FROM conversations WHERE id = $1))
             RETURNING last_read_seq",
        )
        .bind(conversation_id.as_str())
        .bind(reader.as_str())
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(mark) = moved {
            return Ok((mark, true));
        }
        let mark: Option<i64> = sqlx::query_scalar(
            "SELECT last_read_seq FROM members WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation_id.as_str())
        .bind(reader.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok((mark.ok_or(StoreError::NotMember)?, false))
    }

    async fn mark_all_conversations_read(
        &self,
        user: &UserId,
    ) -> Result<Vec<(ConversationId, i64)>> {
        let rows = sqlx::query(
            "UPDATE members SET last_read_seq = (
                 SELECT c.last_seq FROM conversations c WHERE c.id = members.conversation_id)
             WHERE user_id = $1 AND last_read_seq < (
                 SELECT c.last_seq FROM conversations c WHERE c.id = members.conversation_id)
             RETURNING conversation_id, last_read_seq",
        )
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    id_column(r, "conversation_id")?,
                    r.try_get("last_read_seq")?,
                ))
            })
            .collect()
    }
}
