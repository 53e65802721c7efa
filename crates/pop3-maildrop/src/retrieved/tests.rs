//! The time logic of `EXPIRE n` on moments passed in (no sleeping), and the file's parser on
//! hand-written text. Commits against real Maildirs are in `tests/it/expire.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::clock::{days_secs, elapsed_secs, has_expired};
use super::file::{FnvMap, Loaded, Times, encode, load};
use super::*;

const DAY: i64 = 86_400;
const T0: i64 = 1_780_000_000;

fn at(wall: i64, boot: Option<(&str, i64)>) -> Moment {
    Moment {
        wall,
        boot: boot.map(|(id, secs)| BootTime::new(id, secs).unwrap()),
    }
}

#[test]
fn same_boot_measures_on_the_boot_clock_even_when_the_wall_clock_jumped_forward() {
    let then = at(T0, Some(("boot-a", 1_000)));
    // The wall clock jumped ten days ahead; the boot clock says one day passed.
    let now = at(T0 + 10 * DAY, Some(("boot-a", 1_000 + DAY)));
    assert_eq!(elapsed_secs(&then, &now), DAY);
    assert!(!has_expired(&then, &now, 3));
    // And four days on the boot clock expire it whatever the wall clock says (here it went
    // backwards).
    let later = at(T0 - 5 * DAY, Some(("boot-a", 1_000 + 4 * DAY)));
    assert!(has_expired(&then, &later, 3));
}

#[test]
fn a_recorded_time_in_the_future_never_counts_as_elapsed() {
    // Another boot, wall clock behind the recorded time (it went backwards).
    let then = at(T0 + 30 * DAY, Some(("boot-a", 50)));
    let now = at(T0, Some(("boot-b", 10)));
    assert_eq!(elapsed_secs(&then, &now), 0);
    assert!(!has_expired(&then, &now, 1));
    // The same boot with a boot time ahead of now (a damaged or hand-made entry).
    let then = at(T0, Some(("boot-a", 5 * DAY)));
    let now = at(T0 + 10 * DAY, Some(("boot-a", DAY)));
    assert_eq!(elapsed_secs(&then, &now), 0);
    // No boot ids at all.
    assert_eq!(elapsed_secs(&at(T0 + 1, None), &at(T0, None)), 0);
}

#[test]
fn across_boots_and_without_a_boot_id_the_wall_clock_counts() {
    let then = at(T0, Some(("boot-a", 9 * DAY)));
    let now = at(T0 + 4 * DAY, Some(("boot-b", 60)));
    assert_eq!(elapsed_secs(&then, &now), 4 * DAY);
    assert!(has_expired(&then, &now, 3));
    assert!(!has_expired(
        &then,
        &at(T0 + 2 * DAY, Some(("boot-b", 60))),
        3
    ));
    // A boot id missing on either side: the wall clock.
    assert!(has_expired(&at(T0, None), &now, 3));
    assert!(has_expired(&then, &at(T0 + 4 * DAY, None), 3));
}

#[test]
fn n_days_is_a_boundary_to_the_second() {
    let then = at(T0, Some(("boot-a", 100)));
    let now = |secs: i64| at(T0 + secs, Some(("boot-a", 100 + secs)));
    assert_eq!(days_secs(3), 3 * DAY);
    assert!(!has_expired(&then, &now(3 * DAY - 1), 3));
    assert!(has_expired(&then, &now(3 * DAY), 3));
    assert!(has_expired(&then, &now(3 * DAY + 1), 3));
    assert!(!has_expired(&then, &now(DAY - 1), 1));
    assert!(has_expired(&then, &now(DAY), 1));
    // Large values do not overflow.
    assert!(!has_expired(&then, &now(days_secs(36_500) - 1), 36_500));
    assert!(has_expired(&then, &now(i64::MAX / 2), u32::MAX));
    assert!(!has_expired(&then, &at(i64::MIN, Some(("boot-b", 0))), 1));
}

#[test]
fn boot_ids_are_tokens() {
    assert!(BootTime::new("6f1c2a1e-0d3b-4c1f-9a57-0c7c0d1a2b3c", 1).is_some());
    for bad in ["", "-", "a b", "a\nb", &"a".repeat(MAX_BOOT_ID + 1)] {
        if bad == "-" {
            // "-" alone is a valid token for BootTime, but the file reads it as "unknown".
            continue;
        }
        assert!(BootTime::new(bad, 1).is_none(), "{bad:?}");
    }
}

