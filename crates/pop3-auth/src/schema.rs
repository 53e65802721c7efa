//! The schema, one list of migrations for both stores (issue 18): entry `i` brings a store to
//! version `i + 1`, written once in each dialect, so a SQLite file and a PostgreSQL database
//! at the same version have the same tables, columns, defaults and checks. Never edit one
//! that has shipped: add another.
//!
//! **The version lives in the `schema_version` table in both stores** (one row). SQLite
//! recorded it in `PRAGMA user_version` up to version 3; version 4 creates the table, and the
//! SQLite store keeps writing `user_version` too, so an older pop3d still refuses a file
//! newer than it knows. PostgreSQL has had the table from its first migration.

/// One step, in each dialect.
pub(crate) struct Migration {
    /// SQLite's statements.
    pub(crate) sqlite: &'static str,
    /// PostgreSQL's statements.
    pub(crate) postgres: &'static str,
    /// **The oldest schema version a pop3d must know to keep reading and writing a database
    /// with this step applied** (`schema_version.min_reader`, from version 5 on): an
    /// additive step (a new column with a default, a new table) keeps the previous one's;
    /// a step that drops, renames or changes the meaning of a column sets its own version.
    pub(crate) min_reader: i64,
}

/// The migrations, in order.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        sqlite: "
    CREATE TABLE users (
        id                INTEGER PRIMARY KEY,
        name              TEXT NOT NULL UNIQUE,
        password_hash     TEXT NOT NULL,
        apop_secret       TEXT,
        maildir           TEXT NOT NULL,
        enabled           INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
        password_with_apop INTEGER NOT NULL DEFAULT 0 CHECK (password_with_apop IN (0, 1)),
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL,
        last_login_at     INTEGER
    ) STRICT;
",
        min_reader: 1,
        postgres: "
    CREATE TABLE users (
        id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name               TEXT NOT NULL UNIQUE,
        password_hash      TEXT NOT NULL,
        apop_secret        TEXT,
        maildir            TEXT NOT NULL,
        enabled            BOOLEAN NOT NULL DEFAULT TRUE,
        password_with_apop BOOLEAN NOT NULL DEFAULT FALSE,
        created_at         BIGINT NOT NULL,
        updated_at         BIGINT NOT NULL,
        last_login_at      BIGINT
    );
