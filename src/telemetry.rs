//! Structured logs with tracing: text for a terminal, JSON for log shippers. `RUST_LOG`
//! overrides the configured filter.
//!
//! Lines are written by a background thread: a write to a pipe or journald per request on
//! the async workers halved the throughput of `GET /auth/me` in the load bench. If the
//! writer falls 128k lines behind, new lines are dropped rather than stalling requests.

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::{EnvFilter, fmt};

use crate::config::{LogConfig, LogFormat};

/// Keep the guard alive until exit: dropping it flushes the lines still queued.
pub fn init(cfg: &LogConfig) -> WorkerGuard {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(&cfg.level));
    // Colours only for a terminal: journald and log files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(128 * 1024)
        .thread_name("vextra-log")
        .finish(std::io::stdout());
    let builder = fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(writer);
    let _ = match cfg.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    guard
}
