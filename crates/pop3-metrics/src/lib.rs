//! `pop3-metrics`: what pop3d tells the world about itself.
//!
//! - [`Metrics`]: every Prometheus metric family, with bounded labels, and its text encoding;
//!   live gauges come from a [`LiveCounts`] snapshot taken at scrape time.
//! - [`admin_api`]: the request and response types of the admin socket, shared by the server
//!   and `pop3-admin`.
//!
//! Non-goals: no HTTP, no sockets (the server serves `/metrics` and the admin socket), and no
//! state of its own beyond the counters.

pub mod admin_api;
mod metrics;

pub use metrics::{LiveCounts, Metrics};
