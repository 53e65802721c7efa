//! The TRANSACTION state (RFC 1939 §5) and the move to UPDATE (§6).
//!
//! [`Transaction`] handles its own commands and the driver's answers about messages, with the
//! session's [`Common`] part as context; QUIT consumes it and returns the UPDATE state.
//!
//! Message numbers never change during a session. A message marked deleted cannot be
//! retrieved, listed or deleted again, and STAT and LIST leave it out; RSET unmarks all.

use std::fmt::Write as _;

use super::bitset::BitSet;
use super::common::Common;
use super::update::Update;
use super::{Event, Phase, Request, RetrieveError, SharedListing};
use crate::body::{BodyEncoder, Progress};
use crate::command::{Command, MessageNumber};
use crate::config::Expire;
use crate::reply::{self, ResponseCode};

/// TRANSACTION: the open maildrop and what this session did to it.
pub(super) struct Transaction {
    listing: SharedListing,
    deleted: BitSet,
    /// RETR'd messages, for [`Request::Commit`].
    retrieved: BitSet,
    /// RETR'd messages whose body was sent whole, terminator included: the only ones
    /// `EXPIRE 0` removes (a RETR that failed to open, or was cut, expires nothing).
    sent: BitSet,
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
        index: usize,
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
            sent: BitSet::new(listing.len()),
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
            reply::messages(count)
        )
    }

    /// Messages marked deleted now: DELE minus RSET.
    pub(super) fn marked_count(&self) -> usize {
        self.deleted_count
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

    /// The index a `RETR n` line would retrieve now, if it is one and names a message not
    /// marked deleted.
    pub(super) fn retrieval_in(&self, line: &[u8]) -> Option<usize> {
        match Command::parse(line) {
            Ok(Command::Retr(number)) => self.lookup(number).ok(),
            _ => None,
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
}

impl Transaction {
    /// One parsed command.
    pub(super) fn on_command(mut self, cx: &mut Common, command: Command) -> Phase {
        let out = &mut cx.out;
        let outcome: Result<(), String> = match command {
            Command::Stat => {
                reply::ok(
                    out,
                    &format!(
                        "{} {}",
                        self.listing.len() - self.deleted_count,
                        self.total_octets - self.deleted_octets
                    ),
                );
                Ok(())
            }
            Command::List(None) => {
                reply::ok(out, &self.summary(""));
                self.busy = Some(Busy::Listing {
                    kind: ListKind::Sizes,
                    next: 0,
                });
                Ok(())
            }
            Command::List(Some(n)) => self.lookup(n).map(|index| {
                reply::ok(out, &format!("{n} {}", self.listing.wire_size(index)));
            }),
            Command::Uidl(None) => {
                reply::ok(out, "unique-id listing follows");
                self.busy = Some(Busy::Listing {
                    kind: ListKind::Uids,
                    next: 0,
                });
                Ok(())
            }
            Command::Uidl(Some(n)) => self.lookup(n).map(|index| {
                reply::ok(out, &format!("{n} {}", self.listing.uid(index)));
            }),
            Command::Retr(n) => self.lookup(n).map(|index| {
                self.highest_accessed = self.highest_accessed.max(n.get());
                self.retrieved.insert(index);
                self.busy = Some(Busy::Opening {
                    number: n.get(),
                    index,
                    top: None,
                });
                cx.event = Some(Event::Request(Request::Retrieve {
                    index,
                    top_lines: None,
                }));
            }),
            Command::Top(n, lines) => self.lookup(n).map(|index| {
                self.busy = Some(Busy::Opening {
                    number: n.get(),
                    index,
                    top: Some(lines),
                });
                cx.event = Some(Event::Request(Request::Retrieve {
                    index,
                    top_lines: Some(lines),
                }));
            }),
            Command::Dele(n) => self.lookup(n).map(|index| {
                self.deleted.insert(index);
                self.deleted_count += 1;
                self.deleted_octets += self.listing.wire_size(index);
                self.highest_accessed = self.highest_accessed.max(n.get());
                reply::ok(out, &format!("message {n} deleted"));
            }),
            Command::Noop => {
                reply::ok(out, "");
                Ok(())
            }
            Command::Rset => {
                self.deleted.clear();
                self.deleted_count = 0;
                self.deleted_octets = 0;
                self.highest_accessed = 0;
                reply::ok(out, &self.summary("maildrop has"));
                Ok(())
            }
            Command::Last if cx.config.last_command => {
                reply::ok(out, &self.highest_accessed.to_string());
                Ok(())
            }
            Command::Last => return self.bad_command(cx, "unknown command: LAST"),
            Command::Capa => {
                cx.command_ok();
                cx.write_capa(false);
                return Phase::Transaction(self);
            }
            Command::Quit => return self.into_update(cx),
            other => {
                let text = format!("{} not allowed after login", other.keyword());
                return self.bad_command(cx, &text);
            }
        };
        match outcome {
            // RETR and TOP are answered when the driver has opened the message.
            Ok(()) if matches!(cx.event, Some(Event::Request(_))) => cx.bad_commands = 0,
            Ok(()) => cx.command_ok(),
            // A well-formed command on a missing or deleted message: an answer, not a
            // protocol error, so it does not count towards the invalid-command limit.
            Err(text) => cx.record_err(None, &text),
        }
        Phase::Transaction(self)
    }

    /// Answers [`Request::Retrieve`]: `Ok` sends the `+OK` line and starts streaming the body.
    /// Ignored unless a message is being opened.
    pub(super) fn on_retrieve_opened(
        &mut self,
        cx: &mut Common,
        result: Result<(), RetrieveError>,
    ) {
        let Some(Busy::Opening { number, index, top }) = self.busy else {
            return;
        };
        self.busy = None;
        match result {
            Ok(()) => {
                let size = self.listing.wire_size(index);
                let (encoder, expected, text) = match top {
                    Some(lines) => (
                        BodyEncoder::top(lines),
                        None,
                        "top of message follows".to_owned(),
                    ),
                    None => (BodyEncoder::whole(), Some(size), format!("{size} octets")),
                };
                self.busy = Some(Busy::Streaming {
                    encoder,
                    expected,
                    index,
                });
                reply::ok(&mut cx.out, &text);
            }
            Err(error) => {
                let (code, text) = retrieve_error_reply(error, number);
                cx.record_err(code, &text);
            }
        }
    }

    /// The next chunk of the body being streamed. **A RETR longer than its listed size is cut
    /// and the session closes**, so no message differing from its LIST size is sent whole.
    pub(super) fn on_body(mut self, cx: &mut Common, chunk: &[u8]) -> (Phase, Progress) {
        let Some(Busy::Streaming {
            encoder, expected, ..
        }) = &mut self.busy
        else {
            return (Phase::Transaction(self), Progress::Complete);
        };
        let progress = encoder.encode(chunk, &mut cx.out);
        if expected.is_some_and(|size| encoder.wire_octets() > size) {
            cx.record(false);
            return (cx.close(), Progress::Complete);
        }
        (Phase::Transaction(self), progress)
    }

    /// The body ended: the terminator, unless a RETR came out shorter than listed, which
    /// closes without one rather than send it short.
    pub(super) fn on_body_end(mut self, cx: &mut Common) -> Phase {
        let Some(Busy::Streaming {
            encoder,
            expected,
            index,
        }) = self.busy.take()
        else {
            return Phase::Transaction(self);
        };
        if expected.is_some_and(|size| encoder.wire_octets() != size) {
            cx.record(false);
            return cx.close();
        }
        encoder.finish(&mut cx.out);
        if expected.is_some() {
            self.sent.insert(index);
        }
        cx.command_ok();
        Phase::Transaction(self)
    }

    fn bad_command(self, cx: &mut Common, text: &str) -> Phase {
        let limit = cx.config.limits.bad_commands_after_login;
        cx.bad_command(text, limit, Phase::Transaction(self))
    }

    /// QUIT: enters UPDATE, handing the driver the deletions to commit. **This is the only
    /// way to [`Request::Commit`]**; every other end of a TRANSACTION drops it uncommitted.
    fn into_update(self, cx: &mut Common) -> Phase {
        let deleted = self.deleted.members();
        let retrieved = self.retrieved.members();
        // RFC 2449 §6.7: with EXPIRE 0, a message retrieved in this session is removed at
        // UPDATE even without DELE. Only QUIT gets here, so a dropped connection expires
        // nothing.
        let expired: Vec<usize> = if cx.expire() == Some(Expire::Days(0)) {
            let deleted = &self.deleted;
            self.sent
                .members()
                .into_iter()
                .filter(|&index| !deleted.contains(index))
                .collect()
        } else {
            Vec::new()
        };
        let marked = deleted.len() + expired.len();
        let remaining = self.listing.len().saturating_sub(marked);
        let update = Update::new(remaining, marked);
        cx.event = Some(Event::Request(Request::Commit {
            deleted,
            expired,
            retrieved,
        }));
        Phase::Update(update)
    }
}

/// The reply to a message that could not be opened.
fn retrieve_error_reply(error: RetrieveError, number: u32) -> (Option<ResponseCode>, String) {
    match error {
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
    }
}

/// Writes `number value` CRLF.
fn writeln_crlf(out: &mut Vec<u8>, number: usize, value: impl std::fmt::Display) -> Option<()> {
    let mut line = String::with_capacity(32);
    write!(line, "{number} {value}\r\n").ok()?;
    out.extend_from_slice(line.as_bytes());
    Some(())
}
