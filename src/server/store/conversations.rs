//! Conversations, members and the message write path.
//!
//! Every method takes the asking user and checks membership inside its own query, so no
//! caller can forget to.

use super::admin::{block_between, notify};
use super::{is_unique_violation, user_from_row, Result, Store, StoreError};
use crate::model::{
    BlockSide, ConversationKind, ConversationSummary, Member, Message, MessageKind,
    NotificationKind, User,
};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

const MESSAGE_COLUMNS: &str =
    "m.id, m.conversation_id, m.seq, m.sender_id, m.client_msg_id, m.kind, m.body, m.created_at";

fn message_from_row(row: &SqliteRow) -> Result<Message> {
    let kind: String = row.try_get("kind")?;
    Ok(Message {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        seq: row.try_get("seq")?,
        sender_id: row.try_get("sender_id")?,
        client_msg_id: row.try_get("client_msg_id")?,
        kind: MessageKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("message kind {kind:?}")))?,
        body: row.try_get("body")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The outcome of a send: the stored message, and whether this call stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub message: Message,
    /// False when the same client id was sent before: the earlier message is returned.
    pub created: bool,
}

/// A message to write, as its sender gave it.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation_id: String,
    pub sender: String,
    pub client_msg_id: String,
    pub body: String,
    pub now: i64,
}

/// One send inside a transaction: membership, then idempotency, then the append.
async fn send_in(conn: &mut sqlx::SqliteConnection, m: &NewMessage) -> Result<Sent> {
    check_sender(&mut *conn, &m.conversation_id, &m.sender).await?;
    let earlier = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.sender_id = $1 AND m.client_msg_id = $2"
    ))
    .bind(&m.sender)
    .bind(&m.client_msg_id)
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
    conversation_id: &str,
    sender: &str,
) -> Result<()> {
    let row = sqlx::query(
        "SELECT CASE WHEN c.kind = 'direct' THEN (
                    SELECT b.blocker_id FROM members o
                    JOIN blocks b ON (b.blocker_id = o.user_id AND b.blocked_id = $2)
                                  OR (b.blocker_id = $2 AND b.blocked_id = o.user_id)
                    WHERE o.conversation_id = c.id AND o.user_id <> $2
                    ORDER BY b.blocker_id = $2 DESC LIMIT 1)
                END AS blocker
         FROM members me JOIN conversations c ON c.id = me.conversation_id
         WHERE me.conversation_id = $1 AND me.user_id = $2",
    )
    .bind(conversation_id)
    .bind(sender)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::NotMember)?;
    match row.try_get::<Option<String>, _>("blocker")? {
        None => Ok(()),
        Some(b) if b == sender => Err(StoreError::Blocked(BlockSide::ByMe)),
        Some(_) => Err(StoreError::Blocked(BlockSide::ByThem)),
    }
}

