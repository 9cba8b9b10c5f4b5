use crate::api::chat::create_group;
use crate::model::User;
use crate::ui::people_search::{PeopleSearch, PeopleToggle};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

/// "New group": a name and the people to invite; the creator owns the group.
#[component]
pub fn NewGroup() -> impl IntoView {
    let open = RwSignal::new(false);
    let title = RwSignal::new(String::new());
    let people = PeopleSearch::new();
    let (query, results, error) = (people.query, people.results, people.error);
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
        let ids: Vec<String> = chosen.get_untracked().into_iter().map(|u| u.id).collect();
        let name = title.get_untracked();
        spawn_local(async move {
            match create_group(name, ids).await {
                Ok(id) => {
                    open.set(false);
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
        <PeopleToggle label="New group" class="button secondary small" open people />
        <Show when=move || open.get()>
            <div class="new-conversation" role="group" aria-label="New group">
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
                                            <span class="person-name">{u.display_name.clone()}</span>
                                            <span class="person-handle">"@" {u.username.clone()}</span>
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
