//! Browser-only code: the realtime connection and attention (sound, notifications).

pub mod attention;
pub mod realtime;
