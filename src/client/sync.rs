//! Keeping the picture in step with the server over plain requests: the outbox's sends
//! (the rules are [`crate::outbox::Outbox`]'s), catch-up passes (the plan is
//! [`crate::catch_up::CatchUp`]'s) and reloading the list and the notifications.

use super::Client;
use crate::api::chat::{list_conversations, load_messages, messages_after, send_message};
use crate::api::people::list_notifications;
use crate::domain::{ClientMsgId, ConversationId};
use crate::error::AppError;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::time::Duration;

/// Queues a new message and starts sending.
pub(super) fn push(
    client: Client,
    conversation_id: ConversationId,
    client_msg_id: ClientMsgId,
    body: String,
) {
    client
        .chat
        .outbox
        .update(|o| o.push(conversation_id.clone(), client_msg_id, body));
    pump(client, conversation_id);
}

/// Sends a waiting or refused message again, now.
pub(super) fn retry(client: Client, client_msg_id: &ClientMsgId) {
    let mut conversation = None;
    client
        .chat
        .outbox
        .update(|o| conversation = o.retry(client_msg_id));
    if let Some(id) = conversation {
        pump(client, id);
    }
}

/// Sends whatever waits, in every conversation (the connection is back).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(super) fn resume(client: Client) {
    let mut due = Vec::new();
    client.chat.outbox.update(|o| due = o.resume());
    for id in due {
        pump(client, id);
    }
}

/// Sends the conversation's next message unless one is on its way.
fn pump(client: Client, conversation_id: ConversationId) {
    let outbox = client.chat.outbox;
    // Which message is on its way is not shown: no need to tell the page.
    let mut next = None;
    outbox.update_untracked(|o| next = o.next(&conversation_id));
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
                client.chat.note_message(&m);
                let shown = client.chat.add_messages(&conversation_id, vec![m]);
                outbox.update(|o| o.stored(&conversation_id, &p.client_msg_id, shown));
                if !shown {
                    // Messages before it are missing here: fetch them, it comes along.
                    catch_up(client, conversation_id.clone());
                }
                pump(client, conversation_id);
            }
            Err(e) if e.is_transient() => {
                let after = e.retry_after_secs();
                let reason = match e {
                    AppError::Network(_) => {
                        "No connection to Natter. It will be sent when the connection is back."
                            .to_string()
                    }
                    other => other.to_string(),
                };
                let mut delay = None;
                outbox.update(|o| {
                    delay = o.waiting(&conversation_id, &p.client_msg_id, reason, after)
                });
                if let Some(ms) = delay {
                    retry_later(client, ms);
                }
            }
            Err(e) => {
                outbox.update(|o| o.refused(&conversation_id, &p.client_msg_id, e.to_string()));
                pump(client, conversation_id);
            }
        }
    });
}

/// One timer (`delay_ms` milliseconds) for all waiting messages; a reconnect sends at once
/// without waiting for it.
fn retry_later(client: Client, delay_ms: u64) {
    set_timeout(
        move || {
            let mut due = Vec::new();
            client.chat.outbox.update(|o| due = o.retry_timer_fired());
            for id in due {
                pump(client, id);
            }
        },
        Duration::from_millis(delay_ms),
    );
}

/// Fetches what this tab missed in a conversation it holds messages of, page by page.
/// One pass at a time per conversation; a request during a pass makes one more pass.
pub(super) fn catch_up(client: Client, conversation_id: ConversationId) {
    let chat = client.chat;
    if chat.last_seq(&conversation_id).is_none() {
        return;
    }
    let start = client
        .with_inner(|i| i.catch_up.request(&conversation_id))
        .unwrap_or(false);
    if !start {
        return;
    }
    spawn_local(async move {
        while let Some(after) = chat.last_seq(&conversation_id) {
            let page = match messages_after(conversation_id.clone(), after).await {
                Ok(page) => page,
                Err(_) => break,
            };
            let len = page.len();
            for m in &page {
                chat.note_message(m);
            }
            let added = !page.is_empty() && chat.add_messages(&conversation_id, page);
            let again = client
                .with_inner(|i| i.catch_up.page(&conversation_id, len, added))
                .unwrap_or(false);
            if !again {
                return;
            }
        }
        client.with_inner(|i| i.catch_up.stopped(&conversation_id));
    });
}

/// Loads the notifications again.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(super) fn reload_notifications(client: Client) {
    spawn_local(async move {
        if let Ok(list) = list_notifications().await {
            client.chat.notifications.set(list);
        }
    });
}

/// Loads the conversation list again (with the presence it comes with).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(super) fn reload_list(client: Client) {
    spawn_local(async move {
        if let Ok(list) = list_conversations().await {
            client.chat.note_list_presence(&list);
            client.chat.conversations.set(Some(list));
        }
    });
}

/// The server cannot resume this tab's copy of a conversation: drop it, and load the
/// newest page again if it is on screen.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(super) fn reload_conversation(client: Client, conversation_id: ConversationId) {
    let chat = client.chat;
    chat.messages.update(|all| {
        all.remove(&conversation_id);
    });
    reload_list(client);
    if chat.open.get_untracked().as_ref() != Some(&conversation_id) {
        return;
    }
    spawn_local(async move {
        if let Ok(page) = load_messages(conversation_id.clone(), None).await {
            chat.load_newest(&conversation_id, page);
            catch_up(client, conversation_id);
        }
    });
}
