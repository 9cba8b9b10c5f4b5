use super::go_to;
use crate::api::auth::{current_user, demo_accounts, Login};
use crate::model::DemoAccountList;
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
                <ActionForm action=login attr:class="form" attr:novalidate=true>
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
                                    {format!("Log in as {}", u.display_name)}
                                </button>
                            </ActionForm>
                        }
                    })
                    .collect_view()}
            </div>
        </section>
    }
}
