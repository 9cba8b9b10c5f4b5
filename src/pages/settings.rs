//! The person's own settings: their name, their password, the browsers they are logged
//! in with, the people they blocked, and deleting the account.

use crate::api::account::{
    log_out_other_sessions, log_out_session, my_sessions, ChangeDisplayName, ChangePassword,
    DeleteAccount,
};
use crate::api::people::{blocked_people, set_blocked};
use crate::client::{go_to, time::now_ms, use_client};
use crate::domain::{SessionInfo, User, UserId};
use crate::ui::field::{last_error, FormError, TextField};
use crate::ui::format::{ago, browser_name};
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
    let unblock = move |id: UserId| {
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
            <ProfileCard />
            <PasswordCard />
            <SessionsCard />
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
            <DeleteAccountCard />
        </section>
    }
}

/// The name other people see.
#[component]
fn ProfileCard() -> impl IntoView {
    let me = use_client().chat.me;
    let change = ServerAction::<ChangeDisplayName>::new();
    let error = last_error(change);
    view! {
        <div class="card">
            <h2>"Profile"</h2>
            <ActionForm action=change attr:class="form" attr:novalidate=true>
                <FormError message=Signal::derive(move || error.get().and_then(|e| e.form_message())) />
                <TextField
                    label="Display name"
                    name="display_name"
                    autocomplete="name"
                    value=me.with_untracked(|m| m.display_name.clone())
                    error=Signal::derive(move || error.get().and_then(|e| e.field("display_name")))
                />
                <p class="muted">"Everyone you talk with sees the new name at once."</p>
                <button type="submit" class="button primary" disabled=move || change.pending().get()>
                    "Save name"
                </button>
            </ActionForm>
        </div>
    }
}

/// A new password, given the current one; the other sessions end.
#[component]
fn PasswordCard() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let error = last_error(change);
    let done = move || matches!(change.value().get(), Some(Ok(())));
    view! {
        <div class="card">
            <h2>"Password"</h2>
            <ActionForm action=change attr:class="form" attr:novalidate=true>
                <FormError message=Signal::derive(move || error.get().and_then(|e| e.form_message())) />
                <TextField
                    label="Current password"
                    name="current_password"
                    input_type="password"
                    autocomplete="current-password"
                    error=Signal::derive(move || error.get().and_then(|e| e.field("current_password")))
                />
                <TextField
                    label="New password"
                    name="new_password"
                    input_type="password"
                    autocomplete="new-password"
                    error=Signal::derive(move || error.get().and_then(|e| e.field("new_password")))
                />
                {move || done().then(|| view! {
                    <p class="notice" role="status">
                        "Password changed. Your other sessions have been logged out."
                    </p>
                })}
                <button type="submit" class="button primary" disabled=move || change.pending().get()>
                    "Change password"
                </button>
            </ActionForm>
        </div>
    }
}

/// The browsers the person is logged in with, each with a way out.
#[component]
fn SessionsCard() -> impl IntoView {
    let sessions = RwSignal::new(None::<Vec<SessionInfo>>);
    let error = RwSignal::new(None::<String>);
    let reload = move || {
        spawn_local(async move {
            match my_sessions().await {
                Ok(list) => sessions.set(Some(list)),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    Effect::new(move |_| reload());
    let done = move |result: Result<(), crate::error::AppError>| match result {
        Ok(()) => {
            error.set(None);
            reload();
        }
        Err(e) => error.set(Some(e.to_string())),
    };
    let log_out = move |id: String| {
        spawn_local(async move { done(log_out_session(id).await) });
    };
    let log_out_others = move |_| {
        spawn_local(async move { done(log_out_other_sessions().await.map(|_| ())) });
    };
    let others =
        move || sessions.with(|l| l.as_ref().is_some_and(|l| l.iter().any(|s| !s.current)));
    view! {
        <div class="card">
            <h2>"Where you're logged in"</h2>
            {move || error.get().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
            {move || match sessions.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(list) => view! {
                    <ul class="people-list" aria-label="Sessions">
                        {list.into_iter().map(|s| {
                            let id = s.id.clone();
                            let when = if s.current {
                                "This browser".to_string()
                            } else {
                                format!("Last active {}", ago(s.last_active_at, now_ms()))
                            };
                            let address = s.address.clone().unwrap_or_default();
                            view! {
                                <li class="session" data-current=s.current.then_some("true")>
                                    <span class="person-names">
                                        <span class="person-name">{browser_name(s.user_agent.as_deref())}</span>
                                        <span class="person-handle">{address} " · " {when}</span>
                                    </span>
                                    {(!s.current).then(|| view! {
                                        <button
                                            type="button"
                                            class="button secondary small"
                                            on:click=move |_| log_out(id.clone())
                                        >
                                            "Log out"
                                        </button>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            {move || others().then(|| view! {
                <button type="button" class="button secondary" on:click=log_out_others>
                    "Log out everywhere else"
                </button>
            })}
        </div>
    }
}

/// Deleting the account, with the password as the confirmation.
#[component]
fn DeleteAccountCard() -> impl IntoView {
    let delete = ServerAction::<DeleteAccount>::new();
    let error = last_error(delete);
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            go_to("/login");
        }
    });
    view! {
        <div class="card danger-zone">
            <h2>"Delete account"</h2>
            <p class="muted">
                "Your messages stay in their conversations, signed “Deleted user”. Your name, \
                 password, sessions, blocks and notifications are gone for good."
            </p>
            <ActionForm action=delete attr:class="form" attr:novalidate=true>
                <FormError message=Signal::derive(move || error.get().and_then(|e| e.form_message())) />
                <TextField
                    label="Your password"
                    name="password"
                    input_type="password"
                    autocomplete="current-password"
                    error=Signal::derive(move || error.get().and_then(|e| e.field("password")))
                />
                <button type="submit" class="button danger" disabled=move || delete.pending().get()>
                    "Delete my account"
                </button>
            </ActionForm>
        </div>
    }
}
