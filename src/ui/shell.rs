use crate::api::auth::Logout;
use crate::client::{go_to, provide_client, Client, ConnectionStatus};
use crate::domain::{ConversationId, Role, User};
use crate::ui::bell::Bell;
use crate::ui::call_view::CallLayer;
use crate::ui::conversation_list::ConversationList;
use crate::ui::new_conversation::NewConversation;
use crate::ui::new_group::NewGroup;
use crate::ui::people_search::{PeoplePanel, PeopleToggle};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Outlet;
use leptos_router::hooks::use_location;

/// The signed-in layout: a top bar with the user, the conversation list, the conversation.
#[component]
pub fn AppShell(user: User) -> impl IntoView {
    let client = Client::new(user.clone());
    provide_client(client);
    client.start();
    let chat = client.chat;

    // The open conversation is the one in the address, `/c/<id>`. SSR knows it too, so
    // the first paint already shows the right pane.
    let location = use_location();
    let open_id = Memo::new(move |_| {
        location.pathname.with(|path| {
            path.strip_prefix("/c/")
                .map(|id| id.trim_end_matches('/'))
                .filter(|id| !id.is_empty() && !id.contains('/'))
                .map(ConversationId::from)
        })
    });
    // The admin area and the person's settings take the whole width.
    let full_page = Memo::new(move |_| {
        location.pathname.with(|path| {
            ["/admin", "/settings"]
                .iter()
                .any(|p| path == p || path.starts_with(&format!("{p}/")))
        })
    });
    Effect::new(move |_| {
        let id = open_id.get();
        if chat.open.get_untracked() != id {
            chat.open.set(id);
        }
    });

    // "New conversation" or "New group", whichever is open: below the action row.
    let people_panel = RwSignal::new(None::<PeoplePanel>);

    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = logout.value().get() {
            go_to("/login");
        }
    });
    let logout_error = move || {
        logout
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })
    };
    // "(3) Natter" in the browser; the server renders the plain title.
    let title = move || client.page_title();
    view! {
        <Title text=title />
        <div class="shell">
            <header class="topbar">
                <a class="brand" href="/">
                    <span class="brand-mark small" aria-hidden="true">"N"</span>
                    "Natter"
                </a>
                <div class="me">
                    <Bell />
                    {(user.role == Role::Admin).then(|| view! {
                        <a class="button secondary small" href="/admin">"Admin"</a>
                    })}
                    <a class="icon-button" href="/settings" aria-label="Settings" title="Settings">
                        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                            <path fill="currentColor" d="M19.4 13a7.6 7.6 0 0 0 0-2l2.1-1.6-2-3.5-2.5 1a7.4 7.4 0 0 0-1.7-1L15 3h-4l-.4 2.9a7.4 7.4 0 0 0-1.7 1l-2.5-1-2 3.5L6.6 11a7.6 7.6 0 0 0 0 2l-2.1 1.6 2 3.5 2.5-1a7.4 7.4 0 0 0 1.7 1L11 21h4l.4-2.9a7.4 7.4 0 0 0 1.7-1l2.5 1 2-3.5zM13 15.5a3.5 3.5 0 1 1 0-7 3.5 3.5 0 0 1 0 7z" transform="translate(-1 0)" />
                        </svg>
                    </a>
                    <span class="avatar" aria-hidden="true">{user.initial()}</span>
                    <span class="me-names">
                        <span class="me-name" title=user.display_name.clone()>{user.display_name.clone()}</span>
                        <span class="me-handle" title=format!("@{}", user.username)>"@" {user.username.clone()}</span>
                    </span>
                    <ActionForm action=logout>
                        <button type="submit" class="button secondary small">"Log out"</button>
                    </ActionForm>
                </div>
            </header>
            {logout_error}
            <div
                class="panes"
                class:has-conversation=move || open_id.get().is_some()
                class:full-page=move || full_page.get()
            >
                <nav class="sidebar" aria-label="Conversations">
                    <div class="sidebar-head">
                        <h2 class="pane-title">"Conversations"</h2>
                        <div class="sidebar-actions">
                            <PeopleToggle
                                label="New conversation"
                                class="button primary small"
                                panel=PeoplePanel::NewConversation
                                open=people_panel
                            />
                            <PeopleToggle
                                label="New group"
                                class="button secondary small"
                                panel=PeoplePanel::NewGroup
                                open=people_panel
                            />
                        </div>
                    </div>
                    // The panels are the sidebar's own, below the action row: full width.
                    <NewConversation open=people_panel />
                    <NewGroup open=people_panel />
                    {move || (chat.status.get() == ConnectionStatus::Reconnecting)
                        .then(|| view! { <p class="connection-banner">"Reconnecting…"</p> })}
                    <ConversationList />
                </nav>
                <main class="conversation-area">
                    <Outlet />
                </main>
            </div>
            <CallLayer />
        </div>
    }
}
