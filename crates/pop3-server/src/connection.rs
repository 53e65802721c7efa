//! One connection: the loop that feeds a `pop3_proto::Session` the client's bytes, the timers
//! and the answers to its requests, and writes out what it produces.
//!
//! This module is only the loop. The services it holds do the work: `Login` verifies
//! credentials, [`Mailbox`] is the open maildrop (lock, scan, RETR reads, commit), `Shared`
//! is what every connection shares. **Any end other than QUIT's UPDATE — EOF, a timeout, an
//! error, a kick, shutdown — drops the mailbox without a commit, which releases its lock.**

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use pop3_auth::User;
use pop3_auth::scram::ServerFirst;
use pop3_proto::{
    Abort, AuthOutcome, ChallengeAnswer, CommitOutcome, Event, Expire, OpenError, Request,
    RetrieveError, Secret, Session, State,
};
use tokio::net::TcpStream;
use tracing::{debug, info};

use crate::config::TlsMode;
use crate::fault;
use crate::input::{Input, Interruption};
use crate::mailbox::{Mailbox, Retrievals};
use crate::message_body;
use crate::peer::Peer;
use crate::registry::{SessionEntry, unix_now};
use crate::session_end::{self, Abort as Aborted, End, Ended, Stats};
use crate::shared::Shared;
use crate::stream::Client;

/// How long the last reply and the close may take.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves one accepted connection to its end.
pub(crate) async fn serve(shared: Arc<Shared>, tcp: TcpStream, client: Peer, mode: TlsMode) {
    let id = shared.next_session_id();
    let peer = client.addr;
    if let Some(proxy) = client.proxy {
        debug!(session = id, rip = %peer.ip(), proxy = %proxy, "connection through a proxy");
    }
    let started = Instant::now();
    let _ = tcp.set_nodelay(true);
    let (listener, implicit) = (Shared::listener_name(mode), mode == TlsMode::Implicit);
    shared.metrics.connection(listener, implicit);
    let entry = shared.registry.open_session(id, peer, listener, implicit);
    let Some(stream) = shared.client_stream(tcp, implicit).await else {
        info!(session = id, rip = %peer.ip(), "TLS handshake failed");
        return;
    };
    let connection = shared.connection_facts(&client, implicit);
    let stall = shared.config.timeouts.output_stall;
    let mut driver = Driver {
        session: Session::new(shared.protocol_for(mode), connection),
        shared,
        client: Client::new(stream, stall),
        peer,
        id,
        started,
        entry,
        step_started: Instant::now(),
        user: None,
        accepted: None,
        scram: None,
        mailbox: None,
        stats: Stats::default(),
        mechanism: "-",
        aborted: None,
    };
    let end = driver.run().await;
    driver.finish(end);
}

/// The driver of one session: its socket, its protocol state and the services it uses.
struct Driver {
    shared: Arc<Shared>,
    session: Session,
    client: Client,
    peer: SocketAddr,
    id: u64,
    started: Instant,
    /// This session's registry entry; removed when the driver is dropped.
    entry: SessionEntry,
    /// When the input being processed arrived, for command durations.
    step_started: Instant,
    /// The authenticated user, once there is one.
    user: Option<User>,
    /// A SCRAM user whose proof was verified, until the client acknowledges the
    /// server-final-message (then [`Driver::user`]); a cancel leaves the session
    /// unauthenticated, and this is dropped at the next exchange.
    accepted: Option<User>,
    /// The SCRAM-SHA-256 exchange between its server-first and client-final messages.
    scram: Option<ServerFirst>,
    /// The open maildrop, from a successful login to the end.
    mailbox: Option<Mailbox>,
    stats: Stats,
    /// How the last login attempt authenticated (the user's history shows it).
    mechanism: &'static str,
    /// A kick or shutdown that closed the session, for the user's history.
    aborted: Option<Aborted>,
}

impl Driver {
    /// Runs the session to its end.
    async fn run(&mut self) -> End {
        let mut input = Input::new(self.shared.shutdown.clone(), self.entry.kicked());
        loop {
            if let Err(end) = self.step(&mut input).await {
                return end;
            }
        }
    }