",
    },
    Migration {
        sqlite: "
    -- Issue 15 #8: an APOP secret adds APOP and takes nothing away; `apop_only` is the
    -- RFC 1939 §7 stricter mode, chosen per user. Version 1's `password_with_apop` had no
    -- command to set it, so its 0 was never a choice: every user starts as not APOP-only.
    ALTER TABLE users ADD COLUMN apop_only INTEGER NOT NULL DEFAULT 0 CHECK (apop_only IN (0, 1));
    ALTER TABLE users DROP COLUMN password_with_apop;
",
        postgres: "
    ALTER TABLE users ADD COLUMN apop_only BOOLEAN NOT NULL DEFAULT FALSE;
    ALTER TABLE users DROP COLUMN password_with_apop;
",
        min_reader: 2,
    },
    Migration {
        sqlite: "
    -- Issue 16: the user's maildrop has a map of UIDLs carried over from the previous
    -- server. Once set, a missing or damaged map fails the login instead of every client
    -- downloading everything again under new UIDLs; only `pop3-admin uidl` sets or clears it.
    ALTER TABLE users ADD COLUMN uidl_map INTEGER NOT NULL DEFAULT 0 CHECK (uidl_map IN (0, 1));
",
        postgres: "
    ALTER TABLE users ADD COLUMN uidl_map BOOLEAN NOT NULL DEFAULT FALSE;
",
        // A version-2 pop3d would ignore the map, and serve new UIDLs: not compatible.
        min_reader: 3,
    },
    Migration {
        sqlite: "
    -- Issue 18: the version in a table both stores share (`user_version` is kept too).
    CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT;
    INSERT INTO schema_version (version) VALUES (4);
",
        // PostgreSQL's `schema_version` exists from the start (`pg/schema.rs`).
        postgres: "SELECT 1;",
        min_reader: 4,
    },
    Migration {
        sqlite: "
    -- Review of issue 18: the oldest pop3d that can use this schema, so that an additive
    -- migration leaves older servers running (a rolling upgrade).
    ALTER TABLE schema_version ADD COLUMN min_reader INTEGER NOT NULL DEFAULT 0;
",
        postgres: "
    ALTER TABLE schema_version ADD COLUMN min_reader BIGINT NOT NULL DEFAULT 0;
",
        // Only `schema_version` changes: a version-4 pop3d reads the users as before (but
        // does not know `min_reader`, so it refuses version 5: upgrade every pop3d first).
        min_reader: 4,
    },
    Migration {
        sqlite: "
    -- Issue 19: a user's own EXPIRE, LOGIN-DELAY and quotas (text, NULL: the site default;
    -- `policy.rs` reads and writes them), and the SCRAM-SHA-256 keys derived from the
    -- password (PostgreSQL's `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`).
    ALTER TABLE users ADD COLUMN expire TEXT;
    ALTER TABLE users ADD COLUMN login_delay TEXT;
    ALTER TABLE users ADD COLUMN quota_messages TEXT;
    ALTER TABLE users ADD COLUMN quota_bytes TEXT;
    ALTER TABLE users ADD COLUMN scram_sha256 TEXT;
    -- SCRAM keys never outlive the password they were derived from, whoever changes it (a
    -- script updating password_hash directly): a new hash without new keys clears them.
    CREATE TRIGGER users_scram_follows_password AFTER UPDATE OF password_hash ON users
    WHEN NEW.password_hash IS NOT OLD.password_hash
         AND NEW.scram_sha256 IS OLD.scram_sha256
         AND NEW.scram_sha256 IS NOT NULL
    BEGIN
        UPDATE users SET scram_sha256 = NULL WHERE id = NEW.id;
    END;
    -- Secrets every node of the site shares, created by whoever migrates (the row of
    -- `scram_fake_key` is inserted with this step, from the OS's randomness; see
    -- `SERVER_SECRETS_SINCE`).
    CREATE TABLE server_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
",
        postgres: "
    ALTER TABLE users ADD COLUMN expire TEXT;
    ALTER TABLE users ADD COLUMN login_delay TEXT;
    ALTER TABLE users ADD COLUMN quota_messages TEXT;
    ALTER TABLE users ADD COLUMN quota_bytes TEXT;
    ALTER TABLE users ADD COLUMN scram_sha256 TEXT;
    CREATE FUNCTION pop3d_scram_follows_password() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.password_hash IS DISTINCT FROM OLD.password_hash
           AND NEW.scram_sha256 IS NOT DISTINCT FROM OLD.scram_sha256 THEN
            NEW.scram_sha256 := NULL;
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER users_scram_follows_password BEFORE UPDATE OF password_hash ON users
        FOR EACH ROW EXECUTE FUNCTION pop3d_scram_follows_password();
    CREATE TABLE server_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL);
",
        // Not additive in meaning: a version-5 pop3d would ignore a user's quota and EXPIRE,
        // and a version-5 `pop3-admin` changing a password would leave SCRAM keys of the old
        // one usable.
        min_reader: 6,
    },
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The first version whose `schema_version` table has `min_reader`.
pub(crate) const MIN_READER_SINCE: i64 = 5;

/// **The oldest PostgreSQL schema the server uses** (it never migrates one: `pop3-admin`
/// does). Version 4 is the first PostgreSQL ever had; version 5 adds only `min_reader`, so
/// this build reads both, and binaries can be upgraded before the database is.
pub const OLDEST_SERVED: i64 = 4;

