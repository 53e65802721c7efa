use super::*;

fn stamp() -> DirStamp {
    DirStamp([1, 2, 1_700_000_000, 5, 1_700_000_001, 6])
}

fn messages() -> Vec<Message> {
    vec![
        Message::from_parts(
            b"1700000000.M1P1.host,W=12:2,".to_vec().into(),
            20,
            None,
            None,
            12,
        ),
        Message::from_parts(
            b"odd name \xff:2,S".to_vec().into(),
            11,
            Some(format!("h{}", "a".repeat(64)).into()),
            Some(10),
            11,
        ),
    ]
}

fn same(a: &[Message], b: &[Message]) -> bool {
    let key = |m: &Message| {
        let p = m.parts();
        (
            p.name.to_vec(),
            p.base_len,
            p.digest_uid.map(str::to_owned),
            p.raw_size,
            p.wire_size,
        )
    };
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| key(x) == key(y))
}

#[test]
fn round_trip_keeps_every_field() {
    let bytes = encode(&stamp(), &messages());
    let decoded = decode(&bytes, &stamp()).expect("a fresh listing decodes");
    assert!(same(&decoded, &messages()));
    assert_eq!(decoded[1].uid(), format!("h{}", "a".repeat(64)));
    assert_eq!(decoded[0].uid(), "1700000000.M1P1.host");
    let empty = encode(&stamp(), &[]);
    assert_eq!(decode(&empty, &stamp()).map(|m| m.len()), Some(0));
}

#[test]
fn another_stamp_is_ignored() {
    let bytes = encode(&stamp(), &messages());
    for field in 0..6 {
        let mut other = stamp();
        other.0[field] += 1;
        assert!(
            decode(&bytes, &other).is_none(),
            "stamp field {field} changed"
        );
    }
}

#[test]
fn every_truncation_and_every_flipped_byte_is_rejected() {
    let bytes = encode(&stamp(), &messages());
    for len in 0..bytes.len() {
        assert!(
            decode(&bytes[..len], &stamp()).is_none(),
            "truncated to {len}"
        );
    }
    for at in 0..bytes.len() {
        for bit in [0x01, 0x80] {
            let mut damaged = bytes.clone();
            damaged[at] ^= bit;
            assert!(decode(&damaged, &stamp()).is_none(), "byte {at} ^ {bit:#x}");
        }
    }
}

#[test]
fn records_that_are_not_plain_names_are_rejected_even_with_a_valid_checksum() {
    for name in [&b"../escape"[..], b"a/b", b".hidden", b"", b"nul\0"] {
        let bad = vec![Message::from_parts(name.to_vec().into(), 0, None, None, 1)];
        assert!(
            decode(&encode(&stamp(), &bad), &stamp()).is_none(),
            "{name:?}"
        );
    }
    let implausible = vec![Message::from_parts(
        b"x".to_vec().into(),
        1,
        None,
        Some(10),
        30,
    )];
    assert!(decode(&encode(&stamp(), &implausible), &stamp()).is_none());
}

#[test]
fn only_a_stamp_older_than_the_settle_time_is_settled() {
    let at = |secs: u64, nanos: u64| DirStamp([0, 0, secs, nanos, secs, nanos]);
    let now = UNIX_EPOCH + Duration::from_millis(12_500);
    assert!(at(10, 0).is_settled(now));
    assert!(!at(10, 999_999_999).is_settled(now), "rounds up to 11 s");
    assert!(!at(11, 0).is_settled(now));
    assert!(
        !at(u64::MAX, 0).is_settled(now),
        "a negative time wraps and is refused"
    );
    assert!(
        !at(0, 0).is_settled(UNIX_EPOCH),
        "a clock before the settle time"
    );
}
