//! The configuration file. Its format, defaults and validation live in `pop3-config`, which
//! `pop3-admin` reads the same file with; they are re-exported here so that the server's
//! modules and its users keep one path for them (`crate::config::*`, `pop3_server::Config`).

pub use pop3_config::{
    Config, ConfigError, HttpLimits, Listener, SniName, SniPair, Timeouts, TlsFiles, TlsMode,
};
