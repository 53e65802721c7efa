//! Opening a PostgreSQL connection: session settings, then the schema (`schema.rs`'s
//! migrations in PostgreSQL's dialect; the version, and from version 5 the oldest version
//! of pop3d that can use it, `min_reader`, in `schema_version`). **The server only checks;
//! `pop3-admin` migrates.**

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, NoTls};

use crate::error::{Error, Result};
use crate::pg::PgSettings;
use crate::schema::{INSERT_SECRET, SCRAM_FAKE_KEY, SERVER_SECRETS_SINCE, new_secret};
use crate::schema::{MIGRATIONS, MIN_READER_SINCE, SCHEMA_VERSION, check_readable};

/// The key of the advisory lock that serialises migrations between processes.
const MIGRATION_LOCK: i64 = 0x706f_7033_6400_0018;

/// TCP keepalive: the first probe after this long idle...
const KEEPALIVE_IDLE: Duration = Duration::from_secs(5);
/// ...then one every this long...
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
/// ...and the connection is dropped after this many unanswered.
const KEEPALIVE_RETRIES: u32 = 3;

/// How long a migration step waits for a table lock (or the advisory lock) before it rolls
/// back and tries again: short, so it never queues the logins' reads behind it for long.
const MIGRATION_LOCK_TIMEOUT_MS: u64 = 2_000;
/// How many times a step is tried when a lock stays taken.
const MIGRATION_TRIES: u32 = 15;

/// Connects, sets the statement and lock timeouts, and checks the schema. **Only the admin
/// tool (`migrate`) creates or migrates it**; the server (`!migrate`) checks that it can
/// use the version found ([`check_readable`]): a schema older than
/// [`crate::schema::OLDEST_SERVED`] is [`Error::SchemaTooOld`], a newer one is used when its
/// `min_reader` allows, else [`Error::SchemaTooNew`].
///
/// The version found is stored in `seen` (the rows a store reads depend on it: see
/// [`crate::schema::columns`]).
pub(super) fn connect(settings: &PgSettings, migrate: bool, seen: &AtomicI64) -> Result<Client> {
    let mut client = open(settings)?;
    let found = if migrate {
        self::migrate(&mut client, SCHEMA_VERSION)?;
        SCHEMA_VERSION
    } else {
        check(&mut client)?
    };
    seen.store(found, Ordering::Relaxed);
    Ok(client)
}

/// A connection with the session's timeouts, the schema unchecked.
pub(super) fn open(settings: &PgSettings) -> Result<Client> {
    let mut config = settings.config.clone();
    config.connect_timeout(settings.connect_timeout);
    // Over TCP, a host that vanishes is noticed in seconds rather than the kernel's
    // defaults (keepalive after 2 h, retransmissions for ~15 min): data unacknowledged for
    // `tcp_user_timeout`, or an idle connection whose probes go unanswered, is closed, and
    // the query blocked on it fails. (A Unix socket has neither; see `pool.rs`.)
    config.tcp_user_timeout(settings.connect_timeout + settings.statement_timeout);
    config.keepalives(true);
    config.keepalives_idle(KEEPALIVE_IDLE);
    config.keepalives_interval(KEEPALIVE_INTERVAL);
    config.keepalives_retries(KEEPALIVE_RETRIES);
    config.application_name("pop3d");
    if let Some(file) = &settings.password_file {
        let text = std::fs::read_to_string(file).map_err(|source| Error::PasswordFile {
            path: file.clone(),
            source,
        })?;
        config.password(text.trim_end_matches(['\r', '\n']));
    }
    let mut client = config.connect(NoTls)?;
    let ms = settings.statement_timeout.as_millis();
    client.batch_execute(&format!(
        "SET statement_timeout = {ms}; SET lock_timeout = {ms}"
    ))?;
    Ok(client)
}

/// The server's check: the schema exists and this build can use its version, which it
/// returns.
fn check(client: &mut Client) -> Result<i64> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Err(Error::NotInitialised(
            "the PostgreSQL database has no pop3d schema: create it with pop3-admin (any \
             `pop3-admin user` command)"
                .to_owned(),
        ));
    }
    let found = version(client)?;
    check_readable(found, min_reader(client, found)?)?;
    Ok(found)
}

/// `schema_version.min_reader`, from the version that has it.
fn min_reader(client: &mut Client, found: i64) -> Result<Option<i64>> {
    if found < MIN_READER_SINCE {
        return Ok(None);
    }
    Ok(client
        .query_one("SELECT MAX(min_reader) FROM schema_version", &[])?
        .get(0))
}

/// Creates the schema or brings it up to `target` (at most [`SCHEMA_VERSION`]), one step per
/// transaction under an advisory lock (two admin runs at once migrate it once). **A step
/// has no statement timeout** (`SET LOCAL statement_timeout = 0`: a long migration must be
/// able to finish) **but a short lock timeout**, so it does not queue every login behind a
/// lock it waits for; a step that times out on a lock is rolled back and tried again.
pub(super) fn migrate(client: &mut Client, target: i64) -> Result<()> {
    let target = target.min(SCHEMA_VERSION);
    let mut tries = 0;
    loop {
        match step(client, target) {
            Ok(true) => tries = 0,
            Ok(false) => return Ok(()),
            Err(Error::Postgres(e))
                if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) && tries < MIGRATION_TRIES =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => return Err(e),
        }
    }
}

/// One migration step; false when there was nothing left to do.
fn step(client: &mut Client, target: i64) -> Result<bool> {
    let mut tx = client.transaction()?;
    tx.batch_execute(&format!(
        "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = {MIGRATION_LOCK_TIMEOUT_MS}"
    ))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    let found: Option<i64> = tx
        .query_one("SELECT MAX(version) FROM schema_version", &[])?
        .get(0);
    let found = match found {
        Some(found) => found,
        None => {
            tx.execute("INSERT INTO schema_version (version) VALUES (0)", &[])?;
            0
        }
    };
    if found > SCHEMA_VERSION {
        let min_reader: Option<i64> = tx
            .query_one("SELECT MAX(min_reader) FROM schema_version", &[])?
            .get(0);
        check_readable(found, min_reader)?;
        return Ok(false);
    }
    if found >= target {
        tx.commit()?;
        return Ok(false);
    }
    let Some(migration) = usize::try_from(found).ok().and_then(|i| MIGRATIONS.get(i)) else {
        return Ok(false);
    };
    tx.batch_execute(migration.postgres)?;
    let version = found + 1;
    if version == SERVER_SECRETS_SINCE {
        tx.execute(INSERT_SECRET, &[&SCRAM_FAKE_KEY, &new_secret()?])?;
    }
    tx.execute("UPDATE schema_version SET version = $1", &[&version])?;
    if version >= MIN_READER_SINCE {
        tx.execute(
            "UPDATE schema_version SET min_reader = $1",
            &[&migration.min_reader],
        )?;
    }
    tx.commit()?;
    Ok(true)
}

/// The recorded version (0 for an empty table).
pub(super) fn version(client: &mut Client) -> Result<i64> {
    let found: Option<i64> = client
        .query_one("SELECT MAX(version) FROM schema_version", &[])?
        .get(0);
    Ok(found.unwrap_or(0))
}
