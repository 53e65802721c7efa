//! One connection: the driver that feeds a `pop3_proto::Session` and carries out its requests.
//!
//! The life of a session: accept → (implicit TLS handshake) → greeting → AUTHORIZATION
//! (auth on the blocking pool, behind the hash semaphore and the throttle) → open the maildrop
//! (lock, scan) → TRANSACTION (RETR/TOP streamed from the file through the encoder in 64 KiB
//! pieces, each written before the next is read) → QUIT → UPDATE (commit) → close. **Any
//! other end — EOF, a timeout, an error, shutdown — drops the maildrop without a commit, which
//! releases its lock.**

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pop3_auth::{Credential, Outcome, UserDb, apop};
use pop3_maildrop::{Maildrop, MessageReader, OpenOptions};
use pop3_proto::{
    Abort, AuthOutcome, CommitOutcome, Connection, Credentials, Event, Listing, OpenError,
    Progress, Request, RetrieveError, Secret, Session, SharedListing, escape_client_text,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::{info, warn};

use crate::config::TlsMode;
use crate::fault;
use crate::registry::{self, LockEntry, SessionEntry, unix_now};
use crate::server::Shared;
use crate::stream::Stream;

/// Bytes read from the client at once, at first: enough for any command, small for the many
/// idle sessions a server holds.
const READ_CHUNK: usize = 1024;
/// The read buffer doubles up to this whenever a read fills it (a client pipelining).
const READ_CHUNK_MAX: usize = 16 * 1024;
/// Bytes of a message read from its file at once (the most a session buffers of it).
const BODY_CHUNK: usize = 256 * 1024;

/// Serves one accepted connection to its end.
pub(crate) async fn serve(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr, mode: TlsMode) {
    let id = shared.next_session_id();
    let started = Instant::now();
    let _ = tcp.set_nodelay(true);
    let listener = match mode {
        TlsMode::Starttls => "starttls",
        TlsMode::Implicit => "implicit",
        TlsMode::None => "none",
    };
    shared
        .metrics
        .connection(listener, mode == TlsMode::Implicit);
    let entry = shared
        .registry
        .open_session(id, peer, listener, mode == TlsMode::Implicit);
    let stream = match mode {
        TlsMode::Implicit => match handshake(&shared, tcp).await {
            Some(tls) => Stream::Tls(Box::new(tls)),
            None => {
                info!(session = id, rip = %peer.ip(), "TLS handshake failed");
                return;
            }
        },
        _ => Stream::Plain(tcp),
    };
    let protocol = match mode {
        TlsMode::Starttls if shared.tls.is_some() => shared.protocol_starttls.clone(),
        _ => shared.protocol_plain.clone(),
    };
    let apop_timestamp = if shared.config.protocol.apop {
        apop::timestamp(&shared.config.hostname, unix_now()).ok()
    } else {
        None
    };
    let connection = Connection {
        secure: mode == TlsMode::Implicit,
        loopback: shared.config.trust_loopback && peer.ip().is_loopback(),
        apop_timestamp,
    };
    let mut driver = Driver {
        session: Session::new(protocol, connection),
        shared,
        stream,
        peer,
        id,
        started,
        maildrop: None,
        lock: None,
        entry,
        step_started: Instant::now(),
        user: None,
        stats: Stats::default(),
    };
    let end = driver.run().await;
    driver.after_step();
    let user = driver
        .user
        .as_ref()
        .map_or("-".to_owned(), |u| u.name.to_string());
    let tls = driver.session.is_secure();
    driver.release_maildrop();
    driver
        .shared
        .metrics
        .session_ended(started.elapsed().as_secs_f64());
    info!(
        session = id,
        user,
        rip = %peer.ip(),
        tls,
        retr = driver.stats.retr,
        top = driver.stats.top,
        dele = driver.stats.dele,
        bytes = driver.stats.bytes,
        duration_ms = started.elapsed().as_millis() as u64,
        end = end.as_str(),
        "session end"
    );
}

/// How a session ended, for the log.
#[derive(Debug, Clone, Copy)]
enum End {
    Closed,
    ClientGone,
    LoginTimeout,
    IdleTimeout,
    OutputStalled,
    TlsFailed,
    Error,
}

impl End {
    fn as_str(self) -> &'static str {
        match self {
            End::Closed => "closed",
            End::ClientGone => "client-gone",
            End::LoginTimeout => "login-timeout",
            End::IdleTimeout => "idle-timeout",
            End::OutputStalled => "output-stalled",
            End::TlsFailed => "tls-failed",
            End::Error => "error",
        }
    }
}

