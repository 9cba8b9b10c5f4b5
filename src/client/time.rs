//! The browser's clock, and how moments read in the person's time zone. Messages and chart
//! hours are rendered only in the browser (they are loaded after hydration), so the server's
//! answers here never have to match the browser's.

use crate::domain::ClientMsgId;
#[cfg(feature = "hydrate")]
use wasm_bindgen::JsValue;

/// Milliseconds since the epoch, by the browser's clock (0 on the server).
pub fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}

/// A fresh id for a message about to be sent: a random UUID where the browser has one, else
/// the time and a random number ("" on the server, which never sends).
pub fn new_client_msg_id() -> ClientMsgId {
    #[cfg(feature = "hydrate")]
    {
        if let Some(id) = leptos::prelude::window()
            .crypto()
            .ok()
            .map(|c| c.random_uuid())
        {
            return ClientMsgId::from(id);
        }
        ClientMsgId::from(format!(
            "m-{}-{}",
            js_sys::Date::now() as u64,
            (js_sys::Math::random() * 1e9) as u64
        ))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        ClientMsgId::from(String::new())
    }
}

/// Hours and minutes of a moment (`at_ms`, milliseconds since the epoch) in the browser's
/// time zone; in UTC on the server.
pub fn clock_of(at_ms: i64) -> (u32, u32) {
    #[cfg(feature = "hydrate")]
    {
        let d = js_sys::Date::new(&JsValue::from_f64(at_ms as f64));
        (d.get_hours(), d.get_minutes())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let minutes = at_ms.rem_euclid(86_400_000) / 60_000;
        ((minutes / 60) as u32, (minutes % 60) as u32)
    }
}

/// Reads messages' moments as the log shows them: "09:05" and "Today", "Yesterday" or
/// "5 March 2025", in the browser's time zone. Made once per rendering of a list (it holds
/// the browser's formatters and today's date); on the server every text is "".
pub struct MessageClock {
    #[cfg(feature = "hydrate")]
    time: js_sys::Intl::DateTimeFormat,
    #[cfg(feature = "hydrate")]
    day: js_sys::Intl::DateTimeFormat,
    #[cfg(feature = "hydrate")]
    today: js_sys::Date,
    #[cfg(feature = "hydrate")]
    yesterday: js_sys::Date,
}

/// `Intl.DateTimeFormat` in British English (day before month, 24-hour clock), whatever the
/// browser's language, as the app's other text.
#[cfg(feature = "hydrate")]
fn formatter(options: &[(&str, &str)]) -> js_sys::Intl::DateTimeFormat {
    let opts = js_sys::Object::new();
    for (key, value) in options {
        let _ = js_sys::Reflect::set(&opts, &JsValue::from_str(key), &JsValue::from_str(value));
    }
    let locales = js_sys::Array::of1(&JsValue::from_str("en-GB"));
    js_sys::Intl::DateTimeFormat::new(&locales, &opts)
}

#[cfg(feature = "hydrate")]
fn format(f: &js_sys::Intl::DateTimeFormat, d: &js_sys::Date) -> String {
    f.format()
        .call1(&JsValue::UNDEFINED, d)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}

#[cfg(feature = "hydrate")]
fn same_day(a: &js_sys::Date, b: &js_sys::Date) -> bool {
    a.get_full_year() == b.get_full_year()
        && a.get_month() == b.get_month()
        && a.get_date() == b.get_date()
}

impl MessageClock {
    /// Formatters for now (today as the browser's clock says).
    pub fn new() -> MessageClock {
        #[cfg(feature = "hydrate")]
        {
            let today = js_sys::Date::new_0();
            let yesterday = js_sys::Date::new(&JsValue::from_f64(today.get_time() - 86_400_000.0));
            MessageClock {
                time: formatter(&[
                    ("hour", "2-digit"),
                    ("minute", "2-digit"),
                    ("hourCycle", "h23"),
                ]),
                day: formatter(&[("day", "numeric"), ("month", "long"), ("year", "numeric")]),
                today,
                yesterday,
            }
        }
        #[cfg(not(feature = "hydrate"))]
        {
            MessageClock {}
        }
    }

    /// The time of day ("09:05") and the day ("Today", "Yesterday", "5 March 2025") of
    /// `ms`, milliseconds since the epoch.
    pub fn read(&self, ms: i64) -> (String, String) {
        #[cfg(feature = "hydrate")]
        {
            let d = js_sys::Date::new(&JsValue::from_f64(ms as f64));
            let time = format(&self.time, &d);
            let day = if same_day(&d, &self.today) {
                "Today".to_string()
            } else if same_day(&d, &self.yesterday) {
                "Yesterday".to_string()
            } else {
                format(&self.day, &d)
            };
            (time, day)
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = ms;
            (String::new(), String::new())
        }
    }
}

impl Default for MessageClock {
    fn default() -> Self {
        MessageClock::new()
    }
}
