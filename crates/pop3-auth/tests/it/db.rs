//! The user database: migrations, the admin API and its typed errors.

use pop3_auth::UserStore as _;
use pop3_auth::{Error, SCHEMA_VERSION, UserDb, UserName, default_maildir};

use crate::support::{TempDb, hasher};

#[test]
fn migrations_from_an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.db");
    std::fs::write(&path, b"").unwrap();
    let db = UserDb::open(&path).unwrap();
    assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
    assert!(db.list().unwrap().is_empty());
    drop(db);
    // Opening again is a no-op, and keeps data.
    let db = UserDb::open(&path).unwrap();
    assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn migrations_from_every_earlier_version() {
    for earlier in 0..SCHEMA_VERSION {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.db");
        UserDb::migrate_to(&path, earlier).unwrap();
        // Something of the admin's own that a migration must not touch.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('keep');")
            .unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, earlier);
        drop(conn);
        let db = UserDb::open(&path).unwrap();
        assert_eq!(
            db.schema_version().unwrap(),
            SCHEMA_VERSION,
            "from {earlier}"
        );
        assert!(db.list().unwrap().is_empty());
        drop(db);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let kept: String = conn
            .query_row("SELECT text FROM notes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, "keep");
    }
}

/// Issue 15 #8: users written by every earlier version keep their rows, and none of them
/// becomes APOP-only (version 1's `password_with_apop` had no command, so its default was
/// never a choice).
#[test]
fn issue_15_8_migrations_keep_users_and_none_becomes_apop_only() {
    for earlier in 1..SCHEMA_VERSION {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.db");
        UserDb::migrate_to(&path, earlier).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        let hash = hasher().hash(b"pw").unwrap();
        for (name, secret) in [("apop", Some("an apop secret")), ("plain", None)] {
            conn.execute(
                "INSERT INTO users (name, password_hash, apop_secret, maildir, created_at, \
                 updated_at) VALUES (?1, ?2, ?3, '/var/mail/x/Maildir', 1, 2)",
                rusqlite::params![name, hash, secret],
            )
            .unwrap();
        }
        drop(conn);
        let db = UserDb::open(&path).unwrap();
        let users = db.list().unwrap();
        assert_eq!(users.len(), 2, "from {earlier}");
        assert_eq!(users[0].apop_secret.as_deref(), Some("an apop secret"));
        assert!(users.iter().all(|u| !u.apop_only), "from {earlier}");
        assert!(users.iter().all(|u| u.created_at == 1 && u.updated_at == 2));
        let outcome = crate::support::authenticator(true)
            .authenticate(&db, "apop", pop3_auth::Credential::Password(b"pw"))
            .unwrap();
        assert!(
            matches!(outcome, pop3_auth::Outcome::Accepted(_)),
            "from {earlier}"
        );
    }
}

/// Issue 16: users written by every earlier version keep their rows and have no UIDL map;
/// the flag is set and cleared by its setter alone.
#[test]
fn issue_16_migrations_keep_users_without_a_uidl_map_and_the_setter() {
    for earlier in 1..SCHEMA_VERSION {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.db");
        UserDb::migrate_to(&path, earlier).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO users (name, password_hash, maildir, created_at, updated_at) \
             VALUES ('old', 'x', '/var/mail/old/Maildir', 1, 2)",
            [],
        )
        .unwrap();
        drop(conn);
        let db = UserDb::open(&path).unwrap();
        let name = UserName::parse("old").unwrap();
        assert!(!db.get(&name).unwrap().unwrap().uidl_map, "from {earlier}");
        db.set_uidl_map(&name, true).unwrap();
        let user = db.get(&name).unwrap().unwrap();
        assert!(user.uidl_map);
        assert_eq!(user.password_hash, "x");
        db.set_uidl_map(&name, false).unwrap();
        assert!(!db.get(&name).unwrap().unwrap().uidl_map);
        let nobody = UserName::parse("nobody").unwrap();
        assert!(matches!(
            db.set_uidl_map(&nobody, true),
            Err(Error::NoSuchUser(_))
        ));
        // The CHECK constraint: only 0 and 1.
        let conn = rusqlite::Connection::open(&path).unwrap();
        assert!(conn.execute("UPDATE users SET uidl_map = 2", []).is_err());
    }
}

#[test]
fn a_newer_schema_is_refused() {
    let t = TempDb::new();
    drop(t.db);
    let conn = rusqlite::Connection::open(&t.path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    assert!(matches!(
        UserDb::open(&t.path),
        Err(Error::SchemaTooNew { found, known }) if found == SCHEMA_VERSION + 1 && known == SCHEMA_VERSION
    ));
}

#[test]
fn admin_api_round_trip() {
    let t = TempDb::new();
    let h = hasher();
    let alice = UserName::parse("Alice").unwrap();
    let maildir = default_maildir(std::path::Path::new("/var/mail"), &alice);
    assert_eq!(maildir, std::path::Path::new("/var/mail/alice/Maildir"));
    let user = t.db.add(&alice, b"pw1", &maildir, &h).unwrap();
    assert_eq!(user.name.as_str(), "alice");
    assert!(user.enabled && user.apop_secret.is_none() && user.last_login_at.is_none());
    assert!(matches!(
        t.db.add(&alice, b"pw", &maildir, &h),
        Err(Error::UserExists(_))
    ));
    assert!(matches!(
        t.db.add(
            &UserName::parse("rel").unwrap(),
            b"pw",
            std::path::Path::new("rel/path"),
            &h
        ),
        Err(Error::InvalidMaildir(_))
    ));

    let bob = UserName::parse("bob").unwrap();
    t.db.rename(&alice, &bob).unwrap();
    assert!(t.db.get(&alice).unwrap().is_none());
    let renamed = t.db.get(&bob).unwrap().unwrap();
    assert_eq!(renamed.maildir, maildir, "the Maildir path stays");
    t.add("carol", "pw");
    assert!(matches!(
        t.db.rename(&bob, &UserName::parse("carol").unwrap()),
        Err(Error::UserExists(_))
    ));

    t.db.set_apop_secret(&bob, Some("long enough secret"))
        .unwrap();
    assert!(matches!(
        t.db.set_apop_secret(&bob, Some("short")),
        Err(Error::InvalidApopSecret(_))
    ));
    assert!(matches!(
        t.db.set_apop_secret(&bob, Some("has\ttab in it")),
        Err(Error::InvalidApopSecret(_))
    ));
    assert!(matches!(
        t.db.set_password(&bob, b"", &h),
        Err(Error::InvalidPassword(_))
    ));
    let listed: Vec<String> =
        t.db.list()
            .unwrap()
            .iter()
            .map(|u| u.name.to_string())
            .collect();
    assert_eq!(listed, ["bob", "carol"]);
    let removed = t.db.remove(&bob).unwrap();
    assert_eq!(removed.maildir, maildir);
    let nobody = UserName::parse("nobody").unwrap();
    assert!(matches!(t.db.remove(&nobody), Err(Error::NoSuchUser(_))));
    assert!(matches!(
        t.db.set_enabled(&nobody, false),
        Err(Error::NoSuchUser(_))
    ));
}

#[test]
fn debug_output_hides_secrets() {
    let t = TempDb::new();
    let name = t.add("alice", "pw");
    t.db.set_apop_secret(&name, Some("very secret apop"))
        .unwrap();
    let user = t.db.get(&name).unwrap().unwrap();
    let shown = format!("{user:?}");
    assert!(
        !shown.contains("very secret") && !shown.contains("argon2"),
        "{shown}"
    );
}