impl Store {
    /// Whether `sender` may send to the conversation now (see `check_sender`).
    pub async fn may_send(&self, conversation_id: &str, sender: &str) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        check_sender(&mut conn, conversation_id, sender).await
    }

    /// The direct conversation between two users, created on first use: opening a DM
    /// with the same person again returns the same conversation.
    pub async fn open_direct(&self, me: &str, other: &str, now: i64) -> Result<String> {
        let (a, b) = if me <= other {
            (me, other)
        } else {
            (other, me)
        };
        let key = format!("{a}:{b}");
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT id FROM conversations WHERE direct_key = $1")
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(id) = exists {
            return Ok(id);
        }
        require_active_user(&mut tx, other).await?;
        if let Some(side) = block_between(&mut tx, me, other).await? {
            return Err(StoreError::Blocked(side));
        }
        let id = insert_conversation(&mut tx, "direct", None, Some(&key), me, now).await?;
        for user in [a, b] {
            add_member(&mut tx, &id, user, "member", now).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// A group owned by `owner` with the given other members.
    pub async fn create_group(
        &self,
        owner: &str,
        title: &str,
        members: &[String],
        now: i64,
    ) -> Result<String> {
        let mut others: Vec<&String> = members.iter().filter(|m| m.as_str() != owner).collect();
        others.sort();
        others.dedup();
        if others.len() + 1 > GROUP_MAX_MEMBERS {
            return Err(StoreError::GroupFull(GROUP_MAX_MEMBERS));
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let id = insert_conversation(&mut tx, "group", Some(title), None, owner, now).await?;
        add_member(&mut tx, &id, owner, "owner", now).await?;
        for user in others {
            require_active_user(&mut tx, user).await?;
            require_not_blocked_by(&mut tx, user, owner).await?;
            add_member(&mut tx, &id, user, "member", now).await?;
            notify(
                &mut tx,
                user,
                NotificationKind::AddedToGroup,
                &id,
                owner,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// The write path. In one short transaction: membership, idempotency on
    /// (sender, client_msg_id), `seq = last_seq + 1`, insert. Nothing is visible to anyone
    /// before the commit, and a retried send returns the stored message instead of a
    /// second one.
    pub async fn send_message(
        &self,
        conversation_id: &str,
        sender: &str,
        client_msg_id: &str,
        body: &str,
        now: i64,
    ) -> Result<Sent> {
        let message = NewMessage {
            conversation_id: conversation_id.to_string(),
            sender: sender.to_string(),
            client_msg_id: client_msg_id.to_string(),
            body: body.to_string(),
            now,
        };
        self.send_messages(std::slice::from_ref(&message))
            .await?
            .pop()
            .unwrap_or_else(|| Err(StoreError::Corrupt("a send had no outcome".into())))
    }

    /// Several sends in one transaction, so one commit (one flush to disk) for all: the
    /// write path of `send_message` for each, each inside its own savepoint, so that a
    /// refused one (not a member, a reused id, a block) leaves the others be. Err when the
    /// transaction failed as a whole: then none of them was written.
    pub async fn send_messages(&self, batch: &[NewMessage]) -> Result<Vec<Result<Sent>>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for m in batch {
            sqlx::query("SAVEPOINT send").execute(&mut *tx).await?;
            let outcome = send_in(&mut tx, m).await;
            match outcome {
                Ok(_)
                | Err(
                    StoreError::NotMember | StoreError::ClientMsgIdReused | StoreError::Blocked(_),
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

    /// Up to `limit` messages with seq below `before` (newest first from the cursor,
    /// returned oldest first), for a member only.
    pub async fn messages_before(
        &self,
        conversation_id: &str,
        reader: &str,
        before: i64,
        limit: i64,
    ) -> Result<Vec<Message>> {
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m
             JOIN members me ON me.conversation_id = m.conversation_id AND me.user_id = $2
             WHERE m.conversation_id = $1 AND m.seq < $3
             ORDER BY m.seq DESC LIMIT $4"
        ))
        .bind(conversation_id)
        .bind(reader)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            self.require_member(conversation_id, reader).await?;
        }
        let mut messages = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<Vec<_>>>()?;
        messages.reverse();
        Ok(messages)
    }

    /// Up to `limit` messages with seq above `after`, oldest first, for a member only:
    /// what a client missed while it was away.
    pub async fn messages_after(
        &self,
        conversation_id: &str,
        reader: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Message>> {
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m
             JOIN members me ON me.conversation_id = m.conversation_id AND me.user_id = $2
             WHERE m.conversation_id = $1 AND m.seq > $3
             ORDER BY m.seq ASC LIMIT $4"
        ))
        .bind(conversation_id)
        .bind(reader)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            self.require_member(conversation_id, reader).await?;
        }
        rows.iter().map(message_from_row).collect()
    }

    /// Whether a member's copy of a conversation, ending at `seq` with message
    /// `message_id`, is still this conversation's history (a database restored from a
    /// backup may have lost those messages, or given their seqs to others). `None` when the
    /// user is not a member: the check is the membership query.
    pub async fn can_resume(
        &self,
        conversation_id: &str,
        user: &str,
        seq: i64,
        message_id: &str,
    ) -> Result<Option<bool>> {
        let row: Option<Option<String>> = sqlx::query_scalar(
            "SELECT (SELECT m.id FROM messages m WHERE m.conversation_id = $1 AND m.seq = $3)
             FROM members WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation_id)
        .bind(user)
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|at| at.as_deref() == Some(message_id)))
    }

    /// How many conversations `user` is a member of.
    pub async fn membership_count(&self, user: &str) -> Result<usize> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE user_id = $1")
            .bind(user)
            .fetch_one(&self.pool)
            .await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Advances the reader's read mark (never backwards, never past the last message).
    /// Returns the mark now stored.
    pub async fn mark_read(&self, conversation_id: &str, reader: &str, seq: i64) -> Result<i64> {
        Ok(self.move_read_mark(conversation_id, reader, seq).await?.0)
    }

    /// Like [`Store::mark_read`], and whether the mark moved (a mark that did not move is
    /// news to nobody).
    pub async fn move_read_mark(
        &self,
        conversation_id: &str,
        reader: &str,
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
        .bind(conversation_id)
        .bind(reader)
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(mark) = moved {
            return Ok((mark, true));
        }
        let mark: Option<i64> = sqlx::query_scalar(
            "SELECT last_read_seq FROM members WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation_id)
        .bind(reader)
        .fetch_optional(&self.pool)
        .await?;
        Ok((mark.ok_or(StoreError::NotMember)?, false))
    }

    /// Adds a member to a group; only its owner may. Returns false if they already were.
    pub async fn add_group_member(
        &self,
        conversation_id: &str,
        owner: &str,
        user: &str,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        require_group_owner(&mut tx, conversation_id, owner).await?;
        require_active_user(&mut tx, user).await?;
        require_not_blocked_by(&mut tx, user, owner).await?;
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE conversation_id = $1")
                .bind(conversation_id)
                .fetch_one(&mut *tx)
                .await?;
        if count as usize >= GROUP_MAX_MEMBERS {
            return Err(StoreError::GroupFull(GROUP_MAX_MEMBERS));
        }
        let added = sqlx::query(
            "INSERT INTO members (conversation_id, user_id, role, joined_at) VALUES ($1, $2, 'member', $3)
             ON CONFLICT (conversation_id, user_id) DO NOTHING",
        )
        .bind(conversation_id)
        .bind(user)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if added {
            let kind = NotificationKind::AddedToGroup;
            notify(&mut tx, user, kind, conversation_id, owner, now).await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Removes a member from a group: the owner may remove anyone but themselves.
    pub async fn remove_group_member(
        &self,
        conversation_id: &str,
        owner: &str,
        user: &str,
    ) -> Result<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        require_group_owner(&mut tx, conversation_id, owner).await?;
        let removed = sqlx::query(
            "DELETE FROM members WHERE conversation_id = $1 AND user_id = $2 AND role <> 'owner'",
        )
        .bind(conversation_id)
        .bind(user)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(removed)
    }

    /// The user's direct conversations: where their presence is shown (not where either
    /// of the two blocked the other).
    pub async fn direct_conversation_ids_of(&self, user: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT m.conversation_id FROM members m
             JOIN conversations c ON c.id = m.conversation_id AND c.kind = 'direct'
             WHERE m.user_id = $1 AND NOT EXISTS (
                 SELECT 1 FROM members o
                 JOIN blocks b ON (b.blocker_id = $1 AND b.blocked_id = o.user_id)
                               OR (b.blocker_id = o.user_id AND b.blocked_id = $1)
                 WHERE o.conversation_id = m.conversation_id AND o.user_id <> $1)",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn touch_last_seen(&self, user: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE users SET last_seen_at = $2 WHERE id = $1")
            .bind(user)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn is_member(&self, conversation_id: &str, user: &str) -> Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2")
                .bind(conversation_id)
                .bind(user)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn require_member(&self, conversation_id: &str, user: &str) -> Result<()> {
        if self.is_member(conversation_id, user).await? {
            Ok(())
        } else {
            Err(StoreError::NotMember)
        }
    }

    /// The members of a conversation, if `asker` is one of them.
    pub async fn members(&self, conversation_id: &str, asker: &str) -> Result<Vec<Member>> {
        self.require_member(conversation_id, asker).await?;
        let rows = sqlx::query(
            "SELECT u.id, u.username, u.display_name, u.role, m.last_read_seq, m.role AS member_role,
                    EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $2 AND b.blocked_id = u.id)
                        AS blocked_by_me
             FROM members m
             JOIN users u ON u.id = m.user_id
             WHERE m.conversation_id = $1 ORDER BY u.display_name",
        )
        .bind(conversation_id)
        .bind(asker)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Member {
                    blocked_by_me: row.try_get::<bool, _>("blocked_by_me")?,
                    user: user_from_row(row)?,
                    last_read_seq: row.try_get("last_read_seq")?,
                    owner: row.try_get::<String, _>("member_role")? == "owner",
                })
            })
            .collect()
    }

    /// The user's conversations, most recently active first.
    pub async fn conversations_of(&self, user: &str) -> Result<Vec<ConversationSummary>> {
        let rows = sqlx::query(
            "SELECT c.id, c.kind, c.title, c.last_seq, c.last_activity_at, me.last_read_seq,
                    me.muted,
                    p.id AS peer_id, p.username AS peer_username,
                    p.display_name AS peer_display_name, p.role AS peer_role,
                    p.last_seen_at AS peer_last_seen_at,
                    (SELECT b.blocker_id FROM blocks b
                     WHERE (b.blocker_id = $1 AND b.blocked_id = p.id)
                        OR (b.blocker_id = p.id AND b.blocked_id = $1)
                     ORDER BY b.blocker_id = $1 DESC LIMIT 1) AS blocker
             FROM members me
             JOIN conversations c ON c.id = me.conversation_id
             LEFT JOIN members pm ON c.kind = 'direct'
                  AND pm.conversation_id = c.id AND pm.user_id <> me.user_id
             LEFT JOIN users p ON p.id = pm.user_id
             WHERE me.user_id = $1
             ORDER BY c.last_activity_at DESC, c.id DESC",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        let mut list = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id")?;
            let kind = match row.try_get::<String, _>("kind")?.as_str() {
                "direct" => ConversationKind::Direct,
                _ => ConversationKind::Group,
            };
            let peer = match row.try_get::<Option<String>, _>("peer_id")? {
                Some(peer_id) => Some(User {
                    id: peer_id,
                    username: row.try_get("peer_username")?,
                    display_name: row.try_get("peer_display_name")?,
                    role: crate::model::Role::parse(&row.try_get::<String, _>("peer_role")?)
                        .unwrap_or(crate::model::Role::User),
                }),
                None => None,
            };
            let last_seq: i64 = row.try_get("last_seq")?;
            let last_message = if last_seq > 0 {
                let m = sqlx::query(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.conversation_id = $1 AND m.seq = $2"
                ))
                .bind(&id)
                .bind(last_seq)
                .fetch_optional(&self.pool)
                .await?;
                m.as_ref().map(message_from_row).transpose()?
            } else {
                None
            };
            let title = match (&kind, &peer) {
                (ConversationKind::Direct, Some(p)) => p.display_name.clone(),
                _ => row
                    .try_get::<Option<String>, _>("title")?
                    .unwrap_or_default(),
            };
            list.push(ConversationSummary {
                id,
                kind,
                title,
                peer,
                last_seq,
                last_read_seq: row.try_get("last_read_seq")?,
                last_activity_at: row.try_get("last_activity_at")?,
                last_message,
                peer_presence: None,
                peer_last_seen_at: row.try_get("peer_last_seen_at")?,
                muted: row.try_get::<i64, _>("muted")? != 0,
                block: row
                    .try_get::<Option<String>, _>("blocker")?
                    .map(|b| match b == user {
                        true => BlockSide::ByMe,
                        false => BlockSide::ByThem,
                    }),
            });
        }
        Ok(list)
    }
}

