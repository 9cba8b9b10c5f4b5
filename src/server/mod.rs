//! Everything that runs only in the server binary.

pub mod actions;
pub mod auth;
pub mod broadcast_only;
pub mod budget;
pub mod calls;
pub mod cli;
pub mod config;
pub mod csrf;
pub mod demo;
pub mod headers;
pub mod health;
pub mod hub;
pub mod logging;
pub mod metrics;
pub mod moderation;
pub mod presence;
pub mod proxy;
pub mod rate_limit;
pub mod realtime;
pub mod startup;
pub mod store;
pub mod throttle;
pub mod writer;

#[cfg(test)]
mod recovery_tests;

use crate::error::AppError;
use config::Settings;
use leptos::config::LeptosOptions;
use std::sync::Arc;
use store::Store;
use throttle::LoginThrottle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What every request handler and server function can reach.
#[derive(Clone, axum::extract::FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    /// The database, whatever its backend.
    pub store: Arc<dyn Store>,
    pub config: Arc<config::LiveSettings>,
    pub login_throttle: Arc<LoginThrottle>,
    pub hub: Arc<hub::Hub>,
    pub presence: Arc<presence::Presence>,
    /// The live calls and the tabs they are bound to.
    pub calls: Arc<calls::LiveCalls>,
    /// The per-conversation publish-order lock: holds a conversation's writes and their
    /// events in seq order.
    pub publish_order: Arc<hub::PublishOrder>,
    /// Per-user rates of messages and typing updates.
    pub rates: Arc<Rates>,
    /// Writes messages, many to a commit.
    pub writer: writer::MessageWriter,
    /// Numbers messages when `store_messages` is off.
    pub broadcast_only: Arc<broadcast_only::BroadcastOnly>,
    /// Personal blocks, held in memory for per-listener filtering.
    pub blocks: Arc<moderation::Blocks>,
    /// Cancelled when the server begins to shut down: open sockets close on it (1001) and
    /// background tasks stop.
    pub shutdown: CancellationToken,
    /// The server's tasks: sockets, the message writer, timers, the dashboard push. A
    /// stopping server waits for them (within `main`'s bounds).
    pub tasks: TaskTracker,
}

impl AppState {
    /// The state of a server with these settings on this store, with nobody connected yet.
    /// Starts the message writer and the dashboard push, so it must run inside the Tokio
    /// runtime.
    pub fn new(
        leptos_options: LeptosOptions,
        store: Arc<dyn Store>,
        settings: Settings,
    ) -> AppState {
        let hub: Arc<hub::Hub> = Arc::default();
        let presence: Arc<presence::Presence> = Arc::default();
        let (shutdown, tasks) = (CancellationToken::new(), TaskTracker::new());
        tasks.spawn(
            shutdown
                .clone()
                .run_until_cancelled_owned(moderation::push_dashboard(
                    store.clone(),
                    hub.clone(),
                    presence.clone(),
                )),
        );
        AppState {
            leptos_options,
            login_throttle: Arc::new(LoginThrottle::new(
                settings.login_failures_per_account,
                settings.login_failures_per_address,
            )),
            writer: writer::MessageWriter::start(store.clone(), &tasks),
            store,
            rates: Arc::new(Rates::new(&settings)),
            config: Arc::new(config::LiveSettings::new(settings)),
            hub,
            publish_order: Arc::default(),
            broadcast_only: Arc::default(),
            blocks: Arc::default(),
            presence,
            calls: Arc::default(),
            shutdown,
            tasks,
        }
    }

    /// Runs `task` as one of the server's background tasks (a timer, a deferred
    /// announcement): tracked, and dropped where it stands when the server begins to stop.
    pub fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks
            .spawn(self.shutdown.clone().run_until_cancelled_owned(task));
    }

    /// The settings in force now (admins change some while the server runs).
    pub fn settings(&self) -> Arc<Settings> {
        self.config.get()
    }

    /// After settings changed: the rates follow at once, and open tabs hear of new limits.
    pub fn settings_changed(&self, before: &Settings, settings: &Settings) {
        let limits = realtime::limits(settings);
        if limits != realtime::limits(before) {
            self.hub
                .send_all(&crate::protocol::ServerFrame::Limits { limits });
        }
        let calls = |s: &Settings| (s.calls_enabled, s.call_ring_timeout_secs);
        if calls(settings) != calls(before) {
            let options = calls::options_of(settings);
            self.hub
                .send_all(&crate::protocol::ServerFrame::CallOptions { options });
        }
        self.rates.messages.set_limit(settings.messages_per_minute);
        self.rates.typing.set_limit(settings.typing_per_minute);
        self.rates.calls.set_limit(settings.calls_per_minute);
        self.rates.signups.set_limit(settings.signups_per_hour);
    }

    /// The state inside a server function or a server-rendered component.
    pub fn current() -> Result<AppState, AppError> {
        leptos::prelude::use_context::<AppState>().ok_or_else(|| {
            tracing::error!("AppState missing from the request context");
            AppError::Internal
        })
    }
}

