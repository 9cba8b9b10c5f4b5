//! The open conversation: header, message log, typing indicator and composer.

use crate::api::chat::conversation_members;
use crate::client::time::{now_ms, MessageClock};
use crate::client::{tab_is_seen, ticker, use_client, Client, ConnectionStatus};
use crate::domain::text::isolate;
use crate::domain::{ClientMsgId, ConversationId, ConversationKind, Member, Message, MessageKind};
use crate::outbox::{Pending, PendingState};
use crate::ui::call_view::CallButtons;
use crate::ui::conversation_menu::{BlockedNotice, ConversationMenu};
use crate::ui::format::presence_text;
use crate::ui::group_members::GroupMembers;
use crate::ui::sentence::Sentence;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// Typing updates go out at most this often while the user types.
const TYPING_EVERY_MS: f64 = 2000.0;
/// Within this distance of the bottom the log counts as "at the bottom".
const BOTTOM_SLACK_PX: i32 = 48;

#[component]
pub fn ChatWindow(id: ConversationId) -> impl IntoView {
    let client = use_client();
    let chat = client.chat;
    let log_ref = NodeRef::<html::Div>::new();
    let at_bottom = RwSignal::new(true);
    let unseen_below = RwSignal::new(false);
    let has_more = RwSignal::new(true);
    let loading_older = RwSignal::new(false);
    let load_error = RwSignal::new(None::<String>);
    let last_marked = StoredValue::new(0i64);
    let focus_tick = RwSignal::new(0u32);
    let members = RwSignal::new(Vec::<Member>::new());
    let show_members = RwSignal::new(false);
    let reload_members = {
        let id = id.clone();
        Callback::new(move |()| {
            let id = id.clone();
            spawn_local(async move {
                if let Ok(list) = conversation_members(id.clone()).await {
                    for m in &list {
                        chat.note_read(&id, &m.user.id, m.last_read_seq);
                    }
                    members.set(list);
                }
            });
        })
    };

    // First page, then the members' read marks; both from the browser, after hydration.
    {
        let id = id.clone();
        Effect::new(move |_| {
            let id = id.clone();
            spawn_local(async move {
                // The newest page, and anything sent while it was on its way.
                match client.open_conversation(id).await {
                    Ok(full) => {
                        has_more.set(full);
                        scroll_to_bottom(log_ref);
                    }
                    Err(e) => load_error.set(Some(e.to_string())),
                }
                reload_members.run(());
            });
        });
    }

    let messages = {
        let id = id.clone();
        Memo::new(move |_| {
            chat.messages.with(|all| {
                all.get(&id)
                    .map(|h| h.messages().cloned().collect::<Vec<_>>())
                    .unwrap_or_default()
            })
        })
    };
    let pending = {
        let id = id.clone();
        Memo::new(move |_| chat.outbox.with(|p| p.of(&id)))
    };
    let summary = {
        let id = id.clone();
        Memo::new(move |_| {
            chat.conversations.with(|l| {
                l.as_ref()
                    .and_then(|l| l.iter().find(|c| c.id == id).cloned())
            })
        })
    };

    // New content: follow it when at the bottom, otherwise offer a jump.
    Effect::new(move |prev: Option<(usize, usize)>| {
        let now = (messages.with(|m| m.len()), pending.with(|p| p.len()));
        if let Some(prev) = prev {
            if now.0 > prev.0 || now.1 > prev.1 {
                if at_bottom.get_untracked() || now.1 > prev.1 {
                    scroll_to_bottom(log_ref);
                } else {
                    unseen_below.set(true);
                }
            }
        }
        now
    });

    // Read receipts: what is on screen in a focused, visible tab counts as read.
    // (No listeners on the server.)
    let _ = window_event_listener(leptos::ev::focus, move |_| focus_tick.update(|n| *n += 1));
    let _ = window_event_listener(leptos::ev::visibilitychange, move |_| {
        focus_tick.update(|n| *n += 1)
    });
    {
        let id = id.clone();
        Effect::new(move |_| {
            focus_tick.track();
            let newest = messages.with(|m| m.last().map(|m| m.seq)).unwrap_or(0);
            let seen_all = at_bottom.get();
            let read = summary
                .with(|s| s.as_ref().map(|s| s.last_read_seq))
                .unwrap_or(0);
            if newest == 0 || newest <= read || newest <= last_marked.get_value() || !seen_all {
                return;
            }
            if !tab_is_seen() {
                return;
            }
            last_marked.set_value(newest);
            let id = id.clone();
            spawn_local(async move {
                let _ = client.mark_read(id, newest).await;
            });
        });
    }

    let on_scroll = {
        let id = id.clone();
        move |_| {
            let Some(el) = log_ref.get_untracked() else {
                return;
            };
            let bottom =
                el.scroll_height() - el.scroll_top() - el.client_height() <= BOTTOM_SLACK_PX;
            if bottom != at_bottom.get_untracked() {
                at_bottom.set(bottom);
            }
            if bottom {
                unseen_below.set(false);
            }
            if el.scroll_top() < 80 && has_more.get_untracked() && !loading_older.get_untracked() {
                load_older(client, id.clone(), log_ref, has_more, loading_older);
            }
        }
    };

    let title = move || {
        summary
            .with(|s| s.as_ref().map(|s| s.title.clone()))
            .unwrap_or_default()
    };
    // For a DM: "@bob · Online" / "@bob · Last seen 5 min ago", kept fresh each minute.
    let minute = ticker(std::time::Duration::from_secs(30));
    let handle = move || {
        minute.track();
        summary.with(|s| {
            s.as_ref().and_then(|s| s.peer.as_ref()).map(|p| {
                let (state, last_seen) = chat.presence_of(&p.id);
                format!(
                    "@{} · {}",
                    p.username,
                    presence_text(state, last_seen, now_ms())
                )
            })
        })
    };
    let block = move || summary.with(|s| s.as_ref().and_then(|s| s.block));
    let is_direct = move || {
        summary
            .with(|s| s.as_ref().map(|s| s.kind == ConversationKind::Direct))
            .unwrap_or(true)
    };

    view! {
        <section class="chat" aria-label=title>
            <header class="chat-header">
                <a class="back" href="/" aria-label="Back to conversations">"‹"</a>
                <div class="chat-title">
                    <h2 dir="auto">{title}</h2>
                    <span class="chat-subtitle">{handle}</span>
                </div>
                {
                    let id = id.clone();
                    move || (is_direct() && block().is_none())
                        .then(|| view! { <CallButtons conversation_id=id.clone() /> })
                }
                {move || (!is_direct()).then(|| view! {
                    <button
                        type="button"
                        class="button secondary small"
                        aria-expanded=move || show_members.get().to_string()
                        on:click=move |_| show_members.update(|s| *s = !*s)
                    >
                        {move || format!("Members ({})", members.with(|m| m.len()))}
                    </button>
                })}
                {move || (chat.status.get() == ConnectionStatus::Reconnecting)
                    .then(|| view! { <span class="connection" role="status">"Reconnecting…"</span> })}
                <ConversationMenu summary />
            </header>
            {
                let id = id.clone();
                move || show_members.get().then(|| view! {
                    <GroupMembers conversation_id=id.clone() members reload=reload_members />
                })
            }
            {move || load_error.get().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
            <div class="log" role="log" aria-label="Messages" node_ref=log_ref on:scroll=on_scroll>
                {move || loading_older.get().then(|| view! { <p class="log-note">"Loading earlier messages…"</p> })}
                {move || (!has_more.get() && !messages.with(|m| m.is_empty()))
                    .then(|| view! { <p class="log-note">"This is the beginning of the conversation."</p> })}
                <MessageRows messages pending members is_direct=Signal::derive(is_direct) id=id.clone() />
            </div>
            {move || unseen_below.get().then(|| view! {
                <button type="button" class="jump" on:click=move |_| {
                    unseen_below.set(false);
                    scroll_to_bottom(log_ref);
                }>"New messages ↓"</button>
            })}
            <TypingIndicator id=id.clone() />
            {
                let id = id.clone();
                // Only a change of block swaps the composer out (it holds what is typed).
                let blocked = Memo::new(move |_| {
                    summary.with(|s| {
                        s.as_ref()
                            .and_then(|s| s.block.map(|side| (side, s.peer.clone())))
                    })
                });
                move || match blocked.get() {
                    Some((side, peer)) => view! { <BlockedNotice side peer /> }.into_any(),
                    None => view! { <Composer id=id.clone() /> }.into_any(),
                }
            }
        </section>
    }
}

fn scroll_to_bottom(log_ref: NodeRef<html::Div>) {
    request_animation_frame(move || {
        if let Some(el) = log_ref.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
    });
}

fn load_older(
    client: Client,
    id: ConversationId,
    log_ref: NodeRef<html::Div>,
    has_more: RwSignal<bool>,
    loading: RwSignal<bool>,
) {
    loading.set(true);
    spawn_local(async move {
        let before_height = log_ref
            .get_untracked()
            .map(|el| el.scroll_height())
            .unwrap_or(0);
        match client.load_older(id).await {
            Ok(more) => {
                has_more.set(more);
                // Keep the messages the person was looking at where they were.
                request_animation_frame(move || {
                    if let Some(el) = log_ref.get_untracked() {
                        el.set_scroll_top(el.scroll_top() + el.scroll_height() - before_height);
                    }
                    loading.set(false);
                });
            }
            Err(_) => loading.set(false),
        }
    });
}

/// Messages grouped by day and by sender (consecutive, within five minutes).
#[component]
fn MessageRows(
    messages: Memo<Vec<Message>>,
    pending: Memo<Vec<Pending>>,
    members: RwSignal<Vec<Member>>,
    is_direct: Signal<bool>,
    id: ConversationId,
) -> impl IntoView {
    let client = use_client();
    let chat = client.chat;
    let me = chat.me.get_untracked().id;
    let names = Memo::new(move |_| {
        members.with(|m| {
            m.iter()
                .map(|x| (x.user.id.clone(), x.user.display_name.clone()))
                .collect::<std::collections::HashMap<_, _>>()
        })
    });
    let reads = Memo::new(move |_| chat.reads.with(|r| r.get(&id).cloned().unwrap_or_default()));
    view! {
        {move || {
            let list = messages.get();
            let last_own = list.iter().rev().find(|m| m.sender_id == me && m.kind == MessageKind::Text).map(|m| m.seq);
            let mut rows = Vec::new();
            let mut prev: Option<&Message> = None;
            let mut prev_day = String::new();
            let clock = MessageClock::new();
            for m in &list {
                let (time, day) = clock.read(m.created_at);
                if day != prev_day {
                    rows.push(view! { <div class="day" role="separator">{day.clone()}</div> }.into_any());
                    prev_day = day;
                    prev = None;
                }
                if m.kind == MessageKind::Call {
                    rows.push(view! {
                        <div class="call-log" data-seq=m.seq>
                            <span class="call-log-text">{m.body.clone()}</span>
                            <time class="time">{time}</time>
                        </div>
                    }.into_any());
                    prev = None;
                    continue;
                }
                let first = prev.is_none_or(|p| p.sender_id != m.sender_id || m.created_at - p.created_at > 300_000);
                let mine = m.sender_id == me;
                let sender = if mine {
                    "You".to_string()
                } else {
                    names.with(|n| n.get(&m.sender_id).cloned()).unwrap_or_else(|| "Someone".into())
                };
                let status = (Some(m.seq) == last_own).then(|| {
                    let readers = reads.with(|r| r.values().filter(|s| **s >= m.seq).count());
                    if readers == 0 {
                        "Sent".to_string()
                    } else if is_direct.get() {
                        "Seen".to_string()
                    } else {
                        format!("Seen by {readers}")
                    }
                });
                rows.push(view! {
                    <div class="message" class:mine=mine class:first=first data-seq=m.seq>
                        {first.then(|| view! { <span class="sender" dir="auto">{sender.clone()}</span> })}
                        <div class="bubble">
                            <p class="body" dir="auto">{m.body.clone()}</p>
                            <time class="time">{time}</time>
                        </div>
                        {status.map(|s| view! { <span class="receipt">{s}</span> })}
                    </div>
                }.into_any());
                prev = Some(m);
            }
            for p in pending.get() {
                let state = match &p.state {
                    PendingState::Sending | PendingState::Stored => {
                        view! { <span class="receipt">"Sending…"</span> }.into_any()
                    }
                    PendingState::Waiting(reason) => unsent_receipt(
                        client,
                        "receipt waiting",
                        "status",
                        format!("Waiting to send: {reason} "),
                        "Send now",
                        p.client_msg_id.clone(),
                    ),
                    PendingState::Failed(reason) => unsent_receipt(
                        client,
                        "receipt failed",
                        "alert",
                        format!("Not sent: {reason} "),
                        "Retry",
                        p.client_msg_id.clone(),
                    ),
                };
                let failed = matches!(p.state, PendingState::Failed(_));
                rows.push(view! {
                    <div class="message mine pending" class:failed=failed data-client-msg-id=p.client_msg_id.to_string()>
                        <div class="bubble"><p class="body" dir="auto">{p.body.clone()}</p></div>
                        {state}
                    </div>
                }.into_any());
            }
            rows
        }}
    }
}

/// The line under a message that has not gone: why, and a button that sends it now.
fn unsent_receipt(
    client: Client,
    class: &'static str,
    role: &'static str,
    text: String,
    action: &'static str,
    client_msg_id: ClientMsgId,
) -> AnyView {
    view! {
        <span class=class role=role>
            {text}
            <button type="button" class="link-button" on:click=move |_| client.retry_message(&client_msg_id)>
                {action}
            </button>
        </span>
    }
    .into_any()
}

#[component]
fn TypingIndicator(id: ConversationId) -> impl IntoView {
    let chat = use_client().chat;
    let text = move || {
        chat.typing.with(|t| {
            let names: Vec<String> = t
                .get(&id)
                .map(|l| l.iter().map(|x| isolate(&x.display_name)).collect())
                .unwrap_or_default();
            match names.as_slice() {
                [] => String::new(),
                [one] => format!("{one} is typing…"),
                [a, b] => format!("{a} and {b} are typing…"),
                many => format!("{} people are typing…", many.len()),
            }
        })
    };
    view! {
        <div class="typing" role="status" aria-live="polite">
            {move || view! { <Sentence text=text() /> }}
        </div>
    }
}

#[component]
fn Composer(id: ConversationId) -> impl IntoView {
    let client = use_client();
    let body = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let last_typing_sent = StoredValue::new(0f64);

    let stop_typing = {
        let id = id.clone();
        move || {
            if last_typing_sent.get_value() > 0.0 {
                last_typing_sent.set_value(0.0);
                client.typing(&id, false);
            }
        }
    };

    let send = {
        let id = id.clone();
        let stop_typing = stop_typing.clone();
        move || {
            let text = body.get_untracked();
            match client.send_message(&id, &text) {
                // Refused before it leaves: the text stays where it is.
                Err(e) => error.set(e.field("body").or_else(|| Some(e.to_string()))),
                Ok(()) => {
                    error.set(None);
                    body.set(String::new());
                    // Goes before the message itself, which leaves once this handler is done.
                    stop_typing();
                }
            }
        }
    };

    let on_input = {
        let id = id.clone();
        let stop_typing = stop_typing.clone();
        move |e: leptos::ev::Event| {
            let value = event_target_value(&e);
            let empty = value.trim().is_empty();
            body.set(value);
            if error.get_untracked().is_some() {
                error.set(None);
            }
            if empty {
                stop_typing();
            } else if now_ms() - last_typing_sent.get_value() >= TYPING_EVERY_MS {
                last_typing_sent.set_value(now_ms());
                client.typing(&id, true);
            }
        }
    };

    let on_keydown = {
        let send = send.clone();
        move |e: leptos::ev::KeyboardEvent| {
            if e.key() == "Enter" && !e.shift_key() && !e.is_composing() {
                e.prevent_default();
                send();
            }
        }
    };

    view! {
        <form class="composer" on:submit={
            let send = send.clone();
            move |e: leptos::ev::SubmitEvent| {
                e.prevent_default();
                send();
            }
        }>
            <label class="visually-hidden" for="composer">"Message"</label>
            <textarea
                id="composer"
                rows="1"
                dir="auto"
                placeholder="Write a message"
                aria-invalid=move || error.get().map(|_| "true")
                aria-describedby=move || error.get().map(|_| "composer-error")
                prop:value=move || body.get()
                on:input=on_input
                on:keydown=on_keydown
                on:blur=move |_| stop_typing()
            ></textarea>
            <button type="submit" class="button primary">"Send"</button>
            {move || error.get().map(|m| view! { <p class="field-error composer-error" id="composer-error">{m}</p> })}
        </form>
    }
}
