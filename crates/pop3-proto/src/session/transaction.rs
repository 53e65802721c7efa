//! The TRANSACTION state (RFC 1939 §5) and the move to UPDATE (§6).
//!
//! Message numbers never change during a session. A message marked deleted cannot be
//! retrieved, listed or deleted again, and STAT and LIST leave it out; RSET unmarks all.

use std::fmt::Write as _;

use super::{Event, Phase, Request, RetrieveError, Session, SharedListing};
use crate::body::{BodyEncoder, Progress};
use crate::command::{Command, MessageNumber};
use crate::reply::{self, ResponseCode};

/// TRANSACTION: the open maildrop and what this session did to it.
pub(super) struct Transaction {
    listing: SharedListing,
    deleted: BitSet,
    /// RETR'd messages, for [`Request::Commit`].
    retrieved: BitSet,
    deleted_count: usize,
    deleted_octets: u64,
    total_octets: u64,
    /// RFC 1460 LAST: the highest message number RETR'd or DELE'd, reset by RSET.
    highest_accessed: u32,
    busy: Option<Busy>,
}

/// Work in progress that holds the session.
enum Busy {
    /// [`Request::Retrieve`] is with the driver; `top` is TOP's line count.
    Opening {
        number: u32,
        index: usize,
        top: Option<u64>,
    },
    /// The body is streaming; for RETR, `expected` is the listed wire size.
    Streaming {
        encoder: BodyEncoder,
        expected: Option<u64>,
    },
    /// A LIST or UIDL listing, generated as the output drains.
    Listing { kind: ListKind, next: usize },
}

#[derive(Clone, Copy)]
enum ListKind {
    Sizes,
    Uids,
}

impl Transaction {
    pub(super) fn new(listing: SharedListing) -> Transaction {
        let total_octets = (0..listing.len()).map(|i| listing.wire_size(i)).sum();
        Transaction {
            deleted: BitSet::new(listing.len()),
            retrieved: BitSet::new(listing.len()),
            listing,
            deleted_count: 0,
            deleted_octets: 0,
            total_octets,
            highest_accessed: 0,
            busy: None,
        }
    }

    /// `N messages (M octets)`, counting what is not marked deleted.
    pub(super) fn summary(&self, prefix: &str) -> String {
        let count = self.listing.len() - self.deleted_count;
        let octets = self.total_octets - self.deleted_octets;
        format!(
            "{prefix}{}{} ({octets} octets)",
            if prefix.is_empty() { "" } else { " " },
            messages(count)
        )
    }

    pub(super) fn is_waiting(&self) -> bool {
        matches!(
            self.busy,
            Some(Busy::Opening { .. } | Busy::Streaming { .. })
        )
    }

    pub(super) fn is_streaming(&self) -> bool {
        matches!(self.busy, Some(Busy::Streaming { .. }))
    }

    pub(super) fn is_listing(&self) -> bool {
        matches!(self.busy, Some(Busy::Listing { .. }))
    }

    /// Writes listing lines until the output reaches `high_water` or the listing ends.
    pub(super) fn continue_listing(&mut self, out: &mut Vec<u8>, high_water: usize) {
        let Some(Busy::Listing { kind, next }) = &mut self.busy else {
            return;
        };
        let len = self.listing.len();
        while *next < len && out.len() < high_water {
            let index = *next;
            *next += 1;
            if self.deleted.contains(index) {
                continue;
            }
            // Writing to a Vec cannot fail.
            let _ = match kind {
                ListKind::Sizes => writeln_crlf(out, index + 1, self.listing.wire_size(index)),
                ListKind::Uids => writeln_crlf(out, index + 1, self.listing.uid(index)),
            };
        }
        if *next >= len {
            out.extend_from_slice(b".\r\n");
            self.busy = None;
        }
    }

    /// Resolves a client's message number to an index of a message not marked deleted.
    fn lookup(&self, number: MessageNumber) -> Result<usize, String> {
        let index = usize::try_from(number.get() - 1).unwrap_or(usize::MAX);
        if index >= self.listing.len() {
            Err(format!(
                "no such message, only {} in maildrop",
                self.listing.len()
            ))
        } else if self.deleted.contains(index) {
            Err(format!("message {number} already deleted"))
        } else {
            Ok(index)
        }
    }

