//! The deliveries of one LMTP message: one file in `tmp/` per accepted recipient, each with
//! its own trace headers, fed the same body, committed one by one. Blocking: call from a
//! blocking thread.
//!
//! **A recipient's outcome is `Delivered` only after its file was fsynced, renamed into
//! `new/` and `new/` fsynced** ([`Delivery::commit`]); a recipient whose Maildir cannot be
//! opened or written keeps its own temporary failure and does not stop the others.

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;

use pop3_config::OverQuota;
use pop3_lmtp::Outcome;
use pop3_maildrop::{Delivered, Delivery, Maildir, QuotaLimit};
use tracing::{debug, error, warn};

/// One recipient's delivery: in progress, or failed with the outcome to report.
enum Slot {
    Writing(Delivery<Maildir>, QuotaLimit),
    Failed(Outcome),
}

/// The deliveries of one message, in RCPT order.
pub(crate) struct Deliveries {
    slots: Vec<Slot>,
}

/// What one recipient needs: their Maildir (`None` if the lookup went away since RCPT) and
/// the trace headers that start their copy.
pub(crate) struct Target {
    pub(crate) maildir: Option<PathBuf>,
    /// The recipient's quota, checked when the copy is committed (its size is known then).
    pub(crate) quota: QuotaLimit,
    pub(crate) headers: String,
}

/// The trace headers of one copy: `Return-Path` (the envelope sender, `<>` for a bounce)
/// and `Delivered-To` (the recipient as the MTA gave it), LF-terminated like the stored body.
pub(crate) fn trace_headers(sender: Option<&str>, recipient: &str) -> String {
    format!(
        "Return-Path: <{}>\nDelivered-To: {recipient}\n",
        sender.unwrap_or("")
    )
}

fn outcome_of(error: &pop3_maildrop::Error) -> Outcome {
    if error.is_disk_full() {
        Outcome::DiskFull
    } else {
        Outcome::TempFail
    }
}

impl Deliveries {
    /// Opens each Maildir and starts each delivery with its headers.
    pub(crate) fn begin(targets: Vec<Target>) -> Deliveries {
        let slots = targets.into_iter().map(start).collect();
        Deliveries { slots }
    }

    /// When no delivery could start: the outcome for DATA itself (a full disk if any said
    /// so), so the MTA does not send a message nobody can take.
    pub(crate) fn none_started(&self) -> Option<Outcome> {
        let mut outcome = None;
        for slot in &self.slots {
            match slot {
                Slot::Writing(..) => return None,
                Slot::Failed(Outcome::DiskFull) => outcome = Some(Outcome::DiskFull),
                Slot::Failed(o) => outcome = outcome.or(Some(*o)),
            }
        }
        outcome
    }

    /// Appends body octets to every delivery still going; one that fails is discarded and
    /// keeps its outcome.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for slot in &mut self.slots {
            if let Slot::Writing(delivery, _) = slot
                && let Err(e) = delivery.write(bytes)
            {
                warn!(error = %e, "LMTP: a delivery failed while writing");
                *slot = Slot::Failed(outcome_of(&e));
            }
        }
    }

    /// Commits every delivery still going, each within its recipient's quota; one outcome
    /// per recipient, in order, with the octets stored for the delivered ones. **A recipient
    /// over quota gets its own refusal** (`552 5.2.2`, or `452 4.2.2` when `over_quota` is
    /// `defer`) and its copy is not written; the others are committed as if it were not there.
    ///
    /// **Each recipient's commit stands alone, a panic included**: it runs under its own
    /// `catch_unwind`, so a recipient already committed keeps its `250` when a later one
    /// fails or panics (that one gets `451`, its temporary file removed as the delivery
    /// unwinds). Were the panic to empty the whole list, every recipient would get `451` and
    /// the MTA's retry would give the committed ones a second copy.
    pub(crate) fn commit(self, over_quota: OverQuota) -> Vec<(Outcome, u64)> {
        self.commit_with(over_quota, |delivery, quota| delivery.commit_within(quota))
    }

    /// [`Deliveries::commit`] with the commit of one delivery given (tests make it panic).
    fn commit_with(
        self,
        over_quota: OverQuota,
        mut commit: impl FnMut(Delivery<Maildir>, &QuotaLimit) -> pop3_maildrop::Result<Delivered>,
    ) -> Vec<(Outcome, u64)> {
        self.slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Failed(outcome) => (outcome, 0),
                Slot::Writing(delivery, quota) => {
                    // Nothing shared outlives an unwind here: the delivery moves into the
                    // closure and is dropped (its temporary file removed) by the unwind.
                    let committed =
                        panic::catch_unwind(AssertUnwindSafe(|| commit(delivery, &quota)));
                    match committed {
                        Ok(Ok(delivered)) => (Outcome::Delivered, delivered.raw_size),
                        Ok(Err(e @ pop3_maildrop::Error::OverQuota { .. })) => {
                            debug!(error = %e, "LMTP: a recipient is over quota");
                            let outcome = match over_quota {
                                OverQuota::Reject => Outcome::OverQuota,
                                OverQuota::Defer => Outcome::OverQuotaDeferred,
                            };
                            (outcome, 0)
                        }
                        Ok(Err(e)) => {
                            warn!(error = %e, "LMTP: a delivery failed at commit");
                            (outcome_of(&e), 0)
                        }
                        Err(_) => {
                            error!(
                                "LMTP: a delivery panicked at commit; this recipient only gets 451"
                            );
                            (Outcome::TempFail, 0)
                        }
                    }
                }
            })
            .collect()
    }
}

fn start(target: Target) -> Slot {
    let Some(path) = target.maildir else {
        return Slot::Failed(Outcome::TempFail);
    };
    let started = Maildir::open(&path).and_then(|maildir| {
        let mut delivery = Delivery::begin(maildir)?;
        delivery.write(target.headers.as_bytes())?;
        Ok(delivery)
    });
    match started {
        Ok(delivery) => Slot::Writing(delivery, target.quota),
        Err(e) => {
            warn!(maildir = %path.display(), error = %e, "LMTP: cannot start a delivery");
            Slot::Failed(outcome_of(&e))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn count(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn a_panicking_commit_costs_only_its_own_recipient() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = ["a", "b", "c"]
            .iter()
            .map(|name| {
                let path = dir.path().join(name);
                Maildir::create(&path).unwrap();
                path
            })
            .collect();
        let targets = paths
            .iter()
            .map(|path| Target {
                maildir: Some(path.clone()),
                quota: QuotaLimit::UNLIMITED,
                headers: trace_headers(Some("s@x.test"), "r@x.test"),
            })
            .collect();
        let mut deliveries = Deliveries::begin(targets);
        deliveries.write(b"Subject: hi\n\nbody\n");
        let mut calls = 0;
        let results = deliveries.commit_with(OverQuota::Reject, |delivery, quota| {
            calls += 1;
            if calls == 2 {
                // What the `1€` maildirsize did before it was parsed by suffix.
                panic!("a commit panicked");
            }
            delivery.commit_within(quota)
        });
        let outcomes: Vec<Outcome> = results.iter().map(|(o, _)| *o).collect();
        assert_eq!(
            outcomes,
            [Outcome::Delivered, Outcome::TempFail, Outcome::Delivered]
        );
        assert!(results[0].1 > 0);
        assert_eq!(count(&paths[0].join("new")), 1);
        assert_eq!(count(&paths[1].join("new")), 0);
        // The panicked delivery's temporary file went with the unwind.
        assert_eq!(count(&paths[1].join("tmp")), 0);
        assert_eq!(count(&paths[2].join("new")), 1);
    }
}
