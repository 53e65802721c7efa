//! Issue 19 item 1, `EXPIRE n`: [`Maildrop::commit_expiring`] against real Maildirs, with
//! "now" passed in. The file is written by hand in its documented format where a test needs
//! a time pop3d did not record.

use std::os::unix::fs::PermissionsExt;

use pop3_maildrop::{
    BootTime, Expiry, ExpiryReport, Maildrop, Moment, RETRIEVED_DAMAGED_FILE, RETRIEVED_FILE,
};

use crate::support::TempMaildir;

const DAY: i64 = 86_400;
const T0: i64 = 1_780_000_000;

fn now(days: i64) -> Moment {
    Moment {
        wall: T0 + days * DAY,
        boot: BootTime::new("boot-a", 1_000 + days * DAY),
    }
}

fn three() -> TempMaildir {
    let md = TempMaildir::new();
    for i in 0..3 {
        md.put(
            "cur",
            format!("170000000{i}.m{i}.host:2,").as_bytes(),
            format!("Subject: {i}\n\nbody {i}\n").as_bytes(),
        );
    }
    md
}

/// One UPDATE under `EXPIRE 3` at `at`, the messages at `sent` retrieved whole.
fn update(md: &TempMaildir, deleted: &[usize], sent: &[usize], at: Moment) -> ExpiryReport {
    let maildrop: Maildrop = md.open();
    let expiry = Expiry {
        days: 3,
        now: at,
        retrieved: sent,
    };
    let (commit, report) = maildrop.commit_expiring(deleted, sent, false, &expiry, &mut |_| {});
    assert!(commit.failed.is_empty(), "{:?}", commit.failed);
    report
}

fn file(md: &TempMaildir) -> Option<String> {
    std::fs::read_to_string(md.path.join(RETRIEVED_FILE)).ok()
}

