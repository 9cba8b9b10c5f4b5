//! Runtime settings, in layers (figment): the `[natter]` table of Leptos.toml (or of the
//! file `NATTER_CONFIG` names), then environment variables `NATTER_<NAME>` (for example
//! `NATTER_DEMO_MODE=false`), then what admins stored in the admin area
//! ([`Settings::with_changes`], applied by `startup::build_state`). An invalid value stops
//! the server with a message that names the setting and where it came from.
//!
//! Each setting, its default and what it accepts is one entry of the table in
//! `src/domain/settings.rs`; this module turns that table into [`Settings`] and the rules that
//! parse, check and apply each setting.

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
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

/// How log lines are written (`log_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (tracing-subscriber's default format).
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

impl FromStr for LogFormat {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
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

/// `public_url`: the address people type to reach Natter (scheme, host, and port when it
/// is not the scheme's default; no path), or unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicUrl(Option<PublicOrigin>);

/// A parsed `public_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicOrigin {
    /// `https://chat.example.com`, lower case, as a browser sends it in `Origin`.
    pub origin: String,
    /// `chat.example.com` (with `:port` when not the default), as browsers send `Host`.
    pub host: String,
    /// The scheme is https: cookies are `Secure` and `__Host-`, HSTS is sent.
    pub https: bool,
}

impl PublicUrl {
    /// The origin, if set.
    pub fn get(&self) -> Option<&PublicOrigin> {
        self.0.as_ref()
    }
}

impl FromStr for PublicUrl {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(PublicUrl(None));
        }
        let uri: http::Uri = s.parse().map_err(|_| ())?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(()),
        };
        let authority = uri.authority().ok_or(())?;
        if authority.as_str().contains('@')
            || !matches!(uri.path(), "" | "/")
            || uri.query().is_some()
        {
            return Err(());
        }
        let default_port = if https { 443 } else { 80 };
        let host = authority.host().to_ascii_lowercase();
        let host = match authority.port_u16() {
            Some(port) if port != default_port => format!("{host}:{port}"),
            _ => host,
        };
        let scheme = if https { "https" } else { "http" };
        Ok(PublicUrl(Some(PublicOrigin {
            origin: format!("{scheme}://{host}"),
            host,
            https,
        })))
    }
}

/// `trusted_proxies`: the addresses and networks (CIDR) of reverse proxies whose
/// `Forwarded` / `X-Forwarded-For` headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyList(pub Vec<ipnet::IpNet>);

impl ProxyList {
    /// Whether `addr` is one of the trusted proxies.
    pub fn contains(&self, addr: std::net::IpAddr) -> bool {
        let addr = canonical(addr);
        self.0.iter().any(|net| net.contains(&addr))
    }
}

/// An IPv4 address an IPv6 socket reports as `::ffff:a.b.c.d`, as the IPv4 address.
pub fn canonical(addr: std::net::IpAddr) -> std::net::IpAddr {
    match addr {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, std::net::IpAddr::V4),
        v4 => v4,
    }
}

impl FromStr for ProxyList {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        s.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<ipnet::IpNet>()
                    .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| ())
            })
            .collect::<Result<Vec<_>, ()>>()
            .map(ProxyList)
    }
}

/// A type a setting can have: read from its text (Leptos.toml, a variable, the admin area)
/// and written back as text that reads the same.
pub trait SettingValue: Sized {
    /// The value `text` stands for (surrounding whitespace ignored), or `None`.
    fn parse(text: &str) -> Option<Self>;
    /// The value as text that [`SettingValue::parse`] takes back.
    fn text(&self) -> String;
}

