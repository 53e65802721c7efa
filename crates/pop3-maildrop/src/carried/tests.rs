//! The map's format: what it writes, and every damage refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn entry(base: &[u8], rank: u64, uidl: &str) -> MapEntry {
    MapEntry {
        base: base.to_vec(),
        rank,
        uidl: uidl.to_owned(),
    }
}

fn sample() -> Vec<MapEntry> {
    vec![
        entry(b"1200000001.M1P1.host", 0, "000061ae4c0907b0"),
        entry(b"odd name\xff%", 1, "UID5-1234567890"),
    ]
}

#[test]
fn round_trip_and_the_written_text() {
    let sample = sample();
    let refs: Vec<EntryRef<'_>> = sample.iter().map(MapEntry::borrowed).collect();
    let bytes = encode(&refs);
    let text = String::from_utf8(bytes.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "pop3d-uidl 1");
    assert_eq!(lines[1], "1200000001.M1P1.host 0 000061ae4c0907b0");
    assert_eq!(lines[2], "odd%20name%ff%25 1 UID5-1234567890");
    assert!(lines[3].starts_with("end 2 "), "{text}");
    let owned: Vec<MapEntry> = decode(&bytes)
        .unwrap()
        .iter()
        .map(EntryRef::to_owned)
        .collect();
    assert_eq!(owned, sample);
    assert!(decode(&encode(&[])).unwrap().is_empty());
}

/// Re-seals a hand-edited body with a correct trailer, so the check after the checksum is
/// what refuses it.
fn sealed(body: &str, count: usize) -> Vec<u8> {
    let mut out = body.as_bytes().to_vec();
    let sum = checksum(&out);
    out.extend_from_slice(format!("end {count} {sum:016x}\n").as_bytes());
    out
}

#[test]
fn every_damage_is_refused_with_a_reason() {
    let sample = sample();
    let refs: Vec<EntryRef<'_>> = sample.iter().map(MapEntry::borrowed).collect();
    let good = encode(&refs);
    let mut flipped = good.clone();
    flipped[20] ^= 1;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Vec::new(), "truncated"),
        (good[..good.len() - 1].to_vec(), "truncated"),
        (good[..good.len() - 10].to_vec(), "truncated"),
        (good[..40].to_vec(), "truncated"),
        (flipped, "checksum"),
        (sealed("pop3d-uidl 2\n", 0), "not a `pop3d-uidl 1` file"),
        (
            sealed("pop3d-uidl 1\na 0 x\na 1 y\n", 2),
            "unique part a listed twice",
        ),
        (
            sealed("pop3d-uidl 1\na 0 x\nb 1 x\n", 2),
            "UIDL x listed twice",
        ),
        (sealed("pop3d-uidl 1\na 0\n", 1), "not `<unique part>"),
        (sealed("pop3d-uidl 1\na -1 x\n", 1), "bad rank"),
        (sealed("pop3d-uidl 1\n%zz 0 x\n", 1), "bad unique part"),
        (sealed("pop3d-uidl 1\n\u{e9} 0 x\n", 1), "bad unique part"),
        (
            sealed(&format!("pop3d-uidl 1\na 0 {}\n", "x".repeat(256)), 1),
            "bad UIDL",
        ),
        (
            sealed("pop3d-uidl 1\na 0 x\n", 2),
            "where the end line says 2",
        ),
    ];
    for (bytes, reason) in cases {
        match decode(&bytes) {
            Err(r) => assert!(r.contains(reason), "{r:?} lacks {reason:?}"),
            Ok(entries) => panic!("{reason}: accepted {entries:?}"),
        }
    }
}

#[test]
fn carried_uidls_may_be_longer_than_70_but_are_printable() {
    assert!(valid_uidl(&"a".repeat(255)));
    assert!(!valid_uidl(&"a".repeat(256)));
    assert!(!valid_uidl(""));
    assert!(!valid_uidl("a b"));
    assert!(!valid_uidl("é"));
}
