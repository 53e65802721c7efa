//! The UPDATE state (RFC 1939 §6): QUIT was given in TRANSACTION and the commit of the marked
//! messages is with the driver. It only waits for [`super::Session::handle_commit_result`].

use super::common::Common;
use super::{CommitOutcome, Phase};
use crate::reply::{self, ResponseCode};

/// UPDATE: what the QUIT reply needs once the driver has committed.
pub(super) struct Update {
    /// Messages left after the commit, for the QUIT reply.
    remaining: usize,
    /// Messages being removed.
    marked: usize,
}

impl Update {
    pub(super) fn new(remaining: usize, marked: usize) -> Update {
        Update { remaining, marked }
    }

    /// The messages the commit removes.
    pub(super) fn marked_count(&self) -> usize {
        self.marked
    }

    /// Answers [`super::Request::Commit`]: the QUIT reply, then the session closes.
    pub(super) fn on_commit_result(self, cx: &mut Common, outcome: CommitOutcome) -> Phase {
        cx.record(!matches!(outcome, CommitOutcome::Partial { .. }));
        match outcome {
            CommitOutcome::Removed | CommitOutcome::RemovedAndExpired { .. } => {
                let by_age = match outcome {
                    CommitOutcome::RemovedAndExpired { by_age } => by_age,
                    _ => 0,
                };
                let left = reply::messages(self.remaining.saturating_sub(by_age));
                reply::ok(&mut cx.out, &format!("signing off ({left} left)"));
            }
            CommitOutcome::Partial { .. } => reply::err(
                &mut cx.out,
                Some(ResponseCode::SysTemp),
                "some deleted messages not removed",
            ),
        }
        cx.close()
    }
}
