//! The session lock: contention in one process and across processes, release on drop and on
//! `kill -9`, and the holder query that does not take the lock.

use std::time::Duration;

use pop3_maildrop::{Error, LOCK_FILE, Maildrop, OpenOptions, lock_status};

use crate::child;
use crate::support::TempMaildir;

#[test]
fn second_handle_in_one_process_gets_locked_with_the_holder() {
    let md = TempMaildir::new();
    let first = md.open_as("first").unwrap();
    match md.open_as("second") {
        Err(Error::Locked {
            holder: Some(holder),
            ..
        }) => {
            assert_eq!(holder.session, "first");
            assert_eq!(holder.pid, std::process::id());
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    assert_eq!(lock_status(&md.path).unwrap().unwrap().session, "first");
    drop(first);
    assert_eq!(lock_status(&md.path).unwrap(), None);
    md.open_as("second").unwrap();
}

#[test]
fn lock_status_does_not_take_the_lock() {
    let md = TempMaildir::new();
    assert_eq!(lock_status(&md.path).unwrap(), None);
    let _held = md.open_as("holder").unwrap();
    for _ in 0..100 {
        assert!(lock_status(&md.path).unwrap().is_some());
    }
    // A stale record without a kernel lock behind it is not reported as a holder.
    drop(_held);
    std::fs::write(md.path.join(".pop3d.lock"), "pid=1 session=ghost since=5\n").unwrap();
    assert_eq!(lock_status(&md.path).unwrap(), None);
}

#[test]
fn bounded_wait_gives_up() {
    let md = TempMaildir::new();
    let _held = md.open_as("holder").unwrap();
    let options = OpenOptions {
        session: "waiter".into(),
        lock_wait: Duration::from_millis(60),
        ..Default::default()
    };
    assert!(matches!(
        Maildrop::open(&md.path, &options),
        Err(Error::Locked { .. })
    ));
}

#[test]
fn another_process_holds_it_until_killed() {
    let md = TempMaildir::new();
    let mut holder = child::spawn("hold-lock", &md.path);
    assert!(
        child::wait_for(&mut holder, "locked"),
        "the child never took the lock"
    );
    match md.open_as("parent") {
        Err(Error::Locked {
            holder: Some(h), ..
        }) => {
            assert_eq!(h.pid, holder.id());
            assert_eq!(h.session, "child-session");
        }
        other => panic!("expected Locked by the child, got {other:?}"),
    }
    assert_eq!(lock_status(&md.path).unwrap().unwrap().pid, holder.id());
    // kill -9: the kernel releases the flock with the process; no stale lock remains.
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(lock_status(&md.path).unwrap(), None);
    md.open_as("parent").unwrap();
}

/// A hard link planted at the lock's name (to a file of someone else's) is never truncated or
/// written: the lock still holds, and the holder is unknown.
#[test]
fn issue_16_a_hard_link_at_the_lock_name_is_never_written() {
    let md = TempMaildir::new();
    let victim = md.dir.path().join("victim");
    std::fs::write(&victim, b"precious\n").unwrap();
    std::fs::hard_link(&victim, md.path.join(LOCK_FILE)).unwrap();
    let first = md.open_as("first").unwrap();
    assert!(
        matches!(md.open_as("second"), Err(Error::Locked { .. })),
        "the lock holds on a linked file"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious\n");
    drop(first);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious\n");
}
