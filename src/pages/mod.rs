//! One file per route.

pub mod admin;
pub mod home;
pub mod login;
pub mod not_found;
pub mod settings;
pub mod signup;

/// Loads a whole new page: after logging in or out every part of the app must start
/// again from the new session, which a full load guarantees.
pub(crate) fn go_to(path: &str) {
    let _ = leptos::prelude::window().location().set_href(path);
}
