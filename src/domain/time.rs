//! Time as Natter stores and sends it.

/// A moment as milliseconds since the Unix epoch (1970-01-01T00:00:00Z), the unit of every
/// `*_at` field in the database, the protocol and the client. Durations elsewhere name their
/// unit (`_ms`, `_secs`).
pub type UnixMs = i64;
