//! Where log lines go: standard error, as text or as JSON (`log_format`), filtered by
//! `RUST_LOG` (default `info` for the server, `warn` for the other commands, whose
//! standard output is for their answer). The access log (`routes::access_log`) writes through it.

use super::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the process's log subscriber in `format`. Call it once, first thing: lines
/// logged before it are lost.
pub fn init(format: LogFormat, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let lines = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => lines.init(),
        LogFormat::Json => lines.json().init(),
    }
}
