//! Metrics for operators, in Prometheus's text format at `/metrics` on a listener of its own
//! (`metrics_addr`, loopback by default), never on the site's router.
//!
//! Every metric is named here, with one function per event that records it; the code where
//! the event happens calls that function. Recording goes through the `metrics` crate's
//! macros: until [`recorder`] installs the Prometheus recorder (which [`serve`] does), they
//! cost next to nothing and record nothing, so a server with `metrics_addr` empty records
//! nothing at all.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | [`WEBSOCKET_CONNECTIONS`] | gauge | |
//! | [`SUBSCRIPTIONS`] | gauge | |
//! | [`MESSAGES_STORED`] | counter | |
//! | [`DELIVERIES`] | counter | |
//! | [`SEND_DURATION`] | histogram | `stage`: `commit`, `publish` |
//! | [`COMMIT_BATCH`] | histogram | |
//! | [`WEBSOCKET_CLOSES`] | counter | `code` |
//! | [`RATE_LIMITED`] | counter | `rate` |
//! | [`CALLS`] | counter | `outcome` |
//! | [`LOGIN_FAILURES`] | counter | `reason` |

use crate::domain::call::CallState;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use metrics::{counter, gauge, histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Open WebSocket connections (tabs) being served, in connections.
pub const WEBSOCKET_CONNECTIONS: &str = "natter_websocket_connections";
/// Subscriptions held, in (connection, topic) pairs: every connection's own `user:` topic,
/// its conversations and the admin dashboard.
pub const SUBSCRIPTIONS: &str = "natter_subscriptions";
/// Messages people sent that were written to the database, in messages. A resend that
/// finds its message already stored does not count, nor do calls' log lines; nothing counts
/// when `store_messages` is off.
pub const MESSAGES_STORED: &str = "natter_messages_stored_total";
/// Event frames the fan-out (`Hub::publish`) queued for sockets, in frames: one event to a
/// conversation with five open tabs is five.
pub const DELIVERIES: &str = "natter_deliveries_total";
/// Time a send took, in seconds, from the start of the send action (the session is known)
/// to `stage`: `commit`, its answer from the writer (the commit that made it durable; the
/// in-memory numbering when `store_messages` is off), and `publish`, its event handed to
/// the subscribers (only for a send that created its message).
pub const SEND_DURATION: &str = "natter_send_duration_seconds";
/// Sends written by one group commit (one transaction, one flush), in messages.
pub const COMMIT_BATCH: &str = "natter_commit_batch_messages";
/// WebSocket connections closed, by `code`: the close code the server sent (1001 restart,
/// 1007/1009/1002 a broken rule, 1008 a budget ignored, 4001 session ended, 4008 too
/// slow), or the client's (1000 and 1001 mostly); 1005 a client's close without a code,
/// 1006 a connection lost without a close. Codes outside 1000–1015 and 4000–4099 count as
/// `other`.
pub const WEBSOCKET_CLOSES: &str = "natter_websocket_closes_total";
/// Actions refused (or, for `presence`, deferred) by a rate, by `rate`: the per-user rates
/// `message`, `typing`, `presence`, `call`, `invitation`; `signup` (per address); `login`
/// (the login throttle); and one socket's budgets, `frame` and `subscription`.
pub const RATE_LIMITED: &str = "natter_rate_limited_total";
/// Calls over, by `outcome`: `ended` (answered, then hung up), `declined`, `cancelled`,
/// `missed`, `busy`.
pub const CALLS: &str = "natter_calls_total";
/// Logins refused, by `reason`: `wrong_credentials` (an unknown name or a wrong password) or
/// `account_blocked`. Attempts the throttle refuses are `rate_limited_total{rate="login"}`.
pub const LOGIN_FAILURES: &str = "natter_login_failures_total";

/// Bucket bounds of [`SEND_DURATION`], in seconds: a commit waits for the disk (a
/// millisecond or more), a queue of sends for several.
const SEND_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Bucket bounds of [`COMMIT_BATCH`], in messages, up to the writer's largest batch (256).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
/// How often histograms' recent samples are folded in (the recorder leaves this to its
/// owner: without it they grow between scrapes).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The Prometheus recorder, installed as the process's recorder on the first call; later
/// calls (tests, a second listener) get the same one.
pub fn recorder() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(SEND_DURATION.into()), SEND_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(COMMIT_BATCH.into()), BATCH_BUCKETS)
            })
            .unwrap_or_else(|e| {
                tracing::warn!("histogram buckets refused, using summaries: {e}");
                PrometheusBuilder::new()
            });
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if let Err(e) = metrics::set_global_recorder(recorder) {
            tracing::warn!("another metrics recorder is installed; /metrics stays empty: {e}");
        }
        describe();
        start_at_zero();
        handle
    })
}

