//! CAPA (RFC 2449 §5): the capabilities that work right now, which differ before and after
//! login and before and after TLS.

use std::fmt::Write as _;

use super::common::Common;
use crate::config::{Expire, PerUser};

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
        // Writing to a String cannot fail. Before login, a value some user has their own of
        // is the site's followed by USER (RFC 2449 §6.5, §6.7); after login, the user's.
        let (login_delay, expire, per_user) = match (&self.terms, before_login) {
            (Some(terms), false) => (terms.login_delay, terms.expire, PerUser::default()),
            _ => (
                self.config.login_delay,
                self.config.expire,
                self.conn.per_user,
            ),
        };
        let login_delay = login_delay.or(per_user.login_delay.then_some(0));
        let expire = expire.or(per_user.expire.then_some(Expire::Never));
        let tag = |varies: bool| if varies { " USER" } else { "" };
        if let Some(delay) = login_delay {
            let _ = write!(capa, "LOGIN-DELAY {delay}{}\r\n", tag(per_user.login_delay));
        }
        match expire {
            Some(Expire::Never) => {
                let _ = write!(capa, "EXPIRE NEVER{}\r\n", tag(per_user.expire));
            }
            Some(Expire::Days(days)) => {
                let _ = write!(capa, "EXPIRE {days}{}\r\n", tag(per_user.expire));
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
