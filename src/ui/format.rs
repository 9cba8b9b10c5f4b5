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

#[cfg(test)]
mod tests {
    use super::*;

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