/// Every series whose labels are known in advance is shown from the start, at 0, so that a
/// dashboard's rates and sums work before the first event.
fn start_at_zero() {
    gauge!(WEBSOCKET_CONNECTIONS).increment(0.0);
    gauge!(SUBSCRIPTIONS).increment(0.0);
    counter!(MESSAGES_STORED).increment(0);
    counter!(DELIVERIES).increment(0);
    for rate in Rate::ALL {
        counter!(RATE_LIMITED, "rate" => rate.label()).increment(0);
    }
    for outcome in CallState::ALL.into_iter().filter(|s| !s.is_live()) {
        counter!(CALLS, "outcome" => outcome.as_str()).increment(0);
    }
    for reason in [LoginFailure::WrongCredentials, LoginFailure::AccountBlocked] {
        counter!(LOGIN_FAILURES, "reason" => reason.label()).increment(0);
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(
        WEBSOCKET_CONNECTIONS,
        Unit::Count,
        "Open WebSocket connections."
    );
    describe_gauge!(
        SUBSCRIPTIONS,
        Unit::Count,
        "Subscriptions held (connection, topic)."
    );
    describe_counter!(
        MESSAGES_STORED,
        Unit::Count,
        "Messages written to the database."
    );
    describe_counter!(DELIVERIES, Unit::Count, "Event frames queued for sockets.");
    describe_histogram!(
        SEND_DURATION,
        Unit::Seconds,
        "Time from the start of a send to its commit or its publish."
    );
    describe_histogram!(
        COMMIT_BATCH,
        Unit::Count,
        "Messages written per group commit."
    );
    describe_counter!(
        WEBSOCKET_CLOSES,
        Unit::Count,
        "WebSocket closes by close code."
    );
    describe_counter!(
        RATE_LIMITED,
        Unit::Count,
        "Actions refused by a rate, by rate."
    );
    describe_counter!(CALLS, Unit::Count, "Calls over, by outcome.");
    describe_counter!(LOGIN_FAILURES, Unit::Count, "Refused logins, by reason.");
}

/// The metrics router: `GET /metrics`, the current values as Prometheus text.
pub fn router(handle: &'static PrometheusHandle) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || async move {
            (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                handle.render(),
            )
                .into_response()
        }),
    )
}

/// Listens on `addr` and returns the server of [`router`] (with the recorder installed and
/// its upkeep), to run as one of the server's tasks until `shutdown` is cancelled.
///
/// # Errors
/// The address cannot be listened on (taken, not this machine's).
pub async fn serve(
    addr: SocketAddr,
    shutdown: CancellationToken,
) -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use std::future::IntoFuture;
    let handle = recorder();
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("metrics on http://{addr}/metrics");
    Ok(async move {
        let upkeep = shutdown.clone().run_until_cancelled_owned(async move {
            let mut every = tokio::time::interval(UPKEEP_EVERY);
            loop {
                every.tick().await;
                handle.run_upkeep();
            }
        });
        let served = axum::serve(listener, router(handle))
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .into_future();
        let (served, _) = tokio::join!(served, upkeep);
        if let Err(e) = served {
            tracing::error!("the metrics listener failed: {e}");
        }
    })
}

/// A WebSocket connection is being served: it counts in [`WEBSOCKET_CONNECTIONS`] until the
/// returned guard is dropped.
#[must_use = "the connection counts as open until this is dropped"]
pub fn websocket_opened() -> OpenWebSocket {
    gauge!(WEBSOCKET_CONNECTIONS).increment(1.0);
    OpenWebSocket(())
}

/// One open WebSocket connection in [`WEBSOCKET_CONNECTIONS`].
pub struct OpenWebSocket(());

impl Drop for OpenWebSocket {
    fn drop(&mut self) {
        gauge!(WEBSOCKET_CONNECTIONS).decrement(1.0);
    }
}

/// A WebSocket connection closed with `code` ([`WEBSOCKET_CLOSES`]).
pub fn websocket_closed(code: u16) {
    let label = match code {
        1000..=1015 | 4000..=4099 => code.to_string(),
        _ => "other".to_string(),
    };
    counter!(WEBSOCKET_CLOSES, "code" => label).increment(1);
}

/// `count` subscriptions were added ([`SUBSCRIPTIONS`]).
pub fn subscribed(count: usize) {
    if count > 0 {
        gauge!(SUBSCRIPTIONS).increment(count as f64);
    }
}

/// `count` subscriptions ended ([`SUBSCRIPTIONS`]).
pub fn unsubscribed(count: usize) {
    if count > 0 {
        gauge!(SUBSCRIPTIONS).decrement(count as f64);
    }
}

/// The fan-out queued one event for `frames` sockets ([`DELIVERIES`]).
pub fn delivered(frames: usize) {
    if frames > 0 {
        counter!(DELIVERIES).increment(frames as u64);
    }
}

/// A group commit wrote `stored` new messages ([`MESSAGES_STORED`]).
pub fn messages_stored(stored: usize) {
    if stored > 0 {
        counter!(MESSAGES_STORED).increment(stored as u64);
    }
}

/// One transaction of the writer takes `sends` sends ([`COMMIT_BATCH`]).
pub fn commit_batch(sends: usize) {
    histogram!(COMMIT_BATCH).record(sends as f64);
}

