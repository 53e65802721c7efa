//! SCRAM-SHA-256 through the authenticator and the store (issue 19): keys written with a
//! password and at a password login, cleared or replaced with it, fake keys for users who
//! have none, and a password change during an exchange.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use pop3_auth::scram::{ClientFirst, ScramKeys, ServerFirst};
use pop3_auth::test_util::PgCluster;
use pop3_auth::{
    Authenticator, Credential, Outcome, PgStore, RejectReason, SCHEMA_VERSION, ScramSecret, UserDb,
    UserName, UserStore as _,
};
use sha2::{Digest as _, Sha256};

use crate::support::{CHEAP, TempDb, hasher};

const ITERATIONS: u32 = 4096;

fn scram_auth() -> Authenticator {
    Authenticator::new(CHEAP, false)
        .unwrap()
        .with_scram(Some(ITERATIONS))
        .unwrap()
}

fn keys_of(t: &TempDb, name: &UserName) -> Option<String> {
    t.db.get(name).unwrap().unwrap().scram_sha256
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// A whole exchange as a client with `password` runs it; the reason of a rejection.
fn scram_login(
    t: &TempDb,
    auth: &Authenticator,
    name: &str,
    password: &str,
) -> Option<RejectReason> {
    let first = exchange_start(t, auth, name);
    finish(t, auth, name, password, &first)
}

fn exchange_start(t: &TempDb, auth: &Authenticator, name: &str) -> ServerFirst {
    let client_first = format!("n,,n={name},r=clientnonce");
    let parsed = ClientFirst::parse(client_first.as_bytes()).unwrap();
    let row = auth.look_up(&t.db, name).unwrap();
    auth.scram_server_first(row, parsed, "servernonce")
}

fn finish(
    t: &TempDb,
    auth: &Authenticator,
    name: &str,
    password: &str,
    first: &ServerFirst,
) -> Option<RejectReason> {
    let server_first = std::str::from_utf8(first.message()).unwrap().to_owned();
    let mut salt = None;
    let mut iterations = None;
    for field in server_first.split(',') {
        if let Some(s) = field.strip_prefix("s=") {
            salt = Some(BASE64.decode(s).unwrap());
        }
        if let Some(i) = field.strip_prefix("i=") {
            iterations = Some(i.parse::<u32>().unwrap());
        }
    }
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(
        password.as_bytes(),
        &salt.unwrap(),
        iterations.unwrap(),
        &mut salted,
    );
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key);
    let without_proof = "c=biws,r=clientnonceservernonce";
    let auth_message = format!("n={name},r=clientnonce,{server_first},{without_proof}");
    let signature = hmac(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(signature)
        .map(|(a, b)| a ^ b)
        .collect();
    let client_final = format!("{without_proof},p={}", BASE64.encode(proof));
    let client_final = first.parse_final(client_final.as_bytes()).unwrap();
    let outcome = auth
        .authenticate(
            &t.db,
            name,
            Credential::Scram {
                first,
                client_final: &client_final,
            },
        )
        .unwrap();
    match outcome {
        Outcome::Accepted(_) => None,
        Outcome::Rejected(reason) => Some(reason),
        other => panic!("{other:?}"),
    }
}

fn password_login(t: &TempDb, auth: &Authenticator, name: &str, password: &str) -> bool {
    matches!(
        auth.authenticate(&t.db, name, Credential::Password(password.as_bytes()))
            .unwrap(),
        Outcome::Accepted(_)
    )
}

#[test]
fn user_add_with_scram_writes_keys_that_log_in() {
    let t = TempDb::new();
    let alice = UserName::parse("alice").unwrap();
    let hasher = hasher().with_scram(Some(ITERATIONS)).unwrap();
    t.db.add(&alice, b"pencil", &t.dir.path().join("a"), &hasher)
        .unwrap();
    let stored = keys_of(&t, &alice).unwrap();
    assert_eq!(ScramKeys::parse(&stored).unwrap().iterations(), ITERATIONS);
    let auth = scram_auth();
    assert_eq!(scram_login(&t, &auth, "alice", "pencil"), None);
    assert_eq!(
        scram_login(&t, &auth, "alice", "pencil2"),
        Some(RejectReason::WrongSecret)
    );
}

#[test]
fn an_imported_user_gains_keys_at_the_next_password_login() {
    let t = TempDb::new();
    // Added without SCRAM, as an import or a site that enabled SCRAM later.
    let alice = t.add("alice", "pencil");
    assert_eq!(keys_of(&t, &alice), None);
    let auth = scram_auth();
    // Without keys SCRAM fails like a wrong password, with a reason for the log.
    assert_eq!(
        scram_login(&t, &auth, "alice", "pencil"),
        Some(RejectReason::ScramNotAvailable)
    );
    assert!(!password_login(&t, &auth, "alice", "wrong"));
    assert_eq!(keys_of(&t, &alice), None, "a wrong password writes nothing");
    assert!(password_login(&t, &auth, "alice", "pencil"));
    assert!(keys_of(&t, &alice).is_some());
    assert_eq!(scram_login(&t, &auth, "alice", "pencil"), None);
    // Once written, a later login leaves them alone.
    let before = keys_of(&t, &alice);
    assert!(password_login(&t, &auth, "alice", "pencil"));
    assert_eq!(keys_of(&t, &alice), before);
}

#[test]
fn other_iterations_are_derived_again_and_a_site_without_scram_writes_none() {
    let t = TempDb::new();
    let alice = t.add("alice", "pencil");
    let plain = Authenticator::new(CHEAP, false).unwrap();
    assert!(password_login(&t, &plain, "alice", "pencil"));
    assert_eq!(keys_of(&t, &alice), None);
    let auth = scram_auth();
    assert!(password_login(&t, &auth, "alice", "pencil"));
    let more = Authenticator::new(CHEAP, false)
        .unwrap()
        .with_scram(Some(8192))
        .unwrap();
    assert!(password_login(&t, &more, "alice", "pencil"));
    let stored = ScramKeys::parse(&keys_of(&t, &alice).unwrap()).unwrap();
    assert_eq!(stored.iterations(), 8192);
    assert_eq!(scram_login(&t, &more, "alice", "pencil"), None);
}

#[test]
fn a_password_change_never_leaves_the_old_keys_usable() {
    let t = TempDb::new();
    let alice = UserName::parse("alice").unwrap();
    let with_scram = hasher().with_scram(Some(ITERATIONS)).unwrap();
    t.db.add(&alice, b"old", &t.dir.path().join("a"), &with_scram)
        .unwrap();
    let auth = scram_auth();
    // Changed with SCRAM on: new keys, in the same UPDATE as the hash.
    t.db.set_password(&alice, b"new", &with_scram).unwrap();
    assert_eq!(
        scram_login(&t, &auth, "alice", "old"),
        Some(RejectReason::WrongSecret)
    );
    assert_eq!(scram_login(&t, &auth, "alice", "new"), None);
    // Changed with SCRAM off: the keys are cleared.
    t.db.set_password(&alice, b"newer", &hasher()).unwrap();
    assert_eq!(keys_of(&t, &alice), None);
    assert_eq!(
        scram_login(&t, &auth, "alice", "new"),
        Some(RejectReason::ScramNotAvailable)
    );
}

#[test]
fn a_password_changed_during_an_exchange_ends_it() {
    let t = TempDb::new();
    let alice = UserName::parse("alice").unwrap();
    let with_scram = hasher().with_scram(Some(ITERATIONS)).unwrap();
    t.db.add(&alice, b"old", &t.dir.path().join("a"), &with_scram)
        .unwrap();
    let auth = scram_auth();
    let first = exchange_start(&t, &auth, "alice");
    t.db.set_password(&alice, b"new", &with_scram).unwrap();
    assert_eq!(
        finish(&t, &auth, "alice", "old", &first),
        Some(RejectReason::ScramNotAvailable)
    );
}

#[test]
fn unknown_disabled_and_keyless_users_see_a_stable_fake_salt() {
    let t = TempDb::new();
    let hasher = hasher().with_scram(Some(ITERATIONS)).unwrap();
    let bob = UserName::parse("bob").unwrap();
    t.db.add(&bob, b"pencil", &t.dir.path().join("b"), &hasher)
        .unwrap();
    t.db.set_enabled(&bob, false).unwrap();
    let auth = scram_auth();
    let salt_of = |name: &str| {
        let first = exchange_start(&t, &auth, name);
        let message = String::from_utf8(first.message().to_vec()).unwrap();
        let rest = message.split_once(",s=").unwrap().1.to_owned();
        assert!(rest.ends_with(",i=4096"), "{rest}");
        rest
    };
    assert_eq!(salt_of("nobody"), salt_of("nobody"));
    assert_eq!(salt_of("NOBODY"), salt_of("nobody"), "names fold");
    assert_ne!(salt_of("nobody"), salt_of("somebody"));
    // A disabled user's real salt is not shown.
    let real = ScramKeys::parse(&keys_of(&t, &bob).unwrap())
        .unwrap()
        .to_string();
    assert!(!real.contains(salt_of("bob").trim_end_matches(",i=4096")));
    assert_eq!(
        scram_login(&t, &auth, "nobody", "pencil"),
        Some(RejectReason::UnknownUser)
    );
    assert_eq!(
        scram_login(&t, &auth, "bob", "pencil"),
        Some(RejectReason::Disabled)
    );
    // Another process has another secret: the fake salt is not a fixed function of the name.
    let other = scram_auth();
    let first = exchange_start(&t, &other, "nobody");
    let message = String::from_utf8(first.message().to_vec()).unwrap();
    assert!(!message.contains(&salt_of("nobody")));
}

#[test]
fn issue_19_scram_keys_on_both_stores() {
    crate::stores::on_both(|db| {
        let alice = UserName::parse("alice").unwrap();
        let bob = UserName::parse("bob").unwrap();
        let maildir = std::path::Path::new("/var/mail/alice/Maildir");
        let with_scram = hasher().with_scram(Some(ITERATIONS)).unwrap();
        let keys = |name: &UserName| db.get(name).unwrap().unwrap().scram_sha256;
        let added = db.add(&alice, b"old", maildir, &with_scram).unwrap();
        let first = added.scram_sha256.clone().unwrap();
        assert_eq!(keys(&alice).as_ref(), Some(&first));
        db.set_password(&alice, b"new", &with_scram).unwrap();
        let second = keys(&alice).unwrap();
        assert_ne!(first, second);
        db.set_password(&alice, b"newer", &hasher()).unwrap();
        assert_eq!(keys(&alice), None);
        // A verified password writes them back.
        db.add(&bob, b"pencil", maildir, &hasher()).unwrap();
        let auth = scram_auth();
        let outcome = auth
            .authenticate(db, "bob", Credential::Password(b"pencil"))
            .unwrap();
        assert!(matches!(outcome, Outcome::Accepted(_)));
        let derived = ScramKeys::parse(&keys(&bob).unwrap()).unwrap();
        assert_eq!(derived.iterations(), ITERATIONS);
    });
}

#[test]
fn an_apop_only_user_gets_fake_keys_and_is_refused() {
    let t = TempDb::new();
    let alice = UserName::parse("alice").unwrap();
    let with_scram = hasher().with_scram(Some(ITERATIONS)).unwrap();
    t.db.add(&alice, b"pencil", &t.dir.path().join("a"), &with_scram)
        .unwrap();
    let auth = scram_auth();
    assert_eq!(scram_login(&t, &auth, "alice", "pencil"), None);
    t.db.set_apop(&alice, Some("an apop secret"), true).unwrap();
    assert_eq!(
        scram_login(&t, &auth, "alice", "pencil"),
        Some(RejectReason::PasswordNotAllowed)
    );
}

/// The fake salt `auth` gives `name` with the rows of `db`.
fn fake_salt(auth: &Authenticator, db: &dyn pop3_auth::UserStore, name: &str) -> String {
    let client_first = format!("n,,n={name},r=clientnonce");
    let parsed = ClientFirst::parse(client_first.as_bytes()).unwrap();
    let row = auth.look_up(db, name).unwrap();
    let first = auth.scram_server_first(row, parsed, "servernonce");
    let message = String::from_utf8(first.message().to_vec()).unwrap();
    message.split_once(",s=").unwrap().1.to_owned()
}

/// Two servers ("processes", "nodes") on one database, each with its own authenticator:
/// once they have read the site's key, an unknown user's fake salt is the same on both.
fn same_fake_salt_on_two_nodes(one: &dyn pop3_auth::UserStore, two: &dyn pop3_auth::UserStore) {
    let (a, b) = (scram_auth(), scram_auth());
    // Before the key is read, each has its own (what every restart used to change).
    assert_ne!(fake_salt(&a, one, "nobody"), fake_salt(&b, two, "nobody"));
    assert_eq!(a.load_scram_secret(one).unwrap(), ScramSecret::Site);
    assert_eq!(b.load_scram_secret(two).unwrap(), ScramSecret::Site);
    assert_eq!(fake_salt(&a, one, "nobody"), fake_salt(&b, two, "nobody"));
    assert_ne!(fake_salt(&a, one, "nobody"), fake_salt(&a, one, "somebody"));
}

/// Issue 19 S1: the key of the fake salts is the site's, created once by whoever migrates
/// (SQLite: any open; PostgreSQL: `pop3-admin`), read by each server at its first exchange.
#[test]
fn s1_fake_salts_are_the_same_across_processes_on_both_stores() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.db");
    drop(UserDb::open(&path).unwrap());
    let (one, two) = (UserDb::open(&path).unwrap(), UserDb::open(&path).unwrap());
    same_fake_salt_on_two_nodes(&one, &two);
    // Opening again (the migration has nothing to do) keeps the key.
    let before = fake_salt_after_load(&one);
    drop(UserDb::open(&path).unwrap());
    assert_eq!(fake_salt_after_load(&UserDb::open(&path).unwrap()), before);

    let Some(cluster) = PgCluster::shared() else {
        return;
    };
    let settings = cluster.database("s1_secret");
    drop(PgStore::open(&settings, true).unwrap());
    let (one, two) = (
        PgStore::new(&settings, false),
        PgStore::new(&settings, false),
    );
    same_fake_salt_on_two_nodes(&one, &two);
    let before = fake_salt_after_load(&one);
    drop(PgStore::open(&settings, true).unwrap());
    assert_eq!(
        fake_salt_after_load(&PgStore::new(&settings, false)),
        before
    );

    // A schema older than the table, which the server uses as it is: the per-process key.
    let old = cluster.database("s1_secret_old");
    PgStore::migrate_to(&old, SCHEMA_VERSION - 1).unwrap();
    let server = PgStore::new(&old, false);
    let auth = scram_auth();
    assert_eq!(
        auth.load_scram_secret(&server).unwrap(),
        ScramSecret::PerProcess
    );
    assert_eq!(
        fake_salt(&auth, &server, "nobody"),
        fake_salt(&auth, &server, "nobody")
    );
}

fn fake_salt_after_load(db: &dyn pop3_auth::UserStore) -> String {
    let auth = scram_auth();
    assert_eq!(auth.load_scram_secret(db).unwrap(), ScramSecret::Site);
    fake_salt(&auth, db, "nobody")
}
