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
        // Writing to a String cannot fail.
        if let Some(delay) = self.config.login_delay {
            let _ = write!(capa, "LOGIN-DELAY {delay}\r\n");
        }
        match self.config.expire {
            Some(Expire::Never) => capa.push_str("EXPIRE NEVER\r\n"),
            Some(Expire::Days(days)) => {
                let _ = write!(capa, "EXPIRE {days}\r\n");
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
