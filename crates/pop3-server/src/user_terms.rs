//! Per-user LOGIN-DELAY and EXPIRE (issue 19): the values that apply to a user who logs in,
//! and whether any user has their own (CAPA before login then says `USER`).
//!
//! **A user's own value wins; a value the database cannot parse is logged and the site's is
//! used, never "none"** (`pop3_auth::Resolved`). Whether values vary per user is one
//! aggregate query, cached ([`PerUserCache`]): read when the server starts and again when a
//! connection arrives more than [`REFRESH`] after the last read, on the blocking pool, without
//! delaying that connection (it is served the previous answer). So a `pop3-admin user set`
//! shows in CAPA before login within about that long; after login it applies at once (every
//! login reads the row).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pop3_auth::{PolicyOverrides, Resolved, User, UserDbLocation};
use pop3_proto::{Expire, PerUser, UserTerms};
use tracing::warn;

use crate::user_db::with_user_db;

/// How old the cached "values vary per user" may get.
pub(crate) const REFRESH: Duration = Duration::from_secs(30);

/// The values that apply to `user` given the site's (`site`), logging values of theirs that
/// the database holds but cannot be read.
pub(crate) fn terms_for(site: &pop3_proto::Config, user: &User) -> UserTerms {
    let site_delay = site.login_delay.unwrap_or(0);
    let login_delay = match user.policy.login_delay(site_delay) {
        Resolved::Own(secs) => Some(secs),
        Resolved::Site(_) => site.login_delay,
        Resolved::Unreadable(_, invalid) => {
            warn!(user = %user.name, error = %invalid, "per-user value unreadable; the site's applies");
            site.login_delay
        }
    };
    let site_days = match site.expire {
        Some(Expire::Days(days)) => Some(days),
        Some(Expire::Never) | None => None,
    };
    let expire = match user.policy.expire(site_days) {
        Resolved::Own(Some(days)) => Some(Expire::Days(days)),
        Resolved::Own(None) => Some(Expire::Never),
        Resolved::Site(_) => site.expire,
        Resolved::Unreadable(_, invalid) => {
            warn!(user = %user.name, error = %invalid, "per-user value unreadable; the site's applies");
            site.expire
        }
    };
    UserTerms {
        login_delay,
        expire,
    }
}

/// Whether some user has their own LOGIN-DELAY or EXPIRE, as last read from the database.
pub(crate) struct PerUserCache {
    user_db: UserDbLocation,
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    value: PerUser,
    read_at: Option<Instant>,
    reading: bool,
    /// The last read failed (logged once per run of failures).
    failing: bool,
}

impl PerUserCache {
    /// A cache of the database at `user_db`, read for the first time by [`PerUserCache::read`].
    pub(crate) fn new(user_db: UserDbLocation) -> Arc<PerUserCache> {
        Arc::new(PerUserCache {
            user_db,
            state: Mutex::new(CacheState::default()),
        })
    }

    /// Reads the database now (on the blocking pool) and keeps the answer. A SQLite file that
    /// does not exist yet has no users, so none of their own (the server never creates it,
    /// and says so at the first login). A failure keeps the previous answer and is logged
    /// once, when reads start failing.
    pub(crate) async fn read(self: &Arc<Self>) {
        let cache = Arc::clone(self);
        let read = tokio::task::spawn_blocking(move || match &cache.user_db {
            UserDbLocation::Sqlite(path) if !path.exists() => Ok(PolicyOverrides::default()),
            location => with_user_db(location, |db| db.policy_overrides()),
        })
        .await;
        let mut state = self.lock();
        state.reading = false;
        state.read_at = Some(Instant::now());
        let failure = match read {
            Ok(Ok(overrides)) => {
                state.value = PerUser {
                    login_delay: overrides.login_delay,
                    expire: overrides
                        .expire
                        .map(|days| days.map_or(Expire::Never, Expire::Days)),
                };
                state.failing = false;
                return;
            }
            Ok(Err(error)) => error.to_string(),
            Err(error) => error.to_string(),
        };
        if !std::mem::replace(&mut state.failing, true) {
            warn!(error = %failure, "cannot read which users have their own LOGIN-DELAY or EXPIRE; CAPA before login keeps the last answer");
        }
    }

    /// The answer for a new connection: the cached one, after starting a read in the
    /// background if it is older than [`REFRESH`].
    pub(crate) fn current(self: &Arc<Self>) -> PerUser {
        let mut state = self.lock();
        let stale = state.read_at.is_none_or(|at| at.elapsed() >= REFRESH);
        if stale && !state.reading {
            state.reading = true;
            let cache = Arc::clone(self);
            tokio::spawn(async move { cache.read().await });
        }
        state.value
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // The state is three plain fields, consistent after any panic.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A handle that makes the server read the users' own values again now (SIGHUP), rather than
/// within the 30 s of the background refresh.
#[derive(Clone)]
pub struct PolicyRefresh(pub(crate) Arc<PerUserCache>);

impl PolicyRefresh {
    /// Reads them now; a failure keeps the previous answer (and is logged).
    pub async fn refresh(&self) {
        self.0.read().await;
        let value = self.0.lock().value;
        tracing::info!(
            login_delay = ?value.login_delay,
            expire = ?value.expire,
            "per-user LOGIN-DELAY and EXPIRE read again"
        );
    }
}
