//! SCRAM-SHA-256 (RFC 5802, RFC 7677) on the server's side, as a pure, synchronous state
//! machine: no I/O, no clock; the randomness it needs (the server nonce, a salt) comes from
//! [`server_nonce`] and [`ScramKeys::generate`], which the caller runs.
//!
//! One exchange: [`ClientFirst::parse`] reads the client-first-message; the authenticator picks
//! the user's stored keys (or fake ones, see `Authenticator::scram_server_first`) and
//! [`ServerFirst::new`] makes the server-first-message; [`ServerFirst::parse_final`] reads the
//! client-final-message and checks what can be checked without the keys (channel binding
//! data, nonce); [`ServerFirst::verify`] checks the proof in constant time, and
//! [`ServerFirst::server_final`] is the server-final-message sent on success.
//!
//! **The stored secret is PostgreSQL's format**, `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`
//! (base64), so keys can be compared with, or carried from, PostgreSQL's `pg_authid`. It is
//! weaker against offline guessing than argon2id: PBKDF2-SHA-256 at a few thousand
//! iterations, cheap on GPUs.
//!
//! # Non-goals
//! Channel binding (SCRAM-SHA-256-PLUS): a `p=` flag is refused; `y` is accepted because this
//! server never offers -PLUS (RFC 5802 §6). SASLprep (RFC 4013) is not applied: keys are
//! derived from the password's bytes, which SASLprep leaves unchanged for printable ASCII.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::{Error, Result};

/// The fewest PBKDF2 iterations RFC 7677 §4 allows, and the default.
pub const SCRAM_MIN_ITERATIONS: u32 = 4096;

/// The most iterations a stored secret or the configuration may have: the client pays for
/// them at each login, and a stored secret above this is treated as absent.
pub const SCRAM_MAX_ITERATIONS: u32 = 10_000_000;

/// The longest message of an exchange accepted, in octets (names are at most 255 octets).
pub const MAX_SCRAM_MESSAGE: usize = 1024;

/// The mechanism's name.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";

type HmacSha256 = Hmac<Sha256>;

/// Why a SCRAM message was refused. The text is safe to send to the client: it says what is
/// wrong with the message, never anything about the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScramError {
    /// Longer than [`MAX_SCRAM_MESSAGE`].
    TooLong,
    /// Not the grammar of RFC 5802 §7.
    Malformed,
    /// A GS2 header this server does not accept (`p=`: channel binding is not offered).
    ChannelBindingNotSupported,
    /// `m=`, a mandatory extension (RFC 5802 §5.1).
    MandatoryExtension,
    /// An authorization identity other than the user.
    AuthzidMismatch,
    /// `c=` is not the GS2 header of the client-first-message.
    ChannelBindingMismatch,
    /// `r=` is not the nonce of the server-first-message.
    NonceMismatch,
}

impl fmt::Display for ScramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScramError::TooLong => "SCRAM message too long",
            ScramError::Malformed => "malformed SCRAM message",
            ScramError::ChannelBindingNotSupported => "channel binding not supported",
            ScramError::MandatoryExtension => "unsupported SCRAM extension",
            ScramError::AuthzidMismatch => {
                "authorization identity must be empty or equal to the user"
            }
            ScramError::ChannelBindingMismatch => "channel binding data does not match",
            ScramError::NonceMismatch => "nonce does not match",
        })
    }
}

impl std::error::Error for ScramError {}

/// The salted keys of one password: what the server stores instead of the password.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramKeys {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: [u8; 32],
    server_key: [u8; 32],
}

