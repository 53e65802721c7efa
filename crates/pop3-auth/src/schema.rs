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
    },
    Migration {
        sqlite: "
    -- Issue 18: the version in a table both stores share (`user_version` is kept too).
    CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT;
    INSERT INTO schema_version (version) VALUES (4);
",
        // PostgreSQL's `schema_version` exists from the start (`pg/schema.rs`).
        postgres: "SELECT 1;",
    },
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The columns of a [`crate::User`], in the order both stores read them.
pub(crate) const COLUMNS: &str = "name, password_hash, apop_secret, maildir, enabled, apop_only, \
                                  created_at, updated_at, last_login_at, uidl_map";

/// The SQL of a [`crate::store::Field`] change: the assignment, with the value as `$2`/`?2`
/// (and APOP-only as `$3`/`?3`) and `updated_at` as the last parameter.
pub(crate) fn assignment(field: &crate::store::Field<'_>) -> &'static str {
    use crate::store::Field;
    match field {
        Field::PasswordHash(_) => "password_hash = $2",
        Field::Enabled(_) => "enabled = $2",
        Field::UidlMap(_) => "uidl_map = $2",
        Field::Apop { .. } => "apop_secret = $2, apop_only = $3",
    }
}
