//! The child-process side of the multi-process tests. This test binary re-runs itself with
//! `POP3_MAILDROP_CHILD` set; `child_entry` then acts as the child and exits. Run normally,
//! without the variable, it returns at once.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use pop3_maildrop::{Maildir, deliver, lock};

const ROLE: &str = "POP3_MAILDROP_CHILD";

/// Starts this test binary as a child with a role, piped stdin and stdout.
pub fn spawn(role: &str, maildir: &Path) -> Child {
    command(role, maildir).spawn().unwrap()
}

/// [`spawn`], the child running as `uid`:`gid` with the supplementary `groups`, through
/// util-linux's `setpriv` (as root; std's `CommandExt::groups` is not stable).
pub fn spawn_as(role: &str, maildir: &Path, uid: u32, gid: u32, groups: &[u32]) -> Child {
    let groups: Vec<String> = groups.iter().map(u32::to_string).collect();
    let mut setpriv = Command::new("setpriv");
    setpriv
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg(format!("--groups={}", groups.join(",")))
        .arg("--")
        .arg(std::env::current_exe().unwrap());
    with_role(setpriv, role, maildir).spawn().unwrap()
}

fn command(role: &str, maildir: &Path) -> Command {
    with_role(
        Command::new(std::env::current_exe().unwrap()),
        role,
        maildir,
    )
}

fn with_role(mut command: Command, role: &str, maildir: &Path) -> Command {
    command
        .args([
            "--exact",
            "child::child_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env("POP3_MAILDROP_PATH", maildir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    command
}

/// Reads the child's stdout line by line until one ends with `marker` (the test harness prints
/// its own text first, and `test child::child_entry ... ` without a newline). Returns false if
/// the child's output ended without it.
pub fn wait_for(child: &mut Child, marker: &str) -> bool {
    let stdout = child.stdout.as_mut().unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while stdout.read(&mut byte).unwrap() == 1 {
        if byte[0] != b'\n' {
            line.push(byte[0]);
            continue;
        }
        if line.ends_with(marker.as_bytes()) {
            return true;
        }
        line.clear();
    }
    false
}

#[test]
fn child_entry() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let path = std::env::var_os("POP3_MAILDROP_PATH").unwrap();
    let maildir = Maildir::open(Path::new(&path)).unwrap();
    match role.as_str() {
        // Takes the lock, says so, then holds it until killed (stdin never closes).
        "hold-lock" => {
            let _guard = lock(&maildir, "child-session", std::time::Duration::ZERO).unwrap();
            println!("locked");
            std::io::stdout().flush().unwrap();
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        }
        // Delivers whatever arrives on stdin, then reports.
        "deliver" => {
            let delivered = deliver(&maildir, std::io::stdin().lock()).unwrap();
            println!("delivered {}", delivered.raw_size);
        }
        // Delivers stdin and reports the name, or the error.
        "try-deliver" => match deliver(&maildir, std::io::stdin().lock()) {
            Ok(delivered) => println!("delivered {}", delivered.name.to_string_lossy()),
            Err(e) => println!("failed: {e}"),
        },
        // Opens the maildrop and reports how many descriptors it holds.
        "count-fds" => {
            let count = || std::fs::read_dir("/proc/self/fd").unwrap().count();
            drop(maildir);
            let before = count();
            let options = pop3_maildrop::OpenOptions {
                session: "fds".into(),
                lock_wait: std::time::Duration::ZERO,
                ..Default::default()
            };
            let maildrop = pop3_maildrop::Maildrop::open(Path::new(&path), &options).unwrap();
            let held = count() - before;
            drop(maildrop);
            println!("held {held} released {}", count() == before);
        }
        other => panic!("unknown child role {other}"),
    }
    std::process::exit(0);
}
