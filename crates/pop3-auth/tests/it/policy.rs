//! Issue 19: a user's own EXPIRE, LOGIN-DELAY and quotas, and the SCRAM keys column, on both
//! stores.

use pop3_auth::{
    Error, Field, PolicyOverrides, Resolved, Setting, UserDb, UserName, UserPolicy, UserStore,
};

use crate::stores::on_both;
use crate::support::hasher;

fn name(text: &str) -> UserName {
    UserName::parse(text).unwrap()
}

fn add(db: &dyn UserStore, user: &str) {
    let maildir = std::path::Path::new("/var/mail").join(user).join("Maildir");
    db.add(&name(user), b"secret", &maildir, &hasher()).unwrap();
}

#[test]
fn issue_19_own_values_are_stored_canonical_and_cleared_back_to_the_site() {
    on_both(|db| {
        add(db, "bob");
        let bob = db.get(&name("bob")).unwrap().unwrap();
        assert_eq!(bob.policy, UserPolicy::default());
        db.set_policy(&name("bob"), Setting::Expire, Some("NEVER"))
            .unwrap();
        db.set_policy(&name("bob"), Setting::LoginDelay, Some("900"))
            .unwrap();
        db.set_policy(&name("bob"), Setting::QuotaBytes, Some("2G"))
            .unwrap();
        db.set_policy(&name("bob"), Setting::QuotaMessages, Some("unlimited"))
            .unwrap();
        let policy = db.get(&name("bob")).unwrap().unwrap().policy;
        assert_eq!(policy.expire.as_deref(), Some("never"));
        assert_eq!(policy.login_delay.as_deref(), Some("900"));
        assert_eq!(policy.quota_bytes.as_deref(), Some("2147483648"));
        assert_eq!(policy.quota_messages.as_deref(), Some("unlimited"));
        assert_eq!(policy.expire(Some(30)), Resolved::Own(None));
        assert_eq!(policy.quota_bytes(None), Resolved::Own(Some(2 << 30)));

        // A bad value is refused and changes nothing.
        assert!(matches!(
            db.set_policy(&name("bob"), Setting::LoginDelay, Some("a week")),
            Err(Error::InvalidSetting(_))
        ));
        assert!(matches!(
            db.set_policy(&name("nobody"), Setting::Expire, Some("3")),
            Err(Error::NoSuchUser(_))
        ));
        let again = db.get(&name("bob")).unwrap().unwrap().policy;
        assert_eq!(again, policy);

        db.set_policy(&name("bob"), Setting::Expire, None).unwrap();
        let cleared = db.get(&name("bob")).unwrap().unwrap().policy;
        assert_eq!(cleared.expire, None);
        assert_eq!(cleared.expire(Some(30)), Resolved::Site(Some(30)));
    });
}

#[test]
fn issue_19_overrides_are_the_least_of_the_users_own_values() {
    on_both(|db| {
        for user in ["bob", "carol", "dave"] {
            add(db, user);
        }
        assert_eq!(db.policy_overrides().unwrap(), PolicyOverrides::default());
        // Quotas are not announced in CAPA: they do not count.
        db.set_policy(&name("bob"), Setting::QuotaBytes, Some("1M"))
            .unwrap();
        assert_eq!(db.policy_overrides().unwrap(), PolicyOverrides::default());
        db.set_policy(&name("carol"), Setting::LoginDelay, Some("600"))
            .unwrap();
        db.set_policy(&name("dave"), Setting::LoginDelay, Some("60"))
            .unwrap();
        db.set_policy(&name("bob"), Setting::Expire, Some("never"))
            .unwrap();
        let overrides = db.policy_overrides().unwrap();
        assert_eq!(overrides.login_delay, Some(60));
        assert_eq!(overrides.expire, Some(None));
        db.set_policy(&name("carol"), Setting::Expire, Some("30"))
            .unwrap();
        db.set_policy(&name("dave"), Setting::Expire, Some("7"))
            .unwrap();
        assert_eq!(db.policy_overrides().unwrap().expire, Some(Some(7)));
    });
}

#[test]
fn issue_19_a_new_password_clears_the_scram_keys_in_the_same_write() {
    on_both(|db| {
        add(db, "bob");
        let keys = "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy";
        db.update(&name("bob"), Field::ScramSha256(Some(keys)))
            .unwrap();
        assert_eq!(
            db.get(&name("bob"))
                .unwrap()
                .unwrap()
                .scram_sha256
                .as_deref(),
            Some(keys)
        );
        db.set_password(&name("bob"), b"another", &hasher())
            .unwrap();
        assert_eq!(db.get(&name("bob")).unwrap().unwrap().scram_sha256, None);
    });
}

