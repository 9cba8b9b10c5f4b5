#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use natter::server::{config::Settings, startup};
    use std::net::SocketAddr;
    use std::process::ExitCode;
    use tracing_subscriber::EnvFilter;

    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let config_path = std::env::var("NATTER_CONFIG").unwrap_or_else(|_| "Leptos.toml".into());
    let settings = match Settings::from_file(&config_path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("natter: {e}");
            return ExitCode::from(2);
        }
    };
    // LEPTOS_* variables (set by cargo-leptos) override the file's [package.metadata.leptos].
    let leptos_conf = if std::path::Path::new(&config_path).exists() {
        leptos::config::get_configuration(Some(&config_path))
    } else {
        leptos::config::get_configuration(None)
    };
    let mut leptos_options = match leptos_conf {
        Ok(c) => c.leptos_options,
        Err(e) => {
            eprintln!("natter: invalid Leptos settings in {config_path}: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(addr) = settings.site_addr {
        leptos_options.site_addr = addr;
    }
    let addr = leptos_options.site_addr;

    let state = match startup::build_state(leptos_options, settings).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("natter: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = state.shutdown.clone();
    let app = startup::router(state);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("natter: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("Natter listening on http://{addr}");
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        // Open sockets close with "going away" so clients reconnect to the next server.
        let _ = shutdown.send(true);
    })
    .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("natter: server error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "ssr")]
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let ctrl_c = tokio::signal::ctrl_c();
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
    tracing::info!("shutting down");
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The client is built as a library (see lib.rs); this binary is the server.
}
