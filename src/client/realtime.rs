//! The tab's one WebSocket. Keeps [`Chat`] live: subscribes to every conversation in the
//! list, applies events, and after a reconnect resumes each conversation from the newest
//! message it holds: the server checks that message is still its history (`Reset` if not:
//! the copy is loaded again) and the client fetches by seq what it missed. A live message
//! past a gap is never shown before the gap is filled (see [`crate::history`]).
//! Reconnects with exponential backoff and jitter; the outbox sends what waited.

use crate::api::chat::{list_conversations, load_messages, messages_after};
use crate::api::people::list_notifications;
use crate::catch_up::CatchUp;
use crate::history::Live;
use crate::protocol::{
    ClientFrame, Event, PresenceState, ServerFrame, Topic, BLOCKED_REASON, CLOSE_SESSION_ENDED,
};
use crate::ui::chat_state::{now_ms, Chat, ConnectionStatus, Typist};
use crate::ui::outbox;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// How long a typing indicator lasts without a refresh.
pub const TYPING_TTL_MS: f64 = 5000.0;

thread_local! {
    static SOCKET: RefCell<Option<WebSocket>> = const { RefCell::new(None) };
    static SUBSCRIBED: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
    static ATTEMPT: Cell<u32> = const { Cell::new(0) };
    static STARTED: Cell<bool> = const { Cell::new(false) };
    /// The server's name for this tab's connection (calls are bound to it).
    static CONNECTION_ID: Cell<Option<u64>> = const { Cell::new(None) };
    /// Counts answered subscriptions. Shortly after the last of a burst is answered the
    /// list is loaded once more: what was sent between loading it and subscribing (the
    /// unread count of a conversation this tab holds no messages of) is in it then.
    static ANSWERED: Cell<u64> = const { Cell::new(0) };
    /// Whether this connection listens to the admin dashboard.
    static ADMIN_SUBSCRIBED: Cell<bool> = const { Cell::new(false) };
    /// Catch-up passes under way.
    static CATCHING_UP: RefCell<CatchUp> =
        RefCell::new(CatchUp::new(crate::api::chat::PAGE_SIZE as usize));
}

/// This tab's connection as the server names it, while connected.
pub fn connection_id() -> Option<u64> {
    CONNECTION_ID.with(Cell::get)
}

/// Sends a frame if the socket is open; typing and presence are best-effort by design.
pub fn send(frame: &ClientFrame) {
    let Ok(text) = serde_json::to_string(frame) else {
        return;
    };
    SOCKET.with(|s| {
        if let Some(ws) = s.borrow().as_ref() {
            if ws.ready_state() == WebSocket::OPEN {
                let _ = ws.send_with_str(&text);
            }
        }
    });
}

