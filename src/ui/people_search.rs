use crate::api::chat::search_users;
use crate::domain::User;
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

/// The sidebar's panels for picking people. At most one is open at a time; it shows below
/// the sidebar's row of action buttons, as wide as the sidebar, never inside that row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeoplePanel {
    NewConversation,
    NewGroup,
}

/// The button in the sidebar's action row that opens its panel (closing any other) and
/// closes it again. The panel itself renders apart from the button, below the row.
#[component]
pub fn PeopleToggle(
    label: &'static str,
    class: &'static str,
    panel: PeoplePanel,
    /// Which panel is open, shared by the sidebar's toggles and panels.
    open: RwSignal<Option<PeoplePanel>>,
) -> impl IntoView {
    view! {
        <button
            type="button"
            class=class
            aria-expanded=move || (open.get() == Some(panel)).to_string()
            on:click=move |_| {
                open.update(|o| *o = if *o == Some(panel) { None } else { Some(panel) })
            }
        >
            {label}
        </button>
    }
}

/// Whether `panel` is the open one. Opening it lists everyone to start with.
pub fn panel_open(
    open: RwSignal<Option<PeoplePanel>>,
    panel: PeoplePanel,
    people: PeopleSearch,
) -> Memo<bool> {
    let is_open = Memo::new(move |_| open.get() == Some(panel));
    Effect::new(move |_| {
        if is_open.get() {
            people.search(String::new());
        }
    });
    is_open
}

/// A person's display name over their handle, each cut short with an ellipsis when the row
/// is too narrow (a long name never pushes the layout), the whole of it in a tooltip.
#[component]
pub fn PersonNames(
    /// The display name, or the line shown in its place ("Add Ann").
    name: String,
    /// "@username", or what stands for it ("owner").
    handle: String,
) -> impl IntoView {
    view! {
        <span class="person-names">
            <span class="person-name" title=name.clone()>{name.clone()}</span>
            <span class="person-handle" title=handle.clone()>{handle.clone()}</span>
        </span>
    }
}
