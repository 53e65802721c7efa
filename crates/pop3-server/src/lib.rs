//! `pop3-server`: the `pop3d` server as a library (so tests can run it in-process) and its
//! binary. The only crate that knows sockets, TLS and signals; the config file's format is
//! `pop3-config`'s.
//!
//! # Main types
//! - [`Config`]: the validated configuration ([`Config::load`]), re-exported from
//!   `pop3-config`, which owns the file format and its checks.
//! - [`Server`]: binds listeners ([`Server::bind`]), then serves until a shutdown future
//!   completes ([`Server::run`]).
//! - [`demo`]: the embedded demo setup (`pop3d demo`).
//!
//! # The life of a session
//! `server.rs` accepts and applies the connection limits (`limits.rs`); `connection.rs` is the
//! loop that drives one `pop3_proto::Session`: it reads into a small buffer (1 KiB, doubling
//! to 16 KiB for a pipelining client), writes through `stream::Client`, and hands each of the
//! session's requests to a service: `login.rs` verifies credentials on the blocking pool
//! behind the throttle and a hash semaphore; `mailbox.rs` opens the maildrop (lock and scan)
//! only after a successful login, streams RETR/TOP from the file in 256 KiB chunks, one read
//! ahead of the socket (`message_body.rs`), and commits on QUIT. `shared.rs` is what every
//! connection shares. Timeouts, EOF, kicks and shutdown end a session without UPDATE.
//! Modules depend one way (tidy checks for cycles): `server` → `connection` → `mailbox` →
//! `shared` → `login`, `tls`, `stream`; below them `message_body`, `user_db`, `session_end`,
//! `registry`, `peer`.
//!
//! # Non-goals
//! The protocol rules live in `pop3-proto`, storage in `pop3-maildrop`, users in `pop3-auth`.

pub mod activation;
mod certificates;
mod clock;
mod config;
mod connection;
pub mod demo;
mod fault;
mod hash_permits;
mod http;
mod http_limits;
mod input;
mod limits;
mod lmtp;
pub mod logging;
mod login;
mod login_delay;
mod mailbox;
mod message_body;
mod overview;
mod peer;
mod registry;
mod server;
mod session_end;
mod shared;
mod stream;
mod tls;
mod unix_socket;
mod user_db;
mod user_history;
mod user_terms;

pub use certificates::TlsError;
pub use config::{
    Config, ConfigError, HttpLimits, Listener, SniName, SniPair, Timeouts, TlsFiles, TlsMode,
};
pub use server::Server;
pub use tls::Tls;
pub use user_terms::PolicyRefresh;
