//! Messages: sending one, reading pages of history, moving the read mark.

use crate::domain::PAGE_SIZE;
use crate::domain::{
    check_client_msg_id, parse_message_body, ClientMsgId, ConversationId, Message, User,
};
use crate::error::AppError;
use crate::protocol::{Event, Topic};
use crate::server::store::NewMessage;
use crate::server::{metrics, now_ms, AppState};

/// The send path: valid (`client_msg_id` 1–64 of `[A-Za-z0-9-]`; the body trimmed,
/// non-empty, at most `max_message_chars`) -> the sender's message rate -> the
/// conversation's [`PublishOrder`](crate::server::hub::PublishOrder) lock, held until
/// published -> written by the group-commit writer, or numbered in memory when
/// `store_messages` is off (membership and blocks are checked there, in the same step) ->
/// after the commit, `MessageCreated` on `conversation:{id}`. Idempotent on
/// `(sender, client_msg_id)`: a resend returns the stored message and publishes nothing.
///
/// Returns the stored message (its `seq`, `id`, and `created_at` in ms since the epoch).
///
/// # Errors
/// [`AppError::Invalid`] for a bad id or body, or a `client_msg_id` already used for
/// another message; [`AppError::RateLimited`] over `messages_per_minute` (with the seconds
/// to wait); [`AppError::Forbidden`] for a conversation the sender is not in (or that does
/// not exist); [`AppError::Refused`] across a block; [`AppError::Unavailable`] when the
/// database cannot write now (the outbox retries).
#[tracing::instrument(skip_all, fields(user = %me.id, conversation = %conversation_id))]
pub async fn send(
    state: &AppState,
    me: &User,
    conversation_id: &ConversationId,
    client_msg_id: ClientMsgId,
    body: &str,
) -> Result<Message, AppError> {
    let started = std::time::Instant::now();
    check_client_msg_id(&client_msg_id)?;
    let body = parse_message_body(body, state.settings().max_message_chars)?;
    if let Err(wait) = state.rates.messages.take(me.id.as_str()) {
        let secs = wait.as_secs() + 1;
        return Err(AppError::RateLimited {
            message: format!(
                "You are sending messages too fast (at most {} a minute). \
                 Waiting {secs} s before sending.",
                state.settings().messages_per_minute
            ),
            retry_after_secs: secs,
        });
    }
    // Until published: events of one conversation go out in seq order.
    let _order = state.publish_order.lock(conversation_id).await;
    let sent = if state.settings().store_messages {
        state
            .writer
            .send(NewMessage {
                conversation_id: conversation_id.clone(),
                sender: me.id.clone(),
                client_msg_id,
                body,
                now: now_ms(),
            })
            .await
    } else {
        state
            .broadcast_only
            .message(
                &*state.store,
                conversation_id,
                &me.id,
                &client_msg_id,
                &body,
            )
            .await
    }?;
    metrics::send_committed(started.elapsed());
    if sent.created {
        state.hub.publish(
            &Topic::Conversation(conversation_id.clone()),
            Event::MessageCreated {
                message: sent.message.clone(),
            },
        );
        metrics::send_published(started.elapsed());
    }
    Ok(sent.message)
}

/// A page of history: the newest [`PAGE_SIZE`] messages before `before_seq` (or the newest
/// of all).
///
/// # Errors
/// [`AppError::Forbidden`] for a conversation the asker is not in.
#[tracing::instrument(skip_all, fields(user = %me.id, conversation = %conversation_id))]
pub async fn before(
    state: &AppState,
    me: &User,
    conversation_id: &ConversationId,
    before_seq: Option<i64>,
) -> Result<Vec<Message>, AppError> {
    let before = before_seq.unwrap_or(i64::MAX);
    Ok(state
        .store
        .messages_before(conversation_id, &me.id, before, PAGE_SIZE)
        .await?)
}

/// What a client missed: at most [`PAGE_SIZE`] messages after `after_seq`, oldest first.
///
/// # Errors
/// [`AppError::Forbidden`] for a conversation the asker is not in.
#[tracing::instrument(skip_all, fields(user = %me.id, conversation = %conversation_id, after_seq))]
pub async fn after(
    state: &AppState,
    me: &User,
    conversation_id: &ConversationId,
    after_seq: i64,
) -> Result<Vec<Message>, AppError> {
    Ok(state
        .store
        .messages_after(conversation_id, &me.id, after_seq, PAGE_SIZE)
        .await?)
}

