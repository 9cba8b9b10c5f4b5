//! The users: search, pages, and per user block, role and a temporary password.

use super::{Alert, Loading};
use crate::api::admin::{
    admin_block_user, admin_set_admin, admin_set_temporary_password, admin_users,
};
use crate::client::time::now_ms;
use crate::client::use_client;
use crate::domain::admin::{AdminUser, UserPage};
use crate::domain::{Role, UserId};
use crate::error::AppError;
use crate::ui::format::ago;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::future::Future;
use std::time::Duration;

/// The user list's state, shared by the search box, the pager and the rows.
#[derive(Clone, Copy)]
struct UserList {
    query: RwSignal<String>,
    /// From 0.
    page: RwSignal<i64>,
    data: RwSignal<Option<UserPage>>,
    /// Why the list could not be loaded.
    load_error: RwSignal<Option<String>>,
    /// Why the last action on a user failed.
    error: RwSignal<Option<String>>,
    /// What the last action did, when that is worth saying.
    notice: RwSignal<Option<String>>,
    busy: RwSignal<bool>,
    /// Counts loads, so that only the answer to the latest one is shown.
    generation: StoredValue<u64>,
}

impl UserList {
    fn new() -> Self {
        Self {
            query: RwSignal::new(String::new()),
            page: RwSignal::new(0),
            data: RwSignal::new(None),
            load_error: RwSignal::new(None),
            error: RwSignal::new(None),
            notice: RwSignal::new(None),
            busy: RwSignal::new(false),
            generation: StoredValue::new(0),
        }
    }

    /// Loads the current page for the current search.
    fn load(self) {
        let Some(generation) = self.generation.try_update_value(|g| {
            *g += 1;
            *g
        }) else {
            return;
        };
        let (Some(query), Some(page)) = (
            self.query.try_get_untracked(),
            self.page.try_get_untracked(),
        ) else {
            return;
        };
        spawn_local(async move {
            let result = admin_users(query, page).await;
            if self.generation.try_get_value() != Some(generation) {
                return;
            }
            match result {
                // Past the end (the list got shorter): show the last page instead.
                Ok(found)
                    if found.users.is_empty() && found.page > 0 && found.page >= found.pages =>
                {
                    self.page.set(found.pages - 1);
                    self.load();
                }
                Ok(found) => {
                    self.load_error.set(None);
                    self.data.set(Some(found));
                }
                Err(e) => self.load_error.set(Some(e.to_string())),
            }
        });
    }

    /// Runs an action on a user, says why if it failed, and loads the page again.
    fn act(self, call: impl Future<Output = Result<(), AppError>> + 'static) {
        self.error.set(None);
        self.notice.set(None);
        self.busy.set(true);
        spawn_local(async move {
            let result = call.await;
            self.busy.try_set(false);
            if let Err(e) = result {
                self.error.try_set(Some(e.to_string()));
            }
            self.load();
        });
    }

    fn go_to_page(self, page: i64) {
        self.page.set(page.max(0));
        self.load();
    }
}

#[component]
pub(super) fn UsersPanel() -> impl IntoView {
    let list = UserList::new();
    Effect::new(move |_| list.load());
    // Whether the page holds anyone; the table stays in place (and keeps its rows) while
    // reloads change who is in it.
    let empty = Memo::new(move |_| list.data.with(|d| d.as_ref().map(|d| d.users.is_empty())));

    view! {
        <section class="admin-users" aria-label="Users">
            <UserSearch list />
            <Alert message=list.load_error />
            <Alert message=list.error />
            <p class="admin-notice" role="status">
                {move || list.notice.get()}
            </p>
            {move || {
                empty
                    .get()
                    .map(|empty| {
                        if empty {
                            view! { <p class="empty">"No users match."</p> }.into_any()
                        } else {
                            view! { <UserTable list /> }.into_any()
                        }
                    })
                    .unwrap_or_else(|| {
                        if list.load_error.with(Option::is_none) {
                            view! { <Loading /> }.into_any()
                        } else {
                            ().into_any()
                        }
                    })
            }}
            <Pager list />
        </section>
    }
}

