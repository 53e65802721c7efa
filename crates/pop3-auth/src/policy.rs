//! Per-user site policy (issue 19): a user's own EXPIRE, LOGIN-DELAY and quota values, each
//! overriding the site default from the configuration when set.
//!
//! **The store keeps each value as text, `NULL` meaning "the site default"**, and this module
//! is the one place that reads and writes that text: `pop3-admin user set` validates and
//! writes a canonical form ([`Setting::canonical`]), the server parses it at login
//! ([`UserPolicy::expire`], ...). Text rather than integer columns because an administrator
//! may write a row by hand (or an older tool may), and **a value that does not parse falls
//! back to the site default with a warning, never to "unlimited"**: the parse functions say
//! which it was, the caller logs.

use std::fmt;

/// One per-user setting: the column it lives in and the values it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Setting {
    /// RFC 2449 §6.7 EXPIRE: days a retrieved message is kept, `0` (removed at the QUIT of
    /// the session that retrieved it) or `never`.
    Expire,
    /// RFC 2449 §6.5 LOGIN-DELAY: the least number of seconds between two logins.
    LoginDelay,
    /// The most messages the maildrop may hold, or `unlimited`.
    QuotaMessages,
    /// The most octets the maildrop may hold (`K`, `M`, `G` suffixes are 1024-based), or
    /// `unlimited`.
    QuotaBytes,
}

/// The longest EXPIRE, in days (a hundred years): more is a typing mistake.
pub const MAX_EXPIRE_DAYS: u32 = 36_500;

/// The longest LOGIN-DELAY, in seconds (one day): more locks a user out for good.
pub const MAX_LOGIN_DELAY_SECS: u32 = 86_400;

/// A stored or typed value that is not one the setting takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting} must be {expected}, not {value:?}")]
pub struct InvalidSetting {
    /// The setting.
    pub setting: Setting,
    /// The value as given (at most 64 characters of it).
    pub value: String,
    /// What it takes.
    pub expected: &'static str,
}

impl Setting {
    /// Every setting, in the order `pop3-admin` shows them.
    pub const ALL: [Setting; 4] = [
        Setting::Expire,
        Setting::LoginDelay,
        Setting::QuotaMessages,
        Setting::QuotaBytes,
    ];

    /// The name `pop3-admin user set` and the messages use (also the column, with `_`).
    pub fn name(self) -> &'static str {
        match self {
            Setting::Expire => "expire",
            Setting::LoginDelay => "login-delay",
            Setting::QuotaMessages => "quota-messages",
            Setting::QuotaBytes => "quota-bytes",
        }
    }

    /// The setting named `name` ([`Setting::name`], or the column name).
    pub fn from_name(name: &str) -> Option<Setting> {
        Setting::ALL
            .into_iter()
            .find(|s| s.name() == name || s.column() == name)
    }

    /// The column in `users`.
    pub(crate) fn column(self) -> &'static str {
        match self {
            Setting::Expire => "expire",
            Setting::LoginDelay => "login_delay",
            Setting::QuotaMessages => "quota_messages",
            Setting::QuotaBytes => "quota_bytes",
        }
    }

    /// What the setting takes, for messages.
    fn expected(self) -> &'static str {
        match self {
            Setting::Expire => "a number of days from 0 to 36500, or \"never\"",
            Setting::LoginDelay => "a number of seconds from 0 to 86400",
            Setting::QuotaMessages => "a number of messages, or \"unlimited\" (or 0)",
            Setting::QuotaBytes => {
                "a number of octets (K, M, G, T: 1024-based), or \"unlimited\" (or 0)"
            }
        }
    }

    /// The value as stored for `text` as typed (`"30"`, `"NEVER"`, `"2G"`), or why not.
    pub fn canonical(self, text: &str) -> Result<String, InvalidSetting> {
        Ok(match self {
            Setting::Expire => match parse_expire(text).map_err(|()| self.invalid(text))? {
                None => "never".to_owned(),
                Some(days) => days.to_string(),
            },
            Setting::LoginDelay => parse_login_delay(text)
                .map_err(|()| self.invalid(text))?
                .to_string(),
            Setting::QuotaMessages | Setting::QuotaBytes => {
                match parse_limit(text, self == Setting::QuotaBytes)
                    .map_err(|()| self.invalid(text))?
                {
                    None => "unlimited".to_owned(),
                    Some(limit) => limit.to_string(),
                }
            }
        })
    }

    fn invalid(self, text: &str) -> InvalidSetting {
        InvalidSetting {
            setting: self,
            value: text.chars().take(64).collect(),
            expected: self.expected(),
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A user's own values as stored, `None` where the site default applies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserPolicy {
    /// [`Setting::Expire`].
    pub expire: Option<String>,
    /// [`Setting::LoginDelay`].
    pub login_delay: Option<String>,
    /// [`Setting::QuotaMessages`].
    pub quota_messages: Option<String>,
    /// [`Setting::QuotaBytes`].
    pub quota_bytes: Option<String>,
}

/// A value of a user's policy: their own, the site's, or the site's because theirs could not
/// be read (the caller logs that).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved<T> {
    /// The user's own value.
    Own(T),
    /// No value of their own: the site default.
    Site(T),
    /// Their value did not parse: the site default, and the reason to log.
    Unreadable(T, InvalidSetting),
}

impl<T> Resolved<T> {
    /// The value in effect.
    pub fn value(self) -> T {
        match self {
            Resolved::Own(value) | Resolved::Site(value) | Resolved::Unreadable(value, _) => value,
        }
    }
}