/// Loads `text` into a temp Maildir against listed unique parts.
fn load_text(text: &[u8], bases: &[&[u8]]) -> Loaded {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::create(&dir.path().join("m")).unwrap();
    std::fs::write(dir.path().join("m").join(RETRIEVED_FILE), text).unwrap();
    let mut by_base: FnvMap<&[u8], Option<usize>> = FnvMap::default();
    for (i, base) in bases.iter().enumerate() {
        by_base.insert(base, Some(i));
    }
    load(&maildir, bases.len(), &by_base).unwrap()
}

fn times(loaded: Loaded) -> Times {
    match loaded {
        Loaded::Read(times) => times,
        other => panic!("not read: {other:?}"),
    }
}

#[test]
fn the_written_text_reads_back() {
    let a = at(T0, Some(("boot-a", -3 * DAY)));
    let b = at(T0 - 7, None);
    let text = encode(&[(b"1700.M1.host", a.clone()), (b"odd name%\xff", b.clone())]);
    let shown = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines[0], "pop3d-retrieved 1");
    assert_eq!(lines[1], format!("1700.M1.host {T0} boot-a {}", -3 * DAY));
    assert_eq!(lines[2], format!("odd%20name%25%ff {} - 0", T0 - 7));
    assert!(lines[3].starts_with("end 2 "), "{shown}");
    let read = times(load_text(
        &text,
        &[b"odd name%\xff", b"1700.M1.host", b"other"],
    ));
    assert_eq!(read.get(1), Some(a));
    assert_eq!(read.get(0), Some(b));
    assert_eq!(read.get(2), None);
    assert_eq!(read.unmatched, 0);
    // An entry of a message not listed is counted, to be dropped at the next write.
    let read = times(load_text(&text, &[b"1700.M1.host"]));
    assert_eq!(read.unmatched, 1);
}

#[test]
fn every_damage_is_refused() {
    let good = encode(&[(b"1700.M1.host", at(T0, Some(("boot-a", 5))))]);
    let mut flipped = good.clone();
    flipped[22] ^= 1;
    let twice = encode(&[
        (b"1700.M1.host", at(T0, None)),
        (b"1700.M1.host", at(T0, None)),
    ]);
    let bad_entry = String::from_utf8(encode(&[(b"1700.M1.host", at(T0, None))]))
        .unwrap()
        .replace(" - 0", " + 0")
        .into_bytes();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Vec::new(), "empty"),
        (good[..good.len() - 1].to_vec(), "truncated"),
        (good[..good.len() - 30].to_vec(), "truncated"),
        (flipped, "checksum"),
        (twice, "twice"),
        (bad_entry, "not a valid entry"),
        (b"pop3d-uidl 1\nend 0 0000000000000000\n".to_vec(), "not a"),
        ([good.clone(), b"x\n".to_vec()].concat(), "after the `end`"),
        (vec![b'a'; 2000], "too long"),
    ];
    for (text, why) in cases {
        match load_text(&text, &[b"1700.M1.host"]) {
            Loaded::Damaged(reason) => assert!(reason.contains(why), "{reason} / {why}"),
            other => panic!("{why}: {other:?}"),
        }
    }
    assert!(matches!(
        load_text(&good, &[b"1700.M1.host"]),
        Loaded::Read(_)
    ));
}

proptest::proptest! {
    /// Any bytes read as a file give times or "damaged", never a panic.
    #[test]
    fn the_retrieval_parser_never_panics_on_bytes(
        text in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
    ) {
        let _ = super::file::parse_bytes(&text, &[b"1700.M1.host", b"a"]);
        let _ = super::file::parse_bytes(&[b"pop3d-retrieved 1\n".as_slice(), &text].concat(), &[b"a"]);
    }

    /// Arbitrary UTF-8 entry lines behind a good header and a correct `end` line, so that
    /// every one reaches the entry parser; what reads back has times only for listed bases.
    #[test]
    fn the_retrieval_entry_parser_never_panics_on_utf8(
        lines in proptest::collection::vec(
            "(\\PC{0,20}|[0-9a-z.%]{1,12}) -?[0-9€]{0,20} (-|[a-z0-9-]{1,8}|\\PC{1,4}) -?[0-9é]{0,20}",
            0..6,
        ),
    ) {
        let mut body = Vec::new();
        for line in &lines {
            body.extend_from_slice(line.as_bytes());
            body.push(b'\n');
        }
        let text = super::file::seal(&body, lines.len());
        if let Ok(times) = super::file::parse_bytes(&text, &[b"a", b"b"]) {
            let now = at(T0, Some(("boot-a", 0)));
            for i in 0..3 {
                let _ = times.get(i);
                let _ = times.expired(i, &now, 1);
                let _ = times.expired(i, &at(i64::MIN, None), u32::MAX);
                let _ = times.expired(i, &at(i64::MAX, None), 1);
            }
        }
    }
}