/// Debug shows the iteration count only.
impl fmt::Debug for ScramKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramKeys")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramKeys {
    /// The keys of `password` with this salt and count (RFC 5802 §3): SaltedPassword =
    /// PBKDF2-HMAC-SHA-256, StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey =
    /// HMAC(SaltedPassword, "Server Key").
    pub fn derive(password: &[u8], salt: &[u8], iterations: u32) -> ScramKeys {
        let mut salted = zeroize::Zeroizing::new([0u8; 32]);
        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, salted.as_mut());
        let client_key = zeroize::Zeroizing::new(hmac(salted.as_ref(), b"Client Key"));
        ScramKeys {
            iterations,
            salt: salt.to_vec(),
            stored_key: Sha256::digest(client_key.as_ref()).into(),
            server_key: hmac(salted.as_ref(), b"Server Key"),
        }
    }

    /// [`ScramKeys::derive`] with a fresh 16-byte random salt, for a password being set or
    /// just verified. **The password is normalised with SASLprep (RFC 4013) first**, as
    /// RFC 5802 §2.2 has clients do (GNU SASL, Cyrus): a password that is not UTF-8 or that
    /// SASLprep refuses is used as it is, as PostgreSQL does.
    pub fn generate(password: &[u8], iterations: u32) -> Result<ScramKeys> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| Error::Random(e.to_string()))?;
        let normalised = saslprep(password);
        Ok(ScramKeys::derive(
            normalised.as_bytes_or(password),
            &salt,
            iterations,
        ))
    }

    /// Parses a stored secret; `None` for anything but a well-formed SCRAM-SHA-256 secret
    /// with 4096 to [`SCRAM_MAX_ITERATIONS`] iterations and a salt of 8 to 64 octets.
    pub fn parse(stored: &str) -> Option<ScramKeys> {
        let rest = stored.strip_prefix("SCRAM-SHA-256$")?;
        let (params, keys) = rest.split_once('$')?;
        let (iterations, salt) = params.split_once(':')?;
        let (stored_key, server_key) = keys.split_once(':')?;
        if iterations.is_empty() || !iterations.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let iterations: u32 = iterations.parse().ok()?;
        let salt = BASE64.decode(salt).ok()?;
        if !(SCRAM_MIN_ITERATIONS..=SCRAM_MAX_ITERATIONS).contains(&iterations)
            || !(8..=64).contains(&salt.len())
        {
            return None;
        }
        Some(ScramKeys {
            iterations,
            salt,
            stored_key: BASE64.decode(stored_key).ok()?.try_into().ok()?,
            server_key: BASE64.decode(server_key).ok()?.try_into().ok()?,
        })
    }

    /// The PBKDF2 iteration count.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Keys no password opens, for a user who has none: the salt and both keys are
    /// HMAC-SHA-256 of `name` under `secret` (the site's key from the user database, else a
    /// per-process random one), so **the same name sees the same salt on every attempt** (on
    /// every node, after a restart) and nothing tells it from a real user.
    pub(crate) fn fake(secret: &[u8; 32], name: &str, iterations: u32) -> ScramKeys {
        let mac = |label: &[u8]| {
            let mut input = label.to_vec();
            input.extend_from_slice(name.as_bytes());
            hmac(secret, &input)
        };
        let salt = mac(b"salt\0");
        ScramKeys {
            iterations,
            salt: salt[..16].to_vec(),
            stored_key: mac(b"stored\0"),
            server_key: mac(b"server\0"),
        }
    }
}

/// The stored form, PostgreSQL's: `SCRAM-SHA-256$<i>:<salt>$<StoredKey>:<ServerKey>`.
impl fmt::Display for ScramKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            BASE64.encode(&self.salt),
            BASE64.encode(self.stored_key),
            BASE64.encode(self.server_key)
        )
    }
}

/// A fresh server nonce: 18 random octets in base64 (24 printable characters, no comma).
pub fn server_nonce() -> Result<String> {
    let mut random = [0u8; 18];
    getrandom::fill(&mut random).map_err(|e| Error::Random(e.to_string()))?;
    Ok(BASE64.encode(random))
}

/// A parsed client-first-message (RFC 5802 §7).
#[derive(Debug, Clone)]
pub struct ClientFirst {
    /// `gs2-header`: the flag and authzid with their commas, which `c=` must repeat.
    gs2_header: String,
    /// `client-first-message-bare`, part of the AuthMessage.
    bare: String,
    /// The user name, unescaped.
    user: String,
    nonce: String,
}

