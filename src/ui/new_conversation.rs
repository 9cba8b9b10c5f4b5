use crate::api::chat::open_direct;
use crate::model::User;
use crate::ui::people_search::{PeopleSearch, PeopleToggle};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

/// "New conversation": find a person by name and open the direct conversation with them.
#[component]
pub fn NewConversation() -> impl IntoView {
    let open = RwSignal::new(false);
    let people = PeopleSearch::new();
    let (query, results, error) = (people.query, people.results, people.error);
    let navigate = use_navigate();
    let search = move |q: String| people.search(q);

    let start = move |user: User| {
        let navigate = navigate.clone();
        spawn_local(async move {
            match open_direct(user.id).await {
                Ok(id) => {
                    open.set(false);
                    navigate(&format!("/c/{id}"), Default::default());
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };

    view! {
        <PeopleToggle label="New conversation" class="button primary small" open people />
        <Show when=move || open.get()>
            <div class="new-conversation" role="group" aria-label="New conversation">
                <label class="visually-hidden" for="people-search">"Search people"</label>
                <input
                    id="people-search"
                    type="search"
                    placeholder="Search people"
                    autocomplete="off"
                    autofocus
                    prop:value=move || query.get()
                    on:input=move |e| search(event_target_value(&e))
                />
                {move || error.get().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                <ul class="people">
                    {
                        let start = start.clone();
                        move || {
                            let start = start.clone();
                            results
                                .get()
                                .into_iter()
                                .map(move |u| {
                                    let start = start.clone();
                                    let user = u.clone();
                                    view! {
                                        <li>
                                            <button
                                                type="button"
                                                class="person"
                                                on:click=move |_| start(user.clone())
                                            >
                                                <span class="avatar small" aria-hidden="true">{u.initial()}</span>
                                                <span class="person-name">{u.display_name.clone()}</span>
                                                <span class="person-handle">"@" {u.username.clone()}</span>
                                            </button>
                                        </li>
                                    }
                                })
                                .collect_view()
                        }
                    }
                </ul>
            </div>
        </Show>
    }
}
