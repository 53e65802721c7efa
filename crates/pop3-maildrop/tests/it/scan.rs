//! Scanning: new/ to cur/, ordering, sizes without reading bodies, the index, UIDL stability.

use pop3_maildrop::{Error, INDEX_FILE, deliver};

use crate::support::{TempMaildir, crlf, read_all};

#[test]
fn new_moves_to_cur_and_later_deliveries_stay_invisible() {
    let md = TempMaildir::new();
    deliver(&md.maildir(), &b"Subject: one\n\nbody\n"[..]).unwrap();
    let maildrop = md.open();
    assert_eq!(maildrop.messages().len(), 1);
    assert!(md.names("new").is_empty());
    assert_eq!(md.names("cur").len(), 1);
    assert!(md.names("cur")[0].ends_with(b":2,"));
    // Delivered during the session: not listed now, listed next time.
    deliver(&md.maildir(), &b"Subject: two\n\n"[..]).unwrap();
    assert_eq!(maildrop.messages().len(), 1);
    drop(maildrop);
    assert_eq!(md.open().messages().len(), 2);
}

#[test]
fn order_is_delivery_time_then_name() {
    let md = TempMaildir::new();
    md.put("cur", b"1700000300.b.host:2,", b"c");
    md.put("cur", b"1700000100.z.host:2,", b"a");
    md.put("cur", b"1700000300.a.host:2,", b"b");
    md.put("new", b"1700000200.q.host", b"new");
    let maildrop = md.open();
    let order: Vec<&str> = maildrop.messages().iter().map(|m| m.uid()).collect();
    assert_eq!(
        order,
        [
            "1700000100.z.host",
            "1700000200.q.host",
            "1700000300.a.host",
            "1700000300.b.host"
        ]
    );
}

#[test]
fn wire_sizes_equal_streamed_bytes() {
    let md = TempMaildir::new();
    let bodies: [&[u8]; 6] = [
        b"Subject: lf\n\nline\n",
        b"Subject: crlf\r\n\r\nline\r\n",
        b"Subject: mixed\r\n\nline\nline\r\n",
        b"Subject: no final newline\n\nlast",
        b"",
        b"bare\rcr\r\n\n\r",
    ];
    // Half delivered (names carry W=), half written raw (sizes measured).
    for (i, body) in bodies.iter().enumerate() {
        if i % 2 == 0 {
            deliver(&md.maildir(), *body).unwrap();
        } else {
            md.put(
                "cur",
                format!("17000000{i:02}.raw.host:2,").as_bytes(),
                body,
            );
        }
    }
    let maildrop = md.open();
    assert_eq!(maildrop.messages().len(), bodies.len());
    for (index, message) in maildrop.messages().iter().enumerate() {
        let raw = read_all(&maildrop, index).unwrap();
        assert!(bodies.contains(&raw.as_slice()));
        assert_eq!(message.wire_size(), crlf(&raw).len() as u64, "{raw:?}");
    }
}

#[test]
fn bodies_are_read_once_then_remembered() {
    let md = TempMaildir::new();
    for i in 0..5 {
        md.put(
            "cur",
            format!("17000000{i:02}.x.host:2,").as_bytes(),
            b"a\nb\n",
        );
    }
    deliver(&md.maildir(), &b"with W=\n"[..]).unwrap();
    let first = md.open();
    assert_eq!(first.scan_report().measured, 5);
    assert!(md.path.join(INDEX_FILE).exists());
    drop(first);
    let second = md.open();
    assert_eq!(second.scan_report().measured, 0);
    assert!(second.messages().iter().all(|m| m.wire_size() > 0));
    drop(second);
    // A damaged index costs a re-measure, never a wrong size.
    std::fs::write(
        md.path.join(INDEX_FILE),
        "pop3d-index 1\n1700000000.x.host 4 999\n",
    )
    .unwrap();
    let third = md.open();
    assert_eq!(third.scan_report().measured, 5);
    assert!(third.messages()[..5].iter().all(|m| m.wire_size() == 6));
}

#[test]
fn a_file_changed_in_place_is_caught_when_read_then_measured_again() {
    let md = TempMaildir::new();
    let path = md.put("cur", b"1700000000.x.host:2,", b"a\n");
    drop(md.open());
    std::fs::write(&path, b"a\nbb\n").unwrap();
    // Files are never modified in place, so the scan takes the sizes from the index by name.
    let maildrop = md.open();
    assert_eq!(maildrop.scan_report().measured, 0);
    assert_eq!(maildrop.messages()[0].wire_size(), 3);
    assert!(matches!(
        read_all(&maildrop, 0),
        Err(Error::SizeChanged { .. })
    ));
    drop(maildrop);
    // The failed read dropped the stale entry: the next session measures the file.
    let maildrop = md.open();
    assert_eq!(maildrop.scan_report().measured, 1);
    assert_eq!(maildrop.messages()[0].wire_size(), 7);
    assert_eq!(read_all(&maildrop, 0).unwrap(), b"a\nbb\n");
}

#[test]
fn uidls_are_stable_across_sessions_renames_and_a_lost_index() {
    let md = TempMaildir::new();
    for i in 0..3 {
        deliver(&md.maildir(), format!("message {i}\n").as_bytes()).unwrap();
    }
    md.put("cur", b"1700000000.nosize.host:2,", b"x\n");
    let before: Vec<String> = md
        .open()
        .messages()
        .iter()
        .map(|m| m.uid().to_owned())
        .collect();
    // Another program (an IMAP server) changes flags, i.e. renames files in cur/.
    for name in md.names("cur") {
        let mut renamed = name.clone();
        renamed.extend_from_slice(b"RS");
        let cur = md.path.join("cur");
        std::fs::rename(
            cur.join(std::ffi::OsStr::new(std::str::from_utf8(&name).unwrap())),
            cur.join(std::ffi::OsStr::new(std::str::from_utf8(&renamed).unwrap())),
        )
        .unwrap();
    }
    std::fs::remove_file(md.path.join(INDEX_FILE)).unwrap();
    let after: Vec<String> = md
        .open()
        .messages()
        .iter()
        .map(|m| m.uid().to_owned())
        .collect();
    assert_eq!(before, after);
    assert_eq!(before.len(), 4);
    assert!(before.iter().all(|uid| {
        (1..=70).contains(&uid.len()) && uid.bytes().all(|b| (0x21..=0x7e).contains(&b))
    }));
}

#[test]
fn deliveries_keep_their_order_within_one_second() {
    let md = TempMaildir::new();
    for i in 0..300 {
        deliver(&md.maildir(), format!("message {i:03}\n").as_bytes()).unwrap();
    }
    let maildrop = md.open();
    let bodies: Vec<Vec<u8>> = (0..300).map(|i| read_all(&maildrop, i).unwrap()).collect();
    let expected: Vec<Vec<u8>> = (0..300)
        .map(|i| format!("message {i:03}\n").into_bytes())
        .collect();
    assert_eq!(bodies, expected);
}

#[test]
fn an_open_maildrop_holds_two_descriptors() {
    // cur/ and the lock file: a session holds three with its socket, however many are idle.
    let md = TempMaildir::new();
    md.put("cur", b"1700000000.a.host:2,", b"x\n");
    md.put("new", b"1700000001.b.host", b"y\n");
    let mut child = crate::child::spawn("count-fds", &md.path);
    assert!(crate::child::wait_for(&mut child, "held 2 released true"));
    assert!(child.wait().unwrap().success());
}
