//! Browser-only code: the realtime connection, calls (WebRTC) and attention (sound,
//! notifications).

pub mod attention;
pub mod call;
pub mod realtime;
