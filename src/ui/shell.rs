use crate::api::auth::Logout;
use crate::model::User;
use crate::pages::go_to;
use leptos::prelude::*;
use leptos_meta::Title;

/// The signed-in layout: a top bar with the user, the conversation list, the conversation.
#[component]
pub fn AppShell(user: User) -> impl IntoView {
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
    let first_name = user
        .display_name
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    view! {
        <Title text="" />
        <div class="shell">
            <header class="topbar">
                <a class="brand" href="/">
                    <span class="brand-mark small" aria-hidden="true">"N"</span>
                    "Natter"
                </a>
                <div class="me">
                    <span class="avatar" aria-hidden="true">{user.initial()}</span>
                    <span class="me-names">
                        <span class="me-name">{user.display_name.clone()}</span>
                        <span class="me-handle">"@" {user.username.clone()}</span>
                    </span>
                    <ActionForm action=logout>
                        <button type="submit" class="button secondary small">"Log out"</button>
                    </ActionForm>
                </div>
            </header>
            {logout_error}
            <div class="panes">
                <nav class="sidebar" aria-label="Conversations">
                    <h2 class="pane-title">"Conversations"</h2>
                    <p class="empty">"No conversations yet."</p>
                </nav>
                <main class="conversation-area">
                    <div class="empty-state">
                        <h2>{format!("Welcome, {first_name}")}</h2>
                        <p>"Pick a conversation on the left to start chatting."</p>
                    </div>
                </main>
            </div>
        </div>
    }
}