    /// One turn of the loop: act on the session's event, writing what is pending first, else
    /// wait for input. `Err` is how the session ended.
    async fn step(&mut self, input: &mut Input) -> Result<(), End> {
        self.after_step();
        let event = match self.session.poll_event() {
            Some(event) => event,
            None => {
                // Writing may let the session go on (output below its high-water mark).
                let flushed = input.race(None, self.client.flush(&mut self.session)).await;
                flushed.unwrap_or_else(|i| self.interrupted(i))?;
                match self.session.poll_event() {
                    Some(event) => event,
                    None => return self.idle(input).await,
                }
            }
        };
        match event {
            Event::Request(request) => self.request(request, input).await,
            Event::StartTls => self.start_tls().await,
            // The lock goes before the last reply is written (RFC 1939 §6: it is part of
            // UPDATE), so a client that reconnects at once never meets its own old lock.
            Event::Close => Err(self.close().await),
        }
    }

    /// Nothing to do but wait: for input, unless the server is shutting down.
    async fn idle(&mut self, input: &mut Input) -> Result<(), End> {
        if let Some(mailbox) = &mut self.mailbox {
            mailbox.forget_read_ahead();
        }
        if *input.shutdown.borrow() {
            self.aborted.get_or_insert(Aborted::Shutdown);
            self.session.handle_abort(Abort::Shutdown);
            return Ok(());
        }
        if !self.session.wants_input() {
            return Err(End::Error);
        }
        self.wait_input(input).await
    }

    /// Waits for client bytes, a kick, shutdown, or the deadline: the login deadline before
    /// authentication (however slowly bytes arrive), the idle timer after.
    async fn wait_input(&mut self, input: &mut Input) -> Result<(), End> {
        let timeouts = self.shared.config.timeouts;
        // The login deadline runs until TRANSACTION: an authenticated user whose maildrop
        // could not be opened ([IN-USE]) is still logging in.
        let (deadline, timeout_end) = if self.session.state() == State::Transaction {
            (input.last + timeouts.idle, End::IdleTimeout)
        } else {
            (self.started + timeouts.login, End::LoginTimeout)
        };
        tokio::select! {
            read = self.client.read(&mut input.buf) => match read {
                Ok(0) | Err(_) => return Err(End::ClientGone),
                Ok(n) => {
                    input.last = Instant::now();
                    self.step_started = input.last;
                    self.entry.update(|info| info.last_activity = unix_now());
                    fault::on_input(&input.buf[..n]);
                    self.session.handle_input(&input.buf[..n]);
                    input.grow_if_filled(n);
                }
            },
            () = input.kicked.notified() => return self.interrupted(Interruption::Kicked),
            // RFC 1939 §3: an autologout timer closes without a reply and without UPDATE.
            () = tokio::time::sleep_until(deadline.into()) => return Err(timeout_end),
            _ = input.shutdown.changed() => {}
        }
        Ok(())
    }

    /// A request or a wait was cut short: a kick or shutdown ends the session with a reply
    /// (none mid-message), a deadline without one.
    fn interrupted(&mut self, interruption: Interruption) -> Result<(), End> {
        match interruption {
            Interruption::Kicked => {
                info!(session = self.id, "disconnected by administrator");
                self.aborted = Some(Aborted::Kicked);
                self.session.handle_abort(Abort::Kicked);
            }
            Interruption::Shutdown => {
                self.aborted.get_or_insert(Aborted::Shutdown);
                self.session.handle_abort(Abort::Shutdown);
            }
            Interruption::Deadline => return Err(End::LoginTimeout),
        }
        Ok(())
    }

    /// The session asked to close: release the lock, then send the last reply and close.
    async fn close(&mut self) -> End {
        if let Some(pause) = fault::pause_before_close() {
            tokio::time::sleep(pause).await;
        }
        // The session dropped its share of the maildrop when it closed; this is the last.
        self.mailbox = None;
        // The last reply is small; a client that does not take it soon (one that stopped
        // reading mid-message and was kicked) is not waited for.
        let _ = tokio::time::timeout(CLOSE_WAIT, self.client.close(&mut self.session)).await;
        End::Closed
    }