#[test]
fn issue_19_a_value_written_by_hand_that_does_not_parse_falls_back_to_the_site() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.db");
    let db = UserDb::open(&path).unwrap();
    add(&db, "bob");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE users SET quota_bytes = 'lots', expire = '-1'", [])
        .unwrap();
    let policy = db.get(&name("bob")).unwrap().unwrap().policy;
    assert!(matches!(
        policy.quota_bytes(Some(1000)),
        Resolved::Unreadable(Some(1000), _)
    ));
    assert!(matches!(
        policy.expire(Some(7)),
        Resolved::Unreadable(Some(7), _)
    ));
}

/// Review of issue 19: a server upgraded before its PostgreSQL database (schema 5) writes new
/// password hashes without the SCRAM column, refuses per-user values, and once `pop3-admin`
/// has migrated, reads the new columns without a restart.
#[test]
fn issue_19_a_server_on_schema_5_keeps_working_and_sees_the_migration() {
    use pop3_auth::PgStore;
    use pop3_auth::test_util::PgCluster;

    let Some(cluster) = PgCluster::shared() else {
        return;
    };
    let settings = cluster.database("policy_v5");
    PgStore::migrate_to(&settings, 5).unwrap();
    // bob was added before the upgrade.
    let mut client = postgres::Client::connect(&cluster.url("policy_v5"), postgres::NoTls).unwrap();
    client
        .execute(
            "INSERT INTO users (name, password_hash, maildir, created_at, updated_at) \
             VALUES ('bob', 'x', '/var/mail/bob/Maildir', 0, 0)",
            &[],
        )
        .unwrap();
    let server = PgStore::new(&settings, false);
    server
        .set_password(&name("bob"), b"changed", &hasher())
        .unwrap();
    server
        .replace_hash(
            &name("bob"),
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        )
        .unwrap();
    assert!(matches!(
        server.set_policy(&name("bob"), Setting::Expire, Some("3")),
        Err(Error::SchemaTooOld { found: 5, needs: 6 })
    ));
    assert_eq!(
        server.policy_overrides().unwrap(),
        PolicyOverrides::default()
    );

    let admin = PgStore::open(&settings, true).unwrap();
    admin
        .set_policy(&name("bob"), Setting::Expire, Some("3"))
        .unwrap();
    server.recheck_schema();
    assert_eq!(
        server
            .get(&name("bob"))
            .unwrap()
            .unwrap()
            .policy
            .expire
            .as_deref(),
        Some("3")
    );
    assert_eq!(server.policy_overrides().unwrap().expire, Some(Some(3)));
}

/// Review of issue 19: a password hash changed by anything but pop3d (a script's UPDATE)
/// clears the SCRAM keys, so the old password cannot go on working over SCRAM; pop3d's own
/// change, which writes new keys with the hash, keeps them.
#[test]
fn issue_19_scram_keys_never_outlive_a_hash_changed_by_hand() {
    let keys = "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy";
    let newer = "SCRAM-SHA-256$4096:bmV3$bmV3:bmV3";
    let check = |db: &dyn UserStore, by_hand: &dyn Fn(&str)| {
        add(db, "bob");
        db.update(&name("bob"), Field::ScramSha256(Some(keys)))
            .unwrap();
        by_hand("UPDATE users SET password_hash = 'changed' WHERE name = 'bob'");
        assert_eq!(db.get(&name("bob")).unwrap().unwrap().scram_sha256, None);
        let field = Field::Password {
            hash: "again",
            scram: Some(newer),
        };
        db.update(&name("bob"), field).unwrap();
        assert_eq!(
            db.get(&name("bob"))
                .unwrap()
                .unwrap()
                .scram_sha256
                .as_deref(),
            Some(newer)
        );
        // Other columns change freely.
        by_hand("UPDATE users SET enabled = enabled WHERE name = 'bob'");
        assert!(
            db.get(&name("bob"))
                .unwrap()
                .unwrap()
                .scram_sha256
                .is_some()
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.db");
    let sqlite = UserDb::open(&path).unwrap();
    check(&sqlite, &|sql| {
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute(sql, [])
            .unwrap();
    });
    if let Some(cluster) = pop3_auth::test_util::PgCluster::shared() {
        let settings = cluster.database("scram_trigger");
        let pg = pop3_auth::PgStore::open(&settings, true).unwrap();
        let url = cluster.url("scram_trigger");
        check(&pg, &|sql| {
            postgres::Client::connect(&url, postgres::NoTls)
                .unwrap()
                .execute(sql, &[])
                .unwrap();
        });
    }
}
