//! One LMTP connection: the `pop3-lmtp` session driven over a socket, with the user database
//! and the Maildirs behind it.
//!
//! Blocking work (lookups, file writes, fsyncs) runs on the blocking pool; the connection
//! waits for it, so one connection has at most one message's deliveries and one body chunk
//! (the session's high-water mark) in memory.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use pop3_lmtp::{Event, Outcome, Session, Verdict};
use pop3_maildrop::QuotaLimit;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::{debug, info, warn};

use crate::lmtp::delivery::{Deliveries, Target, trace_headers};
use crate::lmtp::recipient::{Resolved, resolve};
use crate::shared::Shared;
use crate::user_db::deadline;

const READ_BUFFER: usize = 64 * 1024;

/// The driver's side of a session: the accepted recipients' Maildirs and the deliveries of
/// the message in flight.
struct Driver {
    shared: Arc<Shared>,
    /// Maildirs and quotas of the recipients accepted in this transaction, by address as
    /// given.
    maildirs: HashMap<String, (PathBuf, QuotaLimit)>,
    deliveries: Option<Deliveries>,
}

/// Serves one connection until it ends. `peer` names the client in logs.
pub(crate) async fn serve<S>(shared: Arc<Shared>, mut stream: S, peer: String)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(lmtp) = shared.config.lmtp.as_ref() else {
        return;
    };
    let idle = lmtp.idle;
    let mut session = Session::new(lmtp.protocol.clone());
    let mut shutdown = shared.shutdown.clone();
    let mut driver = Driver {
        shared: shared.clone(),
        maildirs: HashMap::new(),
        deliveries: None,
    };
    let mut buf = vec![0u8; READ_BUFFER];
    debug!(%peer, "LMTP connection");
    loop {
        let output = session.take_output();
        if !output.is_empty()
            && tokio::time::timeout(idle, stream.write_all(&output))
                .await
                .map_or(true, |r| r.is_err())
        {
            debug!(%peer, "LMTP client stopped reading");
            break;
        }
        let body = session.take_body();
        if !body.is_empty() {
            driver.write(body).await;
        }
        if let Some(event) = session.poll_event() {
            if driver.on_event(&mut session, event).await {
                continue;
            }
            let _ = stream.flush().await;
            break;
        }
        if *shutdown.borrow() && session.is_idle() {
            session.shutdown();
            continue;
        }
        if !session.wants_input() {
            if session.has_pending() {
                tokio::task::yield_now().await;
                continue;
            }
            // The core's progress contract rules this out; closing beats spinning a worker.
            warn!(%peer, "LMTP session stopped making progress; closed");
            break;
        }
        tokio::select! {
            read = tokio::time::timeout(idle, stream.read(&mut buf)) => match read {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => session.handle_input(&buf[..n]),
                Err(_) => session.timeout(),
            },
            _ = shutdown.changed(), if !*shutdown.borrow() => {}
        }
    }
    // A message in flight and not acknowledged: its temporary files go (the MTA still has it).
    if let Some(deliveries) = driver.deliveries.take() {
        let _ = tokio::task::spawn_blocking(move || drop(deliveries)).await;
    }
}

