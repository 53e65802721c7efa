//! The configuration file, in two stages: a serde [`RawConfig`] that mirrors the TOML
//! (unknown keys are errors), then a validated [`Config`]. Every error names the key and the
//! line.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pop3_auth::{HashParams, ThrottleConfig};
use pop3_proto::{CleartextPolicy, Expire, Limits, MIN_LINE_OCTETS, sasl::Mechanism};
use serde::Deserialize;
use toml::Spanned;

/// A configuration error, with the key and line it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    file: String,
    message: String,
}

/// How a listener speaks TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plaintext with STLS (RFC 2595); the usual port 110.
    Starttls,
    /// TLS from the first byte; the usual port 995.
    Implicit,
    /// Plaintext only, no STLS.
    None,
}

/// One listening socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// The address to bind, IPv4 or IPv6.
    pub address: SocketAddr,
    /// Its TLS mode.
    pub tls: TlsMode,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The listeners.
    pub listeners: Vec<Listener>,
    /// Certificate chain and key files (PEM), if any listener uses TLS.
    pub tls: Option<TlsFiles>,
    /// The user database file.
    pub user_db: PathBuf,
    /// Where the Maildirs of new users go.
    pub mail_root: PathBuf,
    /// The protocol policy handed to every session.
    pub protocol: pop3_proto::Config,
    /// argon2id parameters.
    pub argon2: HashParams,
    /// Concurrent password hashes at most.
    pub hash_concurrency: usize,
    /// The login throttle.
    pub throttle: ThrottleConfig,
    /// Connections at most, in total.
    pub max_connections: usize,
    /// Connections at most from one address.
    pub max_connections_per_ip: usize,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// How long to wait for a locked maildrop before `[IN-USE]`.
    pub lock_wait: Duration,
    /// Whether retrieved messages get the Maildir seen flag at QUIT.
    pub mark_seen: bool,
    /// Log as JSON lines rather than text.
    pub log_json: bool,
    /// The default log filter (`RUST_LOG` overrides it).
    pub log_level: String,
    /// The user and group to switch to after binding, when started as root.
    pub run_as: Option<(String, String)>,
    /// The host name in APOP timestamps.
    pub hostname: String,
    /// Whether a loopback peer counts as local for the cleartext policy. Turn off when a
    /// proxy on this host forwards remote clients.
    pub trust_loopback: bool,
    /// Where `/metrics` and `/healthz` are served, if at all.
    pub metrics_address: Option<SocketAddr>,
    /// The admin socket's path, if any.
    pub admin_socket: Option<PathBuf>,
}

/// TLS certificate files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub certificate: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// Timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// From connect to successful login, however slowly bytes trickle in.
    pub login: Duration,
    /// Without a command after login (RFC 1939 §3: at least 10 minutes).
    pub idle: Duration,
    /// The TLS handshake.
    pub tls_handshake: Duration,
    /// A write that makes no progress: the reader stopped reading.
    pub output_stall: Duration,
    /// How long shutdown waits for sessions before exiting.
    pub shutdown_grace: Duration,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            message: format!("cannot read: {e}"),
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Parses and validates config text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError {
            file: file.to_owned(),
            message: match e.span() {
                Some(span) => format!("line {}: {}", line_of(text, &span), e.message()),
                None => e.message().to_owned(),
            },
        })?;
        raw.validate().map_err(|(message, span)| ConfigError {
            file: file.to_owned(),
            message: match span {
                Some(span) => format!("line {}: {message}", line_of(text, &span)),
                None => message,
            },
        })
    }
}

fn line_of(text: &str, span: &Range<usize>) -> usize {
    text[..span.start.min(text.len())].lines().count().max(1)
        + usize::from(text[..span.start.min(text.len())].ends_with('\n'))
}

type Invalid = (String, Option<Range<usize>>);

fn invalid<T>(key: &str, value: &Spanned<T>, why: &str) -> Invalid {
    (format!("`{key}`: {why}"), Some(value.span()))
}

/// The file as written. Every section and key is optional except the listeners and data.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(rename = "listener")]
    listeners: Spanned<Vec<RawListener>>,
    tls: Option<RawTls>,
    data: RawData,
    #[serde(default)]
    auth: RawAuth,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    timeouts: RawTimeouts,
    #[serde(default)]
    mailbox: RawMailbox,
    #[serde(default)]
    log: RawLog,
    privileges: Option<RawPrivileges>,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    metrics: RawMetrics,
    #[serde(default)]
    admin: RawAdmin,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMetrics {
    enabled: bool,
    address: Spanned<String>,
}

