use crate::api::auth::current_user;
use crate::client::use_client;
use crate::domain::ConversationId;
use crate::ui::chat_window::ChatWindow;
use crate::ui::shell::AppShell;
use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_params_map;

/// The signed-in app; visitors are sent to the login page.
#[component]
pub fn HomePage() -> impl IntoView {
    let user = Resource::new_blocking(|| (), |_| current_user());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) => view! { <AppShell user /> }.into_any(),
                    Ok(None) => view! { <Redirect path="/login" /> }.into_any(),
                    Err(e) => {
                        view! {
                            <main class="auth-page">
                                <div class="auth-card">
                                    <h1>"Natter is unavailable"</h1>
                                    <p role="alert">{e.to_string()}</p>
                                    <a class="button" href="/">"Try again"</a>
                                </div>
                            </main>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// The conversation pane when none is open.
#[component]
pub fn NoConversation() -> impl IntoView {
    let chat = use_client().chat;
    let first_name = move || {
        chat.me.with(|u| {
            u.display_name
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        })
    };
    view! {
        <div class="empty-state">
            <h2>"Welcome, " {first_name}</h2>
            <p>"Pick a conversation on the left, or start a new one."</p>
        </div>
    }
}

/// The conversation pane for `/c/:id`.
#[component]
pub fn OpenConversation() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").map(ConversationId::from)));
    move || id.get().map(|id| view! { <ChatWindow id /> })
}
