//! `[limits]`, `[timeouts]` and `[mailbox]`: how much, how long, and how a maildrop is held.

use std::time::Duration;

use pop3_proto::{Limits, MIN_LINE_OCTETS};
use serde::Deserialize;
use toml::Spanned;

use crate::error::{Invalid, invalid};

/// RFC 1939 §3: "the autologout timer MUST be of at least 10 minutes". Shorter idle timeouts
/// are accepted (the tests use 1 s) but reported by [`crate::Config::warnings`].
pub(crate) const RFC_MIN_IDLE: Duration = Duration::from_secs(600);

/// Timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// From connect to successful login, however slowly bytes trickle in.
    pub login: Duration,
    /// Without a command after login (RFC 1939 §3: at least 10 minutes; shorter values are
    /// accepted with a warning, see [`crate::Config::warnings`]).
    pub idle: Duration,
    /// The TLS handshake.
    pub tls_handshake: Duration,
    /// A write that makes no progress: the reader stopped reading.
    pub output_stall: Duration,
    /// How long shutdown waits for sessions before exiting.
    pub shutdown_grace: Duration,
    /// From connect to a complete PROXY protocol header, on listeners that expect one.
    pub proxy_header: Duration,
}

/// `[limits]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawLimits {
    connections: usize,
    connections_per_ip: usize,
    ipv6_prefix: Spanned<u8>,
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
            ipv6_prefix: Spanned::new(0..0, DEFAULT_IPV6_PREFIX),
            max_line: Spanned::new(0..0, limits.max_line_octets),
            bad_commands_before_login: limits.bad_commands_before_login,
            bad_commands_after_login: limits.bad_commands_after_login,
            failed_auths: limits.failed_auths,
        }
    }
}

/// `[limits]`, validated: the protocol's limits, and the connection limits (at least 1 each).
pub(crate) struct ValidLimits {
    pub(crate) protocol: Limits,
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_ip: usize,
    pub(crate) ipv6_prefix: u8,
}

/// The default IPv6 prefix that counts as one client address: a /64 is what one subscriber,
/// or one host with privacy addresses, usually has.
pub(crate) const DEFAULT_IPV6_PREFIX: u8 = 64;

/// The IPv6 prefix lengths allowed for `limits.ipv6_prefix`: shorter than /32 would lump
/// whole providers together.
pub(crate) const IPV6_PREFIXES: std::ops::RangeInclusive<u8> = 32..=128;

impl RawLimits {
    /// RFC 2449 §4: a line of 255 octets must fit; every count is at least 1.
    pub(crate) fn validate(self) -> Result<ValidLimits, Invalid> {
        if *self.max_line.get_ref() < MIN_LINE_OCTETS {
            return Err(invalid(
                "limits.max_line",
                &self.max_line,
                "must be at least 255 (RFC 2449)",
            ));
        }
        if !IPV6_PREFIXES.contains(self.ipv6_prefix.get_ref()) {
            return Err(invalid(
                "limits.ipv6_prefix",
                &self.ipv6_prefix,
                "must be from 32 to 128",
            ));
        }
        Ok(ValidLimits {
            protocol: Limits {
                max_line_octets: self.max_line.into_inner(),
                bad_commands_before_login: self.bad_commands_before_login.max(1),
                bad_commands_after_login: self.bad_commands_after_login.max(1),
                failed_auths: self.failed_auths.max(1),
                ..Limits::default()
            },
            max_connections: self.connections.max(1),
            max_connections_per_ip: self.connections_per_ip.max(1),
            ipv6_prefix: self.ipv6_prefix.into_inner(),
        })
    }
}

/// `[timeouts]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawTimeouts {
    login_secs: u64,
    idle_secs: u64,
    tls_handshake_secs: u64,
    output_stall_secs: u64,
    shutdown_grace_secs: u64,
    proxy_header_secs: u64,
}

impl Default for RawTimeouts {
    fn default() -> RawTimeouts {
        RawTimeouts {
            login_secs: 60,
            idle_secs: 600,
            tls_handshake_secs: 30,
            output_stall_secs: 60,
            shutdown_grace_secs: 10,
            proxy_header_secs: 5,
        }
    }
}

impl RawTimeouts {
    /// Every timeout but the shutdown grace is at least 1 second (0 would end every session
    /// at once). The idle timeout below RFC 1939's 10 minutes is a warning, not an error.
    pub(crate) fn validate(self) -> Result<Timeouts, Invalid> {
        if [
            self.login_secs,
            self.idle_secs,
            self.tls_handshake_secs,
            self.output_stall_secs,
            self.proxy_header_secs,
        ]
        .contains(&0)
        {
            return Err((
                "`timeouts`: every timeout must be at least 1 second".into(),
                None,
            ));
        }
        Ok(Timeouts {
            login: Duration::from_secs(self.login_secs),
            idle: Duration::from_secs(self.idle_secs),
            tls_handshake: Duration::from_secs(self.tls_handshake_secs),
            output_stall: Duration::from_secs(self.output_stall_secs),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
            proxy_header: Duration::from_secs(self.proxy_header_secs),
        })
    }
}

/// `[mailbox]` as written (nothing to validate).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawMailbox {
    pub(crate) lock_wait_ms: u64,
    pub(crate) mark_seen: bool,
    pub(crate) listing_cache: Spanned<String>,
}

impl RawMailbox {
    /// `mailbox.listing_cache`: "auto", "on" or "off".
    pub(crate) fn listing_cache(&self) -> Result<pop3_maildrop::ListingCache, Invalid> {
        match self.listing_cache.get_ref().as_str() {
            "auto" => Ok(pop3_maildrop::ListingCache::Auto),
            "on" => Ok(pop3_maildrop::ListingCache::On),
            "off" => Ok(pop3_maildrop::ListingCache::Off),
            _ => Err(invalid(
                "mailbox.listing_cache",
                &self.listing_cache,
                "must be \"auto\", \"on\" or \"off\"",
            )),
        }
    }
}

/// How long a login waits for a maildrop's lock by default: long enough for the UPDATE of a
/// session that just sent QUIT (10,000 deletions take about 0.6 s), short enough that a
/// client meeting a session that stays gets `[IN-USE]` soon.
pub(crate) const DEFAULT_LOCK_WAIT_MS: u64 = 2_000;

impl Default for RawMailbox {
    fn default() -> RawMailbox {
        RawMailbox {
            lock_wait_ms: DEFAULT_LOCK_WAIT_MS,
            mark_seen: false,
            listing_cache: Spanned::new(0..0, "auto".to_owned()),
        }
    }
}
