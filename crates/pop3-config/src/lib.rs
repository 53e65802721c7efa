//! `pop3-config`: `pop3d.toml`, read in one place. The file format (every section, key and
//! default), its validation and its error messages live here, so the server and the admin tool
//! cannot disagree about the file they share.
//!
//! # Main types
//! - [`Config`]: the whole file, validated, for `pop3d` ([`Config::load`], [`Config::parse`]).
//!   Two stages: a serde `RawConfig` that mirrors the TOML (unknown keys are errors), then each
//!   section validated by its own function. [`Config::warnings`] lists accepted settings that
//!   are outside what an RFC asks for.
//! - [`AdminSettings`]: the sections `pop3-admin` needs (`[data]`, the argon2 keys of `[auth]`,
//!   `[admin]` with the nodes it watches, [`AdminNode`], `[privileges]`, `[quota]` for
//!   `deliver` and `user list`), read with the same section types, defaults and checks; the
//!   sections it does not need are left to the server, so a bad `[metrics]` cannot stop mail
//!   delivery.
//! - [`Quota`] (`[quota]`) and [`quota_for`], the one function that decides a user's limit.
//! - [`ConfigError`]: what is wrong, naming the file, the key and the line.
//!
//! # Non-goals
//! It reads the config file and nothing else: certificate files, the user database and the
//! mail root are opened by their users (`pop3d check-config` loads the certificate itself).
//! No I/O beyond that read, except the system host name as the default `server.hostname`.

mod admin;
mod auth;
mod cidr;
mod config;
mod data;
mod error;
mod limits;
mod listeners;
mod lmtp;
mod quota;
mod server;
mod settings;
mod sni;

pub use admin::{
    AdminNode, DEFAULT_ADMIN_SOCKET, DEFAULT_HISTORY_SESSIONS, DEFAULT_HISTORY_USERS,
    HistoryBounds, HttpLimits, MAX_NODE_NAME, check_node_name,
};
pub use cidr::Cidr;
pub use config::Config;
pub use error::ConfigError;
pub use limits::Timeouts;
pub use listeners::{Listener, TlsFiles, TlsMode};
pub use lmtp::Lmtp;
pub use quota::{MAX_QUOTA, OverQuota, Quota, quota_for};
pub use settings::AdminSettings;
pub use sni::{SniName, SniPair};