/// The most members a group may have, its owner included.
pub const GROUP_MAX_MEMBERS: usize = 1000;

/// Inserts a conversation row (members are added separately) and returns its new id.
async fn insert_conversation(
    conn: &mut sqlx::SqliteConnection,
    kind: &str,
    title: Option<&str>,
    direct_key: Option<&str>,
    created_by: &str,
    now: i64,
) -> Result<String> {
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO conversations (id, kind, title, direct_key, created_by, created_at, last_activity_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(&id)
    .bind(kind)
    .bind(title)
    .bind(direct_key)
    .bind(created_by)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(id)
}

/// Appends a message inside the caller's transaction: `seq = last_seq + 1`, the insert,
/// and the sender's read mark. Gap-free because the UPDATE holds the conversation's row.
pub(super) async fn append_message(
    conn: &mut sqlx::SqliteConnection,
    conversation_id: &str,
    sender: &str,
    client_msg_id: &str,
    kind: MessageKind,
    body: &str,
    now: i64,
) -> Result<Message> {
    let seq: i64 = sqlx::query_scalar(
        "UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = $2
         WHERE id = $1 RETURNING last_seq",
    )
    .bind(conversation_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let row = sqlx::query(
        "INSERT INTO messages (id, conversation_id, seq, sender_id, client_msg_id, kind, body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING id, conversation_id, seq, sender_id, client_msg_id, kind, body, created_at",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(conversation_id)
    .bind(seq)
    .bind(sender)
    .bind(client_msg_id)
    .bind(kind.as_str())
    .bind(body)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::ClientMsgIdReused
        } else {
            StoreError::Database(e)
        }
    })?;
    // The sender has read their own message.
    sqlx::query(
        "UPDATE members SET last_read_seq = $3 WHERE conversation_id = $1 AND user_id = $2",
    )
    .bind(conversation_id)
    .bind(sender)
    .bind(seq)
    .execute(&mut *conn)
    .await?;
    message_from_row(&row)
}

