use crate::api::auth::{current_user, demo_accounts, ChangeTemporaryPassword, Login};
use crate::client::{go_to, input_value};
use crate::domain::DemoAccountList;
use crate::error::AppError;
use crate::ui::field::{last_error, FormError, TextField};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

#[component]
pub fn LoginPage() -> impl IntoView {
    let user = Resource::new_blocking(|| (), |_| current_user());
    let demo = Resource::new_blocking(|| (), |_| demo_accounts());
    let login = ServerAction::<Login>::new();
    let error = last_error(login);

    Effect::new(move |_| {
        if let Some(Ok(_)) = login.value().get() {
            go_to("/");
        }
    });
    // A temporary password from an admin: the same page asks for a new one, keeping the
    // username and the temporary password just typed.
    let must_change = RwSignal::new(None::<(String, String)>);
    Effect::new(move |_| {
        if let Some(Err(AppError::PasswordChangeRequired)) = login.value().get() {
            must_change.set(Some((
                input_value("field-username"),
                input_value("field-password"),
            )));
        }
    });
    let query = leptos_router::hooks::use_query_map();
    let blocked = move || query.with(|q| q.get("ended").as_deref() == Some("blocked"));

    view! {
        <Title text="Log in · Natter" />
        <Suspense>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(_)) => view! { <Redirect path="/" /> }.into_any(),
                    _ => ().into_any(),
                }
            })}
        </Suspense>
        <main class="auth-page">
            <div class="auth-card">
                <p class="brand-mark" aria-hidden="true">"N"</p>
                <h1>"Log in to Natter"</h1>
                {move || blocked().then(|| view! {
                    <p class="form-error" role="alert">
                        "Your account has been blocked by an admin of this server."
                    </p>
                })}
                {move || must_change.get().map(|(username, password)| view! {
                    <NewPasswordForm username password />
                })}
                <ActionForm
                    action=login
                    attr:class="form"
                    attr:novalidate=true
                    attr:hidden=move || must_change.with(Option::is_some)
                >
                    <FormError message=Signal::derive(move || {
                        error.get().and_then(|e| e.form_message())
                    }) />
                    <TextField
                        label="Username"
                        name="username"
                        autocomplete="username"
                        error=Signal::derive(move || error.get().and_then(|e| e.field("username")))
                    />
                    <TextField
                        label="Password"
                        name="password"
                        input_type="password"
                        autocomplete="current-password"
                        error=Signal::derive(move || error.get().and_then(|e| e.field("password")))
                    />
                    <button type="submit" class="button primary" disabled=move || login.pending().get()>
                        "Log in"
                    </button>
                </ActionForm>
                <p class="switch">"New here? " <a href="/signup">"Create an account"</a></p>
                <Suspense>
                    {move || Suspend::new(async move {
                        match demo.await {
                            Ok(Some(accounts)) => view! { <DemoLogins accounts login /> }.into_any(),
                            _ => ().into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}

/// Replaces a temporary password with one the person chooses, and logs them in.
#[component]
fn NewPasswordForm(username: String, password: String) -> impl IntoView {
    let change = ServerAction::<ChangeTemporaryPassword>::new();
    let error = last_error(change);
    Effect::new(move |_| {
        if let Some(Ok(_)) = change.value().get() {
            go_to("/");
        }
    });
    view! {
        <ActionForm action=change attr:class="form" attr:novalidate=true>
            <p class="notice" role="status">
                "An admin gave " <strong>{username.clone()}</strong>
                " a temporary password. Choose your own to continue."
            </p>
            <FormError message=Signal::derive(move || {
                error.get().and_then(|e| e.form_message())
            }) />
            <input type="hidden" name="username" value=username />
            <input type="hidden" name="password" value=password />
            <TextField
                label="New password"
                name="new_password"
                input_type="password"
                autocomplete="new-password"
                error=Signal::derive(move || error.get().and_then(|e| e.field("new_password")))
            />
            <button type="submit" class="button primary" disabled=move || change.pending().get()>
                "Set password and log in"
            </button>
        </ActionForm>
    }
}

/// One-click logins for the seeded demo accounts.
#[component]
fn DemoLogins(accounts: DemoAccountList, login: ServerAction<Login>) -> impl IntoView {
    let password = accounts.password.clone();
    view! {
        <section class="demo" aria-labelledby="demo-title">
            <h2 id="demo-title">"Try the demo"</h2>
            <p>
                "Every demo account uses the password " <code>{accounts.password.clone()}</code>
                "."
            </p>
            <div class="demo-buttons">
                {accounts
                    .users
                    .into_iter()
                    .map(|u| {
                        let password = password.clone();
                        view! {
                            <ActionForm action=login>
                                <input type="hidden" name="username" value=u.username.clone() />
                                <input type="hidden" name="password" value=password />
                                <button type="submit" class="button secondary">
                                    <span>"Log in as " <bdi>{u.display_name.clone()}</bdi></span>
                                </button>
                            </ActionForm>
                        }
                    })
                    .collect_view()}
            </div>
        </section>
    }
}
