//! SASL for the AUTH command (RFC 5034): the PLAIN (RFC 4616), LOGIN and SCRAM-SHA-256
//! (RFC 5802, RFC 7677) mechanisms.
//!
//! PLAIN and LOGIN carry a cleartext password, so the session offers them only when cleartext
//! authentication is allowed on the connection. SCRAM-SHA-256 never sends the password and is
//! offered on any connection, like APOP; this crate only ferries its messages: the driver
//! (with `pop3-auth`) reads the client-first-message and makes the server-first-message
//! ([`Step::Relay`]), verifies the client-final-message ([`Step::Verify`]), and hands back the
//! server-final-message, which is sent as a last challenge that the client acknowledges with
//! an empty response ([`Step::Acknowledged`]; RFC 5034 §4 has no additional data on `+OK`). Decoding is strict and bounded: base64 must be
//! canonical (padding required, no stray bits, no whitespace), PLAIN must hold exactly two NULs,
//! the authentication identity must not be empty, and the authorization identity must be empty
//! or equal to it. Every failure is a [`SaslError`], which the session answers with `-ERR`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// The largest decoded SASL response we accept, in octets. A PLAIN response holds two names of
/// at most 255 octets and a password of at most 1 KiB, with room to spare.
pub const MAX_DECODED_RESPONSE: usize = 2048;

/// A SASL mechanism this server implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// PLAIN (RFC 4616).
    Plain,
    /// LOGIN (draft-murchison-sasl-login), still used by Outlook.
    Login,
    /// SCRAM-SHA-256 (RFC 7677), without channel binding.
    ScramSha256,
}

impl Mechanism {
    /// The IANA name, as listed in CAPA and given to AUTH.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
        }
    }

    /// Whether the mechanism sends the password itself (PLAIN, LOGIN): such a mechanism is
    /// offered only where cleartext passwords are allowed.
    pub fn carries_cleartext(self) -> bool {
        matches!(self, Mechanism::Plain | Mechanism::Login)
    }

    /// Looks a mechanism up by name, case-insensitively.
    pub fn from_name(name: &[u8]) -> Option<Mechanism> {
        [Mechanism::Plain, Mechanism::Login, Mechanism::ScramSha256]
            .into_iter()
            .find(|m| m.name().as_bytes().eq_ignore_ascii_case(name))
    }
}

/// Why a SASL exchange failed before any credentials were checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaslError {
    /// The client sent `*` (RFC 5034 §4).
    Cancelled,
    /// The response was not canonical base64.
    InvalidBase64,
    /// The decoded response exceeded [`MAX_DECODED_RESPONSE`].
    TooLong,
    /// PLAIN: not exactly `authzid NUL authcid NUL password`; LOGIN: a NUL inside a field.
    Malformed,
    /// The authentication identity was empty.
    EmptyIdentity,
    /// The password was empty.
    EmptyPassword,
    /// PLAIN: an authorization identity other than the authentication identity (compared
    /// ignoring ASCII case, as user names are folded).
    AuthzidMismatch,
    /// An identity that is not UTF-8 or holds control characters.
    InvalidIdentity,
    /// SCRAM: a response where an empty one was due (after the server-final-message).
    UnexpectedData,
}

impl fmt::Display for SaslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SaslError::Cancelled => "authentication cancelled",
            SaslError::InvalidBase64 => "invalid base64 in SASL response",
            SaslError::TooLong => "SASL response too long",
            SaslError::Malformed => "malformed SASL response",
            SaslError::EmptyIdentity => "empty authentication identity",
            SaslError::EmptyPassword => "empty password",
            SaslError::AuthzidMismatch => {
                "authorization identity must be empty or equal to the user"
            }
            SaslError::InvalidIdentity => "invalid user name",
            SaslError::UnexpectedData => "expected an empty response",
        })
    }
}

impl std::error::Error for SaslError {}

/// A name and cleartext password that an exchange produced.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainCredentials {
    /// The authentication identity.
    pub user: String,
    /// The password, as raw bytes.
    pub password: Vec<u8>,
}

impl fmt::Debug for PlainCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainCredentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What the exchange wants next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send `+ <challenge>` and wait for the client's next line.
    Challenge(&'static str),
    /// The exchange is complete.
    Done(PlainCredentials),
    /// SCRAM: the driver must answer this client message (the client-first-message) with
    /// the next challenge, or refuse it.
    Relay(Vec<u8>),
    /// SCRAM: the client's last message (the client-final-message) of `user`'s exchange,
    /// for the driver to verify.
    Verify {
        /// The user name the driver read from the client-first-message.
        user: String,
        /// The client-final-message.
        response: Vec<u8>,
    },
    /// SCRAM: the client acknowledged the server-final-message; the exchange succeeded.
    Acknowledged,
    /// SCRAM: the client cancelled (`*`) after the server-first-message, which gave it the
    /// user's salt and iteration count. The driver counts it as a failed authentication of
    /// `user` (throttle, failed-auth limit), so that one connection cannot loop AUTH and `*`
    /// to harvest salts.
    Abandoned {
        /// The user name of the abandoned exchange.
        user: String,
    },
}

/// An exchange in progress: the state between two client lines.
#[derive(Debug)]
pub struct Exchange {
    mechanism: Mechanism,
    state: ExchangeState,
}

#[derive(Debug)]
enum ExchangeState {
    /// PLAIN, waiting for the one response.
    Plain,
    /// LOGIN, waiting for the user name.
    LoginUser,
    /// LOGIN, waiting for the password.
    LoginPassword(String),
    /// SCRAM, waiting for the client-first-message (or for the driver's answer to it).
    ScramClientFirst,
    /// SCRAM, waiting for the client-final-message of this user's exchange.
    ScramClientFinal(String),
    /// SCRAM, the server-final-message was sent: waiting for the empty response.
    ScramServerFinal,
}