impl ClientFirst {
    /// Parses and checks a client-first-message: flag `n` or `y` (never `p=`: -PLUS is not
    /// offered), an authzid empty or equal to the user, no `m=`, a printable nonce.
    pub fn parse(message: &[u8]) -> Result<ClientFirst, ScramError> {
        let message = text(message)?;
        let (flag, rest) = message.split_once(',').ok_or(ScramError::Malformed)?;
        match flag {
            "n" | "y" => {}
            _ if flag.starts_with("p=") => return Err(ScramError::ChannelBindingNotSupported),
            _ => return Err(ScramError::Malformed),
        }
        let (authzid, bare) = rest.split_once(',').ok_or(ScramError::Malformed)?;
        let authzid = match authzid {
            "" => None,
            _ => Some(sasl_name(
                authzid.strip_prefix("a=").ok_or(ScramError::Malformed)?,
            )?),
        };
        if bare.starts_with("m=") {
            return Err(ScramError::MandatoryExtension);
        }
        let mut fields = bare.split(',');
        let user = fields
            .next()
            .and_then(|f| f.strip_prefix("n="))
            .ok_or(ScramError::Malformed)?;
        let user = sasl_name(user)?;
        let nonce = fields
            .next()
            .and_then(|f| f.strip_prefix("r="))
            .ok_or(ScramError::Malformed)?;
        if nonce.is_empty() || !nonce.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(ScramError::Malformed);
        }
        // Extensions after the nonce (none is defined) are ignored, as RFC 5802 §7 allows.
        extensions(fields)?;
        if authzid.is_some_and(|a| !a.eq_ignore_ascii_case(&user)) {
            return Err(ScramError::AuthzidMismatch);
        }
        Ok(ClientFirst {
            gs2_header: message[..message.len() - bare.len()].to_owned(),
            bare: bare.to_owned(),
            nonce: nonce.to_owned(),
            user,
        })
    }

    /// The user name the client gave.
    pub fn user(&self) -> &str {
        &self.user
    }
}

/// The server's half of an exchange after the server-first-message: what the client-final
/// message is checked against.
#[derive(Debug, Clone)]
pub struct ServerFirst {
    client_first: ClientFirst,
    message: String,
    nonce: String,
    keys: ScramKeys,
}

impl ServerFirst {
    /// The server-first-message for `client_first` with these keys (the user's, or fake
    /// ones) and a fresh `server_nonce` from [`server_nonce`].
    pub fn new(client_first: ClientFirst, keys: ScramKeys, server_nonce: &str) -> ServerFirst {
        let nonce = format!("{}{server_nonce}", client_first.nonce);
        let message = format!(
            "r={nonce},s={},i={}",
            BASE64.encode(&keys.salt),
            keys.iterations
        );
        ServerFirst {
            client_first,
            message,
            nonce,
            keys,
        }
    }

    /// The server-first-message to send.
    pub fn message(&self) -> &[u8] {
        self.message.as_bytes()
    }

    /// The user name of the exchange.
    pub fn user(&self) -> &str {
        self.client_first.user()
    }

    /// Parses a client-final-message and checks its channel binding data and nonce.
    pub fn parse_final(&self, message: &[u8]) -> Result<ClientFinal, ScramError> {
        let message = text(message)?;
        let (without_proof, proof) = message.rsplit_once(",p=").ok_or(ScramError::Malformed)?;
        let mut fields = without_proof.split(',');
        let binding = fields
            .next()
            .and_then(|f| f.strip_prefix("c="))
            .ok_or(ScramError::Malformed)?;
        let binding = BASE64.decode(binding).map_err(|_| ScramError::Malformed)?;
        // Without -PLUS the channel binding data is the GS2 header alone (RFC 5802 §7).
        if binding != self.client_first.gs2_header.as_bytes() {
            return Err(ScramError::ChannelBindingMismatch);
        }
        let nonce = fields
            .next()
            .and_then(|f| f.strip_prefix("r="))
            .ok_or(ScramError::Malformed)?;
        if !bool::from(nonce.as_bytes().ct_eq(self.nonce.as_bytes())) {
            return Err(ScramError::NonceMismatch);
        }
        extensions(fields)?;
        let proof = BASE64.decode(proof).map_err(|_| ScramError::Malformed)?;
        Ok(ClientFinal {
            without_proof: without_proof.to_owned(),
            proof: proof.try_into().map_err(|_| ScramError::Malformed)?,
        })
    }

