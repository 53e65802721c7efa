//! The session's policy: the host name it greets with and its limits.

/// What every LMTP session of one listener shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The host name in the greeting and in LHLO's reply.
    pub hostname: String,
    /// The largest message accepted, in octets as transmitted (CRLF line ends, before
    /// unstuffing), announced with SIZE (RFC 1870).
    pub max_message_octets: u64,
    /// Accepted recipients per transaction; more get `452 4.5.3` (the MTA sends them later).
    pub max_recipients: usize,
    /// The longest command line, CRLF included (RFC 5321 §4.5.3.1.4 asks for at least 512).
    pub max_line: usize,
    /// Consecutive invalid commands before the session is closed with `421`.
    pub max_bad_commands: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            hostname: "localhost".to_owned(),
            max_message_octets: 50 * 1024 * 1024,
            max_recipients: 50,
            max_line: 2048,
            max_bad_commands: 20,
        }
    }
}
