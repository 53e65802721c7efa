//! The types that cross the boundary between a [`super::Session`] and its driver: what the
//! session asks for ([`Event`], [`Request`]) and what the driver answers
//! ([`AuthOutcome`], [`OpenError`], [`RetrieveError`], [`CommitOutcome`], [`Abort`]).

use std::fmt;
use std::sync::Arc;

use crate::sasl::Mechanism;

/// Something the driver must act on. Polled with [`super::Session::poll_event`].
///
/// Not `#[non_exhaustive]`: the driver lives in this workspace and matches every event, so a
/// new one is a compile error there rather than a runtime surprise.
#[derive(Debug)]
pub enum Event {
    /// Work for the driver; the session executes nothing more until it is answered.
    Request(Request),
    /// Send all pending output, run the TLS handshake, then call
    /// [`super::Session::handle_tls_established`]; close the connection if it fails.
    StartTls,
    /// Send all pending output, then close the connection.
    Close,
}

/// A request the driver completes with the matching `handle_*` call.
///
/// Not `#[non_exhaustive]`, for the same reason as [`Event`]: a new request must fail to
/// compile in every driver until it is handled.
#[derive(Debug)]
pub enum Request {
    /// Verify these credentials; answer with [`super::Session::handle_auth_result`].
    Authenticate(Credentials),
    /// A SASL message the driver answers (SCRAM's client-first-message, RFC 5802 §7, still
    /// unchecked); answer with [`super::Session::handle_sasl_challenge`].
    SaslChallenge {
        /// The exchange's mechanism.
        mechanism: Mechanism,
        /// The client's message, base64-decoded (at most
        /// [`crate::sasl::MAX_DECODED_RESPONSE`] octets).
        response: Vec<u8>,
    },
    /// Lock and scan the maildrop of the user the driver just accepted; answer with
    /// [`super::Session::handle_maildrop_opened`]. Only ever asked right after
    /// [`AuthOutcome::Accepted`], so the lock is never taken for an unauthenticated client, and
    /// the driver, which verified the credentials, already knows whose maildrop it is.
    OpenMaildrop,
    /// Open message `index` (0-based, into the [`Listing`]) for RETR or TOP; answer with
    /// [`super::Session::handle_retrieve_opened`], then feed the raw message with
    /// [`super::Session::handle_body`] and end with [`super::Session::handle_body_end`].
    Retrieve {
        /// The message's index in the listing (whose [`Listing::wire_size`] is the size the
        /// file must still have; the session also counts the octets it sends).
        index: usize,
        /// `Some(n)` for TOP: only the header and `n` body lines are sent, so the driver may
        /// stop reading once [`super::Session::handle_body`] reports completion.
        top_lines: Option<u64>,
    },
    /// QUIT in TRANSACTION: remove the messages marked deleted (UPDATE state, RFC 1939 §6);
    /// answer with [`super::Session::handle_commit_result`].
    Commit {
        /// Indices into the listing of the messages to remove, ascending.
        deleted: Vec<usize>,
        /// Indices of the messages to remove as well because they expired under the
        /// session's [`crate::Config::expire`] (RFC 2449 §6.7, `EXPIRE 0`: retrieved in this
        /// session and not in `deleted`), ascending; removed like `deleted`, counted apart.
        /// A driver whose policy differs per user decides from `sent` instead (pop3d does).
        expired: Vec<usize>,
        /// Indices of the messages retrieved by RETR in this session, ascending (for a server
        /// that marks retrieved mail as seen).
        retrieved: Vec<usize>,
        /// Indices of the messages RETR'd whole in this session (terminator sent) and not in
        /// `deleted`, ascending, whatever the EXPIRE policy: under `EXPIRE n` (n ≥ 1) the
        /// driver records when each was first retrieved (RFC 2449 §6.7). Under `EXPIRE 0`
        /// the same as `expired`.
        sent: Vec<usize>,
    },
}

/// The credentials of one authentication attempt.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name exactly as the client sent it; the auth layer normalises and validates it.
    pub user: String,
    /// The secret and how it was presented.
    pub secret: Secret,
}

/// How the client proved who it is.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Secret {
    /// A cleartext password from USER/PASS or a SASL mechanism.
    Password {
        /// The password bytes.
        password: Vec<u8>,
        /// `None` for USER/PASS, else the SASL mechanism that carried it.
        mechanism: Option<Mechanism>,
    },
    /// A SCRAM client-final-message (RFC 5802 §7), to verify against the exchange the
    /// driver started when it answered [`Request::SaslChallenge`].
    Scram {
        /// The client-final-message, base64-decoded.
        client_final: Vec<u8>,
    },
    /// A SCRAM exchange the client cancelled after the server-first-message: no credential,
    /// but a failed authentication of the user all the same (the driver answers
    /// [`AuthOutcome::Rejected`] after counting it as one).
    ScramAbandoned,
    /// An APOP digest (RFC 1939 §7): MD5 of the greeting timestamp and the shared secret.
    Apop {
        /// The timestamp from the greeting, `<` and `>` included.
        timestamp: String,
        /// 32 lowercase hexadecimal digits.
        digest: String,
    },
}