    /// Whether the proof is right for the keys of this exchange (RFC 5802 §3), compared in
    /// constant time.
    pub fn verify(&self, client_final: &ClientFinal) -> bool {
        let signature = hmac(&self.keys.stored_key, &self.auth_message(client_final));
        let mut client_key = zeroize::Zeroizing::new([0u8; 32]);
        for (key, (proof, sig)) in client_key
            .iter_mut()
            .zip(client_final.proof.iter().zip(signature))
        {
            *key = proof ^ sig;
        }
        let stored: [u8; 32] = Sha256::digest(client_key.as_ref()).into();
        stored.ct_eq(&self.keys.stored_key).into()
    }

    /// The server-final-message, `v=<ServerSignature>`, for a verified exchange.
    pub fn server_final(&self, client_final: &ClientFinal) -> Vec<u8> {
        let signature = hmac(&self.keys.server_key, &self.auth_message(client_final));
        format!("v={}", BASE64.encode(signature)).into_bytes()
    }

    /// The keys the exchange ran with (for the authenticator's check that they are still the
    /// user's).
    pub(crate) fn keys(&self) -> &ScramKeys {
        &self.keys
    }

    fn auth_message(&self, client_final: &ClientFinal) -> Vec<u8> {
        format!(
            "{},{},{}",
            self.client_first.bare, self.message, client_final.without_proof
        )
        .into_bytes()
    }
}

/// A parsed client-final-message whose binding and nonce matched.
#[derive(Debug, Clone)]
pub struct ClientFinal {
    without_proof: String,
    proof: [u8; 32],
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// A message as text: bounded, UTF-8, no NUL or other control character.
fn text(message: &[u8]) -> Result<&str, ScramError> {
    if message.len() > MAX_SCRAM_MESSAGE {
        return Err(ScramError::TooLong);
    }
    let text = std::str::from_utf8(message).map_err(|_| ScramError::Malformed)?;
    if text.chars().any(char::is_control) {
        return Err(ScramError::Malformed);
    }
    Ok(text)
}

/// RFC 5802 §5.1 `saslname`: `=2C` is a comma and `=3D` an equals sign; any other `=` is
/// malformed, and so is an empty name.
fn sasl_name(escaped: &str) -> Result<String, ScramError> {
    if escaped.is_empty() {
        return Err(ScramError::Malformed);
    }
    let mut name = String::with_capacity(escaped.len());
    let mut rest = escaped;
    while let Some(at) = rest.find('=') {
        name.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3).ok_or(ScramError::Malformed)?;
        name.push(match escape {
            "=2C" => ',',
            "=3D" => '=',
            _ => return Err(ScramError::Malformed),
        });
        rest = &rest[at + 3..];
    }
    name.push_str(rest);
    Ok(name)
}

/// Optional extensions (`x=...`, a letter, `=`, a value); `m=` is refused wherever it stands.
fn extensions<'a>(fields: impl Iterator<Item = &'a str>) -> Result<(), ScramError> {
    for field in fields {
        let bytes = field.as_bytes();
        if bytes.len() < 2 || !bytes[0].is_ascii_alphabetic() || bytes[1] != b'=' {
            return Err(ScramError::Malformed);
        }
        if bytes[0] == b'm' {
            return Err(ScramError::MandatoryExtension);
        }
    }
    Ok(())
}

/// A password after SASLprep, or `None` when it is not UTF-8 or SASLprep refuses it.
struct Normalised(Option<zeroize::Zeroizing<String>>);

impl Normalised {
    fn as_bytes_or<'a>(&'a self, raw: &'a [u8]) -> &'a [u8] {
        self.0.as_ref().map_or(raw, |text| text.as_bytes())
    }
}

/// RFC 4013 SASLprep of a stored-string password (RFC 5802 §2.2's Normalize).
fn saslprep(password: &[u8]) -> Normalised {
    let prepared = std::str::from_utf8(password)
        .ok()
        .and_then(|text| stringprep::saslprep(text).ok())
        .map(|text| zeroize::Zeroizing::new(text.into_owned()));
    Normalised(prepared)
}

#[cfg(test)]
mod tests;
