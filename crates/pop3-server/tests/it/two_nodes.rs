//! Issue 18: two stateless nodes behind HAProxy, one Maildir root. The maildrop lock is a
//! `flock` on the shared file system, so the same user on the second node gets `[IN-USE]`;
//! `kill -9` of the holder frees it for the other node at once; and a ledger of every
//! message delivered, retrieved and deleted shows none served after its deletion was
//! committed, none lost, and none deleted without a committed QUIT.

use crate::cluster::{Cluster, Front};
use crate::support::Client;
use std::collections::BTreeMap;

/// What the test knows should be true of the maildrop.
#[derive(Default)]
struct Ledger {
    /// Subject → the exact message, for every message delivered.
    delivered: BTreeMap<String, Vec<u8>>,
    /// Subjects whose deletion a QUIT committed.
    deleted: Vec<String>,
    /// Subjects retrieved, in order, across sessions.
    retrieved: Vec<String>,
}

impl Ledger {
    fn deliver(&mut self, cluster: &Cluster, n: usize) {
        let subject = format!("m{n:03}");
        let message = format!("Subject: {subject}\r\n\r\nbody of {subject}\r\n.{n}\r\n");
        let name = pop3_auth::UserName::parse("alice").unwrap();
        let path = pop3_auth::default_maildir(&cluster.shared.path().join("mail"), &name);
        let maildir = pop3_maildrop::Maildir::open(&path).unwrap();
        pop3_maildrop::deliver(&maildir, message.as_bytes()).unwrap();
        self.delivered.insert(subject, message.into_bytes());
    }

    /// What should be in the maildrop now.
    fn expected(&self) -> Vec<String> {
        let mut left: Vec<String> = self.delivered.keys().cloned().collect();
        left.retain(|s| !self.deleted.contains(s));
        left
    }
}

/// RETR of message `n`: checks it byte for byte against the ledger and records it.
fn retr(client: &mut Client, ledger: &mut Ledger, n: usize) -> String {
    let reply = client.command(&format!("RETR {n}"));
    assert!(reply.starts_with("+OK"), "{reply}");
    let bytes: Vec<u8> = client
        .body()
        .iter()
        .flat_map(|line| format!("{line}\r\n").into_bytes())
        .collect();
    let text = String::from_utf8(bytes.clone()).unwrap();
    let subject = text
        .strip_prefix("Subject: ")
        .and_then(|rest| rest.split("\r\n").next())
        .unwrap()
        .to_owned();
    assert_eq!(ledger.delivered.get(&subject), Some(&bytes), "{subject}");
    assert!(
        !ledger.deleted.contains(&subject),
        "{subject} served after its deletion was committed"
    );
    ledger.retrieved.push(subject.clone());
    subject
}

/// Every message of a session, retrieved: the subjects, in order.
fn retr_all(client: &mut Client, ledger: &mut Ledger) -> Vec<String> {
    let stat = client.command("STAT");
    let count: usize = stat.split(' ').nth(1).unwrap().parse().unwrap();
    (1..=count).map(|n| retr(client, ledger, n)).collect()
}

fn login(cluster: &Cluster, node: usize) -> Client {
    let mut client = cluster.client(node, Front::Stls, "127.0.0.1");
    client.login("alice", "secret");
    client
}

#[test]
fn issue_18_two_nodes_share_the_lock_and_lose_or_repeat_nothing() {
    let Some(cluster) = Cluster::start("issue_18_two_nodes", "") else {
        return;
    };
    share_the_lock_and_lose_or_repeat_nothing(cluster);
}

/// The same, with both nodes' users in one PostgreSQL database (the issue's setup: HAProxy,
/// two pop3d, PostgreSQL, one Maildir root).
#[test]
fn issue_18_two_nodes_on_postgresql_share_the_lock_and_lose_or_repeat_nothing() {
    let test = "issue_18_two_nodes_on_postgresql";
    let Some(postgres) = pop3_auth::test_util::PgCluster::start() else {
        eprintln!("!!! SKIPPED {test}: PostgreSQL is not installed (apt-get install postgresql)");
        return;
    };
    let Some(cluster) = Cluster::start_on_postgres(test, postgres.database("pop3d")) else {
        return;
    };
    share_the_lock_and_lose_or_repeat_nothing(cluster);
}

fn share_the_lock_and_lose_or_repeat_nothing(mut cluster: Cluster) {
    cluster.add_user("alice", "secret");
    let mut ledger = Ledger::default();
    for n in 0..6 {
        ledger.deliver(&cluster, n);
    }
    // Node 0 holds the maildrop; node 1 is told it is in use.
    let mut first = login(&cluster, 0);
    let mut second = cluster.client(1, Front::Stls, "127.0.0.1");
    assert!(second.command("USER alice").starts_with("+OK"));
    let reply = second.command("PASS secret");
    assert!(reply.starts_with("-ERR [IN-USE]"), "{reply}");
    second.close();
    // Node 0 reads everything, deletes two and commits.
    let seen = retr_all(&mut first, &mut ledger);
    assert_eq!(seen, ledger.expected());
    assert!(first.command("DELE 1").starts_with("+OK"));
    assert!(first.command("DELE 4").starts_with("+OK"));
    assert!(first.command("QUIT").starts_with("+OK"));
    ledger.deleted.extend([seen[0].clone(), seen[3].clone()]);
    // Mail arrives; node 1 now holds the maildrop and marks two, but its process is killed
    // before QUIT: nothing it marked is deleted.
    ledger.deliver(&cluster, 6);
    let mut doomed = login(&cluster, 1);
    let seen = retr_all(&mut doomed, &mut ledger);
    assert_eq!(seen, ledger.expected(), "the committed deletions are gone");
    assert!(doomed.command("DELE 1").starts_with("+OK"));
    assert!(doomed.command("DELE 2").starts_with("+OK"));
    // Node 0 is refused while node 1 lives…
    let mut waiting = cluster.client(0, Front::Stls, "127.0.0.1");
    assert!(waiting.command("USER alice").starts_with("+OK"));
    assert!(waiting.command("PASS secret").starts_with("-ERR [IN-USE]"));
    // …and logs in at once after `kill -9` of node 1 (the kernel released the flock).
    cluster.nodes[1].kill9();
    assert!(waiting.command("USER alice").starts_with("+OK"));
    let reply = waiting.command("PASS secret");
    assert!(
        reply.starts_with("+OK"),
        "after kill -9 of the holder: {reply}"
    );
    assert!(
        doomed.line().is_none(),
        "the killed node's client is cut off"
    );
    let seen = retr_all(&mut waiting, &mut ledger);
    assert_eq!(
        seen,
        ledger.expected(),
        "nothing lost to the killed session"
    );
    // The last session deletes everything that is left, and commits.
    for n in 1..=seen.len() {
        assert!(waiting.command(&format!("DELE {n}")).starts_with("+OK"));
    }
    assert!(waiting.command("QUIT").starts_with("+OK"));
    ledger.deleted.extend(seen);
    // The ledger: every message delivered was retrieved at least once and deleted exactly
    // once; the maildrop is empty.
    for subject in ledger.delivered.keys() {
        assert!(ledger.retrieved.contains(subject), "{subject} never served");
        let deletions = ledger.deleted.iter().filter(|s| *s == subject).count();
        assert_eq!(deletions, 1, "{subject}");
    }
    let mut last = login(&cluster, 0);
    assert_eq!(last.command("STAT"), "+OK 0 0");
    last.close();
}