impl Driver {
    /// Answers one event; false when the session is over.
    async fn on_event(&mut self, session: &mut Session, event: Event) -> bool {
        match event {
            Event::Recipient(address) => {
                if session.recipients().is_empty() {
                    self.maildirs.clear();
                }
                let lmtp = self.shared.config.lmtp.as_ref();
                let delimiter = lmtp.and_then(|l| l.recipient_delimiter);
                let db = self.shared.config.user_db.clone();
                let looked_up = address.clone();
                let limit = deadline(&db);
                let site_quota = self.shared.config.quota;
                let lookup = tokio::task::spawn_blocking(move || {
                    resolve(&db, &looked_up, delimiter, &site_quota)
                });
                // With PostgreSQL, a lookup past the deadline is `451 4.3.0`; the blocking
                // task ends when the database answers (bounded by the pool, `user_db.rs`).
                let resolved = match limit {
                    Some(limit) => match tokio::time::timeout(limit, lookup).await {
                        Ok(joined) => joined.unwrap_or(Resolved::TempFail),
                        Err(_) => {
                            warn!(recipient = %address, ?limit, "LMTP: user database did not answer in time; answering 451");
                            Resolved::TempFail
                        }
                    },
                    None => lookup.await.unwrap_or(Resolved::TempFail),
                };
                let verdict = match resolved {
                    Resolved::User { maildir, quota } => {
                        self.maildirs.insert(address.to_string(), (maildir, quota));
                        Verdict::Accept
                    }
                    Resolved::Unknown => {
                        info!(recipient = %address, "LMTP: unknown recipient, 550");
                        self.shared.metrics.lmtp_recipient("unknown");
                        Verdict::Unknown
                    }
                    Resolved::TempFail => {
                        self.shared.metrics.lmtp_recipient("temp_failure");
                        Verdict::TempFail
                    }
                };
                session.handle_recipient(verdict);
            }
            Event::MessageBegin => {
                let ready = self.begin(session).await;
                session.handle_message_begin(ready);
            }
            Event::MessageEnd => {
                let outcomes = self.commit(session).await;
                session.handle_delivered(&outcomes);
            }
            Event::MessageAborted => {
                for _ in session.recipients() {
                    self.shared.metrics.lmtp_recipient("too_big");
                }
                if let Some(deliveries) = self.deliveries.take() {
                    let _ = tokio::task::spawn_blocking(move || drop(deliveries)).await;
                }
                info!("LMTP: message over the size limit refused, 552");
            }
            Event::Close => return false,
        }
        true
    }

    async fn begin(&mut self, session: &Session) -> Result<(), Outcome> {
        let sender = session.sender().map(ToString::to_string);
        let targets: Vec<Target> = session
            .recipients()
            .iter()
            .map(|address| {
                let shown = address.to_string();
                let (maildir, quota) = match self.maildirs.get(&shown) {
                    Some((maildir, quota)) => (Some(maildir.clone()), *quota),
                    None => (None, QuotaLimit::UNLIMITED),
                };
                Target {
                    maildir,
                    quota,
                    headers: trace_headers(sender.as_deref(), &shown),
                }
            })
            .collect();
        let deliveries = tokio::task::spawn_blocking(move || Deliveries::begin(targets))
            .await
            .map_err(|_| Outcome::TempFail)?;
        if let Some(outcome) = deliveries.none_started() {
            for _ in session.recipients() {
                self.shared.metrics.lmtp_recipient("temp_failure");
            }
            return Err(outcome);
        }
        self.deliveries = Some(deliveries);
        Ok(())
    }

    async fn write(&mut self, body: Vec<u8>) {
        let Some(mut deliveries) = self.deliveries.take() else {
            return;
        };
        let written = tokio::task::spawn_blocking(move || {
            deliveries.write(&body);
            deliveries
        })
        .await;
        // A panicked write dropped the deliveries (removing their files): every recipient
        // then gets a temporary failure at the end.
        self.deliveries = written.ok();
    }

    async fn commit(&mut self, session: &Session) -> Vec<Outcome> {
        let Some(deliveries) = self.deliveries.take() else {
            return vec![Outcome::TempFail; session.recipients().len()];
        };
        let over_quota = self.shared.config.quota.over_quota;
        // Each recipient's commit catches its own panic (`Deliveries::commit`); should the
        // task fail anyway, the recipients without a result get a temporary failure each.
        let mut results = tokio::task::spawn_blocking(move || deliveries.commit(over_quota))
            .await
            .unwrap_or_default();
        results.resize(session.recipients().len(), (Outcome::TempFail, 0));
        let metrics = &self.shared.metrics;
        for (address, (outcome, octets)) in session.recipients().iter().zip(&results) {
            if *outcome == Outcome::Delivered {
                metrics.lmtp_delivered(*octets);
                info!(recipient = %address, octets, "LMTP: delivered");
            } else if matches!(outcome, Outcome::OverQuota | Outcome::OverQuotaDeferred) {
                metrics.lmtp_recipient("over_quota");
                info!(recipient = %address, ?outcome, "LMTP: over quota, not delivered");
            } else {
                metrics.lmtp_recipient("temp_failure");
                warn!(recipient = %address, ?outcome, "LMTP: not delivered, the MTA will retry");
            }
        }
        results.into_iter().map(|(outcome, _)| outcome).collect()
    }
}
