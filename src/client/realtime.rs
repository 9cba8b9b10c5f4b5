//! The tab's one WebSocket. Keeps [`Chat`] live: subscribes to every conversation in the
//! list, applies events, and after a reconnect resumes each conversation from the newest
//! message it holds: the server checks that message is still its history (`Reset` if not:
//! the copy is loaded again) and the client fetches by seq what it missed. A live message
//! past a gap is never shown before the gap is filled (see [`crate::history`]).
//! Reconnects with exponential backoff and jitter; the outbox sends what waited.
//!
//! Browser only; what it keeps between events is a [`Link`] in the client's bookkeeping.

use super::sync::{catch_up, reload_conversation, reload_list, reload_notifications};
use super::time::now_ms;
use super::{Client, ConnectionStatus, Typist};
use crate::domain::{ConversationId, PresenceState};
use crate::history::Live;
use crate::protocol::{
    ClientFrame, Event, ServerFrame, Topic, BLOCKED_REASON, CLOSE_SESSION_ENDED,
};
use leptos::prelude::*;
use std::collections::HashSet;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// How long a typing indicator lasts without a refresh, in milliseconds.
const TYPING_TTL_MS: f64 = 5000.0;

/// The tab's connection between events.
#[derive(Default)]
pub(super) struct Link {
    socket: Option<WebSocket>,
    /// Conversations subscribed on this socket.
    subscribed: HashSet<ConversationId>,
    /// Reconnects tried since the last open, for the backoff.
    attempt: u32,
    started: bool,
    /// The server's name for this tab's connection (calls are bound to it).
    connection_id: Option<u64>,
    /// Counts answered subscriptions. Shortly after the last of a burst is answered the
    /// list is loaded once more: what was sent between loading it and subscribing (the
    /// unread count of a conversation this tab holds no messages of) is in it then.
    answered: u64,
    /// Whether this connection listens to the admin dashboard.
    admin_subscribed: bool,
}

/// This tab's connection as the server names it, while connected.
pub(super) fn connection_id(client: Client) -> Option<u64> {
    client.with_inner(|i| i.link.connection_id).flatten()
}

/// Sends a frame if the socket is open; typing and presence are best-effort by design.
pub(super) fn send(client: Client, frame: &ClientFrame) {
    let Ok(text) = serde_json::to_string(frame) else {
        return;
    };
    client.with_inner(|i| {
        if let Some(ws) = i.link.socket.as_ref() {
            if ws.ready_state() == WebSocket::OPEN {
                let _ = ws.send_with_str(&text);
            }
        }
    });
}

/// Starts the connection once per page, and keeps the subscriptions in step with the list.
pub(super) fn start(client: Client) {
    let started = client.with_inner(|i| std::mem::replace(&mut i.link.started, true));
    if started != Some(false) {
        return;
    }
    let chat = client.chat;
    reload_list(client);
    connect(client);
    // Subscribe to every listed conversation (again after each reconnect).
    Effect::new(move |_| {
        let open = chat.status.get() == ConnectionStatus::Open;
        let ids: Vec<ConversationId> = chat.conversations.with(|l| {
            l.as_ref()
                .map(|l| l.iter().map(|c| c.id.clone()).collect())
                .unwrap_or_default()
        });
        if !open {
            return;
        }
        for id in ids {
            let new = client
                .with_inner(|i| i.link.subscribed.insert(id.clone()))
                .unwrap_or(false);
            if new {
                // Caught up once the server has said the copy resumes (`Subscribed`).
                send(
                    client,
                    &ClientFrame::Subscribe {
                        resume: chat.resume_point(&id),
                        topic: Topic::Conversation(id),
                    },
                );
            }
        }
    });
    // The dashboard's figures while it is on screen.
    Effect::new(move |_| {
        let want = client.admin.watching.get() && chat.status.get() == ConnectionStatus::Open;
        let had = client.with_inner(|i| std::mem::replace(&mut i.link.admin_subscribed, want));
        if had.is_some_and(|had| had != want) {
            send(
                client,
                &if want {
                    ClientFrame::Subscribe {
                        topic: Topic::Admin,
                        resume: None,
                    }
                } else {
                    ClientFrame::Unsubscribe {
                        topic: Topic::Admin,
                    }
                },
            );
        }
    });
    // Away while the tab is hidden; online again when it is seen.
    let _ = window_event_listener(leptos::ev::visibilitychange, move |_| {
        let state = if document().hidden() {
            PresenceState::Away
        } else {
            PresenceState::Online
        };
        send(client, &ClientFrame::Presence { state });
    });
    // Typing indicators expire on their own.
    let _ = set_interval_with_handle(
        move || {
            let now = now_ms();
            let stale = chat
                .typing
                .with_untracked(|t| t.values().flatten().any(|x| x.until_ms <= now));
            if stale {
                chat.typing.update(|t| {
                    for list in t.values_mut() {
                        list.retain(|x| x.until_ms > now);
                    }
                });
            }
        },
        std::time::Duration::from_millis(500),
    );
}

fn socket_url() -> Option<String> {
    let location = window().location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    // The tab says whether it is seen as it connects, so that a tab opened in the
    // background (or reconnecting while hidden) is never announced online.
    let presence = if document().hidden() {
        "?presence=away"
    } else {
        ""
    };
    Some(format!("{scheme}://{}/ws{presence}", location.host().ok()?))
}

