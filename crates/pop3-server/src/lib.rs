//! `pop3-server`: the `pop3d` server as a library (so tests can run it in-process) and its
//! binary. The only crate that knows sockets, TLS, the config file and signals.
//!
//! # Main types
//! - [`Config`]: the validated configuration ([`Config::load`]), re-exported from
//!   `pop3-config`, which owns the file format and its checks.
//! - [`Server`]: binds listeners ([`Server::bind`]), then serves until a shutdown future
//!   completes ([`Server::run`]).
//! - [`demo`]: the embedded demo setup (`pop3d demo`).
//!
//! # The life of a session
//! `server.rs` accepts and applies the connection limits; `connection.rs` drives one
//! `pop3_proto::Session`: it reads into a bounded buffer, runs authentication on the blocking
//! pool behind a semaphore and the throttle, opens the maildrop (lock and scan) only after a
//! successful authentication, streams RETR/TOP from the file in 64 KiB pieces with
//! backpressure, and commits on QUIT. Timeouts, EOF and shutdown end a session without UPDATE.
//!
//! # Non-goals
//! The protocol rules live in `pop3-proto`, storage in `pop3-maildrop`, users in `pop3-auth`.

mod config;
mod connection;
pub mod demo;
mod fault;
mod http;
pub mod logging;
mod registry;
mod server;
mod stream;
mod tls;

pub use config::{Config, ConfigError, Listener, Timeouts, TlsFiles, TlsMode};
pub use server::Server;
pub use tls::{Tls, TlsError};
