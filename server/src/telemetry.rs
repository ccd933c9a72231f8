//! Logging through `tracing`: JSON lines in production, readable lines in development.
//! `RUST_LOG` overrides the default filter.

use app::backend::config::LogFormat;
use tracing_subscriber::{fmt, EnvFilter};

const DEFAULT_FILTER: &str = "info,tower_http=info,diesel_async=warn,tokio_postgres=warn";

/// Installs the global subscriber (once; later calls are ignored, which tests rely on).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
