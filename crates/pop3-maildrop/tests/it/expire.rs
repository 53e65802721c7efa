//! Issue 19 item 1, `EXPIRE n`: [`Maildrop::commit_expiring`] against real Maildirs, with
//! "now" passed in. The file is written by hand in its documented format where a test needs
//! a time pop3d did not record.

use std::os::unix::fs::PermissionsExt;

use pop3_maildrop::{
    BootTime, Expiry, ExpiryReport, Maildrop, Moment, RETRIEVED_DAMAGED_FILE, RETRIEVED_FILE,
    WALL_FLOOR,
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

/// A moment of boot `id`, `secs` into it, with the wall clock at `wall`.
fn moment(wall: i64, id: &str, secs: i64) -> Moment {
    Moment {
        wall,
        boot: BootTime::new(id, secs),
    }
}

#[test]
fn a_time_recorded_with_the_wall_clock_behind_is_corrected_in_its_boot_and_not_expired_after_a_reboot()
 {
    let md = three();
    // Booted without an RTC: the wall clock 100 days behind at the first retrieval.
    let first = update(&md, &[], &[0], moment(T0 - 100 * DAY, "boot-a", 1_000));
    assert_eq!(first.recorded, 1);
    // NTP corrected the clock; a day later (boot clock) a commit carries the time forward to
    // the wall time the boot clock implies, and rewrites the file for it.
    let corrected = update(&md, &[], &[], moment(T0 + DAY, "boot-a", 1_000 + DAY));
    assert!(corrected.expired.is_empty());
    assert_eq!((corrected.carried, corrected.written), (1, true));
    let text = file(&md).unwrap();
    assert!(
        text.contains(&format!("1700000000.m0.host {T0} boot-a 1000\n")),
        "{text}"
    );
    // A reboot: only the wall clock remains. Two days since the retrieval: not due (before,
    // the stored time 100 days back made it expire at once).
    let rebooted = update(&md, &[], &[], moment(T0 + 2 * DAY, "boot-b", 60));
    assert!(rebooted.expired.is_empty(), "{rebooted:?}");
    assert_eq!(md.names("cur").len(), 3);
    // Three days after it: due.
    let due = update(&md, &[], &[], moment(T0 + 3 * DAY, "boot-b", 60 + DAY));
    assert_eq!(due.expired, [0]);
}

#[test]
fn a_small_drift_moves_nothing_worth_a_write_and_a_clock_ahead_is_never_moved_back() {
    let md = three();
    update(&md, &[], &[0], moment(T0, "boot-a", 1_000));
    let text = file(&md).unwrap();
    // The wall clock 10 minutes ahead of the boot clock's measure: under the tolerance.
    let drift = update(&md, &[], &[], moment(T0 + DAY + 600, "boot-a", 1_000 + DAY));
    assert_eq!((drift.carried, drift.written), (0, false));
    // Behind now (a jump back): the recorded time is never moved back.
    let back = update(&md, &[], &[], moment(T0 - 10 * DAY, "boot-a", 1_000 + DAY));
    assert_eq!((back.carried, back.written), (0, false));
    assert_eq!(file(&md).unwrap(), text);
}

#[test]
fn no_wall_time_below_the_floor_is_recorded_or_kept() {
    let md = three();
    // The clock at the epoch (no RTC), and no commit in that boot after NTP.
    update(&md, &[], &[0], moment(0, "boot-a", 5));
    let text = file(&md).unwrap();
    assert!(
        text.contains(&format!("1700000000.m0.host {WALL_FLOOR} boot-a 5\n")),
        "{text}"
    );
    // After a reboot with the clock right, a day past the floor: not due (from 1970 it was).
    let rebooted = update(&md, &[], &[], moment(WALL_FLOOR + DAY, "boot-b", 60));
    assert!(rebooted.expired.is_empty(), "{rebooted:?}");
    // An entry already below the floor (an older file) is raised to it, not expired.
    std::fs::write(
        md.path.join(RETRIEVED_FILE),
        retrieval_file(&[("1700000001.m1.host", 1_000, "boot-z", 7)]),
    )
    .unwrap();
    let raised = update(&md, &[], &[], moment(WALL_FLOOR + DAY, "boot-b", 70));
    assert!(raised.expired.is_empty(), "{raised:?}");
    assert_eq!((raised.carried, raised.written), (1, true));
    assert!(
        file(&md)
            .unwrap()
            .contains(&format!("1700000001.m1.host {WALL_FLOOR} boot-z 7\n"))
    );
}
