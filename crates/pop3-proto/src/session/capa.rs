//! CAPA (RFC 2449 §5): the capabilities that work right now, which differ before and after
//! login and before and after TLS.

use std::fmt::Write as _;

use super::common::Common;
use crate::config::Expire;

impl Common {
    /// Writes the CAPA reply for the connection, before or after login (the caller is the
    /// state, which knows which it is).
    pub(super) fn write_capa(&mut self, before_login: bool) {
        let mut capa = String::from("+OK Capability list follows\r\n");
        capa.push_str("TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n");
        if before_login {
            // USER and the SASL mechanisms carry cleartext passwords: listed only where they
            // would be accepted (RFC 2595 §6). STLS only while the connection is plaintext.
            if self.cleartext_allowed() {
                capa.push_str("USER\r\n");
            }
            let mechanisms = self.offered_mechanisms();
            if !mechanisms.is_empty() {
                capa.push_str("SASL");
                for mechanism in mechanisms {
                    capa.push(' ');
                    capa.push_str(mechanism.name());
                }
                capa.push_str("\r\n");
            }
            if self.config.starttls && !self.conn.secure {
                capa.push_str("STLS\r\n");
            }
        }
        // Writing to a String cannot fail. Before login, where some user has a value of
        // their own, CAPA shows the least of theirs and the site's, followed by USER (RFC
        // 2449 §6.5, §6.7: the delay everyone gets at least, the retention the server
        // guarantees); after login, the user's own, without USER (where the site announces
        // nothing, theirs is "none": LOGIN-DELAY 0, EXPIRE NEVER).
        let per_user = self.conn.per_user;
        let (login_delay, expire, tagged) = match (&self.terms, before_login) {
            (Some(terms), false) => (
                terms.login_delay.or(per_user.login_delay.map(|_| 0)),
                terms.expire.or(per_user.expire.map(|_| Expire::Never)),
                (false, false),
            ),
            _ => (
                least_delay(self.config.login_delay, per_user.login_delay),
                least_expire(self.config.expire, per_user.expire),
                (per_user.login_delay.is_some(), per_user.expire.is_some()),
            ),
        };
        let tag = |varies: bool| if varies { " USER" } else { "" };
        if let Some(delay) = login_delay {
            let _ = write!(capa, "LOGIN-DELAY {delay}{}\r\n", tag(tagged.0));
        }
        match expire {
            Some(Expire::Never) => {
                let _ = write!(capa, "EXPIRE NEVER{}\r\n", tag(tagged.1));
            }
            Some(Expire::Days(days)) => {
                let _ = write!(capa, "EXPIRE {days}{}\r\n", tag(tagged.1));
            }
            None => {}
        }
        if let Some(implementation) = &self.config.implementation {
            let _ = write!(capa, "IMPLEMENTATION {implementation}\r\n");
        }
        capa.push_str(".\r\n");
        self.out.extend_from_slice(capa.as_bytes());
    }
}

/// The least of the site's LOGIN-DELAY (none: 0) and the users' own.
fn least_delay(site: Option<u32>, users: Option<u32>) -> Option<u32> {
    match users {
        None => site,
        Some(users) => Some(site.unwrap_or(0).min(users)),
    }
}

/// The shorter of the site's EXPIRE (none: never) and the users' own.
fn least_expire(site: Option<Expire>, users: Option<Expire>) -> Option<Expire> {
    let days = |expire: &Expire| match expire {
        Expire::Never => u64::MAX,
        Expire::Days(days) => u64::from(*days),
    };
    match (site, users) {
        (site, None) => site,
        (None, Some(users)) => Some(users),
        (Some(site), Some(users)) => Some(if days(&users) < days(&site) {
            users
        } else {
            site
        }),
    }
}
