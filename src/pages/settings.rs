//! The person's own settings: the people they blocked, with a way to unblock each.

use crate::api::people::{blocked_people, set_blocked};
use crate::domain::User;
use leptos::prelude::*;
use leptos::task::spawn_local;

#[component]
pub fn PersonalSettings() -> impl IntoView {
    let blocked = RwSignal::new(None::<Vec<User>>);
    let error = RwSignal::new(None::<String>);
    let reload = move || {
        spawn_local(async move {
            match blocked_people().await {
                Ok(list) => blocked.set(Some(list)),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    Effect::new(move |_| reload());
    let unblock = move |id: String| {
        spawn_local(async move {
            match set_blocked(id, false).await {
                Ok(()) => reload(),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <section class="page" aria-labelledby="settings-title">
            <header class="page-header">
                <h1 id="settings-title">"Settings"</h1>
                <a class="button secondary small" href="/">"Back to chat"</a>
            </header>
            <div class="card">
                <h2>"Blocked people"</h2>
                <p class="muted">
                    "People you block cannot start a conversation with you, message you or call you, and you don't see each other online or typing."
                </p>
                {move || error.get().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                {move || match blocked.get() {
                    None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                    Some(list) if list.is_empty() => {
                        view! { <p class="muted">"You haven't blocked anyone."</p> }.into_any()
                    }
                    Some(list) => view! {
                        <ul class="people-list" aria-label="Blocked people">
                            {list.into_iter().map(|u| {
                                let id = u.id.clone();
                                view! {
                                    <li data-username=u.username.clone()>
                                        <span class="avatar" aria-hidden="true">{u.initial()}</span>
                                        <span class="person-names">
                                            <span class="person-name">{u.display_name.clone()}</span>
                                            <span class="person-handle">"@" {u.username.clone()}</span>
                                        </span>
                                        <button
                                            type="button"
                                            class="button secondary small"
                                            on:click=move |_| unblock(id.clone())
                                        >
                                            "Unblock"
                                        </button>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                }}
            </div>
        </section>
    }
}
