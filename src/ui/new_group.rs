use crate::api::chat::create_group;
use crate::domain::{User, UserId};
use crate::ui::people_search::{panel_open, PeoplePanel, PeopleSearch, PersonNames};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

/// "New group": a name and the people to invite; the creator owns the group.
/// The panel only; its button is a [`PeopleToggle`](crate::ui::people_search::PeopleToggle)
/// in the sidebar's action row, and the panel shows below that row, as wide as the sidebar.
/// Closing it keeps the name and the chosen people for the next time it opens.
#[component]
pub fn NewGroup(
    /// Which of the sidebar's panels is open.
    open: RwSignal<Option<PeoplePanel>>,
) -> impl IntoView {
    let title = RwSignal::new(String::new());
    let people = PeopleSearch::new();
    let (query, results, error) = (people.query, people.results, people.error);
    let is_open = panel_open(open, PeoplePanel::NewGroup, people);
    let chosen = RwSignal::new(Vec::<User>::new());
    let navigate = use_navigate();
    let search = move |q: String| people.search(q);
    let toggle = move |u: User| {
        chosen.update(|c| {
            if let Some(i) = c.iter().position(|x| x.id == u.id) {
                c.remove(i);
            } else {
                c.push(u);
            }
        })
    };
    let create = move |_| {
        let navigate = navigate.clone();
        let ids: Vec<UserId> = chosen.get_untracked().into_iter().map(|u| u.id).collect();
        let name = title.get_untracked();
        spawn_local(async move {
            match create_group(name, ids).await {
                Ok(id) => {
                    open.set(None);
                    title.set(String::new());
                    chosen.set(Vec::new());
                    error.set(None);
                    navigate(&format!("/c/{id}"), Default::default());
                }
                // Nothing is lost: the name and the chosen people stay as they were.
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };

    view! {
        <Show when=move || is_open.get()>
            <div class="people-panel" role="group" aria-label="New group">
                <label for="group-title">"Group name"</label>
                <input
                    id="group-title"
                    type="text"
                    autocomplete="off"
                    prop:value=move || title.get()
                    on:input=move |e| title.set(event_target_value(&e))
                />
                <label class="visually-hidden" for="group-search">"Search people to add"</label>
                <input
                    id="group-search"
                    type="search"
                    placeholder="Search people to add"
                    autocomplete="off"
                    prop:value=move || query.get()
                    on:input=move |e| search(event_target_value(&e))
                />
                <ul class="people">
                    {move || {
                        results
                            .get()
                            .into_iter()
                            .map(|u| {
                                let id = u.id.clone();
                                let checked = move || chosen.with(|c| c.iter().any(|x| x.id == id));
                                let user = u.clone();
                                view! {
                                    <li>
                                        <label class="person">
                                            <input
                                                type="checkbox"
                                                prop:checked=checked
                                                on:change=move |_| toggle(user.clone())
                                            />
                                            <PersonNames name=u.display_name.clone() handle=format!("@{}", u.username) />
                                        </label>
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
                <p class="hint">
                    {move || match chosen.with(|c| c.len()) {
                        0 => "Nobody chosen yet.".to_string(),
                        1 => "1 person chosen.".to_string(),
                        n => format!("{n} people chosen."),
                    }}
                </p>
                {move || error.get().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                <button type="button" class="button primary small" on:click={
                    let create = create.clone();
                    move |e| create(e)
                }>
                    "Create group"
                </button>
            </div>
        </Show>
    }
}