/// Types whose `FromStr` and `Display` are each other's inverse.
macro_rules! plain_setting_value {
    ($($ty:ty),*) => {$(
        impl SettingValue for $ty {
            fn parse(text: &str) -> Option<Self> {
                text.trim().parse().ok()
            }
            fn text(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

plain_setting_value!(bool, u32, usize, String);

impl SettingValue for CookieSecure {
    fn parse(text: &str) -> Option<Self> {
        text.trim().parse().ok()
    }
    fn text(&self) -> String {
        match self {
            CookieSecure::Auto => "auto",
            CookieSecure::Always => "always",
            CookieSecure::Never => "never",
        }
        .to_string()
    }
}

impl SettingValue for LogFormat {
    fn parse(text: &str) -> Option<Self> {
        text.trim().parse().ok()
    }
    fn text(&self) -> String {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
        .to_string()
    }
}

impl SettingValue for UrlList {
    fn parse(text: &str) -> Option<Self> {
        text.trim().parse().ok()
    }
    fn text(&self) -> String {
        self.0.join(", ")
    }
}

impl SettingValue for PublicUrl {
    fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
    fn text(&self) -> String {
        self.0
            .as_ref()
            .map(|o| o.origin.clone())
            .unwrap_or_default()
    }
}

impl SettingValue for ProxyList {
    fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
    fn text(&self) -> String {
        self.0
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Unset is the empty text.
impl SettingValue for Option<std::net::SocketAddr> {
    fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "" => Some(None),
            addr => addr.parse().ok().map(Some),
        }
    }
    fn text(&self) -> String {
        self.map(|a| a.to_string()).unwrap_or_default()
    }
}

/// How one setting is read, checked, applied and shown; made from its table entry.
struct Rule {
    key: &'static str,
    /// What a valid value looks like, for error messages.
    expected: &'static str,
    /// Admins change it while the server runs (the entry has `admin`).
    editable: bool,
    /// Parses `text` and sets the setting if the value is valid; false (nothing set)
    /// otherwise.
    set: fn(&mut Settings, &str) -> bool,
    /// The setting's value as text that `set` takes back.
    text: fn(&Settings) -> String,
}

macro_rules! is_editable {
    () => {
        false
    };
    ($kind:ident) => {
        true
    };
}

macro_rules! key_of {
    ($key:ident $kind:ident) => {
        stringify!($key)
    };
}

/// Builds [`Settings`], its defaults, [`KNOWN`], [`EDITABLE`] and [`RULES`] from the
/// settings table.
macro_rules! settings {
    ($(
        $(#[$doc:meta])*
        $key:ident: $ty:ty {
            default: $default:expr,
            expected: $expected:literal,
            valid: $valid:expr,
            $(admin: ($kind:ident, $label:literal, $help:literal $(,)?),)?
        }
    )*) => {
        /// The settings in force. Each field is one entry of `src/domain/settings.rs`.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Settings {
            $($(#[$doc])* pub $key: $ty,)*
        }

        impl Settings {
            /// Every setting at its default (Leptos.toml ships the same values).
            fn defaults() -> Settings {
                Settings { $($key: $default,)* }
            }
        }

        /// The settings Natter knows, in the table's order. Used to refuse unknown keys too.
        const KNOWN: &[&str] = &[$(stringify!($key)),*];

        /// The settings an admin can change while the server runs (the admin area's
        /// settings page), in the order it shows them. The others need a restart:
        /// addresses, the database, sockets already sized.
        pub const EDITABLE: &[&str] = &[$($(key_of!($key $kind),)?)*];

        const RULES: &[Rule] = &[$(
            Rule {
                key: stringify!($key),
                expected: $expected,
                editable: is_editable!($($kind)?),
                set: |settings, text| {
                    let valid: fn(&$ty) -> bool = $valid;
                    match <$ty as SettingValue>::parse(text) {
                        Some(value) if valid(&value) => {
                            settings.$key = value;
                            true
                        }
                        _ => false,
                    }
                },
                text: |settings| SettingValue::text(&settings.$key),
            },
        )*];
    };
}

crate::domain::settings::settings_table!(settings);

/// A setting that is not valid, or a configuration that cannot be read: the message names
/// the setting and, at start, where its value came from.
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
    ///
    /// # Errors
    /// As [`Settings::with_changes`] (converted into `E`), or what `check` returns; either
    /// way nothing changes.
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

/// The environment variable that overrides `key`: `NATTER_` and the key in capitals.
fn env_var(key: &str) -> String {
    format!("NATTER_{}", key.to_uppercase())
}

/// The text of a value in the TOML file: a string as it is, an array as its items joined
/// by commas (so a list reads like its variable), anything else as TOML writes it.
fn toml_text(value: &toml::Value) -> String {
    match value {
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
    }
}

/// One layer of settings for figment: the text of each setting it sets, and how its
/// metadata names where a setting came from (`describe(profile, key path)`).
struct Layer<D> {
    name: &'static str,
    values: Dict,
    describe: D,
}

impl<D> Provider for Layer<D>
where
    D: Fn(&Profile, &[&str]) -> String + Clone + Send + Sync + 'static,
{
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name).interpolater(self.describe.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

/// TURN servers without the shared secret would get no usable credentials.
fn check_turn(settings: &Settings, admin: bool) -> Result<(), ConfigError> {
    if settings.turn_urls.0.is_empty() || !settings.turn_secret.is_empty() {
        return Ok(());
    }
    Err(ConfigError(if admin {
        "TURN servers need the TURN shared secret: Natter makes each caller's \
         credentials with it. Set the secret first, or remove the TURN servers."
            .to_string()
    } else {
        "turn_urls is set but turn_secret is not: Natter hands out time-limited TURN \
         credentials made with the TURN server's shared secret"
            .to_string()
    }))
}

impl Settings {
    /// Reads the settings from the `[natter]` table of the config file (if any; `file`
    /// names it in messages) with the environment on top: `env` looks up a variable,
    /// as `std::env::var` does. A setting found in neither keeps its default.
    ///
    /// # Errors
    /// A key in `table` that is not a setting; a value that is not valid, named with its
    /// source (`` `key` in [natter] of FILE`` or `environment variable NATTER_KEY`), its
    /// text and what is expected; `turn_urls` without `turn_secret`.
    pub fn load(
        file: &str,
        table: Option<&toml::Table>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        if let Some(unknown) = table.and_then(|t| t.keys().find(|k| !KNOWN.contains(&k.as_str()))) {
            return Err(ConfigError(format!(
                "unknown setting `{unknown}` in [natter] of {file}; known settings: {}",
                KNOWN.join(", ")
            )));
        }
        let in_file: Dict = table
            .into_iter()
            .flatten()
            .map(|(key, value)| (key.clone(), Value::from(toml_text(value))))
            .collect();
        let in_env: Dict = KNOWN
            .iter()
            .filter_map(|key| Some((key.to_string(), Value::from(env(&env_var(key))?))))
            .collect();
        let file_name = file.to_string();
        let layers = Figment::new()
            .merge(Layer {
                name: "config file",
                values: in_file,
                describe: move |_: &Profile, key: &[&str]| {
                    format!("`{}` in [natter] of {file_name}", key.join("."))
                },
            })
            .merge(Layer {
                name: "environment",
                values: in_env,
                describe: |_: &Profile, key: &[&str]| {
                    format!("environment variable {}", env_var(&key.join(".")))
                },
            });
        let mut settings = Settings::defaults();
        for rule in RULES {
            let Some(text) = layers
                .find_value(rule.key)
                .ok()
                .and_then(Value::into_string)
            else {
                continue;
            };
            if !(rule.set)(&mut settings, &text) {
                let source = layers
                    .find_metadata(rule.key)
                    .map(|m| m.interpolate(&Profile::Default, &[rule.key]))
                    .unwrap_or_else(|| rule.key.to_string());
                return Err(ConfigError(format!(
                    "invalid setting {source} = {text:?}: expected {}",
                    rule.expected
                )));
            }
        }
        check_turn(&settings, false)?;
        Ok(settings)
    }

    /// The text of an editable setting, as Leptos.toml or the environment would give it;
    /// `None` for a key that is not editable.
    pub fn editable_text(&self, key: &str) -> Option<String> {
        RULES
            .iter()
            .find(|r| r.key == key && r.editable)
            .map(|r| (r.text)(self))
    }

    /// These settings with editable ones changed (`key` -> text as in Leptos.toml), each
    /// checked by the same rule as at start.
    ///
    /// # Errors
    /// Messages for the admin area, and nothing changes: a key that is not editable ("KEY
    /// cannot be changed while the server runs."), a value that is not valid ("Expected
    /// ...; TEXT is not."), TURN servers without the shared secret.
    pub fn with_changes(&self, changes: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut next = self.clone();
        for (key, text) in changes {
            let rule = RULES
                .iter()
                .find(|r| r.key == *key && r.editable)
                .ok_or_else(|| {
                    ConfigError(format!("{key} cannot be changed while the server runs."))
                })?;
            if !(rule.set)(&mut next, text) {
                return Err(ConfigError(format!(
                    "Expected {}; {text:?} is not.",
                    rule.expected
                )));
            }
        }
        check_turn(&next, true)?;
        Ok(next)
    }

    /// Loads `[natter]` from the file at `path` (a missing file means all defaults), with
    /// the process's `NATTER_*` variables on top (see [`Settings::load`]).
    ///
    /// # Errors
    /// The file cannot be read or is not TOML, `[natter]` is not a table, or as
    /// [`Settings::load`].
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
        assert!(
            !s.demo_mode,
            "a deployment never gets demo accounts by accident"
        );
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
        assert_eq!(
            e.0,
            "invalid setting environment variable NATTER_SESSION_DAYS = \"forever\": \
             expected a whole number of days from 1 to 365"
        );

        let table: toml::Table = "demo_mode = \"maybe\"".parse().unwrap();
        let e = Settings::load("Leptos.toml", Some(&table), &no_env).unwrap_err();
        assert_eq!(
            e.0,
            "invalid setting `demo_mode` in [natter] of Leptos.toml = \"maybe\": \
             expected true or false"
        );

        // The layer that wins is the one named.
        let table: toml::Table = "session_days = 7.0".parse().unwrap();
        let e = Settings::load("f", Some(&table), &no_env).unwrap_err();
        assert!(
            e.0.contains("`session_days` in [natter] of f = \"7.0\""),
            "{e}"
        );
        let env = |k: &str| (k == "NATTER_SESSION_DAYS").then(|| "7".to_string());
        assert_eq!(
            Settings::load("f", Some(&table), &env)
                .unwrap()
                .session_days,
            7
        );
    }

    #[test]
    fn a_variable_is_taken_as_text_not_guessed_at() {
        let env = |k: &str| (k == "NATTER_TURN_SECRET").then(|| "\"0123\"".to_string());
        assert_eq!(
            Settings::load("f", None, &env).unwrap().turn_secret,
            "\"0123\""
        );
        let env = |k: &str| (k == "NATTER_CONFIG").then(|| "x.toml".to_string());
        assert!(Settings::load("f", None, &env).is_ok(), "not a setting");
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
    fn metrics_are_served_on_loopback_unless_switched_off() {
        let s = Settings::load("f", None, &no_env).unwrap();
        assert_eq!(s.metrics_addr, Some(([127, 0, 0, 1], 9464).into()));
        let table: toml::Table = "metrics_addr = \"\"".parse().unwrap();
        let s = Settings::load("f", Some(&table), &no_env).unwrap();
        assert_eq!(s.metrics_addr, None);
        let env = |k: &str| (k == "NATTER_METRICS_ADDR").then(|| "0.0.0.0:9100".to_string());
        let s = Settings::load("f", None, &env).unwrap();
        assert_eq!(s.metrics_addr, Some(([0, 0, 0, 0], 9100).into()));
        let env = |k: &str| (k == "NATTER_METRICS_ADDR").then(|| "localhost".to_string());
        let e = Settings::load("f", None, &env).unwrap_err();
        assert!(e.0.contains("NATTER_METRICS_ADDR"), "{e}");
    }

    #[test]
    fn logs_are_text_unless_json_is_asked_for() {
        let s = Settings::load("f", None, &no_env).unwrap();
        assert_eq!(s.log_format, LogFormat::Text);
        let table: toml::Table = "log_format = \"json\"".parse().unwrap();
        let s = Settings::load("f", Some(&table), &no_env).unwrap();
        assert_eq!(s.log_format, LogFormat::Json);
        let env = |k: &str| (k == "NATTER_LOG_FORMAT").then(|| "xml".to_string());
        let e = Settings::load("f", None, &env).unwrap_err();
        assert!(
            e.0.contains("NATTER_LOG_FORMAT") && e.0.contains("text or json"),
            "{e}"
        );
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
        let shown: Vec<&str> = crate::domain::admin::SETTINGS
            .iter()
            .map(|(k, ..)| *k)
            .collect();
        assert_eq!(shown, EDITABLE);
        for key in EDITABLE {
            let text = s.editable_text(key).unwrap();
            assert_eq!(s.with_changes(&[(key, &text)]).unwrap(), s, "{key}");
        }
        // Each one changes on its own: a value other than the default reads back, and
        // every other setting stays.
        let other = [
            ("registration_open", "false"),
            ("demo_mode", "true"),
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
