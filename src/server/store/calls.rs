//! Calls. Every transition is one `BEGIN IMMEDIATE` transaction: read the call with the
//! asker's part in it, ask [`transition`] whether the change is allowed, write it, and when
//! the call is over append its log line to the conversation in the same transaction.

use super::admin::{block_between, notify};
use super::conversations::{append_message, require_active_user};
use super::{prefixed_user_from_row, Result, Store, StoreError};
use crate::call::{transition, Call, CallAction, CallMedia, CallState, Party};
use crate::model::{Message, MessageKind, NotificationKind};
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
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
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

/// A call after a change, with the log line it left if the change ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallChange {
    pub call: Call,
    pub log: Option<Message>,
    /// The callee took part in the call (answered or declined it) and had read everything
    /// before its log line: the line is marked read for them too, as it is for the caller
    /// who wrote it. A call you took part in is not news to you.
    pub callee_read: bool,
}

impl Store {
    /// Rings the other member of a direct conversation. The caller must be a member and
    /// not already in a call; the callee must be active (not blocked). A callee who is
    /// already ringing or talking makes this a `busy` call, over at once, with its log line.
    pub async fn start_call(
        &self,
        conversation_id: &str,
        caller: &str,
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
        .bind(conversation_id)
        .bind(caller)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotMember)?;
        let kind: String = row.try_get("kind")?;
        let callee: Option<String> = row.try_get("callee")?;
        let callee = match (kind.as_str(), callee) {
            ("direct", Some(callee)) => callee,
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
        let id = uuid::Uuid::now_v7().to_string();
        let (state, ended_at) = if busy {
            (CallState::Busy, Some(now))
        } else {
            (CallState::Ringing, None)
        };
        sqlx::query(
            "INSERT INTO calls (id, conversation_id, caller_id, callee_id, media, state, created_at, ended_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(conversation_id)
        .bind(caller)
        .bind(&callee)
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

    /// Applies `action` by `asker` (None: the server itself). Someone who is not a
    /// participant gets `NotMember`, the same as for a call that does not exist.
    pub async fn change_call(
        &self,
        call_id: &str,
        asker: Option<&str>,
        action: CallAction,
        now: i64,
    ) -> Result<CallChange> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut call = fetch_call(&mut tx, call_id).await?;
        let party = match asker {
            None => Party::Server,
            Some(id) if id == call.caller.id => Party::Caller,
            Some(id) if id == call.callee.id => Party::Callee,
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
        .bind(call_id)
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

    /// The conversation a call belongs to (it never changes), if the call exists.
    pub async fn call_conversation(&self, call_id: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT conversation_id FROM calls WHERE id = $1")
                .bind(call_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// A call, for one of its participants only.
    pub async fn call_for(&self, call_id: &str, asker: &str) -> Result<Call> {
        let mut conn = self.pool.acquire().await?;
        let call = fetch_call(&mut conn, call_id).await?;
        if call.caller.id != asker && call.callee.id != asker {
            return Err(StoreError::NotMember);
        }
        Ok(call)
    }

    /// Ids of the calls ringing or active between two people.
    pub async fn live_calls_between(&self, a: &str, b: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM calls WHERE state IN ('ringing', 'active')
             AND ((caller_id = $1 AND callee_id = $2) OR (caller_id = $2 AND callee_id = $1))",
        )
        .bind(a)
        .bind(b)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Ids of the calls ringing or active that `user` is the caller or the callee of.
    pub async fn live_call_ids_of(&self, user: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM calls WHERE state IN ('ringing', 'active')
             AND (caller_id = $1 OR callee_id = $1)",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Ids of calls still ringing or active: after a restart nobody holds them any more.
    pub async fn live_call_ids(&self) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT id FROM calls WHERE state IN ('ringing', 'active')")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

async fn fetch_call(conn: &mut sqlx::SqliteConnection, call_id: &str) -> Result<Call> {
    let row = sqlx::query(&format!("{CALL_SELECT} WHERE k.id = $1"))
        .bind(call_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotMember)?;
    call_from_row(&row)
}

async fn in_live_call(conn: &mut sqlx::SqliteConnection, user: &str) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM calls WHERE state IN ('ringing', 'active')
         AND (caller_id = $1 OR callee_id = $1) LIMIT 1",
    )
    .bind(user)
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
    .bind(&log.conversation_id)
    .bind(&call.callee.id)
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
    let client_msg_id = format!("call:{}", call.id);
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

#[cfg(test)]
mod tests {
    use super::super::tests::{fresh_store, user};
    use super::*;
    use crate::call::CallRefusal;

    struct Three {
        store: Store,
        _dir: tempfile::TempDir,
        a: String,
        b: String,
        c: String,
        ab: String,
        cb: String,
    }

    async fn three() -> Three {
        let (store, dir) = fresh_store().await;
        let a = user(&store, "ann").await;
        let b = user(&store, "ben").await;
        let c = user(&store, "cat").await;
        let ab = store.open_direct(&a, &b, 1).await.unwrap();
        let cb = store.open_direct(&c, &b, 1).await.unwrap();
        Three {
            store,
            _dir: dir,
            a,
            b,
            c,
            ab,
            cb,
        }
    }

    #[tokio::test]
    async fn an_answered_call_that_ends_leaves_its_duration_in_the_conversation() {
        let t = three().await;
        let rung = t
            .store
            .start_call(&t.ab, &t.a, CallMedia::Video, 1_000)
            .await
            .unwrap();
        assert_eq!(rung.call.state, CallState::Ringing);
        assert_eq!(rung.call.callee.id, t.b);
        assert!(rung.log.is_none());
        let id = rung.call.id;
        let answered = t
            .store
            .change_call(&id, Some(&t.b), CallAction::Answer, 2_000)
            .await
            .unwrap();
        assert_eq!(answered.call.state, CallState::Active);
        let ended = t
            .store
            .change_call(&id, Some(&t.a), CallAction::HangUp, 194_000)
            .await
            .unwrap();
        assert_eq!(ended.call.state, CallState::Ended);
        let log = ended.log.unwrap();
        assert_eq!(log.body, "Video call · 3:12");
        assert_eq!(log.kind, MessageKind::Call);
        let history = t.store.messages_after(&t.ab, &t.b, 0, 10).await.unwrap();
        assert_eq!(history, vec![log]);
        // Over is over: a second hang-up changes nothing and logs nothing.
        let again = t
            .store
            .change_call(&id, Some(&t.b), CallAction::HangUp, 195_000)
            .await;
        assert!(matches!(
            again,
            Err(StoreError::Call(CallRefusal::AlreadyOver(CallState::Ended)))
        ));
        assert_eq!(
            t.store
                .messages_after(&t.ab, &t.b, 0, 10)
                .await
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn a_callee_already_in_a_call_makes_the_new_call_busy() {
        let t = three().await;
        t.store
            .start_call(&t.ab, &t.a, CallMedia::Audio, 1)
            .await
            .unwrap();
        let busy = t
            .store
            .start_call(&t.cb, &t.c, CallMedia::Video, 2)
            .await
            .unwrap();
        assert_eq!(busy.call.state, CallState::Busy);
        assert_eq!(
            busy.log.map(|m| m.body).as_deref(),
            Some("Video call not answered: busy")
        );
        // And a caller who is ringing someone cannot ring a second person.
        let again = t.store.start_call(&t.ab, &t.a, CallMedia::Audio, 3).await;
        assert!(matches!(again, Err(StoreError::AlreadyInCall)));
    }

    #[tokio::test]
    async fn only_the_two_participants_can_touch_a_call_and_only_members_can_start_one() {
        let t = three().await;
        let call = t
            .store
            .start_call(&t.ab, &t.a, CallMedia::Video, 1)
            .await
            .unwrap()
            .call;
        for action in [CallAction::Answer, CallAction::Decline, CallAction::HangUp] {
            let r = t.store.change_call(&call.id, Some(&t.c), action, 2).await;
            assert!(matches!(r, Err(StoreError::NotMember)), "{action:?}");
        }
        assert!(matches!(
            t.store.call_for(&call.id, &t.c).await,
            Err(StoreError::NotMember)
        ));
        // A caller cannot answer their own call.
        let r = t
            .store
            .change_call(&call.id, Some(&t.a), CallAction::Answer, 2)
            .await;
        assert!(matches!(r, Err(StoreError::Call(CallRefusal::NotAllowed))));
        // Carol is not in Ann and Ben's conversation.
        let r = t.store.start_call(&t.ab, &t.c, CallMedia::Video, 3).await;
        assert!(matches!(r, Err(StoreError::NotMember)));
        // Nothing of that wrote anything.
        assert_eq!(
            t.store.call_for(&call.id, &t.b).await.unwrap().state,
            CallState::Ringing
        );
    }

    #[tokio::test]
    async fn declined_cancelled_and_missed_calls_each_log_their_outcome() {
        let t = three().await;
        let cases = [
            (Some(&t.b), CallAction::Decline, "Call declined"),
            (Some(&t.a), CallAction::HangUp, "Call cancelled"),
            (None, CallAction::RingTimeout, "Missed video call"),
        ];
        for (asker, action, text) in cases {
            let id = t
                .store
                .start_call(&t.ab, &t.a, CallMedia::Video, 1)
                .await
                .unwrap()
                .call
                .id;
            let change = t
                .store
                .change_call(&id, asker.map(|s| s.as_str()), action, 2)
                .await
                .unwrap();
            assert_eq!(change.log.map(|m| m.body).as_deref(), Some(text));
        }
        assert!(t.store.live_call_ids().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_group_cannot_be_called_and_a_blocked_person_cannot_be_rung() {
        let t = three().await;
        let group = t
            .store
            .create_group(&t.a, "G", &[t.b.clone(), t.c.clone()], 1)
            .await
            .unwrap();
        let r = t.store.start_call(&group, &t.a, CallMedia::Audio, 2).await;
        assert!(matches!(r, Err(StoreError::NotDirect)));
        sqlx::query("UPDATE users SET blocked_at = 1 WHERE id = $1")
            .bind(&t.b)
            .execute(&t.store.pool)
            .await
            .unwrap();
        let r = t.store.start_call(&t.ab, &t.a, CallMedia::Audio, 2).await;
        assert!(matches!(r, Err(StoreError::NoSuchUser)));
    }

    /// How many unread the list shows `user` in conversation `id`.
    async fn unread(store: &Store, user: &str, id: &str) -> i64 {
        let list = store.conversations_of(user).await.unwrap();
        list.iter().find(|c| c.id == id).unwrap().unread()
    }

    #[tokio::test]
    async fn a_call_the_callee_took_part_in_is_no_unread_for_them_but_a_missed_one_is() {
        let t = three().await;
        // Answered, then hung up by the caller.
        let call = t
            .store
            .start_call(&t.ab, &t.a, CallMedia::Audio, 1)
            .await
            .unwrap()
            .call;
        t.store
            .change_call(&call.id, Some(&t.b), CallAction::Answer, 2)
            .await
            .unwrap();
        let over = t
            .store
            .change_call(&call.id, Some(&t.a), CallAction::HangUp, 3)
            .await
            .unwrap();
        assert!(over.callee_read);
        assert_eq!(unread(&t.store, &t.b, &t.ab).await, 0);
        assert_eq!(unread(&t.store, &t.a, &t.ab).await, 0);
        // Declined.
        let call = t
            .store
            .start_call(&t.ab, &t.a, CallMedia::Audio, 4)
            .await
            .unwrap()
            .call;
        let over = t
            .store
            .change_call(&call.id, Some(&t.b), CallAction::Decline, 5)
            .await
            .unwrap();
        assert!(over.callee_read);
        assert_eq!(unread(&t.store, &t.b, &t.ab).await, 0);
        // Missed: news for the callee.
        let call = t
            .store
            .start_call(&t.ab, &t.a, CallMedia::Audio, 6)
            .await
            .unwrap()
            .call;
        let over = t
            .store
            .change_call(&call.id, None, CallAction::RingTimeout, 7)
            .await
            .unwrap();
        assert!(!over.callee_read);
        assert_eq!(unread(&t.store, &t.b, &t.ab).await, 1);
        // With that still unread, a call taken part in leaves the count as it is plus its
        // line: earlier unread stays unread.
        let call = t
            .store
            .start_call(&t.ab, &t.a, CallMedia::Audio, 8)
            .await
            .unwrap()
            .call;
        t.store
            .change_call(&call.id, Some(&t.b), CallAction::Decline, 9)
            .await
            .unwrap();
        assert_eq!(unread(&t.store, &t.b, &t.ab).await, 2);
    }
}
