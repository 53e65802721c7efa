//! Issue 18: pop3d with its users in PostgreSQL, a throwaway cluster of its own per test
//! (`pop3_auth::test_util`, Unix socket): a login and a RETR; and PostgreSQL stopped for 10 s
//! in the middle of a login loop.

use std::path::Path;
use std::time::{Duration, Instant};

use pop3_auth::test_util::PgCluster;
use pop3_auth::{PgSettings, PgStore, UserName, UserStore, default_maildir};
use pop3_maildrop::Maildir;

use crate::support::{Client, Sections, TestServer, cheap_hasher};

/// How long PostgreSQL stays down in the outage test.
const OUTAGE: Duration = Duration::from_secs(10);
/// How long a login may take to answer while it is down: a refused socket (or the open
/// breaker) answers at once, well under the 2 s `connect_timeout`.
const FAIL_FAST: Duration = Duration::from_millis(500);
/// How soon after it is back (`pg_ctl start -w` returned) a login must succeed: the breaker
/// opened by the last failure closes within 1 s of it.
const RECOVERY: Duration = Duration::from_secs(1);

/// A cluster, a database with `users` (password "secret") and a server on it.
fn server_on_postgres(users: &[&str]) -> Option<(PgCluster, TestServer)> {
    server_on_postgres_with(users, "", "")
}

/// [`server_on_postgres`] with `[auth]` keys and `[data.postgres]` keys.
pub fn server_on_postgres_with(
    users: &[&str],
    auth: &str,
    postgres: &str,
) -> Option<(PgCluster, TestServer)> {
    let cluster = PgCluster::start()?;
    let settings = cluster.database("pop3d");
    let sections = Sections {
        auth,
        ..Sections::default()
    };
    let server = TestServer::start_edited(sections, |text| {
        let text = crate::support::with_user_db(&text, settings.url());
        if postgres.is_empty() {
            text
        } else {
            format!("{text}\n[data.postgres]\n{postgres}\n")
        }
    });
    add_users(&settings, &server.mail_root, users);
    for user in users {
        server.deliver(user, b"Subject: hello\n\nfrom PostgreSQL\n");
    }
    Some((cluster, server))
}

/// Creates the schema (as `pop3-admin` would) and the users with their Maildirs.
fn add_users(settings: &PgSettings, mail_root: &Path, users: &[&str]) {
    let store = PgStore::open(settings, true).unwrap();
    for user in users {
        let name = UserName::parse(user).unwrap();
        let maildir = default_maildir(mail_root, &name);
        store
            .add(&name, b"secret", &maildir, &cheap_hasher())
            .unwrap();
        Maildir::create(&maildir).unwrap();
    }
}

/// USER/PASS on a new connection: the PASS reply and how long it took.
pub fn try_login(server: &TestServer, user: &str) -> (String, Duration) {
    let mut client = server.greet();
    assert!(client.command(&format!("USER {user}")).starts_with("+OK"));
    let started = Instant::now();
    let reply = client.command("PASS secret");
    let took = started.elapsed();
    client.close();
    (reply, took)
}

/// Logs in (as `bob`) until it succeeds, every failure meanwhile being `[SYS/TEMP]`, and
/// fails the test unless that happens within `bound` of now (`what` just happened); returns
/// how long it took. Polled with a deadline, no sleep.
pub fn login_again_within(server: &TestServer, bound: Duration, what: &str) -> Duration {
    let since = Instant::now();
    loop {
        let (reply, _) = try_login(server, "bob");
        if reply.starts_with("+OK") {
            return since.elapsed();
        }
        assert!(reply.starts_with("-ERR [SYS/TEMP]"), "{reply}");
        assert!(
            since.elapsed() < bound,
            "no login succeeded within {bound:?} of {what}"
        );
    }
}

pub fn stat_and_retr(client: &mut Client) {
    assert_eq!(client.command("STAT"), "+OK 1 35");
    assert!(client.command("RETR 1").starts_with("+OK"));
    let body = client.body();
    assert_eq!(body.last().map(String::as_str), Some("from PostgreSQL"));
}

#[test]
fn issue_18_pop3d_serves_a_login_and_retr_with_users_in_postgres() {
    let Some((_cluster, server)) = server_on_postgres(&["alice"]) else {
        return;
    };
    let mut client = server.greet();
    client.login("alice", "secret");
    stat_and_retr(&mut client);
    assert!(client.command("QUIT").starts_with("+OK"));
    let (reply, _) = try_login(&server, "nobody");
    assert!(reply.starts_with("-ERR [AUTH]"), "{reply}");
}

/// PostgreSQL stopped (`pg_ctl stop -m immediate`) for 10 s in the middle of a login loop:
/// every login meanwhile answers `-ERR [SYS/TEMP]` within 0.5 s, a session already in
/// TRANSACTION goes on (STAT, RETR), and logins succeed again within 1 s of its return,
/// with nothing restarted (polled with a deadline).
#[test]
fn issue_18_postgres_down_fails_logins_fast_sessions_go_on_and_logins_recover() {
    let Some((cluster, server)) = server_on_postgres(&["alice", "bob"]) else {
        return;
    };
    // A few good logins first, so the pool holds connections that the stop will kill.
    for _ in 0..3 {
        let (reply, _) = try_login(&server, "bob");
        assert!(reply.starts_with("+OK"), "{reply}");
    }
    let mut alice = server.greet();
    alice.login("alice", "secret");

    cluster.stop();
    let down = Instant::now();
    let mut failures = 0;
    while down.elapsed() < OUTAGE {
        let (reply, took) = try_login(&server, "bob");
        assert!(reply.starts_with("-ERR [SYS/TEMP]"), "{reply}");
        assert!(
            took < FAIL_FAST,
            "a login took {took:?} with PostgreSQL down"
        );
        failures += 1;
        stat_and_retr(&mut alice);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(failures >= 10, "only {failures} attempts during the outage");

    cluster.resume();
    let back = login_again_within(&server, RECOVERY, "PostgreSQL's return");
    eprintln!("logins back {back:?} after PostgreSQL");
    stat_and_retr(&mut alice);
    assert!(alice.command("QUIT").starts_with("+OK"));
}
