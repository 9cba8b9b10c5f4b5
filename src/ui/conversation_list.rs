use crate::client::use_client;
use crate::domain::PresenceState;
use crate::domain::{ConversationKind, ConversationSummary, UserId};
use leptos::prelude::*;

/// The user's conversations, most recent first, with a preview and an unread badge.
#[component]
pub fn ConversationList() -> impl IntoView {
    let chat = use_client().chat;
    view! {
        {move || match chat.conversations.get() {
            None => view! { <p class="empty">"Loading conversations…"</p> }.into_any(),
            Some(list) if list.is_empty() => {
                view! { <p class="empty">"No conversations yet. Start one with “New conversation”."</p> }
                    .into_any()
            }
            Some(list) => {
                view! {
                    <ul class="conversation-list">
                        {list
                            .into_iter()
                            .map(|c| view! { <ConversationItem c /> })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }
        }}
    }
}

#[component]
fn ConversationItem(c: ConversationSummary) -> impl IntoView {
    let chat = use_client().chat;
    let id = c.id.clone();
    let current = Memo::new(move |_| chat.open.get().as_ref() == Some(&id));
    let unread = c.unread();
    let me = chat.me.get_untracked().id;
    let preview = c
        .last_message
        .as_ref()
        .map(|m| {
            let who = if m.sender_id == me { "You: " } else { "" };
            format!("{who}{}", m.body.lines().next().unwrap_or_default())
        })
        .unwrap_or_else(|| "No messages yet".to_string());
    let initial = c
        .title
        .chars()
        .next()
        .map(|ch| ch.to_uppercase().collect::<String>())
        .unwrap_or_default();
    let group = c.kind == ConversationKind::Group;
    let peer_id = c.peer.as_ref().map(|p| p.id.clone());
    view! {
        <li>
            <a
                class="conversation-item"
                class:current=current
                class:unread={unread > 0}
                href=format!("/c/{}", c.id)
                aria-current=move || current.get().then_some("page")
            >
                <span class="avatar-wrap">
                    <span class="avatar" class:group=group aria-hidden="true">{initial}</span>
                    {peer_id.map(|peer| view! { <PresenceDot user_id=peer /> })}
                </span>
                <span class="conversation-text">
                    <span class="conversation-title" dir="auto" title=c.title.clone()>{c.title.clone()}</span>
                    <span class="conversation-preview" dir="auto">{preview}</span>
                </span>
                {(unread > 0)
                    .then(|| {
                        view! {
                            <span class="badge" aria-label=format!("{unread} unread")>
                                {if unread > 99 { "99+".to_string() } else { unread.to_string() }}
                            </span>
                        }
                    })}
            </a>
        </li>
    }
}

/// A small dot on the avatar: green online, amber away, none offline.
#[component]
pub fn PresenceDot(user_id: UserId) -> impl IntoView {
    let chat = use_client().chat;
    let state = Memo::new(move |_| chat.presence_of(&user_id).0);
    move || {
        let (class, label) = match state.get() {
            PresenceState::Online => ("presence-dot online", "Online"),
            PresenceState::Away => ("presence-dot away", "Away"),
            PresenceState::Offline => return None,
        };
        Some(view! { <span class=class role="img" aria-label=label></span> })
    }
}