/// Presence changes one user may make per minute, over all their tabs: each one reaches
/// everyone they have a direct conversation with. A person switching tabs often makes a
/// few a minute.
pub const PRESENCE_PER_MINUTE: u32 = 60;

/// Conversations and groups one user may open, create or add people to per minute: each
/// puts something in other people's lists and bells.
pub const INVITATIONS_PER_MINUTE: u32 = 30;

/// Per-user (and, for sign-ups, per-address) rates of what reaches other people or costs
/// the server a password hash.
pub struct Rates {
    pub messages: rate_limit::RateLimiter,
    pub typing: rate_limit::RateLimiter,
    /// Presence changes announced, per user ([`PRESENCE_PER_MINUTE`]).
    pub presence: rate_limit::RateLimiter,
    /// Calls started, per user: each rings every tab of the person called.
    pub calls: rate_limit::RateLimiter,
    /// Direct conversations opened, groups created, members added, per user.
    pub invitations: rate_limit::RateLimiter,
    /// Sign-ups per client address, per hour: each is a password hash and an account.
    pub signups: rate_limit::RateLimiter,
}

impl Rates {
    pub fn new(settings: &Settings) -> Rates {
        use self::metrics::Rate;
        let hour = std::time::Duration::from_secs(3600);
        Rates {
            messages: rate_limit::RateLimiter::new(Rate::Message, settings.messages_per_minute),
            typing: rate_limit::RateLimiter::new(Rate::Typing, settings.typing_per_minute),
            presence: rate_limit::RateLimiter::new(Rate::Presence, PRESENCE_PER_MINUTE),
            calls: rate_limit::RateLimiter::new(Rate::Call, settings.calls_per_minute),
            invitations: rate_limit::RateLimiter::new(Rate::Invitation, INVITATIONS_PER_MINUTE),
            signups: rate_limit::RateLimiter::per_window(
                Rate::Signup,
                settings.signups_per_hour,
                hour,
            ),
        }
    }
}

/// Takes a token from `limiter` for `key`, or refuses with `what` ("You are starting calls
/// too fast (at most 6 a minute).") and how long to wait.
///
/// # Errors
/// [`AppError::RateLimited`] when the key has no token left.
pub fn within_rate(
    limiter: &rate_limit::RateLimiter,
    key: &str,
    what: impl FnOnce() -> String,
) -> Result<(), AppError> {
    limiter.take(key).map_err(|wait| {
        let secs = wait.as_secs() + 1;
        AppError::RateLimited {
            message: format!("{} Try again in {secs} s.", what()),
            retry_after_secs: secs,
        }
    })
}

/// Logs an internal failure with its context and returns the error the browser may see.
pub fn internal(context: &str, err: impl std::fmt::Display) -> AppError {
    tracing::error!("{context}: {err}");
    AppError::Internal
}

/// Milliseconds since the Unix epoch: how the database stores time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stopping_server_s_tasks_end_once_the_state_is_let_go() {
        let (store, _dir) = store::tests::fresh_store().await;
        let settings = Settings::load("t", None, &|_| None).unwrap();
        let options = LeptosOptions::builder().output_name("natter").build();
        let state = AppState::new(options, store, settings);
        let ticking = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = ticking.clone();
        state.spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(600)).await;
            flag.store(false, std::sync::atomic::Ordering::SeqCst);
        });
        let (shutdown, tasks) = (state.shutdown.clone(), state.tasks.clone());
        tasks.close();
        let wait = std::time::Duration::from_secs(2);
        // The writer runs while anyone holds the state, the dashboard push and timers until
        // the server stops.
        assert!(tokio::time::timeout(wait / 4, tasks.wait()).await.is_err());
        shutdown.cancel();
        assert!(tokio::time::timeout(wait / 4, tasks.wait()).await.is_err());
        drop(state);
        tokio::time::timeout(wait, tasks.wait())
            .await
            .expect("every task ends");
        assert!(
            ticking.load(std::sync::atomic::Ordering::SeqCst),
            "timers are dropped"
        );
    }
}
