//! The outbox: messages the user wrote that the server has not stored yet. Each
//! conversation sends one at a time, in the order written, so they are stored in that
//! order. A send that fails because the server could not be reached (or could not store,
//! or asked to slow down) waits and goes again by itself (when the connection is back, or
//! after a pause) with the same client id: the server stores it once whatever happened to
//! the earlier attempts. A send the server refused stays with its reason and "Retry".

use crate::api::chat::send_message;
use crate::ui::chat_state::{Chat, Pending, PendingState};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::time::Duration;

thread_local! {
    /// Conversations with a send on its way.
    static IN_FLIGHT: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
    /// Failed attempts in a row, for the pause before the next.
    static FAILURES: Cell<u32> = const { Cell::new(0) };
    static RETRY_SCHEDULED: Cell<bool> = const { Cell::new(false) };
}

/// Queues a new message and starts sending.
pub fn push(chat: Chat, p: Pending) {
    let conversation_id = p.conversation_id.clone();
    chat.pending.update(|list| list.push(p));
    pump(chat, conversation_id);
}

/// Sends a refused message again, now (the person pressed Retry).
pub fn retry(chat: Chat, client_msg_id: &str) {
    let mut conversation = None;
    chat.pending.update(|list| {
        if let Some(x) = list.iter_mut().find(|x| x.client_msg_id == client_msg_id) {
            x.state = PendingState::Sending;
            conversation = Some(x.conversation_id.clone());
        }
    });
    if let Some(id) = conversation {
        pump(chat, id);
    }
}

/// Sends whatever waits, in every conversation (the connection is back).
pub fn resume(chat: Chat) {
    FAILURES.with(|f| f.set(0));
    pump_all(chat);
}

/// Starts every conversation that has a message to send.
fn pump_all(chat: Chat) {
    let ids: HashSet<String> = chat.pending.with_untracked(|list| {
        list.iter()
            .filter(|x| matches!(x.state, PendingState::Sending | PendingState::Waiting(_)))
            .map(|x| x.conversation_id.clone())
            .collect()
    });
    for id in ids {
        pump(chat, id);
    }
}

fn set_state(chat: Chat, client_msg_id: &str, state: PendingState) {
    chat.pending.update(|list| {
        if let Some(x) = list.iter_mut().find(|x| x.client_msg_id == client_msg_id) {
            x.state = state;
        }
    });
}

/// Sends the conversation's next message unless one is on its way.
fn pump(chat: Chat, conversation_id: String) {
    if IN_FLIGHT.with(|f| f.borrow().contains(&conversation_id)) {
        return;
    }
    let next = chat.pending.with_untracked(|list| {
        list.iter()
            .find(|x| {
                x.conversation_id == conversation_id
                    && matches!(x.state, PendingState::Sending | PendingState::Waiting(_))
            })
            .cloned()
    });
    let Some(p) = next else { return };
    IN_FLIGHT.with(|f| f.borrow_mut().insert(conversation_id.clone()));
    spawn_local(async move {
        let sent = send_message(
            p.conversation_id.clone(),
            p.client_msg_id.clone(),
            p.body.clone(),
        )
        .await;
        IN_FLIGHT.with(|f| f.borrow_mut().remove(&conversation_id));
        match sent {
            Ok(m) => {
                FAILURES.with(|f| f.set(0));
                chat.note_message(&m);
                if !chat.add_messages(&conversation_id, vec![m]) {
                    // Messages before it are missing here: fetch them, it comes along.
                    set_state(chat, &p.client_msg_id, PendingState::Stored);
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
                set_state(chat, &p.client_msg_id, PendingState::Waiting(reason));
                retry_later(chat, after);
            }
            Err(e) => {
                set_state(chat, &p.client_msg_id, PendingState::Failed(e.to_string()));
                pump(chat, conversation_id);
            }
        }
    });
}

/// One timer for all waiting messages: 1 s, 2 s, 4 s ... up to 15 s, or when the server
/// said; a reconnect sends at once without waiting for it.
fn retry_later(chat: Chat, after_secs: Option<u64>) {
    if RETRY_SCHEDULED.with(|r| r.replace(true)) {
        return;
    }
    let failures = FAILURES.with(|f| {
        let n = f.get();
        f.set(n.saturating_add(1));
        n
    });
    let delay = after_secs
        .map(|s| s.saturating_mul(1000))
        .unwrap_or_else(|| (1000u64 << failures.min(4)).min(15_000));
    set_timeout(
        move || {
            RETRY_SCHEDULED.with(|r| r.set(false));
            pump_all(chat);
        },
        Duration::from_millis(delay),
    );
}
