use crate::api::chat::{add_member, remove_member};
use crate::api::people::set_blocked;
use crate::client::use_client;
use crate::domain::{ConversationId, Member, User, UserId};
use crate::ui::people_search::{PeopleSearch, PersonNames};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The members of a group; its owner can add and remove people here.
#[component]
pub fn GroupMembers(
    conversation_id: ConversationId,
    members: RwSignal<Vec<Member>>,
    /// Called after a change, to load the members again.
    reload: Callback<()>,
) -> impl IntoView {
    let chat = use_client().chat;
    let me = chat.me.get_untracked().id;
    let i_own = {
        let me = me.clone();
        Memo::new(move |_| members.with(|m| m.iter().any(|x| x.owner && x.user.id == me)))
    };
    let error = RwSignal::new(None::<String>);
    let people = PeopleSearch::new();
    let (query, results) = (people.query, people.results);
    let search = move |q: String| people.search(q);
    let add = {
        let id = conversation_id.clone();
        move |user: User| {
            let id = id.clone();
            spawn_local(async move {
                match add_member(id, user.id).await {
                    Ok(()) => {
                        error.set(None);
                        reload.run(());
                    }
                    Err(e) => error.set(Some(e.to_string())),
                }
            });
        }
    };
    let remove = {
        let id = conversation_id.clone();
        move |user: User| {
            let id = id.clone();
            spawn_local(async move {
                match remove_member(id, user.id).await {
                    Ok(()) => {
                        error.set(None);
                        reload.run(());
                    }
                    Err(e) => error.set(Some(e.to_string())),
                }
            });
        }
    };

    // Anyone can block (or unblock) a fellow member from here, without a direct conversation.
    let toggle_block = move |user: User, blocked: bool| {
        spawn_local(async move {
            match set_blocked(user.id, !blocked).await {
                Ok(()) => {
                    error.set(None);
                    reload.run(());
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };

    view! {
        <div class="members" role="group" aria-label="Members">
            <ul class="people">
                {move || {
                    let remove = remove.clone();
                    members
                        .get()
                        .into_iter()
                        .map(|m| {
                            let remove = remove.clone();
                            let user = m.user.clone();
                            let removable = i_own.get() && !m.owner;
                            let label = format!("Remove {}", m.user.display_name);
                            let (blocked, someone_else) = (m.blocked_by_me, m.user.id != me);
                            let block_label = format!(
                                "{} {}",
                                if blocked { "Unblock" } else { "Block" },
                                m.user.display_name
                            );
                            let target = m.user.clone();
                            view! {
                                <li class="person">
                                    <span class="avatar small" aria-hidden="true">{m.user.initial()}</span>
                                    <PersonNames
                                        name=m.user.display_name.clone()
                                        handle=if m.owner { "owner".to_string() } else { format!("@{}", m.user.username) }
                                    />
                                    {someone_else.then(|| view! {
                                        <button
                                            type="button"
                                            class="link-button quiet"
                                            aria-label=block_label
                                            on:click=move |_| toggle_block(target.clone(), blocked)
                                        >
                                            {if blocked { "Unblock" } else { "Block" }}
                                        </button>
                                    })}
                                    {removable.then(|| view! {
                                        <button type="button" class="link-button" aria-label=label on:click=move |_| remove(user.clone())>
                                            "Remove"
                                        </button>
                                    })}
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
            {move || error.get().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
            <Show when=move || i_own.get()>
                <label class="visually-hidden" for="member-search">"Add people"</label>
                <input
                    id="member-search"
                    type="search"
                    placeholder="Add people"
                    autocomplete="off"
                    prop:value=move || query.get()
                    on:input=move |e| search(event_target_value(&e))
                />
                <ul class="people">
                    {
                        let add = add.clone();
                        move || {
                            let add = add.clone();
                            let present: Vec<UserId> = members.with(|m| m.iter().map(|x| x.user.id.clone()).collect());
                            results
                                .get()
                                .into_iter()
                                .filter(|u| !present.contains(&u.id))
                                .map(|u| {
                                    let add = add.clone();
                                    let user = u.clone();
                                    view! {
                                        <li>
                                            <button type="button" class="person" on:click=move |_| add(user.clone())>
                                                <span class="avatar small" aria-hidden="true">{u.initial()}</span>
                                                <PersonNames name=format!("Add {}", u.display_name) handle=format!("@{}", u.username) />
                                            </button>
                                        </li>
                                    }
                                })
                                .collect_view()
                        }
                    }
                </ul>
            </Show>
        </div>
    }
}