/// Fails with `NoSuchUser` unless the user exists and is not blocked.
pub(super) async fn require_active_user(
    conn: &mut sqlx::SqliteConnection,
    user: &str,
) -> Result<()> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM users WHERE id = $1 AND blocked_at IS NULL")
            .bind(user)
            .fetch_optional(conn)
            .await?;
    found.map(|_| ()).ok_or(StoreError::NoSuchUser)
}

/// Nobody puts a person into a group (and their bell) after that person blocked them.
async fn require_not_blocked_by(
    conn: &mut sqlx::SqliteConnection,
    person: &str,
    by: &str,
) -> Result<()> {
    match block_between(conn, person, by).await? {
        Some(BlockSide::ByMe) => Err(StoreError::Blocked(BlockSide::ByThem)),
        _ => Ok(()),
    }
}

async fn require_group_owner(
    conn: &mut sqlx::SqliteConnection,
    conversation_id: &str,
    owner: &str,
) -> Result<()> {
    let role: Option<String> = sqlx::query_scalar(
        "SELECT m.role FROM members m JOIN conversations c ON c.id = m.conversation_id
         WHERE m.conversation_id = $1 AND m.user_id = $2 AND c.kind = 'group'",
    )
    .bind(conversation_id)
    .bind(owner)
    .fetch_optional(&mut *conn)
    .await?;
    match role.as_deref() {
        Some("owner") => Ok(()),
        Some(_) => Err(StoreError::NotOwner),
        None => Err(StoreError::NotMember),
    }
}

