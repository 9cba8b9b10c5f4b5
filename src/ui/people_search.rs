use crate::api::chat::search_users;
use crate::model::User;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// People matching what the user types. Answers to queries the user has typed past are
/// dropped, so the list always matches the box.
#[derive(Clone, Copy)]
pub struct PeopleSearch {
    pub query: RwSignal<String>,
    pub results: RwSignal<Vec<User>>,
    pub error: RwSignal<Option<String>>,
}

impl PeopleSearch {
    pub fn new() -> Self {
        Self {
            query: RwSignal::new(String::new()),
            results: RwSignal::new(Vec::new()),
            error: RwSignal::new(None),
        }
    }

    pub fn search(self, q: String) {
        self.query.set(q.clone());
        spawn_local(async move {
            match search_users(q.clone()).await {
                Ok(found) if self.query.get_untracked() == q => {
                    self.error.set(None);
                    self.results.set(found);
                }
                Ok(_) => {}
                Err(e) => self.error.set(Some(e.to_string())),
            }
        });
    }
}

impl Default for PeopleSearch {
    fn default() -> Self {
        Self::new()
    }
}

/// The button that opens (and closes) a panel for picking people; opening it lists everyone
/// to start with.
#[component]
pub fn PeopleToggle(
    label: &'static str,
    class: &'static str,
    open: RwSignal<bool>,
    people: PeopleSearch,
) -> impl IntoView {
    view! {
        <button
            type="button"
            class=class
            aria-expanded=move || open.get().to_string()
            on:click=move |_| {
                let now_open = !open.get();
                open.set(now_open);
                if now_open {
                    people.search(String::new());
                }
            }
        >
            {label}
        </button>
    }
}
