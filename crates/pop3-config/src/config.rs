//! [`Config`]: the whole file, for the server. `RawConfig` mirrors the TOML; its `validate`
//! hands each section to that section's own check, in file order, and assembles the result.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pop3_auth::{HashParams, ThrottleConfig};
use serde::Deserialize;
use toml::Spanned;

use crate::admin::{HistoryBounds, HttpLimits, RawAdmin, RawMetrics};
use crate::auth::RawAuth;
use crate::data::RawData;
use crate::error::{ConfigError, Invalid, parse_and_validate};
use crate::limits::{RFC_MIN_IDLE, RawLimits, RawMailbox, RawTimeouts, Timeouts};
use crate::listeners::{self, Listener, RawListener, RawTls, TlsFiles};
use crate::lmtp::{Lmtp, RawLmtp};
use crate::quota::RawQuota;
use crate::server::{RawLog, RawPrivileges, RawServer};

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The listeners.
    pub listeners: Vec<Listener>,
    /// Certificate chain and key files (PEM), if any listener uses TLS.
    pub tls: Option<TlsFiles>,
    /// The user database: a SQLite file, or a PostgreSQL database (issue 18).
    pub user_db: pop3_auth::UserDbLocation,
    /// Where the Maildirs of new users go.
    pub mail_root: PathBuf,
    /// The protocol policy handed to every session.
    pub protocol: pop3_proto::Config,
    /// argon2id parameters.
    pub argon2: HashParams,
    /// SCRAM-SHA-256's PBKDF2 iterations when the site enables it (`[auth] scram_sha256`),
    /// else `None`.
    pub scram_iterations: Option<u32>,
    /// Concurrent password hashes at most.
    pub hash_concurrency: usize,
    /// The login throttle.
    pub throttle: ThrottleConfig,
    /// Connections at most, in total.
    pub max_connections: usize,
    /// Connections at most from one address.
    pub max_connections_per_ip: usize,
    /// The prefix length by which IPv6 clients are one address for the connection limits
    /// and the login throttle (`[limits] ipv6_prefix`, 32 to 128, default 64).
    pub ipv6_prefix: u8,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// How long to wait for a locked maildrop before `[IN-USE]`.
    pub lock_wait: Duration,
    /// Whether retrieved messages get the Maildir seen flag at QUIT.
    pub mark_seen: bool,
    /// Whether maildrops keep the persistent listing (`mailbox.listing_cache`; by default
    /// not on a network file system).
    pub listing_cache: pop3_maildrop::ListingCache,
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
    /// The limits of the HTTP listeners (metrics and admin socket).
    pub http_limits: HttpLimits,
    /// The admin socket's path, if any.
    pub admin_socket: Option<PathBuf>,
    /// The bounds of the per-user session history the admin socket serves.
    pub history: HistoryBounds,
    /// LMTP delivery (`[lmtp]`), if configured.
    pub lmtp: Option<Lmtp>,
    /// `[quota]`: the site's Maildir++ quota (a user's limit: [`crate::quota_for`]).
    pub quota: crate::Quota,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::unreadable(&file, &e))?;
        Config::parse(&text, &file)
    }

    /// Parses and validates config text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        parse_and_validate(text, file, RawConfig::validate)
    }

    /// Settings that are valid but outside what an RFC asks for, one sentence each naming the
    /// key, for `pop3d check-config` and the log at startup.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.timeouts.idle < RFC_MIN_IDLE {
            warnings.push(format!(
                "`timeouts.idle_secs`: {} s is below the 10 minutes RFC 1939 §3 asks of the \
                 autologout timer; clients that pause between commands will be disconnected",
                self.timeouts.idle.as_secs()
            ));
        }
        let proxies = (self.listeners.iter())
            .filter_map(|l| l.trusted_proxies.as_ref())
            .chain(self.lmtp.as_ref().and_then(|l| l.trusted_proxies.as_ref()));
        if proxies.flatten().any(crate::Cidr::is_everything) {
            warnings.push(
                "`trusted_proxies`: a /0 block trusts every address, so any client can send a \
                 PROXY header and choose the address its limits, penalties and logs see; list \
                 the load balancers' own addresses"
                    .to_owned(),
            );
        }
        if let Some(address) = self.lmtp.as_ref().and_then(|l| l.address)
            && !address.ip().is_loopback()
        {
            warnings.push(format!(
                "`lmtp.address`: {address} is not a loopback address; anyone who can reach it \
                 can deliver mail to every user (only the Unix socket checks its peers)"
            ));
        }
        warnings
    }
}

/// The file as written. Every section and key is optional except the listeners and data.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
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
    lmtp: Option<Spanned<RawLmtp>>,
    #[serde(default)]
    quota: RawQuota,
}

impl RawConfig {
    /// Each section's own check, in the order of the file; the first failure is reported.
    fn validate(self) -> Result<Config, Invalid> {
        let (listeners, tls) = listeners::validate(&self.listeners, self.tls)?;
        let data = self.data.validate()?;
        let auth = self.auth.validate()?;
        let limits = self.limits.validate()?;
        let log_json = self.log.json()?;
        let timeouts = self.timeouts.validate()?;
        let server = self.server.validate()?;
        let http_limits = self.metrics.limits()?;
        let metrics_address = self.metrics.validate()?;
        let listing_cache = self.mailbox.listing_cache()?;
        // Not the server's to use, but checked as the admin tool checks it.
        self.admin.nodes()?;
        let history = self.admin.history()?;
        let lmtp = match self.lmtp {
            Some(raw) => {
                let section = Spanned::new(raw.span(), ());
                Some(raw.into_inner().validate(&section, &server.hostname)?)
            }
            None => None,
        };
        let quota = self.quota.validate()?;
        let protocol = pop3_proto::Config {
            cleartext: auth.cleartext,
            starttls: false,
            apop: auth.apop,
            sasl_mechanisms: auth.sasl_mechanisms,
            last_command: server.last_command,
            login_delay: server.login_delay,
            expire: server.expire,
            implementation: server.implementation,
            greeting: server.greeting,
            limits: limits.protocol,
        };
        Ok(Config {
            listeners,
            tls,
            user_db: data.user_db,
            mail_root: data.mail_root,
            protocol,
            argon2: auth.argon2,
            scram_iterations: auth.scram_iterations,
            hash_concurrency: auth.hash_concurrency,
            throttle: auth.throttle,
            max_connections: limits.max_connections,
            max_connections_per_ip: limits.max_connections_per_ip,
            ipv6_prefix: limits.ipv6_prefix,
            timeouts,
            lock_wait: Duration::from_millis(self.mailbox.lock_wait_ms),
            mark_seen: self.mailbox.mark_seen,
            listing_cache,
            log_json,
            log_level: self.log.level,
            run_as: self.privileges.map(RawPrivileges::into_pair),
            hostname: server.hostname,
            trust_loopback: auth.trust_loopback,
            metrics_address,
            http_limits,
            admin_socket: self.admin.enabled.then_some(self.admin.socket),
            history,
            lmtp,
            quota,
        })
    }
}
