//! The metric families and their text encoding.
//!
//! Names follow Prometheus conventions: a `pop3_` prefix, base units, `_total` on counters,
//! `_seconds` on durations. **Labels are bounded**: commands are the 16 keywords plus
//! `UNKNOWN`/`INVALID`, listeners are the three TLS modes, results and reasons are fixed
//! words; never a user name or an address. **Gauges of live state are set from a snapshot of
//! the server's registry at each scrape**, so they cannot drift from the truth.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
mod labels;
mod totals;
use labels::{
    AuthLabels, CommandLabels, CommandResultLabels, ConnectionLabels, ReasonLabels, ResultLabels,
    StateLabels, VersionLabels, WriteLabels,
};
pub use totals::Totals;

/// The live state a scrape reports, taken from the server's registry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveCounts {
    /// Sessions in AUTHORIZATION.
    pub authorization: i64,
    /// Sessions in TRANSACTION.
    pub transaction: i64,
    /// Sessions in UPDATE.
    pub update: i64,
    /// Maildrop locks held.
    pub locks: i64,
    /// How long the oldest held lock has been held, in seconds (0 without locks).
    pub oldest_lock_seconds: i64,
}

/// Every metric family pop3d exports.
pub struct Metrics {
    registry: Registry,
    sessions: Family<StateLabels, Gauge>,
    connections: Family<ConnectionLabels, Counter>,
    rejected: Family<ReasonLabels, Counter>,
    session_duration: Histogram,
    commands: Family<CommandResultLabels, Counter>,
    command_duration: Family<CommandLabels, Histogram>,
    auth_attempts: Family<AuthLabels, Counter>,
    auth_throttled: Counter,
    auth_db_write_failures: Family<WriteLabels, Counter>,
    locks_held: Gauge,
    oldest_lock: Gauge,
    lock_conflicts: Counter,
    unreadable_messages: Counter,
    lock_hold: Histogram,
    retrieved_bytes: Counter,
    messages_retrieved: Counter,
    messages_deleted: Counter,
    deletions_failed: Counter,
    messages_expired: Counter,
    scan_duration: Histogram,
    tls_handshakes: Family<ResultLabels, Counter>,
    tls_reloads: Family<ResultLabels, Counter>,
    lmtp_recipients: Family<ResultLabels, Counter>,
    lmtp_delivered_bytes: Counter,
    resident_memory: Gauge,
    open_fds: Gauge,
    logins: totals::Logins,
}