#[derive(Default)]
struct Stats {
    retr: u64,
    top: u64,
    dele: u64,
    bytes: u64,
}

struct Driver {
    shared: Arc<Shared>,
    session: Session,
    stream: Stream,
    peer: SocketAddr,
    id: u64,
    started: Instant,
    maildrop: Option<Arc<Maildrop>>,
    /// The registry's record of the maildrop lock; dropped with the maildrop.
    lock: Option<LockEntry>,
    /// This session's registry entry; removed when the driver is dropped.
    entry: SessionEntry,
    /// When the input being processed arrived, for command durations.
    step_started: Instant,
    user: Option<pop3_auth::User>,
    stats: Stats,
}

impl Driver {
    async fn run(&mut self) -> End {
        let mut buf = vec![0u8; READ_CHUNK];
        let mut shutdown = self.shared.shutdown.clone();
        let kicked = self.entry.kicked();
        let mut last_input = Instant::now();
        loop {
            self.after_step();
            if let Err(end) = self.flush().await {
                return end;
            }
            match self.session.poll_event() {
                Some(Event::Request(request)) => {
                    if let Err(end) = self.complete(request).await {
                        return end;
                    }
                    continue;
                }
                Some(Event::StartTls) => {
                    if !self.start_tls().await {
                        return End::TlsFailed;
                    }
                    self.session.handle_tls_established();
                    continue;
                }
                Some(Event::Close) => {
                    // Release the lock before the client can see the close, so a client that
                    // reconnects at once never meets its own previous session's lock. (The
                    // session dropped its share of the maildrop when it closed.)
                    self.release_maildrop();
                    let _ = self.flush().await;
                    let _ =
                        tokio::time::timeout(Duration::from_secs(5), self.stream.shutdown()).await;
                    return End::Closed;
                }
                None => {}
            }
            if *shutdown.borrow() {
                self.session.handle_abort(Abort::Shutdown);
                continue;
            }
            if !self.session.wants_input() {
                return End::Error;
            }
            let timeouts = self.shared.config.timeouts;
            let (deadline, timeout_end) = if self.user.is_some() {
                (last_input + timeouts.idle, End::IdleTimeout)
            } else {
                (self.started + timeouts.login, End::LoginTimeout)
            };
            tokio::select! {
                read = self.stream.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return End::ClientGone,
                    Ok(n) => {
                        last_input = Instant::now();
                        self.step_started = last_input;
                        self.entry.update(|info| info.last_activity = unix_now());
                        fault::on_input(&buf[..n]);
                        self.session.handle_input(&buf[..n]);
                        if n == buf.len() && buf.len() < READ_CHUNK_MAX {
                            buf.resize(buf.len() * 2, 0);
                        }
                    }
                },
                () = kicked.notified() => {
                    info!(session = self.id, "disconnected by administrator");
                    self.session.handle_abort(Abort::Kicked);
                }
                // RFC 1939 §3: an autologout timer closes without a reply and without UPDATE.
                () = tokio::time::sleep_until(deadline.into()) => return timeout_end,
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Drops the maildrop (and with it the flock), then its registry entry. Idempotent.
    fn release_maildrop(&mut self) {
        drop(self.maildrop.take());
        if let Some(lock) = self.lock.take() {
            self.shared.metrics.lock_released(lock.held_for());
        }
    }

    /// Reports answered commands to the metrics and brings the registry entry up to date.
    fn after_step(&mut self) {
        let elapsed = self.step_started.elapsed().as_secs_f64();
        while let Some(record) = self.session.poll_command_record() {
            self.shared
                .metrics
                .command(record.command, record.ok, elapsed);
        }
        let state = registry::state_name(self.session.state());
        let command = self.session.current_command();
        let tls = self.session.is_secure();
        let (bytes, retrieved) = (self.stats.bytes, self.stats.retr);
        let marked = self.session.marked_count() as u64;
        self.entry.update(|info| {
            if info.state != state {
                info.state = state.to_owned();
            }
            info.command = command.map(str::to_owned);
            info.tls = tls;
            info.bytes_sent = bytes;
            info.retrieved = retrieved;
            info.deleted = marked;
        });
    }

    /// Writes everything the session has produced; a peer that stops reading is dropped.
    async fn flush(&mut self) -> Result<(), End> {
        let stall = self.shared.config.timeouts.output_stall;
        loop {
            let pending = self.session.poll_transmit();
            if pending.is_empty() {
                break;
            }
            match tokio::time::timeout(stall, self.stream.write(pending)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return Err(End::ClientGone),
                Ok(Ok(n)) => {
                    self.stats.bytes += n as u64;
                    self.session.advance_transmit(n);
                }
                Err(_) => return Err(End::OutputStalled),
            }
        }
        match tokio::time::timeout(stall, self.stream.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::ClientGone),
            Err(_) => Err(End::OutputStalled),
        }
    }

    async fn start_tls(&mut self) -> bool {
        if self.flush().await.is_err() {
            return false;
        }
        let Some(tcp) = self.stream.take_plain() else {
            return false;
        };
        match handshake(&self.shared, tcp).await {
            Some(tls) => {
                self.stream = Stream::Tls(Box::new(tls));
                true
            }
            None => false,
        }
    }

    async fn complete(&mut self, request: Request) -> Result<(), End> {
        match request {
            Request::Authenticate(credentials) => {
                let outcome = self.authenticate(credentials).await;
                self.session.handle_auth_result(outcome);
            }
            Request::OpenMaildrop => {
                let result = self.open_maildrop().await;
                self.session.handle_maildrop_opened(result);
            }
            Request::Retrieve { index, top_lines } => self.retrieve(index, top_lines).await?,
            Request::Commit { deleted, retrieved } => {
                let outcome = self.commit(deleted, retrieved).await;
                self.session.handle_commit_result(outcome);
            }
        }
        Ok(())
    }

    async fn authenticate(&mut self, credentials: Credentials) -> AuthOutcome {
        let ip = self.peer.ip();
        let wait = match self.shared.throttle.lock() {
            Ok(throttle) => throttle.before_attempt(ip, Instant::now()),
            Err(_) => Duration::ZERO,
        };
        if !wait.is_zero() {
            self.shared.metrics.throttled();
            tokio::time::sleep(wait).await;
        }
        let method = credentials.secret.method();
        let Ok(permit) = self.shared.hash_permits.clone().acquire_owned().await else {
            return AuthOutcome::Unavailable;
        };
        let authenticator = self.shared.authenticator.clone();
        let db_path = self.shared.config.user_db.clone();
        let name = credentials.user.clone();
        let verdict = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let credential = match &credentials.secret {
                Secret::Password { password, .. } => Credential::Password(password),
                Secret::Apop { timestamp, digest } => Credential::Apop { timestamp, digest },
                _ => return Ok(Outcome::Rejected(pop3_auth::RejectReason::ApopNotAvailable)),
            };
            with_user_db(&db_path, |db| {
                authenticator.authenticate(db, &credentials.user, credential)
            })
        })
        .await;
        match verdict {
            Ok(Ok(Outcome::Accepted(user))) => {
                if let Ok(mut throttle) = self.shared.throttle.lock() {
                    throttle.after_success(ip);
                }
                info!(session = self.id, user = %user.name, rip = %ip, mechanism = method, "login");
                self.shared.metrics.auth(method, "success");
                let canonical = user.name.to_string();
                self.entry
                    .update(|info| info.user = Some(canonical.clone()));
                self.user = Some(user);
                AuthOutcome::Accepted
            }
            Ok(Ok(Outcome::Rejected(reason))) => {
                self.shared.metrics.auth(method, "failure");
                let verdict = match self.shared.throttle.lock() {
                    Ok(mut throttle) => {
                        Some(throttle.after_failure(ip, &name.to_ascii_lowercase(), Instant::now()))
                    }
                    Err(_) => None,
                };
                // The stable line fail2ban matches (config/fail2ban-filter.conf).
                warn!(
                    "auth failed: user={} rip={ip} mechanism={method} reason={}",
                    escape_client_text(name.as_bytes()),
                    reason.as_str()
                );
                if let Some(verdict) = verdict {
                    if verdict.spraying_target {
                        warn!(user = %escape_client_text(name.as_bytes()), "many failed logins for one user from several addresses");
                    }
                    tokio::time::sleep(verdict.delay).await;
                }
                AuthOutcome::Rejected
            }
            Ok(Ok(_)) => AuthOutcome::Rejected,
            Ok(Err(e)) => {
                self.shared.metrics.auth(method, "error");
                warn!(session = self.id, error = %e, "user database unavailable");
                AuthOutcome::Unavailable
            }
            Err(e) => {
                self.shared.metrics.auth(method, "error");
                warn!(session = self.id, error = %e, "authentication task failed");
                AuthOutcome::Unavailable
            }
        }
    }

    async fn open_maildrop(&mut self) -> Result<SharedListing, OpenError> {
        let Some(user) = &self.user else {
            return Err(OpenError::Permanent);
        };
        let path = user.maildir.clone();
        let options = OpenOptions {
            session: self.id.to_string(),
            lock_wait: self.shared.config.lock_wait,
        };
        let scan_started = Instant::now();
        let opened = tokio::task::spawn_blocking(move || Maildrop::open(&path, &options)).await;
        match opened {
            Ok(Ok(maildrop)) => {
                self.shared
                    .metrics
                    .scanned(scan_started.elapsed().as_secs_f64());
                if let Some(error) = &maildrop.scan_report().cache_error {
                    warn!(session = self.id, %error, "maildrop cache not written; the next login rescans");
                }
                let maildrop = Arc::new(maildrop);
                self.lock = Some(self.entry.hold_lock(user.name.as_str()));
                self.maildrop = Some(maildrop.clone());
                Ok(Arc::new(MaildropListing(maildrop)))
            }
            Ok(Err(pop3_maildrop::Error::Locked { holder, .. })) => {
                self.shared.metrics.lock_conflict();
                info!(session = self.id, user = %user.name, "maildrop in use");
                Err(OpenError::InUse {
                    holder: holder.map(|h| h.to_string()),
                })
            }
            Ok(Err(e)) => {
                warn!(session = self.id, user = %user.name, error = %e, "cannot open maildrop");
                Err(if e.is_temporary() {
                    OpenError::Temporary
                } else {
                    OpenError::Permanent
                })
            }
            Err(_) => Err(OpenError::Temporary),
        }
    }

    async fn retrieve(&mut self, index: usize, top_lines: Option<u64>) -> Result<(), End> {
        let Some(maildrop) = self.maildrop.clone() else {
            self.session.handle_retrieve_opened(Err(RetrieveError::Io));
            return Ok(());
        };
        // Opening and the first read happen in one trip to the blocking pool, and each read
        // fills the buffer and notices the end in the same trip: a message that fits in one
        // buffer costs a single trip.
        let opened = tokio::task::spawn_blocking(move || {
            let mut reader = maildrop.open_message(index)?;
            let mut buf = vec![0u8; BODY_CHUNK];
            let filled = fill(&mut reader, &mut buf);
            Ok::<_, pop3_maildrop::Error>((reader, buf, filled))
        })
        .await;
        let (mut reader, mut buf, mut filled) = match opened {
            Ok(Ok(opened)) => opened,
            Ok(Err(e)) => {
                warn!(session = self.id, error = %e, "cannot open message");
                self.session.handle_retrieve_opened(Err(match e {
                    pop3_maildrop::Error::Vanished { .. } => RetrieveError::Vanished,
                    pop3_maildrop::Error::SizeChanged { .. } => RetrieveError::SizeChanged,
                    other if other.is_temporary() => RetrieveError::Io,
                    _ => RetrieveError::Permanent,
                }));
                return Ok(());
            }
            Err(_) => {
                self.session.handle_retrieve_opened(Err(RetrieveError::Io));
                return Ok(());
            }
        };
        match top_lines {
            Some(_) => self.stats.top += 1,
            None => self.stats.retr += 1,
        }
        self.session.handle_retrieve_opened(Ok(()));
        let whole = top_lines.is_none();
        let mut sent: u64 = 0;
        loop {
            let (n, at_end) = match filled {
                Ok(read) => read,
                Err(e) => {
                    warn!(session = self.id, error = %e, "message changed while being sent");
                    self.session.handle_body_failed();
                    return Ok(());
                }
            };
            sent += n as u64;
            let complete = self.session.handle_body(&buf[..n]) == Progress::Complete;
            if at_end || complete {
                self.session.handle_body_end();
                let octets = if complete {
                    sent
                } else {
                    reader.expected_wire_size()
                };
                self.shared.metrics.retrieved(octets, whole);
                return Ok(());
            }
            // The session has encoded this chunk into its output, so the buffer is free: read
            // the next chunk on a blocking thread while this one goes out, and wait for both.
            // At most one chunk is read ahead of the socket: this is still the backpressure.
            let next = tokio::task::spawn_blocking(move || {
                let filled = fill(&mut reader, &mut buf);
                (reader, buf, filled)
            });
            self.flush().await?;
            let read = next.await;
            let Ok((back, back_buf, result)) = read else {
                self.session.handle_body_failed();
                return Ok(());
            };
            reader = back;
            buf = back_buf;
            filled = result;
        }
    }

    async fn commit(&mut self, deleted: Vec<usize>, retrieved: Vec<usize>) -> CommitOutcome {
        let Some(maildrop) = self.maildrop.clone() else {
            return CommitOutcome::Partial {
                not_removed: deleted.len(),
            };
        };
        let mark_seen = self.shared.config.mark_seen;
        self.stats.dele = deleted.len() as u64;
        let report = tokio::task::spawn_blocking(move || {
            maildrop.commit_observed(&deleted, &retrieved, mark_seen, &mut fault::after_unlink)
        })
        .await;
        match report {
            Ok(report) => {
                let removed = (report.removed + report.already_gone) as u64;
                let failed = report.failed.len() as u64;
                self.shared.metrics.committed(removed, failed);
                for (index, error) in &report.failed {
                    warn!(session = self.id, index, error = %error, "deletion failed");
                }
                if let Some(error) = &report.sync_error {
                    warn!(session = self.id, error = %error, "cur/ not synced after deletions");
                }
                if report.failed.is_empty() {
                    CommitOutcome::Removed
                } else {
                    CommitOutcome::Partial {
                        not_removed: report.failed.len(),
                    }
                }
            }
            Err(_) => CommitOutcome::Partial { not_removed: 0 },
        }
    }
}

