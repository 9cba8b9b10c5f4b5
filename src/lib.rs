//! Natter: self-hosted real-time messaging and calling for the browser.
//!
//! One crate, two builds: the `ssr` feature builds the axum server binary, the `hydrate`
//! feature builds the WebAssembly client. Modules shared by both hold plain types and
//! components; `server` compiles only into the server.

#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod catch_up;
pub mod client;
pub mod domain;
pub mod error;
pub mod history;
pub mod outbox;
pub mod pages;
pub mod protocol;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod routes;
#[cfg(feature = "ssr")]
pub mod server;

/// Makes the server's response to the page being rendered a 404 (nothing in the browser).
pub fn respond_not_found() {
    #[cfg(feature = "ssr")]
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
