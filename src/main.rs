#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use clap::Parser;
    use natter::server::cli::Cli;
    use natter::server::{config::Settings, logging, metrics, startup};
    use std::net::SocketAddr;
    use std::process::ExitCode;

    let cli = Cli::parse();
    let serves = cli.serves();
    return_large_allocations_to_the_system();
    let config_path = cli.config.clone();
    let settings = match Settings::from_file(&config_path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("natter: {e}");
            return ExitCode::from(2);
        }
    };
    // Commands other than `serve` print for people on stderr (and a password on stdout):
    // only warnings and errors of the log go with it.
    logging::init(settings.log_format, if serves { "info" } else { "warn" });
    if let Some(command) = cli.command.filter(|_| !serves) {
        return natter::server::cli::run(command, &settings).await;
    }
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
    let state_settings = state.settings();
    let (shutdown, tasks) = (state.shutdown.clone(), state.tasks.clone());
    if let Some(metrics_addr) = state.settings().metrics_addr {
        match metrics::serve(metrics_addr, shutdown.clone()).await {
            Ok(serving) => {
                tasks.spawn(serving);
            }
            Err(e) => {
                eprintln!("natter: cannot serve metrics on {metrics_addr}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let grace = std::time::Duration::from_secs(state.settings().shutdown_grace_secs.into());
    let app = natter::routes::router(state);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("natter: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("Natter listening on http://{addr}");
    for warning in natter::server::actions::dashboard::server_warnings(&state_settings, addr) {
        tracing::warn!("{warning}");
        eprintln!("\n  WARNING: {warning}\n");
    }
    let (stopping, stop_began) = tokio::sync::oneshot::channel::<()>();
    // On SIGTERM or Ctrl-C: stop accepting, let requests in flight (a send being written)
    // finish, and close open sockets with "going away" (the token) so clients reconnect to
    // the next server and resume by seq.
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        shutdown.cancel();
        let _ = stopping.send(());
    });
    let deadline = async move {
        match stop_began.await {
            Ok(()) => tokio::time::sleep(grace).await,
            Err(_) => std::future::pending().await,
        }
    };
    let code = tokio::select! {
        served = served => match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("natter: server error: {e}");
                ExitCode::FAILURE
            }
        },
        _ = deadline => {
            tracing::warn!("requests still running after {} s; stopping anyway", grace.as_secs());
            ExitCode::SUCCESS
        }
    };
    // Upgraded sockets are not the HTTP server's to wait for: they are tracked tasks, as is
    // the message writer, which writes what is queued once the last request and socket
    // have let go of the state. Give them a moment.
    tasks.close();
    if tokio::time::timeout(TASKS_BOUND, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            "sockets or the message writer still busy after {} s; stopping anyway",
            TASKS_BOUND.as_secs()
        );
    }
    tracing::info!("stopped");
    code
}

/// How long a stopping server waits, after the HTTP server is done, for its tasks: sockets
/// sending their close frames (each closing handshake takes up to 1 s, `realtime::socket::CLOSE_WAIT`) and
/// the message writer's last commit.
#[cfg(feature = "ssr")]
const TASKS_BOUND: std::time::Duration = std::time::Duration::from_secs(2);

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

/// Password hashing allocates 19 MiB a time. glibc's malloc raises its mmap threshold to
/// the largest block freed, so after the first hash these come from its per-thread arenas,
/// which keep them: a server that had a burst of logins held most of a gigabyte for good.
/// A fixed threshold keeps large blocks mapped on their own and unmapped when freed.
#[cfg(all(feature = "ssr", target_os = "linux", target_env = "gnu"))]
fn return_large_allocations_to_the_system() {
    // SAFETY: mallopt only changes malloc's tuning, under malloc's own lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

#[cfg(all(feature = "ssr", not(all(target_os = "linux", target_env = "gnu"))))]
fn return_large_allocations_to_the_system() {}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The client is built as a library (see lib.rs); this binary is the server.
}