impl Default for RawMetrics {
    fn default() -> RawMetrics {
        RawMetrics {
            enabled: true,
            address: Spanned::new(0..0, "127.0.0.1:9110".into()),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAdmin {
    enabled: bool,
    socket: PathBuf,
}

impl Default for RawAdmin {
    fn default() -> RawAdmin {
        RawAdmin {
            enabled: true,
            socket: PathBuf::from("/run/pop3d/admin.sock"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListener {
    address: Spanned<String>,
    tls: TlsMode,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    certificate: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawData {
    user_db: PathBuf,
    mail_root: Spanned<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAuth {
    cleartext: Spanned<String>,
    sasl: Spanned<Vec<String>>,
    apop: bool,
    argon2_m_kib: u32,
    argon2_t: u32,
    argon2_p: u32,
    hash_concurrency: usize,
    failure_delay_ms: u64,
    penalty_start_ms: u64,
    penalty_max_secs: u64,
    spraying_threshold: u32,
    trust_loopback: bool,
}

impl Default for RawAuth {
    fn default() -> RawAuth {
        let params = HashParams::default();
        RawAuth {
            cleartext: Spanned::new(0..0, "loopback".into()),
            sasl: Spanned::new(0..0, vec!["PLAIN".into(), "LOGIN".into()]),
            apop: false,
            argon2_m_kib: params.m_kib,
            argon2_t: params.t,
            argon2_p: params.p,
            hash_concurrency: 0,
            failure_delay_ms: 2000,
            penalty_start_ms: 1000,
            penalty_max_secs: 15,
            spraying_threshold: 20,
            trust_loopback: true,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLimits {
    connections: usize,
    connections_per_ip: usize,
    max_line: Spanned<usize>,
    bad_commands_before_login: u32,
    bad_commands_after_login: u32,
    failed_auths: u32,
}

impl Default for RawLimits {
    fn default() -> RawLimits {
        let limits = Limits::default();
        RawLimits {
            connections: 1000,
            connections_per_ip: 20,
            max_line: Spanned::new(0..0, limits.max_line_octets),
            bad_commands_before_login: limits.bad_commands_before_login,
            bad_commands_after_login: limits.bad_commands_after_login,
            failed_auths: limits.failed_auths,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTimeouts {
    login_secs: u64,
    idle_secs: u64,
    tls_handshake_secs: u64,
    output_stall_secs: u64,
    shutdown_grace_secs: u64,
}

impl Default for RawTimeouts {
    fn default() -> RawTimeouts {
        RawTimeouts {
            login_secs: 60,
            idle_secs: 600,
            tls_handshake_secs: 30,
            output_stall_secs: 60,
            shutdown_grace_secs: 10,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawMailbox {
    lock_wait_ms: u64,
    mark_seen: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLog {
    format: Spanned<String>,
    level: String,
}

impl Default for RawLog {
    fn default() -> RawLog {
        RawLog {
            format: Spanned::new(0..0, "text".into()),
            level: "info".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrivileges {
    user: String,
    group: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawServer {
    hostname: Option<String>,
    implementation: Option<String>,
    greeting: Option<String>,
    last_command: bool,
    login_delay_secs: Option<u32>,
    expire: Option<Spanned<String>>,
}

impl RawConfig {
    fn validate(self) -> Result<Config, Invalid> {
        if self.listeners.get_ref().is_empty() {
            return Err(invalid(
                "listener",
                &self.listeners,
                "at least one listener is needed",
            ));
        }
        let mut listeners = Vec::new();
        for raw in self.listeners.get_ref() {
            let address = raw.address.get_ref().parse().map_err(|_| {
                invalid(
                    "listener.address",
                    &raw.address,
                    "not an address with a port, e.g. 0.0.0.0:110 or [::]:995",
                )
            })?;
            listeners.push(Listener {
                address,
                tls: raw.tls,
            });
        }
        let needs_tls = listeners.iter().any(|l| l.tls != TlsMode::None);
        let tls = self.tls.map(|t| TlsFiles {
            certificate: t.certificate,
            key: t.key,
        });
        if needs_tls && tls.is_none() {
            return Err(invalid(
                "tls",
                &self.listeners,
                "a listener uses TLS, so [tls] certificate and key are needed",
            ));
        }
        if !self.data.mail_root.get_ref().is_absolute() {
            return Err(invalid(
                "data.mail_root",
                &self.data.mail_root,
                "must be an absolute path",
            ));
        }

        let auth = self.auth;
        let cleartext = match auth.cleartext.get_ref().as_str() {
            "never" => CleartextPolicy::Never,
            "loopback" => CleartextPolicy::Loopback,
            "always" => CleartextPolicy::Always,
            _ => {
                return Err(invalid(
                    "auth.cleartext",
                    &auth.cleartext,
                    "must be never, loopback or always",
                ));
            }
        };
        let mut sasl_mechanisms = Vec::new();
        for name in auth.sasl.get_ref() {
            let mechanism = Mechanism::from_name(name.as_bytes()).ok_or_else(|| {
                invalid("auth.sasl", &auth.sasl, "mechanisms are PLAIN and LOGIN")
            })?;
            sasl_mechanisms.push(mechanism);
        }
        let argon2 = HashParams {
            m_kib: auth.argon2_m_kib,
            t: auth.argon2_t,
            p: auth.argon2_p,
        };
        argon2
            .validate()
            .map_err(|e| (format!("`auth.argon2_*`: {e}"), None))?;
        let hash_concurrency = match auth.hash_concurrency {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };

        let limits = self.limits;
        if *limits.max_line.get_ref() < MIN_LINE_OCTETS {
            return Err(invalid(
                "limits.max_line",
                &limits.max_line,
                "must be at least 255 (RFC 2449)",
            ));
        }
        let log_json = match self.log.format.get_ref().as_str() {
            "text" => false,
            "json" => true,
            _ => {
                return Err(invalid(
                    "log.format",
                    &self.log.format,
                    "must be text or json",
                ));
            }
        };
        let t = self.timeouts;
        if [
            t.login_secs,
            t.idle_secs,
            t.tls_handshake_secs,
            t.output_stall_secs,
        ]
        .contains(&0)
        {
            return Err((
                "`timeouts`: every timeout must be at least 1 second".into(),
                None,
            ));
        }
        let hostname = self.server.hostname.unwrap_or_else(system_hostname);
        let expire = match &self.server.expire {
            None => None,
            Some(value) if value.get_ref() == "never" => Some(Expire::Never),
            Some(value) => Some(Expire::Days(value.get_ref().parse().map_err(|_| {
                invalid(
                    "server.expire",
                    value,
                    "must be \"never\" or a number of days",
                )
            })?)),
        };
        let implementation = match self.server.implementation {
            Some(text) if text.is_empty() => None,
            Some(text) if !text.chars().all(|c| c.is_ascii_graphic() || c == ' ') => {
                return Err(("`server.implementation`: printable ASCII only".into(), None));
            }
            Some(text) => Some(text),
            None => pop3_proto::Config::default().implementation,
        };
        let metrics_address = if self.metrics.enabled {
            Some(self.metrics.address.get_ref().parse().map_err(|_| {
                invalid(
                    "metrics.address",
                    &self.metrics.address,
                    "not an address with a port, e.g. 127.0.0.1:9110",
                )
            })?)
        } else {
            None
        };
        let admin_socket = self.admin.enabled.then_some(self.admin.socket);
        let defaults = pop3_proto::Config::default();
        let protocol = pop3_proto::Config {
            cleartext,
            starttls: false,
            apop: auth.apop,
            sasl_mechanisms,
            last_command: self.server.last_command,
            login_delay: self.server.login_delay_secs,
            expire,
            implementation,
            greeting: self.server.greeting.unwrap_or(defaults.greeting),
            limits: Limits {
                max_line_octets: *limits.max_line.get_ref(),
                bad_commands_before_login: limits.bad_commands_before_login.max(1),
                bad_commands_after_login: limits.bad_commands_after_login.max(1),
                failed_auths: limits.failed_auths.max(1),
                ..Limits::default()
            },
        };
        Ok(Config {
            listeners,
            tls,
            user_db: self.data.user_db,
            mail_root: self.data.mail_root.into_inner(),
            protocol,
            argon2,
            hash_concurrency,
            throttle: ThrottleConfig {
                failure_delay: Duration::from_millis(auth.failure_delay_ms),
                penalty_start: Duration::from_millis(auth.penalty_start_ms),
                penalty_max: Duration::from_secs(auth.penalty_max_secs),
                user_threshold: auth.spraying_threshold,
                ..ThrottleConfig::default()
            },
            max_connections: limits.connections.max(1),
            max_connections_per_ip: limits.connections_per_ip.max(1),
            timeouts: Timeouts {
                login: Duration::from_secs(t.login_secs),
                idle: Duration::from_secs(t.idle_secs),
                tls_handshake: Duration::from_secs(t.tls_handshake_secs),
                output_stall: Duration::from_secs(t.output_stall_secs),
                shutdown_grace: Duration::from_secs(t.shutdown_grace_secs),
            },
            lock_wait: Duration::from_millis(self.mailbox.lock_wait_ms),
            mark_seen: self.mailbox.mark_seen,
            log_json,
            log_level: self.log.level,
            run_as: self.privileges.map(|p| (p.user, p.group)),
            hostname,
            trust_loopback: auth.trust_loopback,
            metrics_address,
            admin_socket,
        })
    }
}

fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}
