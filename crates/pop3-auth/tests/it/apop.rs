//! APOP: the RFC 1939 known answer, constant-time verification, the greeting timestamp.

use std::collections::HashSet;

use pop3_auth::apop;

#[test]
fn rfc_1939_known_answer() {
    let timestamp = "<1896.697170952@dbc.mtview.ca.us>";
    assert_eq!(
        apop::digest(timestamp, "tanstaaf"),
        "c4c9334bac560ecc979e58001b3e22fb"
    );
    assert!(apop::verify(
        timestamp,
        "tanstaaf",
        "c4c9334bac560ecc979e58001b3e22fb"
    ));
    assert!(apop::verify(
        timestamp,
        "tanstaaf",
        "C4C9334BAC560ECC979E58001B3E22FB"
    ));
    assert!(!apop::verify(
        timestamp,
        "tanstaaf",
        "c4c9334bac560ecc979e58001b3e22fc"
    ));
    assert!(!apop::verify(
        timestamp,
        "tanstaaF",
        "c4c9334bac560ecc979e58001b3e22fb"
    ));
    assert!(!apop::verify(timestamp, "tanstaaf", "c4c9"));
    assert!(!apop::verify(
        timestamp,
        "tanstaaf",
        "zz c9334bac560ecc979e58001b3e22f"
    ));
}

#[test]
fn timestamps_are_random_and_use_a_safe_alphabet() {
    let mut seen = HashSet::new();
    for _ in 0..100 {
        let ts = apop::timestamp("mail.example.org", 1_700_000_000).unwrap();
        let inner = ts
            .strip_prefix('<')
            .and_then(|t| t.strip_suffix('>'))
            .unwrap();
        let (local, host) = inner.split_once('@').unwrap();
        assert_eq!(host, "mail.example.org");
        let (random, clock) = local.split_once('.').unwrap();
        assert_eq!(random.len(), 32, "128 random bits");
        assert_eq!(clock, "1700000000");
        assert!(
            inner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '@'))
        );
        assert!(seen.insert(ts));
    }
    let odd = apop::timestamp("ho+st=/:name", 1).unwrap();
    assert!(odd.ends_with("@hostname>"), "{odd}");
}