/// Whether a schema at `found` whose `min_reader` is `min_reader` (none before version 5)
/// can be used by this build: `Ok`, or the error that says why not.
pub(crate) fn check_readable(found: i64, min_reader: Option<i64>) -> crate::Result<()> {
    if found < OLDEST_SERVED {
        return Err(crate::Error::SchemaTooOld {
            found,
            needs: OLDEST_SERVED,
        });
    }
    if found > SCHEMA_VERSION && min_reader.is_none_or(|min| min > SCHEMA_VERSION) {
        return Err(crate::Error::SchemaTooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// The first version with the `server_secrets` table.
pub(crate) const SERVER_SECRETS_SINCE: i64 = 6;

/// The `server_secrets` row of the key of the fake SCRAM salts and keys (issue 19 S1): the
/// same on every node using the database and across restarts, so an unknown user's fake
/// salt is as stable as a real user's.
pub(crate) const SCRAM_FAKE_KEY: &str = "scram_fake_key";

/// The statement that inserts a secret once (the same SQL in both dialects: `ON CONFLICT DO
/// NOTHING`, so a second migration run, or a second admin at once, keeps the first).
pub(crate) const INSERT_SECRET: &str =
    "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";

/// The statement that reads one.
pub(crate) const SELECT_SECRET: &str = "SELECT value FROM server_secrets WHERE name = $1";

/// A new secret: 32 random octets from the OS, in hexadecimal.
pub(crate) fn new_secret() -> crate::Result<String> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| crate::Error::Random(e.to_string()))?;
    Ok(random.iter().map(|b| format!("{b:02x}")).collect())
}

/// The columns of a [`crate::User`], in the order both stores read them.
pub(crate) const COLUMNS: &str = "name, password_hash, apop_secret, maildir, enabled, apop_only, \
                                  created_at, updated_at, last_login_at, uidl_map, expire, \
                                  login_delay, quota_messages, quota_bytes, scram_sha256";

/// The first version with the per-user policy and SCRAM columns.
pub(crate) const POLICY_SINCE: i64 = 6;

/// The columns to read from a schema at `version`: [`COLUMNS`], or on a PostgreSQL schema
/// older than [`POLICY_SINCE`] (which the server uses as it is, so binaries can be upgraded
/// before the database) the same list with `NULL` for the columns it does not have yet.
pub(crate) fn columns(version: i64) -> &'static str {
    if version >= POLICY_SINCE {
        COLUMNS
    } else {
        "name, password_hash, apop_secret, maildir, enabled, apop_only, created_at, updated_at, \
         last_login_at, uidl_map, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text"
    }
}

/// The distinct values of users' own EXPIRE and LOGIN-DELAY
/// ([`crate::UserStore::policy_overrides`]), one query per column, the same SQL in both
/// dialects; bounded, as a site has a handful of distinct values.
pub(crate) const OVERRIDES_QUERIES: [&str; 2] = [
    "SELECT DISTINCT expire FROM users WHERE expire IS NOT NULL LIMIT 1000",
    "SELECT DISTINCT login_delay FROM users WHERE login_delay IS NOT NULL LIMIT 1000",
];

/// [`assignment`] for a schema at `version`: below [`POLICY_SINCE`] a new hash has no SCRAM
/// column to clear (the caller refuses the fields that need the new columns).
pub(crate) fn assignment_at(field: &crate::store::Field<'_>, version: i64) -> &'static str {
    match field {
        crate::store::Field::PasswordHash(_) if version < POLICY_SINCE => "password_hash = $2",
        field => assignment(field),
    }
}

/// The SQL of a [`crate::store::Field`] change: the assignment, with the value as `$2`/`?2`
/// (and APOP-only as `$3`/`?3`) and `updated_at` as the last parameter.
///
/// **A new password hash clears the SCRAM keys in the same UPDATE**: keys derived from the
/// old password must never outlive it (they are derived again at the next password login).
pub(crate) fn assignment(field: &crate::store::Field<'_>) -> &'static str {
    use crate::policy::Setting;
    use crate::store::Field;
    match field {
        Field::PasswordHash(_) => "password_hash = $2, scram_sha256 = NULL",
        Field::ScramSha256(_) => "scram_sha256 = $2",
        Field::Password { .. } => "password_hash = $2, scram_sha256 = $3",
        Field::Policy(Setting::Expire, _) => "expire = $2",
        Field::Policy(Setting::LoginDelay, _) => "login_delay = $2",
        Field::Policy(Setting::QuotaMessages, _) => "quota_messages = $2",
        Field::Policy(Setting::QuotaBytes, _) => "quota_bytes = $2",
        Field::Enabled(_) => "enabled = $2",
        Field::UidlMap(_) => "uidl_map = $2",
        Field::Apop { .. } => "apop_secret = $2, apop_only = $3",
    }
}
