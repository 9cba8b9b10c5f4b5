//! Health checks for operators and load balancers: `/healthz` says the process is alive
//! and serving HTTP, `/readyz` that it can do its work (the database answers).

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use std::time::Duration;

/// How long `/readyz` waits for the database before it answers 503.
pub const READY_WITHIN: Duration = Duration::from_secs(2);

/// `GET /healthz`: "ok" while the process serves HTTP. It reads nothing else, so a busy
/// or broken database never makes a supervisor restart a process that would recover.
pub async fn alive() -> &'static str {
    "ok"
}

/// `GET /readyz`: 200 "ready" when the database answers a query that writes nothing
/// (`Store::ping`) within [`READY_WITHIN`]; otherwise 503 with a short reason
/// ("not ready: ..."): shutting down, the database did not answer in time, or it failed.
/// What failed is logged, never told: the answer is public.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, String) {
    let not_ready = |why: &str| (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}"));
    if state.shutdown.is_cancelled() {
        return not_ready("shutting down");
    }
    match tokio::time::timeout(READY_WITHIN, state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready".to_string()),
        Ok(Err(e)) => {
            tracing::warn!("readiness: the database failed: {e}");
            not_ready(if e.is_unavailable() {
                "the database is unavailable"
            } else {
                "the database failed"
            })
        }
        Err(_) => {
            tracing::warn!(
                "readiness: the database did not answer within {} s",
                READY_WITHIN.as_secs()
            );
            not_ready(&format!(
                "the database did not answer within {} s",
                READY_WITHIN.as_secs()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::Settings;
    use crate::server::store::sqlite::tests::closed_store;
    use crate::server::store::tests::fresh_store;
    use crate::server::store::Store;
    use std::sync::Arc;

    fn state_on(store: Arc<dyn Store>) -> AppState {
        let settings = Settings::load("t", None, &|_| None).unwrap();
        let options = leptos::config::LeptosOptions::builder()
            .output_name("natter")
            .build();
        AppState::new(options, store, settings)
    }

    #[tokio::test]
    async fn a_server_with_a_working_database_is_ready() {
        let (store, _dir) = fresh_store().await;
        let answer = ready(State(state_on(store))).await;
        assert_eq!(answer, (StatusCode::OK, "ready".to_string()));
    }

    #[tokio::test]
    async fn a_server_whose_database_is_closed_is_not_ready() {
        let (store, _dir) = closed_store().await;
        let answer = ready(State(state_on(store))).await;
        assert_eq!(
            answer,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the database failed".to_string()
            )
        );
    }

    #[tokio::test]
    async fn a_stopping_server_is_not_ready() {
        let (store, _dir) = fresh_store().await;
        let state = state_on(store);
        state.shutdown.cancel();
        let answer = ready(State(state)).await;
        assert_eq!(
            answer,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: shutting down".to_string()
            )
        );
    }
}
