//! Runtime settings: the `[natter]` table of Leptos.toml, each overridable by an environment
//! variable `NATTER_<NAME>` (for example `NATTER_DEMO_MODE=false`). An invalid value stops
//! the server with a message that names the setting and where it came from.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSecure {
    /// Secure when the request arrived over https (directly or per `X-Forwarded-Proto`).
    Auto,
    Always,
    Never,
}

impl FromStr for CookieSecure {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "auto" => Ok(CookieSecure::Auto),
            "always" | "true" => Ok(CookieSecure::Always),
            "never" | "false" => Ok(CookieSecure::Never),
            _ => Err(()),
        }
    }
}

/// A list of ICE server URLs: a TOML array, or a comma-separated string in the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlList(pub Vec<String>);

impl FromStr for UrlList {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(UrlList(
            s.split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(String::from)
                .collect(),
        ))
    }
}

impl UrlList {
    fn all_start_with(&self, schemes: &[&str]) -> bool {
        self.0.iter().all(|u| {
            schemes
                .iter()
                .any(|s| u.starts_with(s) && u.len() > s.len())
                && !u.chars().any(char::is_whitespace)
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Overrides `site-addr` of `[package.metadata.leptos]`.
    pub site_addr: Option<std::net::SocketAddr>,
    pub database_url: String,
    pub demo_mode: bool,
    pub demo_password: String,
    pub cookie_secure: CookieSecure,
    pub session_days: u32,
    pub login_failures_per_account: u32,
    pub login_failures_per_address: u32,
    pub max_body_bytes: usize,
    /// Longest message, in characters.
    pub max_message_chars: usize,
    /// Largest WebSocket message either way.
    pub max_frame_bytes: usize,
    /// Messages one user may send per minute (over all their tabs).
    pub messages_per_minute: u32,
    /// Typing updates one user may send per minute (over all their tabs).
    pub typing_per_minute: u32,
    /// Calls one user may start per minute (each rings every tab of the person called).
    pub calls_per_minute: u32,
    /// Sign-ups per client address per hour (each costs a password hash and makes an
    /// account, which multiplies every per-user limit).
    pub signups_per_hour: u32,
    /// Open WebSockets (tabs) per user.
    pub max_connections_per_user: usize,
    /// How long a stopping server waits for requests in flight before it exits anyway.
    pub shutdown_grace_secs: u32,
    /// False: messages are numbered in memory and fanned out, never written (no history).
    pub store_messages: bool,
    /// False: nobody can sign up; existing accounts still log in.
    pub registration_open: bool,
    pub calls_enabled: bool,
    /// How long a call rings before it counts as missed.
    pub call_ring_timeout_secs: u32,
    pub stun_urls: UrlList,
    pub turn_urls: UrlList,
    /// The shared secret of the TURN server (TURN REST API scheme); empty: none.
    pub turn_secret: String,
    /// How long handed-out TURN credentials stay valid.
    pub turn_credential_ttl_secs: u32,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

/// The settings in force: those read at start, with what admins changed since. A change
/// replaces the whole value at once, so a reader never sees half of one.
pub struct LiveSettings {
    current: std::sync::RwLock<std::sync::Arc<Settings>>,
    /// Changes go one at a time, each from the settings the last one left.
    changing: tokio::sync::Mutex<()>,
}

impl LiveSettings {
    pub fn new(settings: Settings) -> LiveSettings {
        LiveSettings {
            current: std::sync::RwLock::new(std::sync::Arc::new(settings)),
            changing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn get(&self) -> std::sync::Arc<Settings> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Applies changes checked by `check` (which sees the settings they would give, and may
    /// refuse, for example when storing them fails), then runs `applied` with the settings
    /// before and after. One change at a time, `applied` included, so that what follows
    /// the settings (rates, the browsers' limits) ends up as the last change left them.
    pub async fn change<F, Fut, E>(
        &self,
        changes: &[(&str, &str)],
        check: F,
        applied: impl FnOnce(&Settings, &Settings),
    ) -> Result<Settings, E>
    where
        F: FnOnce(Settings) -> Fut,
        Fut: std::future::Future<Output = Result<Settings, E>>,
        E: From<ConfigError>,
    {
        let _one = self.changing.lock().await;
        let before = self.get();
        let next = check(before.with_changes(changes)?).await?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) =
            std::sync::Arc::new(next.clone());
        applied(&before, &next);
        Ok(next)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The settings Natter knows, with what each accepts. Used to refuse unknown keys too.
const KNOWN: &[&str] = &[
    "site_addr",
    "database_url",
    "demo_mode",
    "demo_password",
    "cookie_secure",
    "session_days",
    "login_failures_per_account",
    "login_failures_per_address",
    "max_body_bytes",
    "max_message_chars",
    "max_frame_bytes",
    "messages_per_minute",
    "typing_per_minute",
    "calls_per_minute",
    "signups_per_hour",
    "max_connections_per_user",
    "shutdown_grace_secs",
    "store_messages",
    "registration_open",
    "calls_enabled",
    "call_ring_timeout_secs",
    "stun_urls",
    "turn_urls",
    "turn_secret",
    "turn_credential_ttl_secs",
];

/// The settings an admin can change while the server runs (the admin area's settings
/// page). The others need a restart: addresses, the database, sockets already sized.
pub const EDITABLE: &[&str] = &[
    "registration_open",
    "demo_mode",
    "calls_enabled",
    "call_ring_timeout_secs",
    "stun_urls",
    "turn_urls",
    "turn_secret",
    "turn_credential_ttl_secs",
    "max_message_chars",
    "messages_per_minute",
    "typing_per_minute",
    "calls_per_minute",
    "signups_per_hour",
];

struct Sources<'a> {
    table: Option<&'a toml::Table>,
    file: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// The values come from the admin area: errors speak to the admin, not of files.
    admin: bool,
}

impl Sources<'_> {
    /// The raw text of a setting and a description of where it came from, env first.
    fn raw(&self, key: &str) -> Option<(String, String)> {
        let var = format!("NATTER_{}", key.to_uppercase());
        if let Some(v) = (self.env)(&var) {
            return Some((v, format!("environment variable {var}")));
        }
        let value = self.table?.get(key)?;
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        Some((text, format!("`{key}` in [natter] of {}", self.file)))
    }

    fn get<T: FromStr>(
        &self,
        key: &str,
        default: T,
        expected: &str,
        valid: impl Fn(&T) -> bool,
    ) -> Result<T, ConfigError> {
        match self.raw(key) {
            None => Ok(default),
            Some((text, source)) => match text.trim().parse::<T>() {
                Ok(v) if valid(&v) => Ok(v),
                _ if self.admin => Err(ConfigError(format!(
                    "Expected {expected}; {text:?} is not."
                ))),
                _ => Err(ConfigError(format!(
                    "invalid setting {source} = {text:?}: expected {expected}"
                ))),
            },
        }
    }
}

impl Settings {
    /// Reads the settings from the parsed config file (if any) and the environment.
    pub fn load(
        file: &str,
        table: Option<&toml::Table>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        Settings::load_from(Sources {
            table,
            file,
            env,
            admin: false,
        })
    }

    fn load_from(s: Sources<'_>) -> Result<Settings, ConfigError> {
        let (table, file) = (s.table, s.file);
        if let Some(t) = table {
            if let Some(unknown) = t.keys().find(|k| !KNOWN.contains(&k.as_str())) {
                return Err(ConfigError(format!(
                    "unknown setting `{unknown}` in [natter] of {file}; known settings: {}",
                    KNOWN.join(", ")
                )));
            }
        }
        let site_addr = match s.raw("site_addr") {
            None => None,
            Some((text, source)) => Some(text.trim().parse().map_err(|_| {
                ConfigError(format!(
                    "invalid setting {source} = {text:?}: expected an address like 127.0.0.1:3000"
                ))
            })?),
        };
        let turn_urls: UrlList = s.get(
            "turn_urls",
            UrlList::default(),
            "TURN URLs like turn:turn.example.com:3478",
            |l: &UrlList| l.all_start_with(&["turn:", "turns:"]),
        )?;
        let turn_secret: String = s.get("turn_secret", String::new(), "a string", |_| true)?;
        if !turn_urls.0.is_empty() && turn_secret.is_empty() {
            return Err(ConfigError(if s.admin {
                "TURN servers need the TURN shared secret: Natter makes each caller's \
                 credentials with it. Set the secret first, or remove the TURN servers."
                    .to_string()
            } else {
                "turn_urls is set but turn_secret is not: Natter hands out time-limited TURN \
                 credentials made with the TURN server's shared secret"
                    .to_string()
            }));
        }
        Ok(Settings {
            site_addr,
            database_url: s.get(
                "database_url",
                "sqlite://data/natter.db".to_string(),
                "a URL like sqlite://data/natter.db",
                |u: &String| u.starts_with("sqlite:") && u.len() > "sqlite:".len(),
            )?,
            demo_mode: s.get("demo_mode", true, "true or false", |_| true)?,
            demo_password: s.get(
                "demo_password",
                "natter-demo".to_string(),
                "at least 8 characters",
                |p: &String| p.chars().count() >= crate::model::PASSWORD_MIN_CHARS,
            )?,
            cookie_secure: s.get(
                "cookie_secure",
                CookieSecure::Auto,
                "auto, always or never",
                |_| true,
            )?,
            session_days: s.get(
                "session_days",
                30,
                "a whole number of days from 1 to 365",
                |d| (1..=365).contains(d),
            )?,
            login_failures_per_account: s.get(
                "login_failures_per_account",
                5,
                "a whole number from 1 to 1000",
                |n| (1..=1000).contains(n),
            )?,
            login_failures_per_address: s.get(
                "login_failures_per_address",
                20,
                "a whole number from 1 to 100000",
                |n| (1..=100_000).contains(n),
            )?,
            max_body_bytes: s.get(
                "max_body_bytes",
                64 * 1024,
                "a number of bytes from 1024 to 16777216",
                |n| (1024..=16 * 1024 * 1024).contains(n),
            )?,
            max_message_chars: s.get(
                "max_message_chars",
                crate::model::MESSAGE_MAX_CHARS,
                "a number of characters from 1 to 16000",
                |n| (1..=16_000).contains(n),
            )?,
            max_frame_bytes: s.get(
                "max_frame_bytes",
                crate::protocol::MAX_FRAME_BYTES,
                "a number of bytes from 4096 to 1048576",
                |n| (4096..=1024 * 1024).contains(n),
            )?,
            messages_per_minute: s.get(
                "messages_per_minute",
                120,
                "a whole number from 1 to 100000",
                |n| (1..=100_000).contains(n),
            )?,
            typing_per_minute: s.get(
                "typing_per_minute",
                120,
                "a whole number from 1 to 100000",
                |n| (1..=100_000).contains(n),
            )?,
            calls_per_minute: s.get(
                "calls_per_minute",
                6,
                "a whole number from 1 to 100000",
                |n| (1..=100_000).contains(n),
            )?,
            signups_per_hour: s.get(
                "signups_per_hour",
                10,
                "a whole number from 1 to 100000",
                |n| (1..=100_000).contains(n),
            )?,
            max_connections_per_user: s.get(
                "max_connections_per_user",
                20,
                "a whole number from 1 to 1000",
                |n| (1..=1000).contains(n),
            )?,
            shutdown_grace_secs: s.get(
                "shutdown_grace_secs",
                10,
                "a whole number of seconds from 0 to 600",
                |n| *n <= 600,
            )?,
            store_messages: s.get("store_messages", true, "true or false", |_| true)?,
            registration_open: s.get("registration_open", true, "true or false", |_| true)?,
            calls_enabled: s.get("calls_enabled", true, "true or false", |_| true)?,
            call_ring_timeout_secs: s.get(
                "call_ring_timeout_secs",
                30,
                "a whole number of seconds from 1 to 600",
                |n| (1..=600).contains(n),
            )?,
            stun_urls: s.get(
                "stun_urls",
                UrlList::default(),
                "STUN URLs like stun:stun.example.com:3478",
                |l: &UrlList| l.all_start_with(&["stun:", "stuns:"]),
            )?,
            turn_urls,
            turn_secret,
            turn_credential_ttl_secs: s.get(
                "turn_credential_ttl_secs",
                86_400,
                "a whole number of seconds from 60 to 604800",
                |n| (60..=604_800).contains(n),
            )?,
        })
    }

    /// The text of an editable setting, as Leptos.toml or the environment would give it.
    pub fn editable_text(&self, key: &str) -> Option<String> {
        Some(match key {
            "registration_open" => self.registration_open.to_string(),
            "demo_mode" => self.demo_mode.to_string(),
            "calls_enabled" => self.calls_enabled.to_string(),
            "call_ring_timeout_secs" => self.call_ring_timeout_secs.to_string(),
            "stun_urls" => self.stun_urls.0.join(", "),
            "turn_urls" => self.turn_urls.0.join(", "),
            "turn_secret" => self.turn_secret.clone(),
            "turn_credential_ttl_secs" => self.turn_credential_ttl_secs.to_string(),
            "max_message_chars" => self.max_message_chars.to_string(),
            "messages_per_minute" => self.messages_per_minute.to_string(),
            "typing_per_minute" => self.typing_per_minute.to_string(),
            "calls_per_minute" => self.calls_per_minute.to_string(),
            "signups_per_hour" => self.signups_per_hour.to_string(),
            _ => return None,
        })
    }

    /// These settings with editable ones changed (`key` -> text as in Leptos.toml). A
    /// value that is not valid is refused with what is expected, and nothing changes.
    pub fn with_changes(&self, changes: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut table = toml::Table::new();
        for key in EDITABLE {
            let text = match changes.iter().find(|(k, _)| k == key) {
                Some((_, v)) => v.to_string(),
                None => self.editable_text(key).unwrap_or_default(),
            };
            table.insert(key.to_string(), toml::Value::String(text));
        }
        if let Some((key, _)) = changes.iter().find(|(k, _)| !EDITABLE.contains(k)) {
            return Err(ConfigError(format!(
                "{key} cannot be changed while the server runs."
            )));
        }
        let edited = Settings::load_from(Sources {
            table: Some(&table),
            file: "the admin area",
            env: &|_| None,
            admin: true,
        })?;
        Ok(Settings {
            registration_open: edited.registration_open,
            demo_mode: edited.demo_mode,
            calls_enabled: edited.calls_enabled,
            call_ring_timeout_secs: edited.call_ring_timeout_secs,
            stun_urls: edited.stun_urls,
            turn_urls: edited.turn_urls,
            turn_secret: edited.turn_secret,
            turn_credential_ttl_secs: edited.turn_credential_ttl_secs,
            max_message_chars: edited.max_message_chars,
            messages_per_minute: edited.messages_per_minute,
            typing_per_minute: edited.typing_per_minute,
            calls_per_minute: edited.calls_per_minute,
            signups_per_hour: edited.signups_per_hour,
            ..self.clone()
        })
    }

    /// Loads `[natter]` from the file at `path` (a missing file means all defaults).
    pub fn from_file(path: &str) -> Result<Settings, ConfigError> {
        let env = |k: &str| std::env::var(k).ok();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Settings::load(path, None, &env)
            }
            Err(e) => return Err(ConfigError(format!("cannot read {path}: {e}"))),
        };
        let doc: toml::Table = text
            .parse()
            .map_err(|e| ConfigError(format!("{path} is not valid TOML: {e}")))?;
        let natter = match doc.get("natter") {
            None => None,
            Some(toml::Value::Table(t)) => Some(t),
            Some(_) => return Err(ConfigError(format!("[natter] in {path} must be a table"))),
        };
        Settings::load(path, natter, &env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn no_configuration_means_the_embedded_defaults() {
        let s = Settings::load("Leptos.toml", None, &no_env).unwrap();
        assert_eq!(s.database_url, "sqlite://data/natter.db");
        assert!(s.demo_mode);
        assert_eq!(s.login_failures_per_account, 5);
        assert_eq!(s.site_addr, None);
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let table: toml::Table = "demo_mode = true\nsession_days = 7".parse().unwrap();
        let env = |k: &str| (k == "NATTER_DEMO_MODE").then(|| "false".to_string());
        let s = Settings::load("Leptos.toml", Some(&table), &env).unwrap();
        assert!(!s.demo_mode);
        assert_eq!(s.session_days, 7);
    }

    #[test]
    fn an_invalid_value_names_the_setting_and_its_source() {
        let env = |k: &str| (k == "NATTER_SESSION_DAYS").then(|| "forever".to_string());
        let e = Settings::load("Leptos.toml", None, &env).unwrap_err();
        assert!(e.0.contains("NATTER_SESSION_DAYS"), "{e}");
        assert!(e.0.contains("forever"), "{e}");

        let table: toml::Table = "demo_mode = \"maybe\"".parse().unwrap();
        let e = Settings::load("Leptos.toml", Some(&table), &no_env).unwrap_err();
        assert!(
            e.0.contains("`demo_mode` in [natter] of Leptos.toml"),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_setting_is_refused() {
        let table: toml::Table = "demo_mod = true".parse().unwrap();
        let e = Settings::load("Leptos.toml", Some(&table), &no_env).unwrap_err();
        assert!(e.0.contains("unknown setting `demo_mod`"), "{e}");
    }

    #[test]
    fn out_of_range_numbers_and_bad_urls_are_refused() {
        let env = |k: &str| (k == "NATTER_LOGIN_FAILURES_PER_ACCOUNT").then(|| "0".to_string());
        assert!(Settings::load("f", None, &env).is_err());
        let env = |k: &str| (k == "NATTER_DATABASE_URL").then(|| "mysql://x".to_string());
        assert!(Settings::load("f", None, &env).is_err());
        let env = |k: &str| (k == "NATTER_SITE_ADDR").then(|| "localhost".to_string());
        assert!(Settings::load("f", None, &env).is_err());
    }

    #[test]
    fn ice_servers_come_from_a_toml_array_or_a_comma_separated_variable() {
        let table: toml::Table = "stun_urls = [\"stun:a.example:3478\", \"stun:b.example\"]"
            .parse()
            .unwrap();
        let s = Settings::load("f", Some(&table), &no_env).unwrap();
        assert_eq!(s.stun_urls.0, vec!["stun:a.example:3478", "stun:b.example"]);
        let env = |k: &str| (k == "NATTER_STUN_URLS").then(|| "stun:x, stun:y".to_string());
        let s = Settings::load("f", None, &env).unwrap();
        assert_eq!(s.stun_urls.0, vec!["stun:x", "stun:y"]);
        let env = |k: &str| (k == "NATTER_STUN_URLS").then(|| "http://x".to_string());
        assert!(Settings::load("f", None, &env).is_err());
        // TURN without its secret would hand out no usable credentials.
        let env = |k: &str| (k == "NATTER_TURN_URLS").then(|| "turn:t.example".to_string());
        let e = Settings::load("f", None, &env).unwrap_err();
        assert!(e.0.contains("turn_secret"), "{e}");
    }

    #[test]
    fn limits_have_defaults_take_overrides_and_refuse_nonsense() {
        let s = Settings::load("f", None, &no_env).unwrap();
        assert_eq!(s.max_message_chars, 4000);
        assert_eq!(s.max_frame_bytes, 64 * 1024);
        assert_eq!(s.messages_per_minute, 120);
        assert_eq!(s.max_connections_per_user, 20);
        let table: toml::Table = "messages_per_minute = 5\nmax_frame_bytes = 4096"
            .parse()
            .unwrap();
        let s = Settings::load("f", Some(&table), &no_env).unwrap();
        assert_eq!((s.messages_per_minute, s.max_frame_bytes), (5, 4096));
        for (var, value) in [
            ("NATTER_MAX_FRAME_BYTES", "100"),
            ("NATTER_MAX_MESSAGE_CHARS", "0"),
            ("NATTER_TYPING_PER_MINUTE", "-3"),
            ("NATTER_MAX_CONNECTIONS_PER_USER", "many"),
        ] {
            let env = |k: &str| (k == var).then(|| value.to_string());
            let e = Settings::load("f", None, &env).unwrap_err();
            assert!(e.0.contains(var), "{e}");
        }
    }

    #[test]
    fn an_admin_change_is_checked_like_the_file_and_a_bad_one_changes_nothing() {
        let env = |k: &str| (k == "NATTER_SESSION_DAYS").then(|| "7".to_string());
        let s = Settings::load("f", None, &env).unwrap();
        let changed = s.with_changes(&[("max_message_chars", "10")]).unwrap();
        assert_eq!(changed.max_message_chars, 10);
        // Settings that are not edited keep where they came from.
        assert_eq!(changed.session_days, 7);
        let e = s.with_changes(&[("max_message_chars", "0")]).unwrap_err();
        assert_eq!(
            e.0,
            "Expected a number of characters from 1 to 16000; \"0\" is not."
        );
        let e = s
            .with_changes(&[("turn_urls", "turn:t.example")])
            .unwrap_err();
        assert!(e.0.contains("shared secret"), "{e}");
        let both = s
            .with_changes(&[("turn_secret", "s3cret")])
            .and_then(|s| s.with_changes(&[("turn_urls", "turn:t.example")]))
            .unwrap();
        assert_eq!(both.turn_urls.0, vec!["turn:t.example"]);
        assert!(s.with_changes(&[("database_url", "sqlite://x")]).is_err());
    }

    #[test]
    fn every_editable_setting_is_in_the_admin_area_and_reads_back() {
        let s = Settings::load("f", None, &no_env).unwrap();
        let shown: Vec<&str> = crate::admin::SETTINGS.iter().map(|(k, ..)| *k).collect();
        assert_eq!(shown, EDITABLE);
        for key in EDITABLE {
            let text = s.editable_text(key).unwrap();
            assert_eq!(s.with_changes(&[(key, &text)]).unwrap(), s, "{key}");
        }
        // Each one changes on its own: a value other than the default reads back, and
        // every other setting stays.
        let other = [
            ("registration_open", "false"),
            ("demo_mode", "false"),
            ("calls_enabled", "false"),
            ("call_ring_timeout_secs", "45"),
            ("stun_urls", "stun:s.example:3478"),
            ("turn_urls", ""),
            ("turn_secret", "s3cret"),
            ("turn_credential_ttl_secs", "120"),
            ("max_message_chars", "10"),
            ("messages_per_minute", "7"),
            ("typing_per_minute", "9"),
            ("calls_per_minute", "3"),
            ("signups_per_hour", "4"),
        ];
        assert_eq!(other.len(), EDITABLE.len());
        for (key, value) in other {
            let changed = s.with_changes(&[(key, value)]).unwrap();
            for k in EDITABLE {
                let expected = if *k == key {
                    value.to_string()
                } else {
                    s.editable_text(k).unwrap()
                };
                assert_eq!(changed.editable_text(k).unwrap(), expected, "{key} -> {k}");
            }
            if key != "turn_urls" {
                assert_ne!(changed, s, "{key}");
            }
        }
    }

    #[tokio::test]
    async fn a_live_change_applies_only_when_its_check_passes() {
        let live = LiveSettings::new(Settings::load("f", None, &no_env).unwrap());
        let seen = std::cell::Cell::new(None);
        let refused: Result<Settings, ConfigError> = live
            .change(
                &[("messages_per_minute", "5")],
                |_| async { Err(ConfigError("the database is read-only".into())) },
                |_, _| seen.set(Some(0)),
            )
            .await;
        assert!(refused.is_err());
        assert_eq!(live.get().messages_per_minute, 120);
        assert_eq!(seen.get(), None, "nothing follows a refused change");
        live.change(
            &[("messages_per_minute", "5")],
            |next| async { Ok::<_, ConfigError>(next) },
            |before, after| {
                seen.set(Some(
                    before.messages_per_minute * 1000 + after.messages_per_minute,
                ))
            },
        )
        .await
        .unwrap();
        assert_eq!(live.get().messages_per_minute, 5);
        assert_eq!(seen.get(), Some(120_005));
    }

    #[test]
    fn the_shipped_leptos_toml_is_valid() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/Leptos.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let doc: toml::Table = text.parse().unwrap();
        let natter = doc.get("natter").and_then(|v| v.as_table());
        assert!(natter.is_some());
        Settings::load(path, natter, &no_env).unwrap();
    }
}
