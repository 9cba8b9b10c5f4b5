//! The HTML shell, the root component and the routes.

use crate::pages::admin::{AdminDashboard, AdminSettings, AdminUsers};
use crate::pages::home::{NoConversation, OpenConversation};
use crate::pages::settings::PersonalSettings;
use crate::pages::{home::HomePage, login::LoginPage, not_found::NotFound, signup::SignupPage};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, MetaTags, Stylesheet};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    // Effects run only in the browser, after hydration: from here on clicks are handled.
    // Tests wait for this mark before they interact with the page.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/natter.css" />
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Router>
            // Async: pages that need the signed-in user wait for it, so a redirect can
            // still be a real HTTP redirect.
            <Routes fallback=NotFound>
                // One shell for the list and every conversation: moving between them keeps
                // the shell, its state and its realtime connection.
                <ParentRoute path=path!("") view=HomePage ssr=SsrMode::Async>
                    <Route path=path!("") view=NoConversation />
                    <Route path=path!("c/:id") view=OpenConversation />
                    <Route path=path!("settings") view=PersonalSettings />
                    <Route path=path!("admin") view=AdminDashboard />
                    <Route path=path!("admin/users") view=AdminUsers />
                    <Route path=path!("admin/settings") view=AdminSettings />
                </ParentRoute>
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                <Route path=path!("/signup") view=SignupPage ssr=SsrMode::Async />
            </Routes>
        </Router>
    }
}
