//! Issue 18: `pop3-admin` against a PostgreSQL user database (a throwaway cluster of the test
//! binary, `pop3_auth::test_util`): `user add` creates the schema and the user, `user list`,
//! `user passwd`, `user del`; a password in the URL is refused without repeating it.

use pop3_auth::test_util::PgCluster;
use pop3_auth::{PgStore, UserName, UserStore};

use crate::support::Site;

/// A site whose `user_db` is a new database of the shared cluster.
fn site_on_postgres(database: &str) -> Option<(Site, pop3_auth::PgSettings)> {
    let cluster = PgCluster::shared()?;
    let settings = cluster.database(database);
    let site = Site::new();
    set_user_db(&site, settings.url());
    Some((site, settings))
}

/// Rewrites the site's `user_db = ...` line to `user_db = "<url>"`.
fn set_user_db(site: &Site, url: &str) {
    let text = std::fs::read_to_string(&site.config).unwrap();
    let line = text
        .lines()
        .find(|line| line.starts_with("user_db = "))
        .unwrap()
        .to_owned();
    let text = text.replace(&line, &format!("user_db = \"{url}\""));
    std::fs::write(&site.config, text).unwrap();
}

#[test]
fn issue_18_user_add_list_passwd_del_against_postgres() {
    let Some((site, settings)) = site_on_postgres("admin_users") else {
        return;
    };
    let (code, _, err) = site.run(&["user", "add", "Alice", "--password-stdin"], b"secret\n");
    assert_eq!(code, 0, "{err}");
    assert!(site.maildir("alice").join("cur").is_dir());
    let (code, out, err) = site.run(&["user", "add", "bob", "--password-stdin"], b"pw\n");
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = site.run(&["user", "add", "bob", "--password-stdin"], b"pw\n");
    assert_ne!(code, 0, "a second bob: {out}");

    let (code, out, err) = site.run(&["user", "list"], b"");
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.iter().any(|l| l.starts_with("alice")), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("bob")), "{out}");

    // What the tool wrote is in PostgreSQL, and logs in.
    let store = PgStore::open(&settings, false).unwrap();
    let alice = UserName::parse("alice").unwrap();
    assert_eq!(
        store.get(&alice).unwrap().unwrap().maildir,
        site.maildir("alice")
    );
    let (code, _, err) = site.run(&["user", "passwd", "alice", "--password-stdin"], b"new\n");
    assert_eq!(code, 0, "{err}");
    let hash = store.get(&alice).unwrap().unwrap().password_hash;
    let hasher = pop3_auth::PasswordHasher::new(pop3_auth::HashParams {
        m_kib: 64,
        t: 1,
        p: 1,
    })
    .unwrap();
    assert!(matches!(
        hasher.verify(b"new", &hash),
        pop3_auth::Verification::Match { .. }
    ));
    let (code, _, err) = site.run(&["user", "del", "bob"], b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(store.list().unwrap().len(), 1);
}

#[test]
fn issue_18_a_password_in_the_url_is_refused_and_not_repeated() {
    let site = Site::new();
    let url = "postgresql://pop3d:hunter2-secret@localhost/pop3d";
    set_user_db(&site, url);
    let (code, out, err) = site.run(&["user", "list"], b"");
    assert_ne!(code, 0);
    assert!(err.contains("password_file"), "{err}");
    assert!(
        !err.contains("hunter2") && !out.contains("hunter2"),
        "{err}"
    );
}