impl UserPolicy {
    /// The stored text of `setting`.
    pub fn get(&self, setting: Setting) -> Option<&str> {
        match setting {
            Setting::Expire => self.expire.as_deref(),
            Setting::LoginDelay => self.login_delay.as_deref(),
            Setting::QuotaMessages => self.quota_messages.as_deref(),
            Setting::QuotaBytes => self.quota_bytes.as_deref(),
        }
    }

    /// Whether any value is the user's own.
    pub fn is_empty(&self) -> bool {
        Setting::ALL.into_iter().all(|s| self.get(s).is_none())
    }

    /// EXPIRE in days (`None`: never), given the site's.
    pub fn expire(&self, site: Option<u32>) -> Resolved<Option<u32>> {
        resolve(
            self.get(Setting::Expire),
            Setting::Expire,
            site,
            parse_expire,
        )
    }

    /// LOGIN-DELAY in seconds, given the site's.
    pub fn login_delay(&self, site: u32) -> Resolved<u32> {
        resolve(
            self.get(Setting::LoginDelay),
            Setting::LoginDelay,
            site,
            parse_login_delay,
        )
    }

    /// The message limit (`None`: unlimited), given the site's.
    pub fn quota_messages(&self, site: Option<u64>) -> Resolved<Option<u64>> {
        resolve(
            self.get(Setting::QuotaMessages),
            Setting::QuotaMessages,
            site,
            |text| parse_limit(text, false),
        )
    }

    /// The octet limit (`None`: unlimited), given the site's.
    pub fn quota_bytes(&self, site: Option<u64>) -> Resolved<Option<u64>> {
        resolve(
            self.get(Setting::QuotaBytes),
            Setting::QuotaBytes,
            site,
            |text| parse_limit(text, true),
        )
    }
}

/// The least of the values users have of their own ([`crate::UserStore::policy_overrides`]),
/// `None` where no user has one: CAPA before login announces the least of these and the
/// site's, tagged `USER` (RFC 2449 §6.5, §6.7: EXPIRE is the retention the server
/// guarantees, LOGIN-DELAY the delay every user gets at least). Values that do not parse are
/// left out: those users get the site's value, which CAPA counts anyway.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyOverrides {
    /// The shortest EXPIRE of a user's own: `Some(None)` when all of them are `never`.
    pub expire: Option<Option<u32>>,
    /// The shortest LOGIN-DELAY of a user's own, in seconds.
    pub login_delay: Option<u32>,
}

impl PolicyOverrides {
    /// The least of the stored texts of each setting (as the stores read them: the distinct
    /// non-NULL values).
    pub(crate) fn from_values(expire: &[String], login_delay: &[String]) -> PolicyOverrides {
        let expire = expire
            .iter()
            .filter_map(|text| parse_expire(text).ok())
            // `None` (never) sorts after every number of days.
            .min_by_key(|days| days.map_or(u64::MAX, u64::from));
        let login_delay = login_delay
            .iter()
            .filter_map(|text| parse_login_delay(text).ok())
            .min();
        PolicyOverrides {
            expire,
            login_delay,
        }
    }
}

fn resolve<T>(
    stored: Option<&str>,
    setting: Setting,
    site: T,
    parse: impl Fn(&str) -> Result<T, ()>,
) -> Resolved<T> {
    match stored {
        None => Resolved::Site(site),
        Some(text) => match parse(text) {
            Ok(value) => Resolved::Own(value),
            Err(()) => Resolved::Unreadable(site, setting.invalid(text)),
        },
    }
}

/// `never` (any case) or days up to [`MAX_EXPIRE_DAYS`].
fn parse_expire(text: &str) -> Result<Option<u32>, ()> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("never") {
        return Ok(None);
    }
    match number(text)? {
        days @ 0..=36_500 => Ok(Some(u32::try_from(days).map_err(|_| ())?)),
        _ => Err(()),
    }
}

fn parse_login_delay(text: &str) -> Result<u32, ()> {
    match number(text.trim())? {
        secs @ 0..=86_400 => u32::try_from(secs).map_err(|_| ()),
        _ => Err(()),
    }
}

/// `unlimited` (any case) or a count; octets may end in `K`, `M`, `G` or `T` (1024-based,
/// as the site's `[quota] bytes`). **0 means no limit**, as in the site's `[quota]` and in
/// Maildir++.
fn parse_limit(text: &str, octets: bool) -> Result<Option<u64>, ()> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    // By suffix, never by byte index.
    let unit = |suffix: char| {
        text.strip_suffix(suffix)
            .or_else(|| text.strip_suffix(suffix.to_ascii_lowercase()))
    };
    let scaled = [('K', 10), ('M', 20), ('G', 30), ('T', 40)]
        .into_iter()
        .find_map(|(suffix, shift)| Some((unit(suffix)?, 1u64 << shift)));
    let (digits, scale) = match scaled {
        Some(scaled) if octets => scaled,
        _ => (text, 1),
    };
    match number(digits)?.checked_mul(scale) {
        Some(0) => Ok(None),
        Some(limit) if limit <= i64::MAX as u64 => Ok(Some(limit)),
        _ => Err(()),
    }
}

/// Plain decimal digits only (no sign, no spaces inside), at most 18 of them.
fn number(text: &str) -> Result<u64, ()> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    text.parse().map_err(|_| ())
}

#[cfg(test)]
mod tests;
