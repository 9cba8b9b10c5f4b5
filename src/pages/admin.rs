//! The admin area: dashboard, users, settings. Shown inside the app shell for admins; every
//! server function it calls refuses non-admins on its own.

use leptos::prelude::*;

#[component]
pub fn AdminDashboard() -> impl IntoView {
    view! { <p>"Dashboard"</p> }
}

#[component]
pub fn AdminUsers() -> impl IntoView {
    view! { <p>"Users"</p> }
}

#[component]
pub fn AdminSettings() -> impl IntoView {
    view! { <p>"Settings"</p> }
}
