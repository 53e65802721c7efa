//! Log set-up: text or JSON lines on stderr, filtered by `RUST_LOG` or the configured level.
//! Client-supplied text is escaped where it is logged (`escape_client_text`); passwords are
//! never logged.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// What third-party crates may log under the configured level: rustls warns about things
/// clients do every day (an IP address as SNI, from mutt and several libraries), which are no
/// concern of the admin's; the WARN lines of the log are pop3d's own. `RUST_LOG` overrides.
const QUIET_DEPENDENCIES: &str = "rustls=error";

/// Installs the global subscriber. Safe to call once; later calls are ignored.
pub fn init(json: bool, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        if level.contains("rustls") {
            // The admin configured rustls's level explicitly.
            EnvFilter::new(level)
        } else {
            EnvFilter::new(format!("{level},{QUIET_DEPENDENCIES}"))
        }
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