/// A send was answered by the writer `since_start` after its action began
/// ([`SEND_DURATION`], `stage="commit"`).
pub fn send_committed(since_start: Duration) {
    histogram!(SEND_DURATION, "stage" => "commit").record(since_start.as_secs_f64());
}

/// A send's event was published `since_start` after its action began ([`SEND_DURATION`],
/// `stage="publish"`).
pub fn send_published(since_start: Duration) {
    histogram!(SEND_DURATION, "stage" => "publish").record(since_start.as_secs_f64());
}

/// A rate that can refuse, by its `rate` label in [`RATE_LIMITED`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// `message`: messages per user (`messages_per_minute`).
    Message,
    /// `typing`: typing updates per user (`typing_per_minute`).
    Typing,
    /// `presence`: presence changes per user; over it an announcement waits.
    Presence,
    /// `call`: calls started per user (`calls_per_minute`).
    Call,
    /// `invitation`: conversations opened, groups created, members added, per user.
    Invitation,
    /// `signup`: sign-ups per address (`signups_per_hour`).
    Signup,
    /// `login`: the login throttle (`login_failures_per_*`).
    Login,
    /// `frame`: one socket's budget of frames.
    Frame,
    /// `subscription`: one socket's budget of subscribe and unsubscribe frames.
    Subscription,
}

impl Rate {
    pub const ALL: [Rate; 9] = [
        Rate::Message,
        Rate::Typing,
        Rate::Presence,
        Rate::Call,
        Rate::Invitation,
        Rate::Signup,
        Rate::Login,
        Rate::Frame,
        Rate::Subscription,
    ];

    /// The `rate` label.
    pub fn label(self) -> &'static str {
        match self {
            Rate::Message => "message",
            Rate::Typing => "typing",
            Rate::Presence => "presence",
            Rate::Call => "call",
            Rate::Invitation => "invitation",
            Rate::Signup => "signup",
            Rate::Login => "login",
            Rate::Frame => "frame",
            Rate::Subscription => "subscription",
        }
    }
}

/// `rate` refused (or, for presence, deferred) an action ([`RATE_LIMITED`]).
pub fn rate_limited(rate: Rate) {
    counter!(RATE_LIMITED, "rate" => rate.label()).increment(1);
}

/// A call is over, in `outcome` ([`CALLS`]); live states are not outcomes and are ignored.
pub fn call_over(outcome: CallState) {
    if !outcome.is_live() {
        counter!(CALLS, "outcome" => outcome.as_str()).increment(1);
    }
}

/// Why a login was refused ([`LOGIN_FAILURES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// An unknown username or a wrong password (the asker is not told which).
    WrongCredentials,
    /// The right password for an account an admin blocked.
    AccountBlocked,
}

impl LoginFailure {
    fn label(self) -> &'static str {
        match self {
            LoginFailure::WrongCredentials => "wrong_credentials",
            LoginFailure::AccountBlocked => "account_blocked",
        }
    }
}

/// A login was refused ([`LOGIN_FAILURES`]).
pub fn login_failed(reason: LoginFailure) {
    counter!(LOGIN_FAILURES, "reason" => reason.label()).increment(1);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The value of the sample `series` (a name with its labels, as rendered:
    /// `natter_calls_total{outcome="missed"}`) in the rendered metrics; 0 when absent.
    pub(crate) fn value_of(series: &str) -> f64 {
        recorder()
            .render()
            .lines()
            .filter_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .find_map(|value| value.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// What a GET of `path` on `addr` answers, status line to body (HTTP/1.1, closed after).
    async fn get(addr: SocketAddr, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test]
    async fn the_metrics_listener_serves_prometheus_text_and_stops_with_the_server() {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap();
        let shutdown = CancellationToken::new();
        let serving = tokio::spawn(serve(addr, shutdown.clone()).await.unwrap());
        rate_limited(Rate::Typing);
        let answer = get(addr, "/metrics").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.contains("content-type: text/plain; version=0.0.4"),
            "{answer}"
        );
        assert!(
            answer.contains("# TYPE natter_rate_limited_total counter"),
            "{answer}"
        );
        assert!(value_of("natter_rate_limited_total{rate=\"typing\"}") >= 1.0);
        assert!(get(addr, "/").await.starts_with("HTTP/1.1 404"));
        // Nobody else may take the address while it serves.
        assert!(serve(addr, CancellationToken::new()).await.is_err());
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(2), serving)
            .await
            .expect("the listener stops with the server")
            .unwrap();
    }

    #[test]
    fn close_codes_a_client_makes_up_share_one_label() {
        recorder();
        let before = value_of("natter_websocket_closes_total{code=\"other\"}");
        websocket_closed(3999);
        websocket_closed(65535);
        websocket_closed(4008);
        assert!(value_of("natter_websocket_closes_total{code=\"other\"}") >= before + 2.0);
        assert!(value_of("natter_websocket_closes_total{code=\"4008\"}") >= 1.0);
    }
}