impl Secret {
    /// A name for the method, for logs and metric labels: `user`, `apop`, `plain`, `login`
    /// or `scram-sha-256`.
    pub fn method(&self) -> &'static str {
        match self {
            Secret::Password {
                mechanism: None, ..
            } => "user",
            Secret::Password {
                mechanism: Some(Mechanism::Plain),
                ..
            } => "plain",
            Secret::Password {
                mechanism: Some(Mechanism::Login),
                ..
            } => "login",
            Secret::Password {
                mechanism: Some(Mechanism::ScramSha256),
                ..
            }
            | Secret::Scram { .. }
            | Secret::ScramAbandoned => "scram-sha-256",
            Secret::Apop { .. } => "apop",
        }
    }
}

/// Debug never shows a password or digest.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("method", &self.secret.method())
            .finish_non_exhaustive()
    }
}

/// The driver's verdict on an [`Request::Authenticate`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthOutcome {
    /// The credentials are right; the session answers with [`Request::OpenMaildrop`] for the
    /// user the driver accepted.
    Accepted,
    /// The credentials are right and the mechanism has data for the client (SCRAM's
    /// server-final-message): the session sends it as a challenge, and asks for
    /// [`Request::OpenMaildrop`] once the client acknowledged it with an empty response.
    AcceptedWith(Vec<u8>),
    /// The mechanism's last message was malformed (SCRAM: a wrong nonce or channel binding
    /// data): `-ERR` with this reason, counted as an invalid command; no credentials were
    /// checked.
    Invalid(String),
    /// Wrong password, unknown or disabled user, or a method this user may not use. The reply
    /// is the same in every case, so it reveals nothing: `-ERR [AUTH] Authentication failed`.
    Rejected,
    /// The user may not log in again yet (RFC 2449 §8.1.2): `-ERR [LOGIN-DELAY]`.
    LoginDelay,
    /// The user database is unavailable: `-ERR [SYS/TEMP]`.
    Unavailable,
}

/// The driver's answer to [`Request::SaslChallenge`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChallengeAnswer {
    /// Send `data` as the next challenge; the exchange is `user`'s.
    Challenge {
        /// The user name the message gave (for the credentials of the final step).
        user: String,
        /// The challenge (SCRAM's server-first-message), sent base64-encoded.
        data: Vec<u8>,
    },
    /// The message was malformed: `-ERR` with this reason, counted as an invalid command.
    Invalid(String),
    /// The user database is unavailable: `-ERR [SYS/TEMP]`.
    Unavailable,
}

/// Why [`Request::OpenMaildrop`] failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenError {
    /// Another session holds the lock: `-ERR [IN-USE]`, with who holds it if known.
    InUse {
        /// A short description of the holder, e.g. `session 42 since 12:00:01Z`.
        holder: Option<String>,
    },
    /// A temporary problem (I/O error, missing Maildir): `-ERR [SYS/TEMP]`.
    Temporary,
    /// A problem that needs an administrator: `-ERR [SYS/PERM]`.
    Permanent,
}

/// Why [`Request::Retrieve`] failed before anything was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetrieveError {
    /// The file is gone (another client expunged it).
    Vanished,
    /// The file no longer has the listed size.
    SizeChanged,
    /// Any other I/O error, likely to pass (`[SYS/TEMP]`).
    Io,
    /// The file cannot be read until an administrator acts, such as wrong permissions or a
    /// symlink in its place (`[SYS/PERM]`).
    Permanent,
}

/// The result of [`Request::Commit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommitOutcome {
    /// Every marked message was removed (or was already gone).
    Removed,
    /// Every marked message was removed, and `by_age` more that the driver found due under
    /// `EXPIRE n` (RFC 2449 §6.7; the session cannot know them): the QUIT reply counts them
    /// out of the messages left.
    RemovedAndExpired {
        /// Messages removed by age.
        by_age: usize,
    },
    /// This many marked messages could not be removed.
    Partial {
        /// How many deletions failed.
        not_removed: usize,
    },
}

/// Why the driver ends a session early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Abort {
    /// The server is shutting down: `-ERR [SYS/TEMP] server shutting down`.
    Shutdown,
    /// An administrator disconnected the session:
    /// `-ERR [SYS/TEMP] disconnected by administrator`.
    Kicked,
}

/// The messages of an open maildrop, as the session sees them. Implemented by the storage
/// layer's scan result (and by test drivers); shared, not copied, by the session.
///
/// Invariants the implementor keeps: indices are `0..len()` and never change while the session
/// lives; a UID is 1 to 70 characters in `0x21..=0x7E` and unique within the maildrop.
pub trait Listing: Send + Sync {
    /// How many messages the maildrop had when it was opened.
    fn len(&self) -> usize;
    /// Whether it had none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The wire size of message `index` (octets after LF→CRLF, RFC 1939 §5).
    fn wire_size(&self, index: usize) -> u64;
    /// The unique-id of message `index` (RFC 1939 §7 UIDL).
    fn uid(&self, index: usize) -> &str;
}

/// A shared listing.
pub type SharedListing = Arc<dyn Listing>;