    /// Releases what the session held, in order, and logs the `session end` line: the
    /// session first (its share of the maildrop), then the mailbox, so the flock is released
    /// before the line is written; the registry entry last.
    fn finish(mut self, end: End) {
        self.after_step();
        let Driver {
            shared,
            session,
            peer,
            id,
            started,
            entry,
            user,
            mailbox,
            stats,
            scram,
            mechanism,
            aborted,
            ..
        } = self;
        // Gone between the server-first and the client-final message: it had the salt.
        if let Some(first) = scram {
            shared.login.abandoned_at_close(peer.ip(), first.user());
        }
        let tls = session.is_secure();
        drop(session);
        drop(mailbox);
        let user = user.as_ref().map(|u| u.name.to_string());
        let elapsed = started.elapsed();
        shared.metrics.session_ended(elapsed.as_secs_f64());
        let shown = user.as_deref().unwrap_or("-");
        session_end::log(id, shown, peer, tls, &stats, elapsed, end);
        if let Some(user) = &user {
            let ended = Ended {
                id,
                user,
                peer,
                tls,
                mechanism,
                elapsed,
                end: end.history_word(aborted),
            };
            session_end::record(&shared.registry, ended, &stats);
        }
        drop(entry);
    }

    /// Reports answered commands to the metrics and brings the registry entry up to date.
    fn after_step(&mut self) {
        let elapsed = self.step_started.elapsed().as_secs_f64();
        while let Some(record) = self.session.poll_command_record() {
            self.shared
                .metrics
                .command(record.command, record.ok, elapsed);
        }
        self.stats.bytes = self.client.sent();
        self.stats.marked = self.session.marked_count() as u64;
        self.entry.show_progress(self.stats.progress(&self.session));
    }

    /// STLS: send the `+OK`, run the handshake on the plaintext socket, tell the session.
    /// If anything fails the connection is closed.
    async fn start_tls(&mut self) -> Result<(), End> {
        self.client
            .flush(&mut self.session)
            .await
            .map_err(|_| End::TlsFailed)?;
        let tcp = self.client.take_plain().ok_or(End::TlsFailed)?;
        let tls = self.shared.handshake(tcp).await.ok_or(End::TlsFailed)?;
        self.client.set_tls(tls);
        self.session.handle_tls_established();
        Ok(())
    }

    /// Carries out a request and answers it. **Each races a kick and shutdown (before
    /// TRANSACTION also the login deadline), but UPDATE's commit, which always completes.**
    async fn request(&mut self, request: Request, input: &mut Input) -> Result<(), End> {
        if !matches!(request, Request::Retrieve { .. }) {
            // (RETR writes the replies before it while it opens the message.)
            let flushed = input.race(None, self.client.flush(&mut self.session)).await;
            flushed.unwrap_or_else(|i| self.interrupted(i))?;
        }
        let deadline = Some(self.started + self.shared.config.timeouts.login);
        let raced = match request {
            Request::Authenticate(credentials) => input
                .race(deadline, self.authenticate(credentials))
                .await
                .map(Ok),
            Request::SaslChallenge { response, .. } => input
                .race(deadline, self.sasl_challenge(response))
                .await
                .map(Ok),
            Request::OpenMaildrop => input.race(deadline, self.open_mailbox()).await.map(Ok),
            Request::Retrieve { index, top_lines } => {
                input.race(None, self.retrieve(index, top_lines)).await
            }
            Request::Commit {
                deleted,
                // The session's own EXPIRE 0 list; the commit decides from
                // `sent` and the session's effective policy instead, so a per-user value
                // (never, 0 or n), given to the session at login, is the only one that counts.
                expired: _,
                retrieved,
                sent,
            } => {
                let retrievals = Retrievals { retrieved, sent };
                self.commit(deleted, retrievals).await;
                return Ok(());
            }
        };
        raced.unwrap_or_else(|interruption| self.interrupted(interruption))
    }

    /// SCRAM's client-first-message: the server-first-message, kept for the final step.
    async fn sasl_challenge(&mut self, client_first: Vec<u8>) {
        self.scram = None;
        self.accepted = None;
        let ip = self.peer.ip();
        let answer = match self.shared.login.scram_first(ip, &client_first).await {
            Ok(first) => {
                let answer = ChallengeAnswer::Challenge {
                    user: first.user().to_owned(),
                    data: first.message().to_vec(),
                };
                self.scram = Some(first);
                answer
            }
            Err(answer) => answer,
        };
        self.session.handle_sasl_challenge(answer);
    }

