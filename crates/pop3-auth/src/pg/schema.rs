//! Opening a PostgreSQL connection: session settings, then the schema (`schema.rs`'s
//! migrations in PostgreSQL's dialect, the version in `schema_version`).

use std::time::Duration;

use postgres::{Client, NoTls};

use crate::error::{Error, Result};
use crate::pg::PgSettings;
use crate::schema::{MIGRATIONS, SCHEMA_VERSION};

/// The key of the advisory lock that serialises migrations between processes.
const MIGRATION_LOCK: i64 = 0x706f_7033_6400_0018;

/// TCP keepalive: the first probe after this long idle...
const KEEPALIVE_IDLE: Duration = Duration::from_secs(5);
/// ...then one every this long...
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
/// ...and the connection is dropped after this many unanswered.
const KEEPALIVE_RETRIES: u32 = 3;

/// Connects, sets the statement and lock timeouts, and checks the schema: brought up to date
/// when older; **created only when `create`** (the admin tool), so the server never fills a
/// database it was pointed at by mistake.
pub(super) fn connect(settings: &PgSettings, create: bool) -> Result<Client> {
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
    prepare(&mut client, create)?;
    Ok(client)
}

/// Checks the schema version, migrating as needed, each step in its own transaction under
/// an advisory lock (two processes opening an old database at once migrate it once).
fn prepare(client: &mut Client, create: bool) -> Result<()> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
        .get(0);
    if !exists && !create {
        return Err(Error::NotInitialised(
            "the PostgreSQL database has no pop3d schema: create it with pop3-admin (any \
             `pop3-admin user` command)"
                .to_owned(),
        ));
    }
    if exists && version(client)? == SCHEMA_VERSION {
        return Ok(());
    }
    loop {
        let mut tx = client.transaction()?;
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
            return Err(Error::SchemaTooNew {
                found,
                known: SCHEMA_VERSION,
            });
        }
        let Some(migration) = usize::try_from(found).ok().and_then(|i| MIGRATIONS.get(i)) else {
            return Ok(());
        };
        tx.batch_execute(migration.postgres)?;
        tx.execute("UPDATE schema_version SET version = $1", &[&(found + 1)])?;
        tx.commit()?;
    }
}

/// The recorded version (0 for an empty table).
pub(super) fn version(client: &mut Client) -> Result<i64> {
    let found: Option<i64> = client
        .query_one("SELECT MAX(version) FROM schema_version", &[])?
        .get(0);
    Ok(found.unwrap_or(0))
}