impl Metrics {
    /// Creates and registers every family; `version` goes into `pop3_build_info`.
    pub fn new(version: &'static str) -> Metrics {
        let mut registry = Registry::default();
        let sessions = Family::<StateLabels, Gauge>::default();
        registry.register(
            "pop3_sessions",
            "Live sessions by protocol state",
            sessions.clone(),
        );
        let connections = Family::<ConnectionLabels, Counter>::default();
        registry.register(
            "pop3_connections",
            "Accepted connections by listener kind and TLS",
            connections.clone(),
        );
        let rejected = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "pop3_connections_rejected",
            "Connections refused, by reason",
            rejected.clone(),
        );
        let session_duration = Histogram::new(exponential_buckets(0.01, 4.0, 10));
        registry.register_with_unit(
            "pop3_session_duration",
            "Session lifetimes",
            Unit::Seconds,
            session_duration.clone(),
        );
        let commands = Family::<CommandResultLabels, Counter>::default();
        registry.register(
            "pop3_commands",
            "Answered commands by keyword and result",
            commands.clone(),
        );
        let command_duration = Family::<CommandLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_05, 4.0, 11))
        });
        registry.register_with_unit(
            "pop3_command_duration",
            "Time from a command's line to its answer",
            Unit::Seconds,
            command_duration.clone(),
        );
        let auth_attempts = Family::<AuthLabels, Counter>::default();
        registry.register(
            "pop3_auth_attempts",
            "Authentication attempts by mechanism and result",
            auth_attempts.clone(),
        );
        let auth_throttled = Counter::default();
        registry.register(
            "pop3_auth_throttled",
            "Attempts delayed by an address penalty",
            auth_throttled.clone(),
        );
        let auth_db_write_failures = Family::<WriteLabels, Counter>::default();
        registry.register(
            "pop3_auth_db_write_failures",
            "Best-effort user database writes of a successful login that failed (the login stood)",
            auth_db_write_failures.clone(),
        );
        let locks_held = Gauge::default();
        registry.register(
            "pop3_mailbox_locks_held",
            "Maildrop locks held now",
            locks_held.clone(),
        );
        let oldest_lock = Gauge::default();
        registry.register_with_unit(
            "pop3_mailbox_lock_oldest",
            "Age of the oldest maildrop lock held now",
            Unit::Seconds,
            oldest_lock.clone(),
        );
        let lock_conflicts = Counter::default();
        registry.register(
            "pop3_mailbox_lock_conflicts",
            "Logins refused with [IN-USE]",
            lock_conflicts.clone(),
        );
        let unreadable_messages = Counter::default();
        registry.register(
            "pop3_maildrop_unreadable_messages",
            "Messages left out of a login's listing because they could not be read",
            unreadable_messages.clone(),
        );
        let lock_hold = Histogram::new(exponential_buckets(0.01, 4.0, 10));
        registry.register_with_unit(
            "pop3_mailbox_lock_hold",
            "How long maildrop locks were held",
            Unit::Seconds,
            lock_hold.clone(),
        );
        let retrieved_bytes = Counter::default();
        registry.register_with_unit(
            "pop3_retrieved",
            "Message octets sent by RETR and TOP",
            Unit::Bytes,
            retrieved_bytes.clone(),
        );
        let messages_retrieved = Counter::default();
        registry.register(
            "pop3_messages_retrieved",
            "Messages sent by RETR",
            messages_retrieved.clone(),
        );
        let messages_deleted = Counter::default();
        registry.register(
            "pop3_messages_deleted",
            "Messages removed at UPDATE",
            messages_deleted.clone(),
        );
        let messages_expired = Counter::default();
        registry.register(
            "pop3_messages_expired",
            "Messages removed at UPDATE because they expired (EXPIRE 0), not DELE'd",
            messages_expired.clone(),
        );
        let deletions_failed = Counter::default();
        registry.register(
            "pop3_deletions_failed",
            "Deletions that failed at UPDATE",
            deletions_failed.clone(),
        );
        let scan_duration = Histogram::new(exponential_buckets(0.000_1, 4.0, 10));
        registry.register_with_unit(
            "pop3_maildrop_scan",
            "Time to lock and scan a maildrop",
            Unit::Seconds,
            scan_duration.clone(),
        );
        let tls_handshakes = Family::<ResultLabels, Counter>::default();
        registry.register(
            "pop3_tls_handshakes",
            "TLS handshakes by result",
            tls_handshakes.clone(),
        );
        let tls_reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "pop3_tls_reloads",
            "Certificate reloads (SIGHUP) by result: ok, failed (the old certificate stays)",
            tls_reloads.clone(),
        );
        let lmtp_recipients = Family::<ResultLabels, Counter>::default();
        registry.register(
            "pop3_lmtp_recipients",
            "LMTP recipients by result: delivered, unknown (550), too_big (552), \
             over_quota (552 5.2.2 or 452 4.2.2), temp_failure (4xx: retried by the MTA)",
            lmtp_recipients.clone(),
        );
        let lmtp_delivered_bytes = Counter::default();
        registry.register_with_unit(
            "pop3_lmtp_delivered",
            "Octets of messages delivered over LMTP (as stored, once per recipient)",
            Unit::Bytes,
            lmtp_delivered_bytes.clone(),
        );
        let resident_memory = Gauge::default();
        registry.register_with_unit(
            "process_resident_memory",
            "Resident memory",
            Unit::Bytes,
            resident_memory.clone(),
        );
        let open_fds = Gauge::default();
        registry.register(
            "process_open_fds",
            "Open file descriptors",
            open_fds.clone(),
        );
        // A gauge of 1 rather than an OpenMetrics info: every Prometheus parser reads it.
        let build = Family::<VersionLabels, Gauge>::default();
        build.get_or_create(&VersionLabels { version }).set(1);
        registry.register("pop3_build_info", "pop3d build information", build);
        Metrics {
            registry,
            sessions,
            connections,
            rejected,
            session_duration,
            commands,
            command_duration,
            auth_attempts,
            auth_throttled,
            auth_db_write_failures,
            locks_held,
            oldest_lock,
            lock_conflicts,
            unreadable_messages,
            lock_hold,
            retrieved_bytes,
            messages_retrieved,
            messages_deleted,
            messages_expired,
            deletions_failed,
            scan_duration,
            tls_handshakes,
            tls_reloads,
            lmtp_recipients,
            lmtp_delivered_bytes,
            resident_memory,
            open_fds,
            logins: totals::Logins::default(),
        }
    }

    /// A connection was accepted on a listener of this kind.
    pub fn connection(&self, listener: &'static str, tls: bool) {
        let tls = if tls { "yes" } else { "no" };
        self.connections
            .get_or_create(&ConnectionLabels { listener, tls })
            .inc();
    }

    /// A connection was refused (`limit`, `tls`, ...).
    pub fn rejected(&self, reason: &'static str) {
        self.rejected.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// A session ended after this many seconds.
    pub fn session_ended(&self, seconds: f64) {
        self.session_duration.observe(seconds);
    }

    /// A command was answered, `ok` if with `+OK`, after `seconds`.
    pub fn command(&self, command: &'static str, ok: bool, seconds: f64) {
        let result = if ok { "ok" } else { "err" };
        self.commands
            .get_or_create(&CommandResultLabels { command, result })
            .inc();
        self.command_duration
            .get_or_create(&CommandLabels { command })
            .observe(seconds);
    }

    /// An authentication attempt: `mechanism` is `user`, `apop`, `plain`, `login` or
    /// `scram-sha-256`; `result` is `success`, `failure`, `abandoned` (a SCRAM exchange given
    /// up after the server-first-message), `login_delay` or `error`.
    pub fn auth(&self, mechanism: &'static str, result: &'static str) {
        self.logins.count(result);
        self.auth_attempts
            .get_or_create(&AuthLabels { mechanism, result })
            .inc();
    }

    /// An attempt waited for an address penalty.
    pub fn throttled(&self) {
        self.auth_throttled.inc();
    }

    /// A best-effort write of a successful login failed: `write` is `last_login`, `rehash`
    /// or `scram_keys`. The login still succeeded.
    pub fn auth_db_write_failed(&self, write: &'static str) {
        self.auth_db_write_failures
            .get_or_create(&WriteLabels { write })
            .inc();
    }

    /// A login found its maildrop locked.
    pub fn lock_conflict(&self) {
        self.lock_conflicts.inc();
    }

    /// A login's scan left out `count` messages it could not read (`EACCES`, `EIO`).
    pub fn unreadable_messages(&self, count: u64) {
        self.unreadable_messages.inc_by(count);
    }

    /// A maildrop lock was released after `seconds`.
    pub fn lock_released(&self, seconds: f64) {
        self.lock_hold.observe(seconds);
    }

    /// A maildrop was locked and scanned in `seconds`.
    pub fn scanned(&self, seconds: f64) {
        self.scan_duration.observe(seconds);
    }

    /// A RETR (or, with `whole == false`, a TOP) sent `octets` of message.
    pub fn retrieved(&self, octets: u64, whole: bool) {
        self.retrieved_bytes.inc_by(octets);
        if whole {
            self.messages_retrieved.inc();
        }
    }

    /// An UPDATE removed `removed` DELE'd messages and `expired` expired ones (RFC 2449
    /// §6.7), and failed to remove `failed`.
    pub fn committed(&self, removed: u64, expired: u64, failed: u64) {
        self.messages_deleted.inc_by(removed);
        self.messages_expired.inc_by(expired);
        self.deletions_failed.inc_by(failed);
    }

    /// A TLS handshake ended: `ok`, `failed` or `timeout`.
    pub fn tls_handshake(&self, result: &'static str) {
        self.tls_handshakes
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    /// A certificate reload (SIGHUP) ended: `ok` or `failed`.
    pub fn tls_reload(&self, result: &'static str) {
        self.tls_reloads
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    /// An LMTP recipient's outcome: `delivered`, `unknown`, `too_big`, `over_quota` or
    /// `temp_failure`.
    pub fn lmtp_recipient(&self, result: &'static str) {
        self.lmtp_recipients
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    /// A message of `octets` delivered over LMTP to one recipient.
    pub fn lmtp_delivered(&self, octets: u64) {
        self.lmtp_recipient("delivered");
        self.lmtp_delivered_bytes.inc_by(octets);
    }

    /// Encodes every family in the classic Prometheus text format (0.0.4), for scrapers and
    /// tools that do not ask for OpenMetrics: counters' HELP and TYPE name the `_total`
    /// series, and there are no UNIT or EOF lines.
    pub fn encode_text(&self, live: LiveCounts) -> Result<String, std::fmt::Error> {
        let open_metrics = self.encode(live)?;
        let mut counters = std::collections::HashSet::new();
        for line in open_metrics.lines() {
            if let Some(name) = line
                .strip_prefix("# TYPE ")
                .and_then(|l| l.strip_suffix(" counter"))
            {
                counters.insert(name.to_owned());
            }
        }
        let mut text = String::with_capacity(open_metrics.len());
        for line in open_metrics.lines() {
            if line.starts_with("# UNIT ") || line == "# EOF" {
                continue;
            }
            let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
                let rest = line.strip_prefix(prefix)?;
                let (name, tail) = rest.split_once(' ')?;
                counters
                    .contains(name)
                    .then(|| format!("{prefix}{name}_total {tail}"))
            });
            text.push_str(renamed.as_deref().unwrap_or(line));
            text.push('\n');
        }
        Ok(text)
    }

    /// Encodes every family in the OpenMetrics text format, with the live gauges set from
    /// `live` and the process gauges from `/proc/self`.
    pub fn encode(&self, live: LiveCounts) -> Result<String, std::fmt::Error> {
        for (state, value) in [
            ("AUTHORIZATION", live.authorization),
            ("TRANSACTION", live.transaction),
            ("UPDATE", live.update),
        ] {
            self.sessions
                .get_or_create(&StateLabels { state })
                .set(value);
        }
        self.locks_held.set(live.locks);
        self.oldest_lock.set(live.oldest_lock_seconds);
        if let Some(rss) = resident_memory_bytes() {
            self.resident_memory.set(rss);
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds
                .set(i64::try_from(fds.count()).unwrap_or(i64::MAX));
        }
        let mut text = String::new();
        encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Resident set size from the `VmRSS` line of `/proc/self/status` (in kB).
fn resident_memory_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
