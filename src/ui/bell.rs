//! The bell: how many things wait for the person, and a list of them. Unread conversations
//! come from the conversation list (muted ones included: muting silences, it does not
//! hide); missed calls and group additions are stored notifications.

use crate::api::people::{mark_all_read, mark_notification_read};
use crate::client::time::now_ms;
use crate::client::use_client;
use crate::domain::{ConversationId, Notification};
use crate::ui::format::ago;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// An unread conversation as the bell lists it.
#[derive(Clone, PartialEq)]
struct UnreadConversation {
    id: ConversationId,
    title: String,
    unread: i64,
    last_seq: i64,
    muted: bool,
}

#[component]
pub fn Bell() -> impl IntoView {
    let chat = use_client().chat;
    let open = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let conversations = Memo::new(move |_| {
        chat.conversations.with(|l| {
            l.iter()
                .flatten()
                .filter(|c| c.unread() > 0)
                .map(|c| UnreadConversation {
                    id: c.id.clone(),
                    title: c.title.clone(),
                    unread: c.unread(),
                    last_seq: c.last_seq,
                    muted: c.muted,
                })
                .collect::<Vec<_>>()
        })
    });
    let count = Memo::new(move |_| {
        conversations.with(Vec::len)
            + chat
                .notifications
                .with(|n| n.iter().filter(|n| !n.read).count())
    });
    let label = move || match count.get() {
        0 => "Notifications".to_string(),
        n => format!("Notifications, {n} unread"),
    };
    let report = move |result: Result<(), crate::error::AppError>| {
        error.set(result.err().map(|e| e.to_string()));
    };
    let mark_all = move |_| {
        spawn_local(async move { report(mark_all_read().await) });
    };
    view! {
        <div class="bell">
            <button
                type="button"
                class="icon-button bell-button"
                aria-label=label
                title="Notifications"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                    <path
                        fill="currentColor"
                        d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z"
                    />
                </svg>
                {move || (count.get() > 0).then(|| view! {
                    <span class="bell-count" aria-hidden="true">{move || count.get().min(99)}</span>
                })}
            </button>
            {move || open.get().then(|| view! {
                <div class="bell-backdrop" on:click=move |_| open.set(false)></div>
                <div
                    class="bell-panel"
                    role="dialog"
                    aria-label="Notifications"
                    on:keydown=move |e| if e.key() == "Escape" { open.set(false) }
                >
                    <div class="bell-head">
                        <h2>"Notifications"</h2>
                        <button
                            type="button"
                            class="button secondary small"
                            disabled=move || count.get() == 0
                            on:click=mark_all
                        >
                            "Mark all as read"
                        </button>
                    </div>
                    {move || error.get().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                    <ul class="bell-list">
                        <For
                            each=move || conversations.get()
                            key=|c| (c.id.clone(), c.unread)
                            children=move |c| view! { <ConversationItem c open report /> }
                        />
                        <For
                            each=move || chat.notifications.get()
                            key=|n| (n.id.clone(), n.read)
                            children=move |n| view! { <NotificationItem n open report /> }
                        />
                    </ul>
                    {move || (conversations.with(Vec::is_empty) && chat.notifications.with(Vec::is_empty))
                        .then(|| view! { <p class="bell-empty">"You're all caught up."</p> })}
                </div>
            })}
        </div>
    }
}

#[component]
fn ConversationItem(
    c: UnreadConversation,
    open: RwSignal<bool>,
    report: impl Fn(Result<(), crate::error::AppError>) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let client = use_client();
    let text = match c.unread {
        1 => format!(
            "1 new message in {}",
            crate::domain::text::isolate(&c.title)
        ),
        n => format!(
            "{n} new messages in {}",
            crate::domain::text::isolate(&c.title)
        ),
    };
    let (id, seq) = (c.id.clone(), c.last_seq);
    let read = move |_| {
        let id = id.clone();
        spawn_local(async move {
            report(client.mark_read(id, seq).await);
        });
    };
    view! {
        <li class="bell-item unread" data-kind="message">
            <a href=format!("/c/{}", c.id) on:click=move |_| open.set(false)>
                <span class="bell-text" title=crate::domain::text::plain(&text)><crate::ui::sentence::Sentence text=text.clone() /></span>
                {c.muted.then(|| view! { <span class="bell-muted">"Muted"</span> })}
            </a>
            <button type="button" class="link-button" on:click=read>"Mark read"</button>
        </li>
    }
}

#[component]
fn NotificationItem(
    n: Notification,
    open: RwSignal<bool>,
    report: impl Fn(Result<(), crate::error::AppError>) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let read = n.read;
    let mark = {
        let id = n.id.clone();
        move || {
            let id = id.clone();
            spawn_local(async move { report(mark_notification_read(id).await) });
        }
    };
    let follow = {
        let mark = mark.clone();
        move |_| {
            if !read {
                mark();
            }
            open.set(false);
        }
    };
    let kind = n.kind.as_str();
    let text = n.text();
    view! {
        <li class="bell-item" class:unread=!read data-kind=kind>
            <a href=format!("/c/{}", n.conversation_id) on:click=follow>
                <span class="bell-text" title=crate::domain::text::plain(&text)><crate::ui::sentence::Sentence text=text.clone() /></span>
                <span class="bell-time">{ago(n.created_at, now_ms())}</span>
            </a>
            {(!read).then(|| view! {
                <button type="button" class="link-button" on:click=move |_| mark()>"Mark read"</button>
            })}
        </li>
    }
}
