//! `[log]`, `[privileges]` and `[server]`: logging, the user to run as, and what the server
//! announces (greeting, CAPA, APOP host name).

use pop3_proto::Expire;
use serde::Deserialize;
use toml::Spanned;

use crate::error::{Invalid, invalid};

/// `[log]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawLog {
    format: Spanned<String>,
    pub(crate) level: String,
}

impl Default for RawLog {
    fn default() -> RawLog {
        RawLog {
            format: Spanned::new(0..0, "text".into()),
            level: "info".into(),
        }
    }
}

impl RawLog {
    /// Whether to log JSON lines (`format = "json"`) rather than text.
    pub(crate) fn json(&self) -> Result<bool, Invalid> {
        match self.format.get_ref().as_str() {
            "text" => Ok(false),
            "json" => Ok(true),
            _ => Err(invalid("log.format", &self.format, "must be text or json")),
        }
    }
}

/// `[privileges]` as written: both keys, or no section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPrivileges {
    user: String,
    group: String,
}

impl RawPrivileges {
    /// The user and group.
    pub(crate) fn into_pair(self) -> (String, String) {
        (self.user, self.group)
    }
}

/// `[server]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawServer {
    hostname: Option<String>,
    implementation: Option<String>,
    greeting: Option<String>,
    last_command: bool,
    login_delay_secs: Option<Spanned<u32>>,
    expire: Option<Spanned<String>>,
}

/// `[server]`, validated.
pub(crate) struct ServerSection {
    pub(crate) hostname: String,
    pub(crate) implementation: Option<String>,
    pub(crate) greeting: String,
    pub(crate) last_command: bool,
    pub(crate) login_delay: Option<u32>,
    pub(crate) expire: Option<Expire>,
}

impl RawServer {
    /// EXPIRE is `never` or days (RFC 2449 §6.7); IMPLEMENTATION is printable ASCII, and `""`
    /// announces none. The host name defaults to the system's.
    pub(crate) fn validate(self) -> Result<ServerSection, Invalid> {
        let expire = match &self.expire {
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
        // One day at most: more locks a user out for good (the same bound as per-user values).
        if let Some(secs) = &self.login_delay_secs
            && *secs.get_ref() > pop3_auth::MAX_LOGIN_DELAY_SECS
        {
            return Err(invalid(
                "server.login_delay_secs",
                secs,
                "must be at most 86400 (one day)",
            ));
        }
        let defaults = pop3_proto::Config::default();
        let implementation = match self.implementation {
            Some(text) if text.is_empty() => None,
            Some(text) if !text.chars().all(|c| c.is_ascii_graphic() || c == ' ') => {
                return Err(("`server.implementation`: printable ASCII only".into(), None));
            }
            Some(text) => Some(text),
            None => defaults.implementation,
        };
        Ok(ServerSection {
            hostname: self.hostname.unwrap_or_else(system_hostname),
            implementation,
            greeting: self.greeting.unwrap_or(defaults.greeting),
            last_command: self.last_command,
            login_delay: self.login_delay_secs.map(Spanned::into_inner),
            expire,
        })
    }
}

fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}
