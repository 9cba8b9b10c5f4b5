//! How times and presence read to a person: "Last seen 5 min ago".

use crate::domain::PresenceState;

/// "Online", "Away", "Last seen 5 min ago": how a person's presence reads.
pub fn presence_text(state: PresenceState, last_seen_at: Option<i64>, now_ms: f64) -> String {
    match state {
        PresenceState::Online => "Online".to_string(),
        PresenceState::Away => "Away".to_string(),
        PresenceState::Offline => match last_seen_at {
            None => "Offline".to_string(),
            Some(at) => format!("Last seen {}", ago(at, now_ms)),
        },
    }
}

/// How long ago `at` (ms) was, as a person says it: "just now", "5 min ago", "3 h ago".
pub fn ago(at: i64, now_ms: f64) -> String {
    let minutes = ((now_ms - at as f64) / 60_000.0).max(0.0) as i64;
    match minutes {
        0 => "just now".to_string(),
        1..=59 => format!("{minutes} min ago"),
        60..=1439 => format!("{} h ago", minutes / 60),
        1440..=2879 => "1 day ago".to_string(),
        _ => format!("{} days ago", minutes / 1440),
    }
}

/// "Chrome on Linux", "Firefox on Android": a browser as a person names it, from its
/// User-Agent (the common browsers and systems; anything else is "A browser"). Only for
/// telling one's own sessions apart, never for deciding anything.
pub fn browser_name(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or_default();
    // Order matters: Edge and Opera say Chrome too, Chrome says Safari.
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(mark, _)| ua.contains(mark))
    .map(|(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(mark, _)| ua.contains(mark))
    .map(|(_, name)| name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) => "A browser".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_is_named_as_a_person_would_name_it() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(browser_name(Some(chrome)), "Chrome on Linux");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0";
        assert_eq!(browser_name(Some(edge)), "Edge on Windows");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(browser_name(Some(iphone)), "Safari on iOS");
        assert_eq!(browser_name(Some("curl/8.0")), "A browser");
        assert_eq!(browser_name(None), "A browser");
    }

    #[test]
    fn presence_reads_like_a_person_would_say_it() {
        let min = 60_000.0;
        assert_eq!(presence_text(PresenceState::Online, None, 0.0), "Online");
        assert_eq!(presence_text(PresenceState::Offline, None, 0.0), "Offline");
        assert_eq!(
            presence_text(PresenceState::Offline, Some(0), 5.0 * min),
            "Last seen 5 min ago"
        );
        assert_eq!(
            presence_text(PresenceState::Offline, Some(0), 30.0),
            "Last seen just now"
        );
        assert_eq!(
            presence_text(PresenceState::Offline, Some(0), 180.0 * min),
            "Last seen 3 h ago"
        );
    }
}
