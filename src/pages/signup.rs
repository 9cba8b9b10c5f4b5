use crate::api::auth::{current_user, registration_open, Signup};
use crate::client::go_to;
use crate::ui::field::{last_error, FormError, TextField};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

#[component]
pub fn SignupPage() -> impl IntoView {
    let user = Resource::new_blocking(|| (), |_| current_user());
    let open = Resource::new_blocking(|| (), |_| registration_open());
    let signup = ServerAction::<Signup>::new();
    let error = last_error(signup);
    let field =
        move |name: &'static str| Signal::derive(move || error.get().and_then(|e| e.field(name)));

    Effect::new(move |_| {
        if let Some(Ok(_)) = signup.value().get() {
            go_to("/");
        }
    });

    view! {
        <Title text="Create your account · Natter" />
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
                <h1>"Create your account"</h1>
                <Suspense>
                    {move || Suspend::new(async move {
                        (open.await == Ok(false)).then(|| view! {
                            <p class="notice" role="note">
                                "This server is not taking new accounts right now."
                            </p>
                        })
                    })}
                </Suspense>
                <ActionForm action=signup attr:class="form" attr:novalidate=true>
                    <FormError message=Signal::derive(move || {
                        error.get().and_then(|e| e.form_message())
                    }) />
                    <TextField
                        label="Username"
                        name="username"
                        autocomplete="username"
                        error=field("username")
                    />
                    <TextField
                        label="Display name"
                        name="display_name"
                        autocomplete="name"
                        error=field("display_name")
                    />
                    <TextField
                        label="Password"
                        name="password"
                        input_type="password"
                        autocomplete="new-password"
                        error=field("password")
                    />
                    <p class="hint">"At least 8 characters. Letters, digits and _ for the username."</p>
                    <button type="submit" class="button primary" disabled=move || signup.pending().get()>
                        "Create account"
                    </button>
                </ActionForm>
                <p class="switch">"Already have an account? " <a href="/login">"Log in"</a></p>
            </div>
        </main>
    }
}