fn connect(client: Client) {
    let chat = client.chat;
    let Some(url) = socket_url() else { return };
    let ws = match WebSocket::new(&url) {
        Ok(ws) => ws,
        Err(_) => return schedule_reconnect(client),
    };

    let on_open = Closure::<dyn FnMut()>::new(move || {
        client.with_inner(|i| {
            i.link.attempt = 0;
            i.link.subscribed.clear();
            i.link.admin_subscribed = false;
        });
        // The list may have changed while we were away.
        reload_list(client);
        reload_notifications(client);
        // The socket's address said whether the tab is seen; it may have changed since.
        send(
            client,
            &ClientFrame::Presence {
                state: if document().hidden() {
                    PresenceState::Away
                } else {
                    PresenceState::Online
                },
            },
        );
        chat.status.set(ConnectionStatus::Open);
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    on_open.forget();

    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        if let Some(text) = e.data().as_string() {
            if let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) {
                apply(client, frame);
            }
        }
    });
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();

    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
        client.with_inner(|i| {
            i.link.socket = None;
            i.link.connection_id = None;
        });
        super::call::socket_lost(client);
        if e.code() == CLOSE_SESSION_ENDED {
            super::go_to(if e.reason() == BLOCKED_REASON {
                "/login?ended=blocked"
            } else {
                "/login"
            });
            return;
        }
        chat.status.set(ConnectionStatus::Reconnecting);
        schedule_reconnect(client);
    });
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    on_close.forget();

    client.with_inner(|i| i.link.socket = Some(ws));
}

/// 0.5 s, 1 s, 2 s, ... up to 30 s, each times a random 0.5 to 1.5 so that a server
/// restart is not met by every client at the same instant.
fn schedule_reconnect(client: Client) {
    let Some(attempt) = client.with_inner(|i| {
        let n = i.link.attempt;
        i.link.attempt = n.saturating_add(1);
        n
    }) else {
        return;
    };
    let base = (500.0 * 2f64.powi(attempt.min(6) as i32)).min(30_000.0);
    let delay = base * (0.5 + js_sys::Math::random());
    set_timeout(
        move || connect(client),
        std::time::Duration::from_millis(delay as u64),
    );
}

fn subscription_answered(client: Client) {
    let mine = client.with_inner(|i| {
        i.link.answered += 1;
        i.link.answered
    });
    set_timeout(
        move || {
            if client.with_inner(|i| i.link.answered) == mine {
                reload_list(client);
            }
        },
        std::time::Duration::from_millis(300),
    );
}

fn apply(client: Client, frame: ServerFrame) {
    let chat = client.chat;
    let event = match frame {
        ServerFrame::Event { event, .. } => event,
        ServerFrame::Hello {
            connection_id,
            limits,
            ..
        } => {
            client.with_inner(|i| i.link.connection_id = Some(connection_id));
            chat.limits.set(limits);
            // The server is back: what waited in the outbox goes now.
            super::sync::resume(client);
            return;
        }
        ServerFrame::Limits { limits } => return chat.limits.set(limits),
        ServerFrame::CallOptions { options } => return client.calls.options.set(Some(options)),
        ServerFrame::Subscribed {
            topic: Topic::Conversation(id),
        } => {
            subscription_answered(client);
            return catch_up(client, id);
        }
        ServerFrame::Reset {
            topic: Topic::Conversation(id),
        } => {
            subscription_answered(client);
            return reload_conversation(client, id);
        }
        _ => return,
    };
    match event {
        Event::Call { call } => super::call::on_call_event(client, *call),
        Event::CallSignal { call_id, signal } => super::call::on_signal(client, call_id, signal),
        Event::MessageCreated { message } => {
            let id = message.conversation_id.clone();
            let known = chat
                .conversations
                .with_untracked(|l| l.as_ref().is_some_and(|l| l.iter().any(|c| c.id == id)));
            if !known {
                reload_list(client);
            }
            let mine = message.sender_id == chat.me.get_untracked().id;
            if !mine {
                super::attention::message_arrived(chat, &message);
                chat.typing.update(|t| {
                    if let Some(list) = t.get_mut(&id) {
                        list.retain(|x| x.user_id != message.sender_id);
                    }
                });
            }
            chat.note_message(&message);
            // Only conversations this tab holds history of keep messages; a gap means
            // something was missed: fetch it rather than show a hole.
            if let Some(Live::Gap { .. }) = chat.live_message(message) {
                catch_up(client, id);
            }
        }
        Event::ReadMarked {
            conversation_id,
            user_id,
            seq,
        } => chat.note_read(&conversation_id, &user_id, seq),
        Event::Typing { user_id, .. } if user_id == chat.me.get_untracked().id => {
            // The server tells nobody that they themselves are typing; nor does this tab.
        }
        Event::Typing {
            conversation_id,
            user_id,
            display_name,
            active,
        } => chat.typing.update(|t| {
            let list = t.entry(conversation_id).or_default();
            list.retain(|x| x.user_id != user_id);
            if active {
                list.push(Typist {
                    user_id,
                    display_name,
                    until_ms: now_ms() + TYPING_TTL_MS,
                });
            }
        }),
        Event::ConversationsChanged => reload_list(client),
        Event::NotificationsChanged => reload_notifications(client),
        Event::AccountChanged => {
            let _ = window().location().reload();
        }
        Event::Dashboard { stats } => client.admin.dashboard.set(Some(*stats)),
        Event::Presence {
            user_id,
            state,
            last_seen_at,
        } => chat.presence.update(|p| {
            let last = last_seen_at.or_else(|| p.get(&user_id).and_then(|x| x.1));
            p.insert(user_id, (state, last));
        }),
    }
}
