//! A writer process and this process reading, on one database file at once: WAL and the busy
//! timeout keep every read and write succeeding.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use pop3_auth::UserStore as _;
use pop3_auth::{Credential, Outcome, UserDb, UserName};

use crate::support::{TempDb, authenticator, hasher};

const ROLE: &str = "POP3_AUTH_CHILD_DB";
const WRITES: usize = 60;

#[test]
fn child_writer() {
    let Some(path) = std::env::var_os(ROLE) else {
        return;
    };
    let db = UserDb::open(std::path::Path::new(&path)).unwrap();
    let h = hasher();
    println!("ready");
    std::io::stdout().flush().unwrap();
    let alice = UserName::parse("alice").unwrap();
    for i in 0..WRITES {
        let name = UserName::parse(&format!("user{i}")).unwrap();
        db.add(
            &name,
            b"pw",
            &std::path::Path::new("/var/mail").join(name.as_str()),
            &h,
        )
        .unwrap();
        db.set_password(&alice, b"secret", &h).unwrap();
    }
    println!("done");
    std::process::exit(0);
}

#[test]
fn a_writer_process_and_concurrent_readers() {
    let t = TempDb::new();
    t.add("alice", "secret");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "concurrency::child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, &t.path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    wait_for(&mut stdout, "ready");
    let auth = authenticator(false);
    let reader = UserDb::open(&t.path).unwrap();
    let mut reads = 0;
    // Read and authenticate while the child writes, until it has added every user.
    loop {
        let users = reader.list().unwrap().len();
        match auth
            .authenticate(&reader, "alice", Credential::Password(b"secret"))
            .unwrap()
        {
            Outcome::Accepted(_) => {}
            other => panic!("alice rejected mid-write: {other:?}"),
        }
        reads += 1;
        if users == WRITES + 1 {
            break;
        }
    }
    wait_for(&mut stdout, "done");
    assert!(child.wait().unwrap().success(), "the writer saw an error");
    assert!(reads > 1, "reads overlapped the writes");
}

fn wait_for(stdout: &mut impl Read, marker: &str) {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while stdout.read(&mut byte).unwrap() == 1 {
        if byte[0] == b'\n' {
            if line.ends_with(marker.as_bytes()) {
                return;
            }
            line.clear();
        } else {
            line.push(byte[0]);
        }
    }
    panic!("the child ended without printing {marker}");
}