/// The search box: the list follows what is typed, a moment after typing stops.
#[component]
fn UserSearch(list: UserList) -> impl IntoView {
    let timer = StoredValue::new(None::<TimeoutHandle>);
    let cancel = move || {
        if let Some(handle) = timer.try_get_value().flatten() {
            handle.clear();
        }
    };
    on_cleanup(cancel);
    let search_now = move || {
        cancel();
        list.go_to_page(0);
    };
    let on_input = move |ev| {
        list.query.set(event_target_value(&ev));
        cancel();
        let handle = set_timeout_with_handle(search_now, Duration::from_millis(250)).ok();
        timer.set_value(handle);
    };
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        search_now();
    };
    view! {
        <form class="admin-search" role="search" on:submit=on_submit>
            <label class="visually-hidden" for="admin-user-search">
                "Search users"
            </label>
            <input
                id="admin-user-search"
                type="search"
                placeholder="Search by name or username"
                autocomplete="off"
                spellcheck="false"
                prop:value=move || list.query.get()
                on:input=on_input
            />
        </form>
    }
}

/// "Page 1 of 3 · 57 users", with the buttons to move between pages.
#[component]
fn Pager(list: UserList) -> impl IntoView {
    let position = Memo::new(move |_| {
        list.data
            .with(|d| d.as_ref().map(|d| (d.page, d.pages, d.total)))
    });
    let text = move || {
        position.get().map(|(page, pages, total)| {
            let users = match total {
                1 => "1 user".to_string(),
                n => format!("{n} users"),
            };
            format!("Page {} of {pages} · {users}", page + 1)
        })
    };
    let no_previous = move || position.get().is_none_or(|(page, _, _)| page <= 0);
    let no_next = move || {
        position
            .get()
            .is_none_or(|(page, pages, _)| page + 1 >= pages)
    };
    let step = move |by: i64| {
        if let Some((page, _, _)) = position.get_untracked() {
            list.go_to_page(page + by);
        }
    };
    view! {
        <div class="pager">
            <button
                type="button"
                class="button secondary small"
                disabled=no_previous
                on:click=move |_| step(-1)
            >
                "Previous"
            </button>
            <span class="pager-text">{text}</span>
            <button
                type="button"
                class="button secondary small"
                disabled=no_next
                on:click=move |_| step(1)
            >
                "Next"
            </button>
        </div>
    }
}

/// Changes whenever anything a row shows changes, so that only such rows are drawn again
/// (a row's open password form survives reloads that leave it alone).
fn row_key(u: &AdminUser) -> String {
    format!(
        "{}|{}|{}|{}|{}|{}|{}|{:?}",
        u.user.id,
        u.user.username,
        u.user.display_name,
        u.user.role.as_str(),
        u.blocked,
        u.must_change_password,
        u.online,
        u.last_seen_at
    )
}

#[component]
fn UserTable(list: UserList) -> impl IntoView {
    let users = move || {
        list.data
            .with(|d| d.as_ref().map(|d| d.users.clone()).unwrap_or_default())
    };
    view! {
        <div class="table-wrap">
            <table class="user-table">
                <caption class="visually-hidden">"Users"</caption>
                <thead>
                    <tr>
                        <th scope="col">"User"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Actions"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=users key=row_key children=move |u| view! { <UserRow u list /> } />
                </tbody>
            </table>
        </div>
    }
}

/// "Blocked", "Online", "Last seen 5 min ago" or "Never", with a class to style it by.
fn status_of(u: &AdminUser) -> (&'static str, String) {
    if u.blocked {
        ("status blocked", "Blocked".to_string())
    } else if u.online {
        ("status online", "Online".to_string())
    } else {
        match u.last_seen_at {
            Some(at) => ("status", format!("Last seen {}", ago(at, now_ms()))),
            None => ("status", "Never".to_string()),
        }
    }
}

