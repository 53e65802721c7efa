//! The login service: everything between a client's credentials and a verdict.
//!
//! One attempt: wait out the address's throttle penalty, read the user's row on the blocking
//! pool, take a hash permit (**at most `hash_concurrency` password hashes run at once, so a
//! PASS flood cannot exhaust memory or CPU**, and every hash runs in the argon2 memory that
//! comes with its permit, see `hash_permits.rs`), verify on the blocking pool, then record the
//! outcome. **The row is read before the permit is taken**, so a database that stops
//! answering holds no permit; and **with PostgreSQL the whole verification has a deadline**
//! (`user_db::deadline`): past it the login answers `-ERR [SYS/TEMP]` while the blocking task,
//! if stuck in a query, ends when the database answers or its connection dies (at most
//! `pool_size` such tasks: each holds a pool connection). A failure sleeps the throttle's delay and writes the stable
//! `auth failed:` line that fail2ban matches (`config/fail2ban-filter.conf`). A verified user
//! who logged in less than the LOGIN-DELAY ago is refused (`login_delay.rs`). The session only
//! learns accepted, rejected, login delay or unavailable; the reason is for the log.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pop3_auth::scram::{self, ClientFinal, ClientFirst, ServerFirst};
use pop3_auth::{
    Attempt, Authenticator, Credential, HashMemory, Outcome, RejectReason, ScramSecret, Throttle,
    User,
};
use pop3_metrics::Metrics;
use pop3_proto::{
    AuthOutcome, ChallengeAnswer, Credentials, Secret, UserTerms, escape_client_text,
};
use tracing::{error, info, warn};

use crate::config::Config;
use crate::hash_permits::HashPermits;
use crate::login_delay::LoginDelays;
use crate::peer::limit_key;
use crate::user_db::{deadline, with_user_db};
use crate::user_terms::terms_for;

/// Verifies credentials for every session of the server.
pub(crate) struct Login {
    authenticator: Arc<Authenticator>,
    /// Bounds concurrent argon2 computations and holds their memory.
    hash_permits: HashPermits,
    throttle: Mutex<Throttle>,
    user_db: pop3_auth::UserDbLocation,
    metrics: Arc<Metrics>,
    /// Penalties are per address, an IPv6 address by this prefix (`peer.rs`).
    ipv6_prefix: u8,
    /// How long a verification may take (PostgreSQL only).
    deadline: Option<Duration>,
    /// LOGIN-DELAY enforced (RFC 2449 §6.5): the site's or the user's own.
    login_delays: LoginDelays,
    /// The site's LOGIN-DELAY and EXPIRE, which a user's own values override.
    site: pop3_proto::Config,
    /// Whether the fallback to a per-process key of the fake SCRAM salts was logged.
    scram_secret_logged: Arc<AtomicBool>,
}

