use crate::api::auth::current_user;
use crate::ui::shell::AppShell;
use leptos::prelude::*;
use leptos_router::components::Redirect;

/// The signed-in app; visitors are sent to the login page.
#[component]
pub fn HomePage() -> impl IntoView {
    let user = Resource::new_blocking(|| (), |_| current_user());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) => view! { <AppShell user /> }.into_any(),
                    Ok(None) => view! { <Redirect path="/login" /> }.into_any(),
                    Err(e) => {
                        view! {
                            <main class="auth-page">
                                <div class="auth-card">
                                    <h1>"Natter is unavailable"</h1>
                                    <p role="alert">{e.to_string()}</p>
                                    <a class="button" href="/">"Try again"</a>
                                </div>
                            </main>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}
