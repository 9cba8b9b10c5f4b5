//! The outbox in the browser: sends what [`crate::outbox::Outbox`] hands out and reports
//! each answer back to it.

use crate::api::chat::send_message;
use crate::ui::chat_state::Chat;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::time::Duration;

/// Queues a new message and starts sending.
pub fn push(chat: Chat, conversation_id: String, client_msg_id: String, body: String) {
    chat.pending
        .update(|o| o.push(conversation_id.clone(), client_msg_id, body));
    pump(chat, conversation_id);
}

/// Sends a refused message again, now (the person pressed Retry).
pub fn retry(chat: Chat, client_msg_id: &str) {
    let mut conversation = None;
    chat.pending
        .update(|o| conversation = o.retry(client_msg_id));
    if let Some(id) = conversation {
        pump(chat, id);
    }
}

/// Sends whatever waits, in every conversation (the connection is back).
pub fn resume(chat: Chat) {
    let mut due = Vec::new();
    chat.pending.update(|o| due = o.resume());
    for id in due {
        pump(chat, id);
    }
}

/// Sends the conversation's next message unless one is on its way.
fn pump(chat: Chat, conversation_id: String) {
    // Which message is on its way is not shown: no need to tell the page.
    let mut next = None;
    chat.pending
        .update_untracked(|o| next = o.next(&conversation_id));
    let Some(p) = next else { return };
    spawn_local(async move {
        let sent = send_message(
            p.conversation_id.clone(),
            p.client_msg_id.clone(),
            p.body.clone(),
        )
        .await;
        match sent {
            Ok(m) => {
                chat.note_message(&m);
                let shown = chat.add_messages(&conversation_id, vec![m]);
                chat.pending
                    .update(|o| o.stored(&conversation_id, &p.client_msg_id, shown));
                if !shown {
                    // Messages before it are missing here: fetch them, it comes along.
                    #[cfg(feature = "hydrate")]
                    crate::client::realtime::catch_up(chat, conversation_id.clone());
                }
                pump(chat, conversation_id);
            }
            Err(e) if e.is_transient() => {
                let after = e.retry_after_secs();
                let reason = match e {
                    crate::error::AppError::Network(_) => {
                        "No connection to Natter. It will be sent when the connection is back."
                            .to_string()
                    }
                    other => other.to_string(),
                };
                let mut delay = None;
                chat.pending.update(|o| {
                    delay = o.waiting(&conversation_id, &p.client_msg_id, reason, after)
                });
                if let Some(ms) = delay {
                    retry_later(chat, ms);
                }
            }
            Err(e) => {
                chat.pending
                    .update(|o| o.refused(&conversation_id, &p.client_msg_id, e.to_string()));
                pump(chat, conversation_id);
            }
        }
    });
}

/// One timer for all waiting messages; a reconnect sends at once without waiting for it.
fn retry_later(chat: Chat, delay_ms: u64) {
    set_timeout(
        move || {
            let mut due = Vec::new();
            chat.pending.update(|o| due = o.retry_timer_fired());
            for id in due {
                pump(chat, id);
            }
        },
        Duration::from_millis(delay_ms),
    );
}
