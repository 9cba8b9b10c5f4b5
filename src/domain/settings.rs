//! The settings Natter knows, one entry each: the single table behind
//! `server::config` (what each setting defaults to, accepts, and how it is parsed and
//! applied) and `admin::SETTINGS` (how the admin area shows the ones it can change).
//!
//! Adding a setting is one entry here. An entry reads
//!
//! ```text
//! /// What it is (the field's doc comment; give the unit: seconds, bytes, characters).
//! name: Type {
//!     default: value,
//!     expected: "what a valid value looks like",  // ends "invalid setting" messages
//!     valid: |v| rule,                             // on the parsed value
//!     admin: (Kind, "Label", "Help"),              // only if admins change it live
//! }
//! ```
//!
//! `Type` is one `server::config::SettingValue` parses from the text of Leptos.toml, a
//! `NATTER_<NAME>` variable or the admin area. Entries with `admin` are the live settings,
//! shown by the admin area in the order they appear here; the others need a restart.
//! Leptos.toml documents each setting for operators.

/// Largest frame either side accepts.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Calls `$callback!` with every entry of the table (see the module docs).
macro_rules! settings_table {
    ($callback:ident) => {
        $callback! {
            /// Overrides `site-addr` of `[package.metadata.leptos]`.
            site_addr: Option<std::net::SocketAddr> {
                default: None,
                expected: "an address like 127.0.0.1:3000",
                valid: |_| true,
            }
            /// The address people type, like `https://chat.example.com`. Set, Natter
            /// answers only that host (and IP addresses, for a proxy on the machine),
            /// takes server calls and sockets only from that origin, and over https makes
            /// the session cookie `Secure` and `__Host-`. Unset, it answers IP addresses and
            /// `localhost` only.
            public_url: PublicUrl {
                default: PublicUrl::default(),
                expected: "a URL like https://chat.example.com (no path), or nothing",
                valid: |_| true,
            }
            /// Reverse proxies (addresses or CIDR networks) whose `X-Forwarded-For` says
            /// who the client is (its rightmost address, the one the proxy added). From
            /// anyone else it is ignored; `Forwarded` is never believed (proxies pass a
            /// client's own on).
            trusted_proxies: ProxyList {
                default: ProxyList::default(),
                expected: "addresses or networks like 127.0.0.1, 10.0.0.0/8, ::1",
                valid: |_| true,
            }
            /// Where `/metrics` is served (Prometheus text), apart from the site; `None`
            /// (the empty text): not served, and nothing is recorded.
            metrics_addr: Option<std::net::SocketAddr> {
                default: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9464))),
                expected: "an address like 127.0.0.1:9464, or empty for none",
                valid: |_| true,
            }
            /// How log lines are written to standard error: text for people, JSON (one
            /// object a line) for log collectors.
            log_format: LogFormat {
                default: LogFormat::Text,
                expected: "text or json",
                valid: |_| true,
            }
            database_url: String {
                default: "sqlite://data/natter.db".to_string(),
                expected: "a URL like sqlite://data/natter.db",
                valid: |u| u.starts_with("sqlite:") && u.len() > "sqlite:".len(),
            }
            demo_password: String {
                default: "natter-demo".to_string(),
                expected: "at least 8 characters",
                valid: |p| p.chars().count() >= crate::domain::PASSWORD_MIN_CHARS,
            }
            cookie_secure: CookieSecure {
                default: CookieSecure::Auto,
                expected: "auto, always or never",
                valid: |_| true,
            }
            /// How long a login lasts, in days.
            session_days: u32 {
                default: 30,
                expected: "a whole number of days from 1 to 365",
                valid: |d| (1..=365).contains(d),
            }
            /// Failed logins per minute for one account from one address.
            login_failures_per_account: u32 {
                default: 5,
                expected: "a whole number from 1 to 1000",
                valid: |n| (1..=1000).contains(n),
            }
            /// Failed logins per minute from one address.
            login_failures_per_address: u32 {
                default: 20,
                expected: "a whole number from 1 to 100000",
                valid: |n| (1..=100_000).contains(n),
            }
            /// Largest request body, in bytes (see `startup::body_limit`).
            max_body_bytes: usize {
                default: 64 * 1024,
                expected: "a number of bytes from 1024 to 16777216",
                valid: |n| (1024..=16 * 1024 * 1024).contains(n),
            }
            /// Largest WebSocket message either way, in bytes.
            max_frame_bytes: usize {
                default: crate::domain::settings::MAX_FRAME_BYTES,
                expected: "a number of bytes from 4096 to 1048576",
                valid: |n| (4096..=1024 * 1024).contains(n),
            }
            /// Open WebSockets (tabs) per user.
            max_connections_per_user: usize {
                default: 20,
                expected: "a whole number from 1 to 1000",
                valid: |n| (1..=1000).contains(n),
            }
            /// How long a stopping server waits for requests in flight before it exits
            /// anyway, in seconds.
            shutdown_grace_secs: u32 {
                default: 10,
                expected: "a whole number of seconds from 0 to 600",
                valid: |n| *n <= 600,
            }
            /// False: messages are numbered in memory and fanned out, never written (no
            /// history).
            store_messages: bool {
                default: true,
                expected: "true or false",
                valid: |_| true,
            }
            /// False: nobody can sign up; existing accounts still log in.
            registration_open: bool {
                default: true,
                expected: "true or false",
                valid: |_| true,
                admin: (
                    Switch,
                    "Registration open",
                    "New people can create accounts. Existing accounts log in either way."
                ),
            }
            /// Seeds demo accounts into an empty database and lists them, with their
            /// password, on the login page. For trying Natter out (`make dev`); off unless
            /// asked for, as anyone who reaches the server can log in with it.
            demo_mode: bool {
                default: false,
                expected: "true or false",
                valid: |_| true,
                admin: (
                    Switch,
                    "Demo mode",
                    "The login page lists the demo accounts and their password."
                ),
            }
            calls_enabled: bool {
                default: true,
                expected: "true or false",
                valid: |_| true,
                admin: (Switch, "Calls", "People can make audio and video calls."),
            }
            /// How long a call rings before it counts as missed, in seconds.
            call_ring_timeout_secs: u32 {
                default: 30,
                expected: "a whole number of seconds from 1 to 600",
                valid: |n| (1..=600).contains(n),
                admin: (
                    Number,
                    "Ring timeout (seconds)",
                    "How long a call rings before it counts as missed."
                ),
            }
            stun_urls: UrlList {
                default: UrlList::default(),
                expected: "STUN URLs like stun:stun.example.com:3478",
                valid: |l| l.all_start_with(&["stun:", "stuns:"]),
                admin: (
                    List,
                    "STUN servers",
                    "Comma-separated, like stun:stun.example.com:3478. Empty: calls work on loopback and LANs."
                ),
            }
            turn_urls: UrlList {
                default: UrlList::default(),
                expected: "TURN URLs like turn:turn.example.com:3478",
                valid: |l| l.all_start_with(&["turn:", "turns:"]),
                admin: (
                    List,
                    "TURN servers",
                    "Comma-separated, like turn:turn.example.com:3478. Needs the TURN shared secret."
                ),
            }
            /// The shared secret of the TURN server (TURN REST API scheme); empty: none.
            turn_secret: String {
                default: String::new(),
                expected: "a string",
                valid: |_| true,
                admin: (
                    Secret,
                    "TURN shared secret",
                    "The TURN server's use-auth-secret; each caller gets time-limited credentials made with it. Never shown here; saving an empty box removes it."
                ),
            }
            /// How long handed-out TURN credentials stay valid, in seconds.
            turn_credential_ttl_secs: u32 {
                default: 86_400,
                expected: "a whole number of seconds from 60 to 604800",
                valid: |n| (60..=604_800).contains(n),
                admin: (
                    Number,
                    "TURN credential lifetime (seconds)",
                    "How long handed-out TURN credentials stay valid."
                ),
            }
            /// Longest message, in characters.
            max_message_chars: usize {
                default: crate::domain::MESSAGE_MAX_CHARS,
                expected: "a number of characters from 1 to 16000",
                valid: |n| (1..=16_000).contains(n),
                admin: (
                    Number,
                    "Longest message (characters)",
                    "Longer messages are refused, and the sender keeps the text."
                ),
            }
            /// Messages one user may send per minute (over all their tabs).
            messages_per_minute: u32 {
                default: 120,
                expected: "a whole number from 1 to 100000",
                valid: |n| (1..=100_000).contains(n),
                admin: (
                    Number,
                    "Messages per minute",
                    "Per person, over all their tabs: the sustained rate and the largest burst."
                ),
            }
            /// Typing updates one user may send per minute (over all their tabs).
            typing_per_minute: u32 {
                default: 120,
                expected: "a whole number from 1 to 100000",
                valid: |n| (1..=100_000).contains(n),
                admin: (Number, "Typing updates per minute", "Per person, over all their tabs."),
            }
            /// Calls one user may start per minute (each rings every tab of the person
            /// called).
            calls_per_minute: u32 {
                default: 6,
                expected: "a whole number from 1 to 100000",
                valid: |n| (1..=100_000).contains(n),
                admin: (
                    Number,
                    "Calls per minute",
                    "Calls one person may start a minute; each rings every tab of the person called."
                ),
            }
            /// Sign-ups per client address per hour (each costs a password hash and makes
            /// an account, which multiplies every per-user limit).
            signups_per_hour: u32 {
                default: 10,
                expected: "a whole number from 1 to 100000",
                valid: |n| (1..=100_000).contains(n),
                admin: (
                    Number,
                    "Sign-ups per hour",
                    "From one address: each makes an account and costs a password hash."
                ),
            }
        }
    };
}

pub(crate) use settings_table;