    /// Enters UPDATE: the deletions and retrievals for the commit, and how many remain.
    fn into_update(self) -> (Request, usize) {
        let remaining = self.listing.len() - self.deleted_count;
        let request = Request::Commit {
            deleted: self.deleted.members(),
            retrieved: self.retrieved.members(),
        };
        (request, remaining)
    }
}

impl Session {
    fn tx_state(&mut self) -> Option<&mut Transaction> {
        match &mut self.phase {
            Phase::Transaction(tx) => Some(tx),
            _ => None,
        }
    }

    pub(super) fn transaction_line(&mut self, line: &[u8]) {
        let parsed = Command::parse(line);
        self.set_current(&parsed);
        let command = match parsed {
            Ok(command) => command,
            Err(error) => return self.bad_command(&error.to_string()),
        };
        let Phase::Transaction(tx) = &mut self.phase else {
            return;
        };
        let out = &mut self.out;
        let outcome: Result<(), String> = match command {
            Command::Stat => {
                reply::ok(
                    out,
                    &format!(
                        "{} {}",
                        tx.listing.len() - tx.deleted_count,
                        tx.total_octets - tx.deleted_octets
                    ),
                );
                Ok(())
            }
            Command::List(None) => {
                reply::ok(out, &tx.summary(""));
                tx.busy = Some(Busy::Listing {
                    kind: ListKind::Sizes,
                    next: 0,
                });
                Ok(())
            }
            Command::List(Some(n)) => tx.lookup(n).map(|index| {
                reply::ok(out, &format!("{n} {}", tx.listing.wire_size(index)));
            }),
            Command::Uidl(None) => {
                reply::ok(out, "unique-id listing follows");
                tx.busy = Some(Busy::Listing {
                    kind: ListKind::Uids,
                    next: 0,
                });
                Ok(())
            }
            Command::Uidl(Some(n)) => tx.lookup(n).map(|index| {
                reply::ok(out, &format!("{n} {}", tx.listing.uid(index)));
            }),
            Command::Retr(n) => tx.lookup(n).map(|index| {
                tx.highest_accessed = tx.highest_accessed.max(n.get());
                tx.retrieved.insert(index);
                tx.busy = Some(Busy::Opening {
                    number: n.get(),
                    index,
                    top: None,
                });
                self.event = Some(Event::Request(Request::Retrieve {
                    index,
                    wire_size: tx.listing.wire_size(index),
                    top_lines: None,
                }));
            }),
            Command::Top(n, lines) => tx.lookup(n).map(|index| {
                tx.busy = Some(Busy::Opening {
                    number: n.get(),
                    index,
                    top: Some(lines),
                });
                self.event = Some(Event::Request(Request::Retrieve {
                    index,
                    wire_size: tx.listing.wire_size(index),
                    top_lines: Some(lines),
                }));
            }),
            Command::Dele(n) => tx.lookup(n).map(|index| {
                tx.deleted.insert(index);
                tx.deleted_count += 1;
                tx.deleted_octets += tx.listing.wire_size(index);
                tx.highest_accessed = tx.highest_accessed.max(n.get());
                reply::ok(out, &format!("message {n} deleted"));
            }),
            Command::Noop => {
                reply::ok(out, "");
                Ok(())
            }
            Command::Rset => {
                tx.deleted.clear();
                tx.deleted_count = 0;
                tx.deleted_octets = 0;
                tx.highest_accessed = 0;
                reply::ok(out, &tx.summary("maildrop has"));
                Ok(())
            }
            Command::Last if self.config.last_command => {
                reply::ok(out, &tx.highest_accessed.to_string());
                Ok(())
            }
            Command::Last => return self.bad_command("unknown command: LAST"),
            Command::Capa => {
                self.command_ok();
                return self.write_capa();
            }
            Command::Quit => return self.quit(),
            other => return self.wrong_state(other.keyword()),
        };
        match outcome {
            // RETR and TOP are answered when the driver has opened the message.
            Ok(()) if matches!(self.event, Some(Event::Request(_))) => self.bad_commands = 0,
            Ok(()) => self.command_ok(),
            // A well-formed command on a missing or deleted message: an answer, not a
            // protocol error, so it does not count towards the invalid-command limit.
            Err(text) => self.record_err(None, &text),
        }
    }