#[component]
fn UserRow(u: AdminUser, list: UserList) -> impl IntoView {
    let chat = use_client().chat;
    let is_me = chat.me.with_untracked(|me| me.id == u.user.id);
    let is_admin = u.user.role == Role::Admin;
    let (status_class, status) = status_of(&u);
    let username = u.user.username.clone();
    let display_name = u.user.display_name.clone();
    let must_change = u.must_change_password;
    view! {
        <tr data-username=username.clone()>
            <td class="user-cell">
                <span class="user-name">
                    {display_name}
                    {is_me.then(|| view! { <span class="user-you">" (you)"</span> })}
                </span>
                <span class="person-handle">"@" {username.clone()}</span>
                {must_change.then(|| view! { <span class="user-note">"Must change password"</span> })}
            </td>
            <td data-label="Role">
                {if is_admin {
                    view! { <span class="badge role-badge">"Admin"</span> }.into_any()
                } else {
                    view! { <span class="role-user">"User"</span> }.into_any()
                }}
            </td>
            <td data-label="Status">
                <span class=status_class>{status}</span>
            </td>
            <td class="user-actions-cell">
                <UserActions u list />
            </td>
        </tr>
    }
}

#[component]
fn UserActions(u: AdminUser, list: UserList) -> impl IntoView {
    let open = RwSignal::new(false);
    let (id, blocked) = (u.user.id.clone(), u.blocked);
    let is_admin = u.user.role == Role::Admin;
    let block = {
        let id = id.clone();
        move |_| list.act(admin_block_user(id.clone(), !blocked))
    };
    let role = {
        let id = id.clone();
        move |_| list.act(admin_set_admin(id.clone(), !is_admin))
    };
    let busy = move || list.busy.get();
    view! {
        <div class="user-actions">
            <button
                type="button"
                class=if blocked { "button secondary small" } else { "button small danger" }
                disabled=busy
                on:click=block
            >
                {if blocked { "Unblock" } else { "Block" }}
            </button>
            <button type="button" class="button secondary small" disabled=busy on:click=role>
                {if is_admin { "Remove admin" } else { "Make admin" }}
            </button>
            <button
                type="button"
                class="button secondary small"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                "Temporary password"
            </button>
        </div>
        <Show when=move || open.get()>
            <TemporaryPasswordForm
                user_id=id.clone()
                username=u.user.username.clone()
                open
                list
            />
        </Show>
    }
}

/// Sets a temporary password the admin passes on; its owner must replace it at next login.
#[component]
fn TemporaryPasswordForm(
    user_id: UserId,
    username: String,
    open: RwSignal<bool>,
    list: UserList,
) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let input_id = format!("temporary-password-{user_id}");
    let error_id = format!("{input_id}-error");
    let label = format!("Temporary password for {username}");
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let (user_id, username) = (user_id.clone(), username.clone());
        let value = password.get_untracked();
        pending.set(true);
        spawn_local(async move {
            let result = admin_set_temporary_password(user_id, value).await;
            pending.try_set(false);
            match result {
                Ok(()) => {
                    open.try_set(false);
                    list.error.try_set(None);
                    list.notice.try_set(Some(format!(
                        "Temporary password set. {username} must choose a new one at next login."
                    )));
                    list.load();
                }
                Err(e) => {
                    error.try_set(Some(e.field("password").unwrap_or_else(|| e.to_string())));
                }
            }
        });
    };
    let described_by = {
        let error_id = error_id.clone();
        move || error.with(Option::is_some).then(|| error_id.clone())
    };
    view! {
        <form class="temporary-password" novalidate=true on:submit=submit>
            <label for=input_id.clone()>{label}</label>
            <div class="temporary-password-row">
                <input
                    id=input_id
                    type="text"
                    autocomplete="off"
                    spellcheck="false"
                    aria-invalid=move || error.with(Option::is_some).then_some("true")
                    aria-describedby=described_by
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev))
                />
                <button type="submit" class="button primary small" disabled=move || pending.get()>
                    "Set"
                </button>
                <button type="button" class="button secondary small" on:click=move |_| open.set(false)>
                    "Cancel"
                </button>
            </div>
            {move || {
                error
                    .get()
                    .map(|m| {
                        view! {
                            <p class="field-error" id=error_id.clone() role="alert">
                                {m}
                            </p>
                        }
                    })
            }}
        </form>
    }
}
