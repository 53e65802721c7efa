//! File names: strict size fields, UIDL derivation, and odd entries in a real Maildir.

use std::os::unix::fs::symlink;

use pop3_maildrop::ParsedName;

use crate::support::{TempMaildir, crlf, read_all};

#[test]
fn parse_size_fields_strictly() {
    let p = ParsedName::parse(b"1700000000.M1P2Q3.host,S=120,W=124:2,FS");
    assert_eq!(p.base, b"1700000000.M1P2Q3.host");
    assert_eq!((p.raw_size, p.wire_size), (Some(120), Some(124)));
    assert_eq!(p.flags, Some(&b"FS"[..]));
    assert_eq!(p.time, Some(1_700_000_000));
    assert_eq!(p.plausible_wire_size(), Some(124));
    assert_eq!(p.uid(), "1700000000.M1P2Q3.host");

    for bad in [
        &b"1.x,S=12a,W=x"[..],
        b"1.x,S=-1,W=+5",
        b"1.x,S=,W=",
        b"1.x,W=999999999999999999999",
        b"1.x,W=1,W=1",
    ] {
        let p = ParsedName::parse(bad);
        assert_eq!(p.plausible_wire_size(), None, "{bad:?}");
    }
    // Implausible: W= below S=, above 2×S=, or above 1 TiB.
    assert_eq!(
        ParsedName::parse(b"1.x,S=10,W=9").plausible_wire_size(),
        None
    );
    assert_eq!(
        ParsedName::parse(b"1.x,S=10,W=21").plausible_wire_size(),
        None
    );
    assert_eq!(
        ParsedName::parse(b"1.x,W=1099511627777").plausible_wire_size(),
        None
    );
    assert_eq!(ParsedName::parse(b"1.x,W=0").plausible_wire_size(), Some(0));
    // A comma not starting a field belongs to the base name.
    assert_eq!(ParsedName::parse(b"1.a,b.host,S=1").base, b"1.a,b.host");
}

#[test]
fn uids_fit_rfc_1939_for_any_name() {
    let long = vec![b'a'; 71];
    for name in [&b"\xff\xfe\x00odd"[..], b"with space", &long, b"", b":2,S"] {
        let uid = ParsedName::parse(name).uid();
        assert!((1..=70).contains(&uid.len()), "{uid}");
        assert!(uid.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{uid}");
    }
    assert_ne!(
        ParsedName::parse(b"with space").uid(),
        ParsedName::parse(b"with  space").uid()
    );
}

#[test]
fn odd_entries_are_skipped_or_handled_never_followed() {
    let md = TempMaildir::new();
    let outside = md.dir.path().join("outside-secret");
    std::fs::write(&outside, b"secret\n").unwrap();
    md.put("cur", b"1700000001.nocolon.host", b"no info part\n");
    md.put(
        "cur",
        b"1700000002.bad.host,S=abc,W=def:2,",
        b"bad fields\n",
    );
    md.put(
        "cur",
        b"1700000003.huge.host,W=99999999999999:2,",
        b"huge W\n",
    );
    md.put("cur", b"1700000004.\xff\xfe.host:2,", b"non-UTF-8 name\n");
    md.put("cur", b".hidden", b"dotfile\n");
    md.put("new", b".also-hidden", b"dotfile\n");
    std::fs::create_dir(md.path.join("cur/1700000005.dir.host:2,")).unwrap();
    symlink(&outside, md.path.join("cur/1700000006.link.host:2,")).unwrap();
    symlink(&outside, md.path.join("new/1700000007.link.host")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        md.path.join("cur/1700000008.fifo.host:2,"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        0,
    )
    .unwrap();

    let maildrop = md.open();
    let report = maildrop.scan_report().clone();
    let listed: Vec<Vec<u8>> = (0..maildrop.messages().len())
        .map(|i| read_all(&maildrop, i).unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            &b"no info part\n"[..],
            b"bad fields\n",
            b"huge W\n",
            b"non-UTF-8 name\n"
        ]
    );
    for (i, message) in maildrop.messages().iter().enumerate() {
        assert_eq!(message.wire_size(), crlf(&listed[i]).len() as u64);
    }
    // Two dotfiles, a directory, two symlinks and a FIFO.
    assert_eq!(report.skipped, 6, "{report:?}");
    // The symlink in new/ was not moved or followed; the secret is untouched.
    assert!(md.path.join("new/1700000007.link.host").is_symlink());
    assert_eq!(std::fs::read(&outside).unwrap(), b"secret\n");
}
