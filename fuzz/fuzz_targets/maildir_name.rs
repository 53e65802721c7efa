//! Maildir file names (arbitrary bytes from a directory listing). Checked: no panic; the base
//! is a prefix of the name and holds no `:`; a size is only believed when plausible; the UIDL
//! is 1–70 printable characters, the same for every flag variant of one base, and never
//! depends on anything after the base.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pop3_maildrop::ParsedName;

const TIB: u64 = 1 << 40;

fuzz_target!(|name: &[u8]| {
    let parsed = ParsedName::parse(name);
    assert!(name.starts_with(parsed.base));
    assert!(!parsed.base.contains(&b':'));
    if let Some(wire) = parsed.plausible_wire_size() {
        assert!(wire <= TIB);
        if let Some(raw) = parsed.raw_size {
            assert!(raw <= wire && wire <= raw.saturating_mul(2));
        }
    }
    let uid = parsed.uid();
    assert!((1..=70).contains(&uid.len()), "UIDL length {}", uid.len());
    assert!(uid.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    if parsed.base_is_uid() {
        assert_eq!(uid.as_bytes(), parsed.base);
    }
    // Moving new/ to cur/ or changing flags renames the file; the UIDL must not change.
    for info in [&b":2,"[..], b":2,S", b":2,FRS"] {
        let mut renamed = parsed.base.to_vec();
        renamed.extend_from_slice(info);
        assert_eq!(ParsedName::parse(&renamed).uid(), uid);
    }
});
