//! Maildir file names: `<unique>[,S=<raw>][,W=<wire>][:2,<flags>]`.
//!
//! Names are arbitrary bytes; nothing here panics on any input. The size fields are parsed
//! strictly (ASCII digits, at most 20, no overflow, no duplicates) and a size is only ever used
//! when plausible; nothing allocates by it.

use blake2::{Blake2s256, Digest};

/// The largest message size believed from a file name: 1 TiB.
pub(crate) const MAX_MESSAGE_SIZE: u64 = 1 << 40;

/// The longest UIDL (RFC 1939 §7).
const MAX_UID: usize = 70;

/// A parsed file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName<'a> {
    /// The unique part: before `:` and before the first `,X=` field. Renaming a file to change
    /// its flags, or moving it from `new/` to `cur/`, never changes it.
    pub base: &'a [u8],
    /// `S=`: the size in octets as stored, if present and well-formed.
    pub raw_size: Option<u64>,
    /// `W=`: the size with CRLF line endings, if present and well-formed.
    pub wire_size: Option<u64>,
    /// The flags after `:2,`, if the name has that form.
    pub flags: Option<&'a [u8]>,
    /// The delivery time: the leading decimal digits of the name (seconds since the epoch).
    pub time: Option<u64>,
}

impl<'a> ParsedName<'a> {
    /// Parses any byte string.
    pub fn parse(name: &'a [u8]) -> ParsedName<'a> {
        let (head, info) = match memchr::memchr(b':', name) {
            Some(colon) => (&name[..colon], Some(&name[colon + 1..])),
            None => (name, None),
        };
        let fields_start = field_start(head);
        let base = &head[..fields_start];
        let (mut raw_size, mut wire_size) = (Field::Absent, Field::Absent);
        if fields_start < head.len() {
            for field in head[fields_start + 1..].split(|&b| b == b',') {
                match field {
                    [b'S', b'=', digits @ ..] => raw_size.set(parse_size(digits)),
                    [b'W', b'=', digits @ ..] => wire_size.set(parse_size(digits)),
                    _ => {}
                }
            }
        }
        let time_digits = base.iter().take_while(|b| b.is_ascii_digit()).count();
        ParsedName {
            base,
            raw_size: raw_size.value(),
            wire_size: wire_size.value(),
            flags: info.and_then(|info| info.strip_prefix(b"2,")),
            time: parse_size(&base[..time_digits]),
        }
    }

    /// The wire size from `W=`, if it is plausible: at most 1 TiB and, with `S=`, between the
    /// raw size and twice it (each byte becomes at most two).
    pub fn plausible_wire_size(&self) -> Option<u64> {
        let wire = self.wire_size?;
        let plausible = wire <= MAX_MESSAGE_SIZE
            && match self.raw_size {
                Some(raw) => raw <= wire && wire <= raw.saturating_mul(2),
                None => true,
            };
        plausible.then_some(wire)
    }

    /// Whether the base name itself is the UIDL (1–70 characters in `0x21..=0x7E`).
    pub fn base_is_uid(&self) -> bool {
        is_printable_uid(self.base)
    }

    /// The UIDL: the base name when it is 1–70 characters in `0x21..=0x7E`, otherwise `h`
    /// and the BLAKE2s-256 of it in hex (65 characters). Deterministic, so a lost index can
    /// never produce different UIDLs.
    pub fn uid(&self) -> String {
        uid_of(self.base)
    }
}

/// The UIDL for a base name (see [`ParsedName::uid`]).
pub(crate) fn uid_of(base: &[u8]) -> String {
    if is_printable_uid(base) {
        return String::from_utf8_lossy(base).into_owned();
    }
    digest_uid(base)
}

/// `h` and the BLAKE2s-256 of `bytes` in hex (65 characters), whatever `bytes` are.
pub(crate) fn digest_uid(bytes: &[u8]) -> String {
    let digest = Blake2s256::digest(bytes);
    let mut uid = String::with_capacity(1 + 2 * digest.len());
    uid.push('h');
    for byte in digest {
        uid.push(char::from(HEX[usize::from(byte >> 4)]));
        uid.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    uid
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn is_printable_uid(base: &[u8]) -> bool {
    !base.is_empty() && base.len() <= MAX_UID && base.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// Where the `,X=` fields start: the first comma followed by letters and `=`.
fn field_start(head: &[u8]) -> usize {
    let mut from = 0;
    while let Some(comma) = memchr::memchr(b',', &head[from..]).map(|i| i + from) {
        let rest = &head[comma + 1..];
        let letters = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        if letters > 0 && rest.get(letters) == Some(&b'=') {
            return comma;
        }
        from = comma + 1;
    }
    head.len()
}

/// ASCII digits only, 1 to 20 of them, no overflow.
fn parse_size(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |value, &d| {
        value.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// A size field: a second occurrence makes it untrustworthy.
#[derive(Clone, Copy)]
enum Field {
    Absent,
    Once(Option<u64>),
    Repeated,
}

impl Field {
    fn set(&mut self, value: Option<u64>) {
        *self = match self {
            Field::Absent => Field::Once(value),
            _ => Field::Repeated,
        };
    }

    fn value(self) -> Option<u64> {
        match self {
            Field::Once(value) => value,
            _ => None,
        }
    }
}

/// The name with flag `S` (seen) added to its `:2,` flags, kept sorted (Maildir spec), or
/// `None` if it already has it or its info part is not of the `2,` form.
pub(crate) fn with_seen_flag(name: &[u8]) -> Option<Vec<u8>> {
    let parsed = ParsedName::parse(name);
    let (head, flags) = match parsed.flags {
        Some(flags) => (&name[..name.len() - flags.len() - 3], flags),
        None if memchr::memchr(b':', name).is_none() => (name, &b""[..]),
        None => return None,
    };
    if flags.contains(&b'S') {
        return None;
    }
    let mut new_flags = flags.to_vec();
    new_flags.push(b'S');
    new_flags.sort_unstable();
    let mut renamed = head.to_vec();
    renamed.extend_from_slice(b":2,");
    renamed.extend_from_slice(&new_flags);
    Some(renamed)
}

/// The delivery time a Maildir name starts with: `1700000000.M1P2.host,S=…` → 1700000000.
pub(crate) fn delivered_at(name: &[u8]) -> Option<u64> {
    let end = name.iter().position(|&b| b == b'.')?;
    let digits = &name[..end];
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}