async fn add_member(
    conn: &mut sqlx::SqliteConnection,
    conversation_id: &str,
    user: &str,
    role: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO members (conversation_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (conversation_id, user_id) DO NOTHING",
    )
    .bind(conversation_id)
    .bind(user)
    .bind(role)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ann_ben_and_eve, fresh_store, user};
    use super::*;

    #[tokio::test]
    async fn opening_a_dm_with_the_same_person_again_reuses_it() {
        let (store, _dir) = fresh_store().await;
        let (a, b) = (user(&store, "ann").await, user(&store, "ben").await);
        let first = store.open_direct(&a, &b, 1).await.unwrap();
        assert_eq!(store.open_direct(&b, &a, 2).await.unwrap(), first);
        assert_eq!(store.conversations_of(&a).await.unwrap().len(), 1);
        let list = store.conversations_of(&b).await.unwrap();
        assert_eq!(list[0].title, "ann");
        assert_eq!(list[0].peer.as_ref().map(|p| p.id.clone()), Some(a));
    }

    #[tokio::test]
    async fn a_retried_send_creates_one_message() {
        let (store, _dir) = fresh_store().await;
        let (a, b) = (user(&store, "ann").await, user(&store, "ben").await);
        let c = store.open_direct(&a, &b, 1).await.unwrap();
        let first = store.send_message(&c, &a, "m-1", "hello", 2).await.unwrap();
        let again = store.send_message(&c, &a, "m-1", "hello", 3).await.unwrap();
        assert!(first.created);
        assert!(!again.created);
        assert_eq!(first.message, again.message);
        let all = store.messages_after(&c, &b, 0, 100).await.unwrap();
        assert_eq!(all.len(), 1);
        // The same id for different content is a client bug, not a retry.
        let reused = store.send_message(&c, &a, "m-1", "other", 4).await;
        assert!(matches!(reused, Err(StoreError::ClientMsgIdReused)));
    }

    #[tokio::test]
    async fn a_refused_send_in_a_shared_commit_leaves_the_others_written() {
        let (store, _dir) = fresh_store().await;
        let (a, b, eve, c) = ann_ben_and_eve(&store).await;
        store
            .send_message(&c, &a, "m-0", "earlier", 2)
            .await
            .unwrap();
        let msg = |sender: &str, id: &str, body: &str| NewMessage {
            conversation_id: c.clone(),
            sender: sender.to_string(),
            client_msg_id: id.to_string(),
            body: body.to_string(),
            now: 3,
        };
        let outcomes = store
            .send_messages(&[
                msg(&a, "m-1", "one"),
                msg(&eve, "e-1", "not a member"),
                msg(&a, "m-0", "reused id"),
                msg(&b, "b-1", "two"),
                msg(&a, "m-1", "one"),
            ])
            .await
            .unwrap();
        let seqs: Vec<Option<(i64, bool)>> = outcomes
            .iter()
            .map(|o| o.as_ref().ok().map(|s| (s.message.seq, s.created)))
            .collect();
        // The retry inside the same commit finds the first one.
        assert_eq!(
            seqs,
            [
                Some((2, true)),
                None,
                None,
                Some((3, true)),
                Some((2, false))
            ]
        );
        assert!(matches!(outcomes[1], Err(StoreError::NotMember)));
        assert!(matches!(outcomes[2], Err(StoreError::ClientMsgIdReused)));
        let bodies: Vec<String> = store
            .messages_after(&c, &b, 0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.body)
            .collect();
        assert_eq!(bodies, ["earlier", "one", "two"]);
    }

    #[tokio::test]
    async fn concurrent_sends_get_gap_free_unique_seqs() {
        let (store, _dir) = fresh_store().await;
        let (a, b) = (user(&store, "ann").await, user(&store, "ben").await);
        let c = store.open_direct(&a, &b, 1).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..100 {
            let (store, c) = (store.clone(), c.clone());
            let sender = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                store
                    .send_message(&c, &sender, &format!("m-{i}"), &format!("message {i}"), 5)
                    .await
                    .unwrap()
                    .message
                    .seq
            }));
        }
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap());
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=100).collect::<Vec<i64>>());
        let stored = store.messages_after(&c, &a, 0, 1000).await.unwrap();
        let stored: Vec<i64> = stored.iter().map(|m| m.seq).collect();
        assert_eq!(stored, (1..=100).collect::<Vec<i64>>());
    }

    #[tokio::test]
    async fn a_non_member_cannot_send_read_or_mark_read() {
        let (store, _dir) = fresh_store().await;
        let (a, _, eve, c) = ann_ben_and_eve(&store).await;
        store
            .send_message(&c, &a, "m-1", "secret", 2)
            .await
            .unwrap();
        assert!(matches!(
            store.send_message(&c, &eve, "e-1", "hi", 3).await,
            Err(StoreError::NotMember)
        ));
        assert!(matches!(
            store.messages_after(&c, &eve, 0, 50).await,
            Err(StoreError::NotMember)
        ));
        assert!(matches!(
            store.messages_before(&c, &eve, i64::MAX, 50).await,
            Err(StoreError::NotMember)
        ));
        assert!(matches!(
            store.mark_read(&c, &eve, 1).await,
            Err(StoreError::NotMember)
        ));
        assert!(matches!(
            store.members(&c, &eve).await,
            Err(StoreError::NotMember)
        ));
        assert!(store.conversations_of(&eve).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn history_pages_backwards_by_seq_and_read_marks_only_advance() {
        let (store, _dir) = fresh_store().await;
        let (a, b) = (user(&store, "ann").await, user(&store, "ben").await);
        let c = store.open_direct(&a, &b, 1).await.unwrap();
        for i in 1..=120 {
            store
                .send_message(&c, &a, &format!("m-{i}"), &format!("{i}"), i)
                .await
                .unwrap();
        }
        let newest = store.messages_before(&c, &b, i64::MAX, 50).await.unwrap();
        assert_eq!((newest[0].seq, newest[49].seq), (71, 120));
        let older = store.messages_before(&c, &b, 71, 50).await.unwrap();
        assert_eq!((older[0].seq, older[49].seq), (21, 70));
        let oldest = store.messages_before(&c, &b, 21, 50).await.unwrap();
        assert_eq!(oldest.len(), 20);

        let list = store.conversations_of(&b).await.unwrap();
        assert_eq!(list[0].unread(), 120);
        assert_eq!(list[0].last_message.as_ref().map(|m| m.seq), Some(120));
        assert_eq!(store.mark_read(&c, &b, 100).await.unwrap(), 100);
        assert_eq!(store.mark_read(&c, &b, 50).await.unwrap(), 100);
        assert_eq!(store.mark_read(&c, &b, 9999).await.unwrap(), 120);
        // Marking again where the mark already is moves nothing.
        assert_eq!(
            store.move_read_mark(&c, &b, 120).await.unwrap(),
            (120, false)
        );
        assert_eq!(store.conversations_of(&b).await.unwrap()[0].unread(), 0);
        // The sender has read what they sent.
        assert_eq!(store.conversations_of(&a).await.unwrap()[0].unread(), 0);
    }

    #[tokio::test]
    async fn only_the_owner_adds_and_removes_group_members() {
        let (store, _dir) = fresh_store().await;
        let (a, b, c) = (
            user(&store, "ann").await,
            user(&store, "ben").await,
            user(&store, "cat").await,
        );
        let g = store
            .create_group(&a, "Team", std::slice::from_ref(&b), 1)
            .await
            .unwrap();
        assert!(matches!(
            store.add_group_member(&g, &b, &c, 2).await,
            Err(StoreError::NotOwner)
        ));
        assert!(matches!(
            store.add_group_member(&g, &c, &c, 2).await,
            Err(StoreError::NotMember)
        ));
        assert!(store.add_group_member(&g, &a, &c, 2).await.unwrap());
        assert!(!store.add_group_member(&g, &a, &c, 2).await.unwrap());
        assert!(store.is_member(&g, &c).await.unwrap());
        assert!(matches!(
            store.remove_group_member(&g, &c, &b).await,
            Err(StoreError::NotOwner)
        ));
        assert!(store.remove_group_member(&g, &a, &c).await.unwrap());
        assert!(!store.is_member(&g, &c).await.unwrap());
        // The owner stays.
        assert!(!store.remove_group_member(&g, &a, &a).await.unwrap());
        // Direct conversations have no owner to add people.
        let dm = store.open_direct(&a, &b, 3).await.unwrap();
        assert!(matches!(
            store.add_group_member(&dm, &a, &c, 4).await,
            Err(StoreError::NotOwner) | Err(StoreError::NotMember)
        ));
    }

    #[tokio::test]
    async fn a_group_has_its_owner_and_members() {
        let (store, _dir) = fresh_store().await;
        let (a, b, c) = (
            user(&store, "ann").await,
            user(&store, "ben").await,
            user(&store, "cat").await,
        );
        let g = store
            .create_group(&a, "Team", &[b.clone(), c.clone()], 1)
            .await
            .unwrap();
        let members = store.members(&g, &c).await.unwrap();
        assert_eq!(members.len(), 3);
        assert_eq!(store.conversations_of(&b).await.unwrap()[0].title, "Team");
        assert!(matches!(
            store.create_group(&a, "X", &["nobody".into()], 1).await,
            Err(StoreError::NoSuchUser)
        ));
    }
}