/// Starts the connection once per page, and keeps the subscriptions in step with the list.
pub fn start(chat: Chat) {
    if STARTED.with(|s| s.replace(true)) {
        return;
    }
    reload_list(chat);
    connect(chat);
    // Subscribe to every listed conversation (again after each reconnect).
    Effect::new(move |_| {
        let open = chat.status.get() == ConnectionStatus::Open;
        let ids: Vec<String> = chat.conversations.with(|l| {
            l.as_ref()
                .map(|l| l.iter().map(|c| c.id.clone()).collect())
                .unwrap_or_default()
        });
        if !open {
            return;
        }
        for id in ids {
            let new = SUBSCRIBED.with(|s| s.borrow_mut().insert(id.clone()));
            if new {
                // Caught up once the server has said the copy resumes (`Subscribed`).
                send(&ClientFrame::Subscribe {
                    resume: chat.resume_point(&id),
                    topic: Topic::Conversation(id),
                });
            }
        }
    });
    // The dashboard's figures while it is on screen.
    Effect::new(move |_| {
        let want = chat.watch_admin.get() && chat.status.get() == ConnectionStatus::Open;
        if want != ADMIN_SUBSCRIBED.with(|a| a.replace(want)) {
            send(&if want {
                ClientFrame::Subscribe {
                    topic: Topic::Admin,
                    resume: None,
                }
            } else {
                ClientFrame::Unsubscribe {
                    topic: Topic::Admin,
                }
            });
        }
    });
    // Away while the tab is hidden; online again when it is seen.
    let _ = window_event_listener(leptos::ev::visibilitychange, move |_| {
        let state = if document().hidden() {
            PresenceState::Away
        } else {
            PresenceState::Online
        };
        send(&ClientFrame::Presence { state });
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

pub fn reload_notifications(chat: Chat) {
    spawn_local(async move {
        if let Ok(list) = list_notifications().await {
            chat.notifications.set(list);
        }
    });
}

pub fn reload_list(chat: Chat) {
    spawn_local(async move {
        if let Ok(list) = list_conversations().await {
            chat.note_list_presence(&list);
            chat.conversations.set(Some(list));
        }
    });
}

/// Fetches what this tab missed in a conversation it holds messages of, page by page.
/// One pass at a time per conversation; a request during a pass makes one more pass.
pub fn catch_up(chat: Chat, conversation_id: String) {
    if chat.last_seq(&conversation_id).is_none() {
        return;
    }
    if !CATCHING_UP.with(|c| c.borrow_mut().request(&conversation_id)) {
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
            if !CATCHING_UP.with(|c| c.borrow_mut().page(&conversation_id, len, added)) {
                return;
            }
        }
        CATCHING_UP.with(|c| c.borrow_mut().stopped(&conversation_id));
    });
}

/// The server cannot resume this tab's copy of a conversation: drop it, and load the
/// newest page again if it is on screen.
fn reload_conversation(chat: Chat, conversation_id: String) {
    chat.messages.update(|all| {
        all.remove(&conversation_id);
    });
    reload_list(chat);
    if chat.open.get_untracked().as_deref() != Some(conversation_id.as_str()) {
        return;
    }
    spawn_local(async move {
        if let Ok(page) = load_messages(conversation_id.clone(), None).await {
            chat.load_newest(&conversation_id, page);
            catch_up(chat, conversation_id);
        }
    });
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

fn connect(chat: Chat) {
    let Some(url) = socket_url() else { return };
    let ws = match WebSocket::new(&url) {
        Ok(ws) => ws,
        Err(_) => return schedule_reconnect(chat),
    };

    let on_open = Closure::<dyn FnMut()>::new(move || {
        ATTEMPT.with(|a| a.set(0));
        SUBSCRIBED.with(|s| s.borrow_mut().clear());
        // The list may have changed while we were away.
        reload_list(chat);
        reload_notifications(chat);
        ADMIN_SUBSCRIBED.with(|a| a.set(false));
        // The socket's address said whether the tab is seen; it may have changed since.
        send(&ClientFrame::Presence {
            state: if document().hidden() {
                PresenceState::Away
            } else {
                PresenceState::Online
            },
        });
        chat.status.set(ConnectionStatus::Open);
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    on_open.forget();

    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        if let Some(text) = e.data().as_string() {
            if let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) {
                apply(chat, frame);
            }
        }
    });
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();

    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
        SOCKET.with(|s| s.borrow_mut().take());
        CONNECTION_ID.with(|c| c.set(None));
        super::call::socket_lost(chat);
        if e.code() == CLOSE_SESSION_ENDED {
            crate::pages::go_to(if e.reason() == BLOCKED_REASON {
                "/login?ended=blocked"
            } else {
                "/login"
            });
            return;
        }
        chat.status.set(ConnectionStatus::Reconnecting);
        schedule_reconnect(chat);
    });
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    on_close.forget();

    SOCKET.with(|s| *s.borrow_mut() = Some(ws));
}

/// 0.5 s, 1 s, 2 s, ... up to 30 s, each times a random 0.5 to 1.5 so that a server
/// restart is not met by every client at the same instant.
fn schedule_reconnect(chat: Chat) {
    let attempt = ATTEMPT.with(|a| {
        let n = a.get();
        a.set(n.saturating_add(1));
        n
    });
    let base = (500.0 * 2f64.powi(attempt.min(6) as i32)).min(30_000.0);
    let delay = base * (0.5 + js_sys::Math::random());
    set_timeout(
        move || connect(chat),
        std::time::Duration::from_millis(delay as u64),
    );
}

fn subscription_answered(chat: Chat) {
    let mine = ANSWERED.with(|a| {
        a.set(a.get() + 1);
        a.get()
    });
    set_timeout(
        move || {
            if ANSWERED.with(Cell::get) == mine {
                reload_list(chat);
            }
        },
        std::time::Duration::from_millis(300),
    );
}

fn apply(chat: Chat, frame: ServerFrame) {
    let event = match frame {
        ServerFrame::Event { event, .. } => event,
        ServerFrame::Hello {
            connection_id,
            limits,
            ..
        } => {
            CONNECTION_ID.with(|c| c.set(Some(connection_id)));
            chat.limits.set(limits);
            // The server is back: what waited in the outbox goes now.
            outbox::resume(chat);
            return;
        }
        ServerFrame::Limits { limits } => return chat.limits.set(limits),
        ServerFrame::CallOptions { options } => return chat.calls.options.set(Some(options)),
        ServerFrame::Subscribed {
            topic: Topic::Conversation(id),
        } => {
            subscription_answered(chat);
            return catch_up(chat, id);
        }
        ServerFrame::Reset {
            topic: Topic::Conversation(id),
        } => {
            subscription_answered(chat);
            return reload_conversation(chat, id);
        }
        _ => return,
    };
    match event {
        Event::Call { call } => super::call::on_call_event(chat, *call),
        Event::CallSignal { call_id, signal } => super::call::on_signal(chat, call_id, signal),
        Event::MessageCreated { message } => {
            let id = message.conversation_id.clone();
            let known = chat
                .conversations
                .with_untracked(|l| l.as_ref().is_some_and(|l| l.iter().any(|c| c.id == id)));
            if !known {
                reload_list(chat);
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
                catch_up(chat, id);
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
        Event::ConversationsChanged => reload_list(chat),
        Event::NotificationsChanged => reload_notifications(chat),
        Event::AccountChanged => {
            let _ = window().location().reload();
        }
        Event::Dashboard { stats } => chat.dashboard.set(Some(*stats)),
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