thread_local! {
    /// One user-database connection per blocking thread, opened on first use. This is no cache
    /// of user data: each query runs in a fresh read transaction, so with WAL it sees every
    /// change committed since (a password change applies at the next login, as required).
    static USER_DB: RefCell<Option<(PathBuf, UserDb)>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's connection to the database at `path`, opening it if needed;
/// after an error the connection is dropped, so the next login opens a fresh one.
fn with_user_db<T>(
    path: &Path,
    f: impl FnOnce(&UserDb) -> pop3_auth::Result<T>,
) -> pop3_auth::Result<T> {
    USER_DB.with(|cell| {
        let mut slot = cell.borrow_mut();
        let db = match slot.take() {
            Some((open_path, db)) if open_path == path => db,
            _ => UserDb::open(path)?,
        };
        let result = f(&db);
        if result.is_ok() {
            *slot = Some((path.to_owned(), db));
        }
        result
    })
}

/// Reads until `buf` is full or the message ends; returns the octets read and whether the end
/// was reached (the reader verified the size then).
fn fill(reader: &mut MessageReader, buf: &mut [u8]) -> pop3_maildrop::Result<(usize, bool)> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read_chunk(&mut buf[filled..])? {
            0 => return Ok((filled, true)),
            n => filled += n,
        }
    }
    Ok((filled, false))
}

/// A TLS handshake bounded by the handshake timeout. `None` if it failed or timed out.
async fn handshake(
    shared: &Shared,
    tcp: TcpStream,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let tls = shared.tls.as_ref()?;
    let timeout = shared.config.timeouts.tls_handshake;
    match tokio::time::timeout(timeout, tls.acceptor().accept(tcp)).await {
        Ok(Ok(stream)) => {
            shared.metrics.tls_handshake("ok");
            Some(stream)
        }
        Ok(Err(_)) => {
            shared.metrics.tls_handshake("failed");
            None
        }
        Err(_) => {
            shared.metrics.tls_handshake("timeout");
            None
        }
    }
}

/// The maildrop as the session sees it.
struct MaildropListing(Arc<Maildrop>);

impl Listing for MaildropListing {
    fn len(&self) -> usize {
        self.0.messages().len()
    }
    fn wire_size(&self, index: usize) -> u64 {
        self.0.messages().get(index).map_or(0, |m| m.wire_size())
    }
    fn uid(&self, index: usize) -> &str {
        self.0.messages().get(index).map_or("", |m| m.uid())
    }
}