    /// Verifies the credentials and answers the session. A SCRAM client-final-message is
    /// checked against the exchange first (nonce, channel binding: `-ERR` with the reason);
    /// on success the server-final-message goes back with the verdict, and the user is
    /// authenticated only when the client acknowledges it ([`Driver::open_mailbox`]).
    async fn authenticate(&mut self, credentials: pop3_proto::Credentials) {
        self.accepted = None;
        self.mechanism = session_end::mechanism(&credentials.secret);
        let mut server_final = None;
        let scram = match (&credentials.secret, self.scram.take()) {
            (Secret::Scram { client_final }, Some(first)) => {
                match first.parse_final(client_final) {
                    Ok(parsed) => {
                        server_final = Some(first.server_final(&parsed));
                        Some((first, parsed))
                    }
                    Err(error) => {
                        // Given up after the server-first-message, like a cancel: counted
                        // as a failed attempt, but answered with the reason.
                        self.shared
                            .login
                            .abandoned(self.peer.ip(), first.user())
                            .await;
                        self.session
                            .handle_auth_result(AuthOutcome::Invalid(error.to_string()));
                        return;
                    }
                }
            }
            _ => None,
        };
        let verdict = self
            .shared
            .login
            .verify(self.id, self.peer.ip(), credentials, scram);
        let outcome = match verdict.await {
            Ok((user, terms)) => {
                self.session.handle_user_terms(terms);
                match server_final {
                    Some(data) => {
                        self.accepted = Some(user);
                        AuthOutcome::AcceptedWith(data)
                    }
                    None => {
                        self.authenticated(user);
                        AuthOutcome::Accepted
                    }
                }
            }
            Err(outcome) => outcome,
        };
        self.session.handle_auth_result(outcome);
    }

    /// Opens the authenticated user's maildrop (never asked before a successful login) and
    /// answers the session.
    async fn open_mailbox(&mut self) {
        // SCRAM: the client acknowledged the server-final-message.
        if let Some(user) = self.accepted.take() {
            self.authenticated(user);
        }
        let opened = match &self.user {
            Some(user) => Mailbox::open(&self.shared, &self.entry, self.id, user).await,
            None => Err(OpenError::Permanent),
        };
        let result = opened.map(|(mailbox, listing)| {
            self.mailbox = Some(mailbox);
            listing
        });
        self.session.handle_maildrop_opened(result);
    }

    /// The session's user from now on, shown in the registry.
    fn authenticated(&mut self, user: User) {
        self.entry
            .update(|info| info.user = Some(user.name.to_string()));
        self.user = Some(user);
    }

    /// RETR or TOP: the message streamed through the session's encoder, a chunk at a time,
    /// each written before the one after it is used (see `message_body.rs`).
    async fn retrieve(&mut self, index: usize, top_lines: Option<u64>) -> Result<(), End> {
        let opened = match &mut self.mailbox {
            Some(mailbox) => {
                mailbox
                    .message(index, &mut self.session, &mut self.client)
                    .await?
            }
            None => Err(RetrieveError::Io),
        };
        let body = match opened {
            Ok(body) => body,
            Err(error) => {
                self.session.handle_retrieve_opened(Err(error));
                return Ok(());
            }
        };
        match top_lines {
            Some(_) => self.stats.top += 1,
            None => self.stats.retr += 1,
        }
        self.session.handle_retrieve_opened(Ok(()));
        // RETR's progress in the registry: message number, octets since it began, its size.
        let watch = top_lines
            .is_none()
            .then(|| (&self.entry, index as u64 + 1, self.client.sent()));
        let sent = message_body::send(body, &mut self.session, &mut self.client, self.id, watch);
        let sent = sent.await?;
        self.entry.show_retr(None, self.client.sent());
        if let Some(octets) = sent {
            self.shared.metrics.retrieved(octets, top_lines.is_none());
        }
        Ok(())
    }

    /// UPDATE: removes the marked messages (and, under `EXPIRE`, the expired ones) and
    /// answers the session.
    async fn commit(&mut self, deleted: Vec<usize>, retrievals: Retrievals) {
        self.stats.dele = deleted.len() as u64;
        let expire = self.effective_expire();
        let outcome = match &self.mailbox {
            Some(mailbox) => {
                let seen = self.shared.config.mark_seen;
                mailbox.commit(deleted, retrievals, seen, expire).await
            }
            None => CommitOutcome::Partial {
                not_removed: deleted.len(),
            },
        };
        self.session.handle_commit_result(outcome);
    }

    /// The `EXPIRE` policy of this session (RFC 2449 §6.7), which the commit enforces: the
    /// user's own (`user_terms.rs`), else the site's `[server] expire`.
    fn effective_expire(&self) -> Option<Expire> {
        self.session.expire()
    }
}
