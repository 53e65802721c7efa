//! `pop3-metrics`: what pop3d tells the world about itself.
//!
//! - [`Metrics`]: every Prometheus metric family, with bounded labels, and its text encoding;
//!   live gauges come from a [`LiveCounts`] snapshot taken at scrape time.
//! - [`Totals`]: running totals ([`Metrics::totals`]) the server samples every second for
//!   the admin socket's history.
//!
//! Non-goals: no HTTP, no sockets (the server serves `/metrics`), and no state of its own
//! beyond the counters. The admin socket's types are not here but in `pop3-admin-api`, so that
//! `pop3-admin` does not link `prometheus-client`.

mod metrics;

pub use metrics::{LiveCounts, Metrics, Totals};