impl Login {
    /// Prepares authentication (computes the dummy hash unknown users are verified against,
    /// in memory freed right after).
    pub(crate) fn new(config: &Config, metrics: Arc<Metrics>) -> pop3_auth::Result<Login> {
        let authenticator =
            Authenticator::new_with(config.argon2, config.protocol.apop, &mut HashMemory::new())?
                .with_scram(config.scram_iterations)?;
        Ok(Login {
            authenticator: Arc::new(authenticator),
            hash_permits: HashPermits::new(config.hash_concurrency),
            throttle: Mutex::new(Throttle::new(config.throttle.clone())),
            user_db: config.user_db.clone(),
            metrics,
            ipv6_prefix: config.ipv6_prefix,
            deadline: deadline(&config.user_db),
            login_delays: LoginDelays::new(),
            site: config.protocol.clone(),
            scram_secret_logged: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The server-first-message of a SCRAM-SHA-256 exchange (issue 19): the client-first
    /// parsed, **the address's penalty waited as before a password check** (each message
    /// costs a query and hands out a salt), the user's row read on the blocking pool (within
    /// the deadline, as a login's), a fresh nonce from the OS. **Unknown, disabled and
    /// keyless users get fake keys** (see `Authenticator::scram_server_first`). The final step
    /// is [`Login::verify`]; an exchange given up after this message is a failed attempt
    /// ([`Login::abandoned`]).
    pub(crate) async fn scram_first(
        &self,
        ip: IpAddr,
        client_first: &[u8],
    ) -> Result<ServerFirst, ChallengeAnswer> {
        self.wait_penalty(ip).await;
        let first = ClientFirst::parse(client_first)
            .map_err(|error| ChallengeAnswer::Invalid(error.to_string()))?;
        let nonce = scram::server_nonce().map_err(|error| {
            warn!(error = %error, "no server nonce for SCRAM");
            ChallengeAnswer::Unavailable
        })?;
        let authenticator = self.authenticator.clone();
        let db_path = self.user_db.clone();
        let name = first.user().to_owned();
        let logged = Arc::clone(&self.scram_secret_logged);
        let read = tokio::task::spawn_blocking(move || {
            with_user_db(&db_path, |db| {
                // The site's key of the fake salts, read at the first exchange (then cached).
                let secret = authenticator.load_scram_secret(db);
                if !matches!(secret, Ok(ScramSecret::Site)) && !logged.swap(true, Ordering::Relaxed)
                {
                    match &secret {
                        Err(error) => warn!(error = %error,
                            "the site's key of fake SCRAM salts cannot be read; a per-process \
                             key stands in, so unknown users' salts change at a restart"),
                        _ => warn!(
                            "the user database has no key of fake SCRAM salts (schema \
                            older than version 6?); a per-process key stands in, so unknown \
                            users' salts change at a restart and differ between nodes"
                        ),
                    }
                }
                authenticator.look_up(db, &name)
            })
        });
        let row = match self.deadline {
            Some(limit) => tokio::time::timeout(limit, read).await.ok(),
            None => Some(read.await),
        };
        match row {
            Some(Ok(Ok(row))) => Ok(self.authenticator.scram_server_first(row, first, &nonce)),
            Some(Ok(Err(error))) => {
                warn!(error = %error, "user database unavailable");
                Err(ChallengeAnswer::Unavailable)
            }
            _ => Err(ChallengeAnswer::Unavailable),
        }
    }

    /// Verifies one attempt of session `session` from `ip`: the user and the values that
    /// apply to them on success, else the answer for the session (`Rejected` after the
    /// failure delay, `LoginDelay`, or `Unavailable`). A SCRAM attempt ([`Secret::Scram`])
    /// comes with its exchange, already checked by the caller (nonce, channel binding): it
    /// goes through the same penalty, delay, log and metrics.
    pub(crate) async fn verify(
        &self,
        session: u64,
        ip: IpAddr,
        credentials: Credentials,
        scram: Option<(ServerFirst, ClientFinal)>,
    ) -> Result<(User, UserTerms), AuthOutcome> {
        if matches!(credentials.secret, Secret::ScramAbandoned) {
            // The penalty was waited before the server-first-message.
            self.abandoned(ip, &credentials.user).await;
            return Err(AuthOutcome::Rejected);
        }
        self.wait_penalty(ip).await;
        // The failure delay counts from here, so a rejection answers at the same moment
        // whatever the verification cost: an unknown user (the dummy hash) and a migrated
        // user whose legacy hash (bcrypt, yescrypt, SHA-crypt: up to about 1.5 s, bounded)
        // was checked are told at `started + delay` alike (issue 16 review).
        let started = tokio::time::Instant::now();
        let method = credentials.secret.method();
        let name = credentials.user.clone();
        let checked = self.check(credentials, scram).await.map(|attempt| {
            // Best-effort writes of a success that failed: the login stands (issue 15 item 9).
            for skipped in &attempt.skipped_writes {
                self.metrics.auth_db_write_failed(skipped.write.as_str());
                warn!(
                    session,
                    write = skipped.write.as_str(),
                    error = %skipped.error,
                    "user database write skipped; login accepted"
                );
            }
            attempt.outcome
        });
        match checked {
            Ok(Outcome::Accepted(user)) => {
                // Checked only now, after the credentials were verified, so the refusal
                // reveals nothing to a client that does not know the password.
                let terms = terms_for(&self.site, &user);
                let delay = terms.login_delay.unwrap_or(0);
                if !self
                    .login_delays
                    .admit(user.name.as_str(), delay, Instant::now())
                {
                    info!(session, user = %user.name, rip = %ip, mechanism = method,
                        "login refused: LOGIN-DELAY");
                    self.metrics.auth(method, "login_delay");
                    return Err(AuthOutcome::LoginDelay);
                }
                if let Ok(mut throttle) = self.throttle.lock() {
                    throttle.after_success(user.name.as_str());
                }
                info!(session, user = %user.name, rip = %ip, mechanism = method, "login");
                self.metrics.auth(method, "success");
                Ok((user, terms))
            }
            Ok(Outcome::Rejected(reason)) => {
                self.rejected(ip, &name, method, reason, started).await;
                Err(AuthOutcome::Rejected)
            }
            Ok(_) => Err(AuthOutcome::Rejected),
            Err(CheckError::Database(
                error @ (pop3_auth::Error::SchemaTooOld { .. }
                | pop3_auth::Error::SchemaTooNew { .. }
                | pop3_auth::Error::NotInitialised(_)),
            )) => {
                // Not transient: an operator must act (pop3-admin migrates).
                self.metrics.auth(method, "error");
                error!(session, error = %error, "user database schema unusable; logins fail");
                Err(AuthOutcome::Unavailable)
            }
            Err(CheckError::Database(error)) => {
                self.metrics.auth(method, "error");
                warn!(session, error = %error, "user database unavailable");
                Err(AuthOutcome::Unavailable)
            }
            Err(CheckError::Task(error)) => {
                self.metrics.auth(method, "error");
                warn!(session, error = %error, "authentication task failed");
                Err(AuthOutcome::Unavailable)
            }
            Err(CheckError::TimedOut(limit)) => {
                self.metrics.auth(method, "error");
                warn!(session, ?limit, "user database did not answer in time");
                Err(AuthOutcome::Unavailable)
            }
            // The permits are never closed while the server runs.
            Err(CheckError::Closed) => Err(AuthOutcome::Unavailable),
        }
    }

    /// The `limit` addresses that failed most recently (the admin overview): each with how
    /// long ago and its penalty now. An empty list if the throttle's lock is poisoned.
    pub(crate) fn recent_failures(&self, now: Instant, limit: usize) -> Vec<RecentFailure> {
        let Ok(throttle) = self.throttle.lock() else {
            return Vec::new();
        };
        let recent = throttle.recent_failures(now, limit);
        drop(throttle);
        recent
            .into_iter()
            .map(|r| RecentFailure {
                address: r.address,
                age: now.saturating_duration_since(r.last_failure),
                penalty: r.penalty,
            })
            .collect()
    }

    /// A SCRAM exchange of `name` given up by the client after the server-first-message (a
    /// `*`, a client-final-message that does not parse): **a failed attempt like a wrong
    /// password** (issue 19 D3): the metric's `abandoned` result, the throttle's penalty, the
    /// fail2ban line with `reason=abandoned`, then the failure delay.
    pub(crate) async fn abandoned(&self, ip: IpAddr, name: &str) {
        let started = tokio::time::Instant::now();
        let reason = RejectReason::ScramAbandoned;
        self.rejected(ip, name, SCRAM_METHOD, reason, started).await;
    }

    /// [`Login::abandoned`] for a session that ended mid-exchange: counted and logged, with
    /// no one to delay.
    pub(crate) fn abandoned_at_close(&self, ip: IpAddr, name: &str) {
        self.count_failure(ip, name, SCRAM_METHOD, RejectReason::ScramAbandoned);
    }

    /// Sleeps the address's current penalty, if any.
    async fn wait_penalty(&self, ip: IpAddr) {
        let wait = match self.throttle.lock() {
            Ok(throttle) => {
                throttle.before_attempt(limit_key(ip, self.ipv6_prefix), Instant::now())
            }
            Err(_) => Duration::ZERO,
        };
        if !wait.is_zero() {
            self.metrics.throttled();
            tokio::time::sleep(wait).await;
        }
    }

    /// Runs the verification within the deadline, if any.
    async fn check(
        &self,
        credentials: Credentials,
        scram: Option<(ServerFirst, ClientFinal)>,
    ) -> Result<Attempt, CheckError> {
        match self.deadline {
            Some(limit) => tokio::time::timeout(limit, self.check_now(credentials, scram))
                .await
                .unwrap_or(Err(CheckError::TimedOut(limit))),
            None => self.check_now(credentials, scram).await,
        }
    }

    /// Reads the row on the blocking pool, then verifies there behind a hash permit.
    async fn check_now(
        &self,
        credentials: Credentials,
        scram: Option<(ServerFirst, ClientFinal)>,
    ) -> Result<Attempt, CheckError> {
        let authenticator = self.authenticator.clone();
        let db_path = self.user_db.clone();
        let name = credentials.user.clone();
        let row = tokio::task::spawn_blocking(move || {
            with_user_db(&db_path, |db| authenticator.look_up(db, &name))
        })
        .await
        .map_err(CheckError::Task)?
        .map_err(CheckError::Database)?;
        let mut permit = self
            .hash_permits
            .acquire()
            .await
            .map_err(|_| CheckError::Closed)?;
        let authenticator = self.authenticator.clone();
        let db_path = self.user_db.clone();
        let verdict = tokio::task::spawn_blocking(move || {
            let credential = match &credentials.secret {
                Secret::Password { password, .. } => Credential::Password(password),
                Secret::Apop { timestamp, digest } => Credential::Apop { timestamp, digest },
                Secret::Scram { .. } => match &scram {
                    Some((first, client_final)) => Credential::Scram {
                        first,
                        client_final,
                    },
                    None => return Ok(Attempt::rejected(RejectReason::ScramNotAvailable)),
                },
                _ => return Ok(Attempt::rejected(RejectReason::ApopNotAvailable)),
            };
            with_user_db(&db_path, |db| {
                authenticator.attempt_looked_up(
                    db,
                    &credentials.user,
                    row,
                    credential,
                    permit.memory(),
                )
            })
        })
        .await;
        match verdict {
            Ok(result) => result.map_err(CheckError::Database),
            Err(e) => Err(CheckError::Task(e)),
        }
    }

    /// Records a rejection: metrics, throttle, the fail2ban line, then waits until the failure
    /// delay after `started` (when the verification began).
    async fn rejected(
        &self,
        ip: IpAddr,
        name: &str,
        method: &'static str,
        reason: RejectReason,
        started: tokio::time::Instant,
    ) {
        if let Some(delay) = self.count_failure(ip, name, method, reason) {
            tokio::time::sleep_until(started + delay).await;
        }
    }

    /// The bookkeeping of a failure (metric, throttle, the fail2ban line); the failure delay
    /// the caller waits.
    fn count_failure(
        &self,
        ip: IpAddr,
        name: &str,
        method: &'static str,
        reason: RejectReason,
    ) -> Option<Duration> {
        let result = match reason {
            RejectReason::ScramAbandoned => "abandoned",
            _ => "failure",
        };
        self.metrics.auth(method, result);
        let verdict = match self.throttle.lock() {
            Ok(mut throttle) => {
                let key = limit_key(ip, self.ipv6_prefix);
                Some(throttle.after_failure(key, &name.to_ascii_lowercase(), Instant::now()))
            }
            Err(_) => None,
        };
        let shown = escape_client_text(name.as_bytes());
        // The stable line fail2ban matches (config/fail2ban-filter.conf).
        warn!(
            "auth failed: user={shown} rip={ip} mechanism={method} reason={}",
            reason.as_str()
        );
        let verdict = verdict?;
        if verdict.spraying_target {
            warn!(user = %shown, "many failed logins for one user from several addresses");
        }
        Some(verdict.delay)
    }
}

/// An address's last failure, for the admin overview.
pub(crate) struct RecentFailure {
    /// As the throttle keys it (an IPv6 address masked to its prefix).
    pub(crate) address: IpAddr,
    /// How long ago it last failed.
    pub(crate) age: Duration,
    /// What its next attempt waits now.
    pub(crate) penalty: Duration,
}

/// The method label of SCRAM-SHA-256 in logs and metrics (`Secret::method`).
const SCRAM_METHOD: &str = "scram-sha-256";

/// Why a verification did not run to a verdict.
enum CheckError {
    /// The user database failed.
    Database(pop3_auth::Error),
    /// The blocking task panicked or was cancelled.
    Task(tokio::task::JoinError),
    /// The hash permits were closed.
    Closed,
    /// The deadline passed (the database stopped answering).
    TimedOut(Duration),
}
