//! What the driver tells a session: the server's policy ([`Config`]) and the facts about this
//! one connection ([`Connection`]).

use crate::sasl::Mechanism;

/// When a cleartext password (USER/PASS, SASL PLAIN and LOGIN) may be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CleartextPolicy {
    /// Only over TLS.
    Never,
    /// Over TLS, or on a connection from a loopback address. The default.
    #[default]
    Loopback,
    /// Always, even over plaintext from anywhere. Not recommended.
    Always,
}

/// RFC 2449 §6.7 EXPIRE: how long the server keeps mail that was retrieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expire {
    /// `EXPIRE NEVER`: the server never deletes mail by itself.
    Never,
    /// `EXPIRE n`: retrieved mail may be deleted after this many days (0: at once).
    Days(u32),
}

/// The limits a session enforces on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest command line accepted, line ending included. RFC 2449 §4 requires at least
    /// 255; the default, 2048, leaves room for a 1 KiB password in `AUTH PLAIN`.
    pub max_line_octets: usize,
    /// Consecutive invalid commands before login after which the session closes (default 3).
    pub bad_commands_before_login: u32,
    /// Consecutive invalid commands after login after which the session closes (default 20).
    pub bad_commands_after_login: u32,
    /// Failed authentications on one connection after which it closes (default 3).
    pub failed_auths: u32,
    /// The session stops executing commands while this many octets of output wait to be sent
    /// (default 64 KiB); listings are generated as the output drains.
    pub output_high_water: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_line_octets: 2048,
            bad_commands_before_login: 3,
            bad_commands_after_login: 20,
            failed_auths: 3,
            output_high_water: 64 * 1024,
        }
    }
}

/// The smallest `max_line_octets` a session accepts (RFC 2449 §4).
pub const MIN_LINE_OCTETS: usize = 255;

/// The server's policy, shared by every session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// When cleartext passwords are allowed.
    pub cleartext: CleartextPolicy,
    /// Whether STLS is offered (the listener has a certificate).
    pub starttls: bool,
    /// Whether APOP is enabled (RFC 1939 §7; off by default, as its MD5 digest is weak).
    pub apop: bool,
    /// The SASL mechanisms offered, in the order listed.
    pub sasl_mechanisms: Vec<Mechanism>,
    /// Whether the RFC 1460 LAST command is enabled (off by default).
    pub last_command: bool,
    /// The `LOGIN-DELAY` seconds to announce in CAPA, if the server enforces one.
    pub login_delay: Option<u32>,
    /// The `EXPIRE` policy to announce in CAPA, if any.
    pub expire: Option<Expire>,
    /// The `IMPLEMENTATION` text for CAPA; `None` to not announce one.
    pub implementation: Option<String>,
    /// The greeting text after `+OK`.
    pub greeting: String,
    /// The per-session limits.
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            cleartext: CleartextPolicy::default(),
            starttls: false,
            apop: false,
            sasl_mechanisms: vec![Mechanism::Plain, Mechanism::Login],
            last_command: false,
            login_delay: None,
            expire: None,
            implementation: Some("pop3d".to_owned()),
            greeting: "POP3 server ready".to_owned(),
            limits: Limits::default(),
        }
    }
}

/// The facts about one connection that the policy depends on.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Connection {
    /// The connection is already TLS (an implicit-TLS listener).
    pub secure: bool,
    /// The peer's address is a loopback address.
    pub loopback: bool,
    /// The APOP timestamp for the greeting, `<random.clock@host>`, made by the driver. Only sent
    /// when APOP is enabled; without one, APOP is refused.
    pub apop_timestamp: Option<String>,
    /// The least of the values users have of their own: CAPA before login announces the
    /// least of these and the site's, followed by `USER` (RFC 2449 §6.5, §6.7). Known to the
    /// driver when the connection starts.
    pub per_user: PerUser,
}

/// The least of the values users have of their own ([`Connection::per_user`]), `None` where
/// no user has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PerUser {
    /// The shortest LOGIN-DELAY of a user's own.
    pub login_delay: Option<u32>,
    /// The shortest EXPIRE of a user's own.
    pub expire: Option<Expire>,
}

/// The values that apply to the user who logged in, given by the driver with
/// `Session::handle_user_terms` before it accepts the login: CAPA after login announces them
/// (without `USER`), and EXPIRE 0 follows them at QUIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct UserTerms {
    /// The user's LOGIN-DELAY in seconds; `None`: none announced.
    pub login_delay: Option<u32>,
    /// The user's EXPIRE; `None`: none announced (the server never expires mail).
    pub expire: Option<Expire>,
}

impl Connection {
    /// Whether a cleartext password may be accepted on this connection now.
    pub(crate) fn cleartext_allowed(&self, policy: CleartextPolicy) -> bool {
        self.secure
            || match policy {
                CleartextPolicy::Never => false,
                CleartextPolicy::Loopback => self.loopback,
                CleartextPolicy::Always => true,
            }
    }
}
