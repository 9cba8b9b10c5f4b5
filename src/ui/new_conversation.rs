use crate::api::chat::open_direct;
use crate::domain::User;
use crate::ui::people_search::{panel_open, PeoplePanel, PeopleSearch, PersonNames};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

/// "New conversation": find a person by name and open the direct conversation with them.
/// The panel only; its button is a [`PeopleToggle`](crate::ui::people_search::PeopleToggle)
/// in the sidebar's action row, and the panel shows below that row, as wide as the sidebar.
#[component]
pub fn NewConversation(
    /// Which of the sidebar's panels is open.
    open: RwSignal<Option<PeoplePanel>>,
) -> impl IntoView {
    let people = PeopleSearch::new();
    let (query, results, error) = (people.query, people.results, people.error);
    let is_open = panel_open(open, PeoplePanel::NewConversation, people);
    let navigate = use_navigate();
    let search = move |q: String| people.search(q);

    let start = move |user: User| {
        let navigate = navigate.clone();
        spawn_local(async move {
            match open_direct(user.id).await {
                Ok(id) => {
                    open.set(None);
                    navigate(&format!("/c/{id}"), Default::default());
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };

    view! {
        <Show when=move || is_open.get()>
            <div class="people-panel" role="group" aria-label="New conversation">
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
                                                <PersonNames name=u.display_name.clone() handle=format!("@{}", u.username) />
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