/// LOGIN's challenges, base64 of `Username:` and `Password:`.
const LOGIN_USER_CHALLENGE: &str = "VXNlcm5hbWU6";
const LOGIN_PASSWORD_CHALLENGE: &str = "UGFzc3dvcmQ6";

impl Exchange {
    /// Starts an exchange. `initial_response` is the optional second argument of AUTH, still
    /// base64, where `=` stands for an empty response (RFC 5034 §4).
    pub fn start(
        mechanism: Mechanism,
        initial_response: Option<&[u8]>,
    ) -> Result<(Exchange, Step), SaslError> {
        let mut exchange = Exchange {
            mechanism,
            state: match mechanism {
                Mechanism::Plain => ExchangeState::Plain,
                Mechanism::Login => ExchangeState::LoginUser,
                Mechanism::ScramSha256 => ExchangeState::ScramClientFirst,
            },
        };
        let step = match initial_response {
            Some(response) => exchange.step(response)?,
            None => Step::Challenge(match mechanism {
                Mechanism::Plain | Mechanism::ScramSha256 => "",
                Mechanism::Login => LOGIN_USER_CHALLENGE,
            }),
        };
        Ok((exchange, step))
    }

    /// SCRAM: the driver answered the client-first-message of `user` with a challenge, which
    /// the session sent; the next line is the client-final-message.
    pub fn challenge_sent(&mut self, user: String) {
        self.state = ExchangeState::ScramClientFinal(user);
    }

    /// SCRAM: the driver accepted the exchange and its server-final-message was sent; the
    /// next line must be empty.
    pub fn server_final_sent(mechanism: Mechanism) -> Exchange {
        Exchange {
            mechanism,
            state: ExchangeState::ScramServerFinal,
        }
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Takes one client line of the exchange, base64 or `*`.
    pub fn step(&mut self, line: &[u8]) -> Result<Step, SaslError> {
        if line == b"*" {
            // After the server-first-message the client has its salt and iteration count:
            // giving up then is a failed authentication, not a harmless cancel (issue 19 D3).
            return match std::mem::replace(&mut self.state, ExchangeState::Plain) {
                ExchangeState::ScramClientFinal(user) => Ok(Step::Abandoned { user }),
                _ => Err(SaslError::Cancelled),
            };
        }
        let decoded = decode_response(line)?;
        match std::mem::replace(&mut self.state, ExchangeState::Plain) {
            ExchangeState::Plain => parse_plain(&decoded).map(Step::Done),
            ExchangeState::LoginUser => {
                let user = parse_identity(&decoded)?;
                if user.is_empty() {
                    return Err(SaslError::EmptyIdentity);
                }
                self.state = ExchangeState::LoginPassword(user);
                Ok(Step::Challenge(LOGIN_PASSWORD_CHALLENGE))
            }
            ExchangeState::ScramClientFirst => {
                self.state = ExchangeState::ScramClientFirst;
                Ok(Step::Relay(decoded))
            }
            ExchangeState::ScramClientFinal(user) => Ok(Step::Verify {
                user,
                response: decoded,
            }),
            ExchangeState::ScramServerFinal if decoded.is_empty() => Ok(Step::Acknowledged),
            ExchangeState::ScramServerFinal => Err(SaslError::UnexpectedData),
            ExchangeState::LoginPassword(user) => {
                if decoded.is_empty() {
                    return Err(SaslError::EmptyPassword);
                }
                if decoded.contains(&0) {
                    return Err(SaslError::Malformed);
                }
                Ok(Step::Done(PlainCredentials {
                    user,
                    password: decoded,
                }))
            }
        }
    }
}

/// Decodes one SASL response line: `=` is the empty response, anything else canonical base64.
pub fn decode_response(line: &[u8]) -> Result<Vec<u8>, SaslError> {
    if line == b"=" {
        return Ok(Vec::new());
    }
    // Four base64 characters carry three octets; reject before decoding anything oversized.
    if line.len() / 4 * 3 > MAX_DECODED_RESPONSE + 3 {
        return Err(SaslError::TooLong);
    }
    let decoded = BASE64.decode(line).map_err(|_| SaslError::InvalidBase64)?;
    if decoded.len() > MAX_DECODED_RESPONSE {
        return Err(SaslError::TooLong);
    }
    Ok(decoded)
}

/// Encodes bytes as base64, for clients and tests.
pub fn encode(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

/// RFC 4616 §2: `[authzid] NUL authcid NUL passwd`.
fn parse_plain(decoded: &[u8]) -> Result<PlainCredentials, SaslError> {
    let mut fields = decoded.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(SaslError::Malformed);
    };
    if authcid.is_empty() {
        return Err(SaslError::EmptyIdentity);
    }
    if password.is_empty() {
        return Err(SaslError::EmptyPassword);
    }
    // The server folds ASCII case before any lookup (`pop3-auth`'s `UserName`), so the
    // identities are compared after the same folding: `Alice\0alice\0pw` names one account.
    if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(authcid) {
        return Err(SaslError::AuthzidMismatch);
    }
    Ok(PlainCredentials {
        user: parse_identity(authcid)?,
        password: password.to_vec(),
    })
}

fn parse_identity(bytes: &[u8]) -> Result<String, SaslError> {
    if bytes.contains(&0) {
        return Err(SaslError::Malformed);
    }
    let name = std::str::from_utf8(bytes).map_err(|_| SaslError::InvalidIdentity)?;
    if name.chars().any(char::is_control) {
        return Err(SaslError::InvalidIdentity);
    }
    Ok(name.to_owned())
}