    fn quit(&mut self) {
        let Phase::Transaction(tx) = std::mem::replace(&mut self.phase, Phase::Closed) else {
            return;
        };
        let (request, remaining) = tx.into_update();
        self.phase = Phase::Update { remaining };
        self.event = Some(Event::Request(request));
    }

    pub(super) fn on_retrieve_opened(&mut self, result: Result<(), RetrieveError>) {
        let Some(tx) = self.tx_state() else { return };
        let Some(Busy::Opening { number, index, top }) = tx.busy else {
            return;
        };
        tx.busy = None;
        match result {
            Ok(()) => {
                let size = tx.listing.wire_size(index);
                let (encoder, expected, text) = match top {
                    Some(lines) => (
                        BodyEncoder::top(lines),
                        None,
                        "top of message follows".to_owned(),
                    ),
                    None => (BodyEncoder::whole(), Some(size), format!("{size} octets")),
                };
                tx.busy = Some(Busy::Streaming { encoder, expected });
                reply::ok(&mut self.out, &text);
            }
            Err(error) => {
                let (code, text) = match error {
                    RetrieveError::Vanished => (None, format!("message {number} no longer exists")),
                    RetrieveError::SizeChanged => (
                        Some(ResponseCode::SysTemp),
                        format!("message {number} changed on disk, try again later"),
                    ),
                    RetrieveError::Io => (
                        Some(ResponseCode::SysTemp),
                        format!("cannot read message {number}"),
                    ),
                    RetrieveError::Permanent => (
                        Some(ResponseCode::SysPerm),
                        format!("cannot read message {number}"),
                    ),
                };
                self.record_err(code, &text);
            }
        }
    }

    pub(super) fn on_body(&mut self, chunk: &[u8]) -> Progress {
        let Phase::Transaction(tx) = &mut self.phase else {
            return Progress::Complete;
        };
        let Some(Busy::Streaming { encoder, expected }) = &mut tx.busy else {
            return Progress::Complete;
        };
        let progress = encoder.encode(chunk, &mut self.out);
        if expected.is_some_and(|size| encoder.wire_octets() > size) {
            // Longer than listed: never send a message that differs from its LIST size.
            self.record(false);
            self.close();
            return Progress::Complete;
        }
        progress
    }

    pub(super) fn on_body_end(&mut self) {
        let Some(tx) = self.tx_state() else { return };
        let Some(Busy::Streaming { encoder, expected }) = tx.busy.take() else {
            return;
        };
        if expected.is_some_and(|size| encoder.wire_octets() != size) {
            // Shorter than listed: close without the terminator rather than send it short.
            self.record(false);
            self.close();
            return;
        }
        encoder.finish(&mut self.out);
        self.command_ok();
    }
}

/// `1 message`, `2 messages`.
pub(super) fn messages(count: usize) -> String {
    if count == 1 {
        "1 message".to_owned()
    } else {
        format!("{count} messages")
    }
}

/// Writes `number value` CRLF.
fn writeln_crlf(out: &mut Vec<u8>, number: usize, value: impl std::fmt::Display) -> Option<()> {
    let mut line = String::with_capacity(32);
    write!(line, "{number} {value}\r\n").ok()?;
    out.extend_from_slice(line.as_bytes());
    Some(())
}

/// A fixed-size set of message indices.
struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    fn new(len: usize) -> BitSet {
        BitSet {
            words: vec![0; len.div_ceil(64)],
        }
    }

    fn contains(&self, index: usize) -> bool {
        self.words
            .get(index / 64)
            .is_some_and(|word| word & (1 << (index % 64)) != 0)
    }

    fn insert(&mut self, index: usize) {
        if let Some(word) = self.words.get_mut(index / 64) {
            *word |= 1 << (index % 64);
        }
    }

    fn clear(&mut self) {
        self.words.iter_mut().for_each(|word| *word = 0);
    }

    fn members(&self) -> Vec<usize> {
        let mut members = Vec::new();
        for (w, &word) in self.words.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                members.push(w * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
        members
    }
}
