//! The live settings, each saved on its own.

use super::{Alert, Loading};
use crate::api::admin::{admin_settings, admin_update_setting};
use crate::domain::admin::{SettingKind, SettingView};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

type SettingList = RwSignal<Option<Vec<SettingView>>>;

#[component]
pub(super) fn SettingsPanel() -> impl IntoView {
    let settings: SettingList = RwSignal::new(None);
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        spawn_local(async move {
            match admin_settings().await {
                Ok(list) => {
                    error.set(None);
                    settings.set(Some(list));
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    });
    let all = move || settings.get().unwrap_or_default();
    view! {
        <section class="admin-settings" aria-label="Settings">
            <p class="hint">
                "Changes apply at once, without a restart, and override Leptos.toml and the environment."
            </p>
            <Alert message=error />
            {move || {
                (settings.with(Option::is_none) && error.with(Option::is_none))
                    .then(|| view! { <Loading /> })
            }}
            <div class="setting-list">
                <For
                    each=all
                    key=|s| s.key.clone()
                    children=move |s| view! { <SettingRow initial=s settings /> }
                />
            </div>
        </section>
    }
}

/// How the last save of a setting went.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Saved {
    Yes,
    Failed(String),
}

/// What a setting's input starts with: its value, except a secret, which is never shown.
fn draft_of(s: &SettingView) -> String {
    match s.kind {
        SettingKind::Secret => String::new(),
        _ => s.value.clone(),
    }
}

/// One setting, saved on its own. Label, help and kind never change; the value in force is
/// read from the list, which every save replaces.
#[component]
fn SettingRow(initial: SettingView, settings: SettingList) -> impl IntoView {
    let key = initial.key.clone();
    let current = {
        let key = key.clone();
        Memo::new(move |_| {
            settings.with(|list| {
                list.as_ref()
                    .and_then(|l| l.iter().find(|s| s.key == key))
                    .map(|s| (s.value.clone(), s.changed_here))
            })
        })
    };
    let draft = RwSignal::new(draft_of(&initial));
    let saved = RwSignal::new(None::<Saved>);
    let pending = RwSignal::new(false);
    let ids = SettingIds::new(&key);

    let submit = {
        let key = key.clone();
        move |ev: SubmitEvent| {
            ev.prevent_default();
            let key = key.clone();
            let value = draft.get_untracked();
            pending.set(true);
            saved.set(None);
            spawn_local(async move {
                let result = admin_update_setting(key.clone(), value).await;
                pending.try_set(false);
                match result {
                    Ok(list) => {
                        if let Some(s) = list.iter().find(|s| s.key == key) {
                            draft.try_set(draft_of(s));
                        }
                        settings.try_set(Some(list));
                        saved.try_set(Some(Saved::Yes));
                    }
                    Err(e) => {
                        let message = e.field(&key).unwrap_or_else(|| e.to_string());
                        saved.try_set(Some(Saved::Failed(message)));
                    }
                }
            });
        }
    };
    let failed = Signal::derive(move || matches!(saved.get(), Some(Saved::Failed(_))));
    let changed_here = move || current.with(|c| c.as_ref().is_some_and(|c| c.1));
    let is_switch = initial.kind == SettingKind::Switch;

    view! {
        <form class="setting" data-key=key novalidate=true on:submit=submit>
            <div class="setting-text">
                <div class="setting-head">
                {if is_switch {
                    view! {
                        <label class="setting-label setting-check" for=ids.input.clone()>
                            <SettingControl kind=initial.kind ids=ids.clone() draft current saved failed />
                            {initial.label.clone()}
                        </label>
                    }
                        .into_any()
                } else {
                    view! {
                        <label class="setting-label" for=ids.input.clone()>
                            {initial.label.clone()}
                        </label>
                    }
                        .into_any()
                }}
                {move || changed_here().then(|| view! { <span class="setting-note">"changed here"</span> })}
                </div>
                <p class="hint" id=ids.help.clone()>
                    {initial.help.clone()}
                </p>
            </div>
            <div class="setting-control">
                {(!is_switch)
                    .then(|| {
                        view! { <SettingControl kind=initial.kind ids=ids.clone() draft current saved failed /> }
                    })}
                <button type="submit" class="button primary small" disabled=move || pending.get()>
                    "Save"
                </button>
            </div>
            <SettingOutcome saved error_id=ids.error.clone() />
        </form>
    }
}

/// The element ids of one setting's row.
#[derive(Debug, Clone)]
struct SettingIds {
    input: String,
    help: String,
    error: String,
}

impl SettingIds {
    fn new(key: &str) -> Self {
        Self {
            input: format!("setting-{key}"),
            help: format!("setting-{key}-help"),
            error: format!("setting-{key}-error"),
        }
    }
}

/// The input that edits a setting, by its kind.
#[component]
fn SettingControl(
    kind: SettingKind,
    ids: SettingIds,
    draft: RwSignal<String>,
    current: Memo<Option<(String, bool)>>,
    saved: RwSignal<Option<Saved>>,
    failed: Signal<bool>,
) -> impl IntoView {
    let described_by = {
        let SettingIds { help, error, .. } = ids.clone();
        move || {
            if failed.get() {
                format!("{help} {error}")
            } else {
                help.clone()
            }
        }
    };
    let invalid = move || failed.get().then_some("true");
    let edited = move |value: String| {
        draft.set(value);
        saved.set(None);
    };
    match kind {
        SettingKind::Switch => view! {
            <input
                id=ids.input
                type="checkbox"
                aria-describedby=described_by
                prop:checked=move || draft.with(|d| d == "true")
                on:change=move |ev| edited(event_target_checked(&ev).to_string())
            />
        }
        .into_any(),
        SettingKind::Number | SettingKind::List => {
            let (input_type, mode) = match kind {
                SettingKind::Number => ("number", "numeric"),
                _ => ("text", "text"),
            };
            view! {
                <input
                    id=ids.input
                    type=input_type
                    inputmode=mode
                    autocomplete="off"
                    spellcheck="false"
                    aria-invalid=invalid
                    aria-describedby=described_by
                    prop:value=move || draft.get()
                    on:input=move |ev| edited(event_target_value(&ev))
                />
            }
            .into_any()
        }
        SettingKind::Secret => {
            let placeholder = move || {
                if current.with(|c| c.as_ref().is_some_and(|c| !c.0.is_empty())) {
                    "set"
                } else {
                    "not set"
                }
            };
            view! {
                <input
                    id=ids.input
                    type="password"
                    autocomplete="new-password"
                    placeholder=placeholder
                    aria-invalid=invalid
                    aria-describedby=described_by
                    prop:value=move || draft.get()
                    on:input=move |ev| edited(event_target_value(&ev))
                />
            }
            .into_any()
        }
    }
}

/// "Saved." or why not, under the setting.
#[component]
fn SettingOutcome(saved: RwSignal<Option<Saved>>, error_id: String) -> impl IntoView {
    let message = move || match saved.get() {
        Some(Saved::Failed(m)) => Some(m),
        _ => None,
    };
    view! {
        <p class="setting-saved" role="status">
            {move || (saved.get() == Some(Saved::Yes)).then_some("Saved.")}
        </p>
        {move || {
            message()
                .map(|m| {
                    view! {
                        <p class="form-error setting-error" id=error_id.clone() role="alert">
                            {m}
                        </p>
                    }
                })
        }}
    }
}