/// A retrieval file in the documented format: `(unique part, wall, boot id, boot secs)`.
pub fn retrieval_file(entries: &[(&str, i64, &str, i64)]) -> String {
    let mut text = String::from("pop3d-retrieved 1\n");
    for (base, wall, boot, secs) in entries {
        text.push_str(&format!("{base} {wall} {boot} {secs}\n"));
    }
    let mut sum: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        sum = (sum ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    text.push_str(&format!("end {} {sum:016x}\n", entries.len()));
    text
}

#[test]
fn a_first_retrieval_is_recorded_and_expires_n_days_later() {
    let md = three();
    let first = update(&md, &[], &[0], now(0));
    assert_eq!((first.recorded, first.written), (1, true));
    assert!(first.expired.is_empty());
    assert_eq!(md.names("cur").len(), 3);
    let text = file(&md).unwrap();
    assert!(
        text.contains(&format!("1700000000.m0.host {T0} boot-a 1000\n")),
        "{text}"
    );
    let mode = std::fs::metadata(md.path.join(RETRIEVED_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Retrieved again two days later: the first time stays, nothing is written or removed.
    let again = update(&md, &[], &[0], now(2));
    assert_eq!((again.recorded, again.written), (0, false));
    assert!(again.expired.is_empty());
    assert_eq!(file(&md).unwrap(), text);
    // Three days after the first retrieval, any UPDATE removes it, without DELE.
    let due = update(&md, &[], &[], now(3));
    assert_eq!(due.expired, [0]);
    assert_eq!((due.pruned, due.written), (1, true));
    assert_eq!(md.names("cur").len(), 2);
    assert_eq!(file(&md).unwrap(), retrieval_file(&[]));
}

#[test]
fn a_flag_rename_by_another_program_keeps_the_time() {
    let md = three();
    update(&md, &[], &[1], now(0));
    let cur = md.path.join("cur");
    std::fs::rename(
        cur.join("1700000001.m1.host:2,"),
        cur.join("1700000001.m1.host:2,FS"),
    )
    .unwrap();
    let due = update(&md, &[], &[], now(4));
    assert_eq!(due.expired.len(), 1);
    assert!(
        !md.names("cur")
            .contains(&b"1700000001.m1.host:2,FS".to_vec())
    );
    assert_eq!(md.names("cur").len(), 2);
}

/// A file whose checksum does not match is not believed, even where its entry looks fine:
/// here one edited to say message 0 was retrieved long ago.
#[test]
fn a_damaged_file_expires_nothing_is_set_aside_and_times_restart() {
    let md = three();
    update(&md, &[], &[0, 1], now(0));
    let path = md.path.join(RETRIEVED_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen(
        &format!("{T0} boot-a 1000\n"),
        &format!("{} boot-a {}\n", T0 - 9 * DAY, 1_000 - 9 * DAY),
        1,
    );
    assert_ne!(edited, text);
    std::fs::write(&path, &edited).unwrap();
    let report = update(&md, &[], &[1], now(1));
    assert!(report.expired.is_empty());
    assert_eq!(md.names("cur").len(), 3);
    let damaged = report.damaged.unwrap().to_string();
    assert!(damaged.contains("checksum"), "{damaged}");
    assert_eq!(
        std::fs::read_to_string(md.path.join(RETRIEVED_DAMAGED_FILE)).unwrap(),
        edited
    );
    // Message 1 retrieved now gets now; message 0's time is lost (a delay only).
    assert_eq!(
        file(&md).unwrap(),
        retrieval_file(&[("1700000001.m1.host", T0 + DAY, "boot-a", 1_000 + DAY)])
    );
    assert!(update(&md, &[], &[], now(3)).expired.is_empty());
    assert_eq!(update(&md, &[], &[], now(4)).expired, [1]);
    assert_eq!(md.names("cur").len(), 2);
}

#[test]
fn a_lost_file_only_delays() {
    let md = three();
    update(&md, &[], &[0], now(0));
    std::fs::remove_file(md.path.join(RETRIEVED_FILE)).unwrap();
    let report = update(&md, &[], &[], now(30));
    assert!(report.expired.is_empty());
    assert!(!report.written);
    assert!(file(&md).is_none());
    assert_eq!(md.names("cur").len(), 3);
}

#[test]
fn entries_of_deleted_and_vanished_messages_are_dropped_and_dele_is_not_expiry() {
    let md = three();
    std::fs::write(
        md.path.join(RETRIEVED_FILE),
        retrieval_file(&[
            (
                "1700000000.m0.host",
                T0 - 5 * DAY,
                "boot-a",
                1_000 - 5 * DAY,
            ),
            ("1700000001.m1.host", T0, "boot-a", 1_000),
            ("1699999999.gone.host", T0, "boot-a", 1_000),
        ]),
    )
    .unwrap();
    // Message 0 is DELE'd (and due): deleted, not expired. Message 1 is not due yet.
    let report = update(&md, &[0], &[], now(1));
    assert!(report.expired.is_empty());
    assert_eq!((report.pruned, report.written), (2, true));
    assert_eq!(md.names("cur").len(), 2);
    assert_eq!(
        file(&md).unwrap(),
        retrieval_file(&[("1700000001.m1.host", T0, "boot-a", 1_000)])
    );
}

#[test]
fn a_unique_part_two_files_share_gets_no_time() {
    let md = TempMaildir::new();
    md.put("cur", b"1700000000.dup.host:2,", b"Subject: a\n\nx\n");
    md.put("cur", b"1700000000.dup.host:2,S", b"Subject: bb\n\nyy\n");
    let report = update(&md, &[], &[0, 1], now(0));
    assert_eq!((report.recorded, report.written), (0, false));
    std::fs::write(
        md.path.join(RETRIEVED_FILE),
        retrieval_file(&[("1700000000.dup.host", T0, "boot-a", 1_000)]),
    )
    .unwrap();
    let report = update(&md, &[], &[], now(5));
    assert!(report.expired.is_empty());
    assert_eq!(md.names("cur").len(), 2);
}