/// Moves the asker's read mark up to `seq` (never back); returns the mark now. When it
/// moved, the conversation hears `ReadMarked` and the asker's tabs reload their list;
/// otherwise nobody is told.
///
/// # Errors
/// [`AppError::Forbidden`] for a conversation the asker is not in.
#[tracing::instrument(skip_all, fields(user = %me.id, conversation = %conversation_id, seq))]
pub async fn mark_read(
    state: &AppState,
    me: &User,
    conversation_id: &ConversationId,
    seq: i64,
) -> Result<i64, AppError> {
    let (mark, moved) = state
        .store
        .move_read_mark(conversation_id, &me.id, seq)
        .await?;
    if !moved {
        return Ok(mark);
    }
    state.hub.publish(
        &Topic::Conversation(conversation_id.clone()),
        Event::ReadMarked {
            conversation_id: conversation_id.clone(),
            user_id: me.id.clone(),
            seq: mark,
        },
    );
    state
        .hub
        .publish(&Topic::User(me.id.clone()), Event::ConversationsChanged);
    Ok(mark)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::realtime::testing::{events_of, fixture};

    #[tokio::test]
    async fn a_resent_message_is_stored_and_published_once() {
        let f = fixture().await;
        let (ben, mut ben_rx) = f.state.hub.connect(&"ben".into(), "ben-session");
        f.state
            .hub
            .subscribe(Topic::Conversation(f.ours.clone()), &ben);
        let first = send(&f.state, &f.ann, &f.ours, "m-1".into(), " hello ")
            .await
            .unwrap();
        let again = send(&f.state, &f.ann, &f.ours, "m-1".into(), "hello")
            .await
            .unwrap();
        assert_eq!((first.id, first.seq), (again.id, 1));
        assert_eq!(events_of(&mut ben_rx, "message_created").len(), 1);
        let theirs = send(&f.state, &f.ann, &f.theirs, "m-2".into(), "hi").await;
        assert_eq!(theirs, Err(AppError::Forbidden));
    }

    #[tokio::test]
    async fn a_sent_message_shows_in_the_metrics_as_stored_timed_and_delivered() {
        use crate::server::metrics::tests::value_of;
        metrics::recorder();
        let f = fixture().await;
        let (ben, mut ben_rx) = f.state.hub.connect(&"ben".into(), "ben-session");
        f.state
            .hub
            .subscribe(Topic::Conversation(f.ours.clone()), &ben);
        // Other tests record into the same process-wide recorder: look for growth only.
        let series = [
            "natter_messages_stored_total",
            "natter_deliveries_total",
            "natter_send_duration_seconds_count{stage=\"commit\"}",
            "natter_send_duration_seconds_count{stage=\"publish\"}",
            "natter_commit_batch_messages_count",
        ];
        let before = series.map(value_of);
        send(&f.state, &f.ann, &f.ours, "m-1".into(), "hello")
            .await
            .unwrap();
        assert_eq!(events_of(&mut ben_rx, "message_created").len(), 1);
        for (name, before) in series.iter().zip(before) {
            assert!(value_of(name) >= before + 1.0, "{name} did not grow");
        }
        let text = metrics::recorder().render();
        assert!(
            text.contains("natter_send_duration_seconds_bucket{stage=\"commit\",le=\"0.01\"}"),
            "sends are timed in buckets of seconds: {text}"
        );
    }

    #[tokio::test]
    async fn a_send_over_the_message_rate_counts_as_rate_limited() {
        use crate::server::metrics::tests::value_of;
        metrics::recorder();
        let f = fixture().await;
        f.state.rates.messages.set_limit(1);
        let series = "natter_rate_limited_total{rate=\"message\"}";
        let before = value_of(series);
        send(&f.state, &f.ann, &f.ours, "m-1".into(), "one")
            .await
            .unwrap();
        let refused = send(&f.state, &f.ann, &f.ours, "m-2".into(), "two").await;
        assert!(matches!(refused, Err(AppError::RateLimited { .. })));
        assert!(value_of(series) >= before + 1.0);
    }
}
