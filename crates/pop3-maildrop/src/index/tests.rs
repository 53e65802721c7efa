use super::*;

#[test]
fn round_trip_with_odd_names() {
    let mut index = SizeIndex::default();
    index.insert(b"plain.name", Sizes { raw: 10, wire: 12 });
    index.insert(b"sp ace%\xff\n", Sizes { raw: 0, wire: 0 });
    let mut text = Vec::new();
    text.extend_from_slice(HEADER.as_bytes());
    text.push(b'\n');
    for (name, sizes) in index.iter() {
        escape_into(name, &mut text);
        push_sizes(&mut text, &sizes);
    }
    assert_eq!(parse(&text), index);
}

#[test]
fn damaged_lines_and_files_are_ignored() {
    assert!(parse(b"not an index\nx 1 1\n").is_empty());
    let index = parse(b"pop3d-index 1\ngood 5 6\nbad 7\nworse 9 100\n%zz 1 1\n 1 1\n");
    assert_eq!(index.len(), 1);
    assert_eq!(index.get(b"good"), Some(Sizes { raw: 5, wire: 6 }));
}

#[test]
fn a_torn_appended_line_never_parses_into_wrong_sizes() {
    for (raw, wire) in [
        (0, 0),
        (1, 2),
        (9, 10),
        (123, 130),
        (600, 1100),
        (99_999, 199_998),
    ] {
        let line = format!("1767225628.M585909P4000Q1.mail.example.net {raw} {wire}\n");
        for cut in 0..line.len() {
            let text = format!("{HEADER}\ngood 5 6\n{}", &line[..cut]);
            let index = parse(text.as_bytes());
            let name = b"1767225628.M585909P4000Q1.mail.example.net";
            // Absent, or whole (cut only before the newline): never other sizes.
            match index.get(name) {
                None => assert_eq!(index.len(), 1, "{:?}", &line[..cut]),
                Some(sizes) => assert_eq!((sizes.raw, sizes.wire), (raw, wire)),
            }
            // The next append starts a new line after a torn one.
            let text = format!("{text}\nnext 7 8\n");
            assert_eq!(parse(text.as_bytes()).len(), index.len() + 1);
        }
    }
}

/// The one-buffer table behaves as a map: a later insert replaces, removal and pruning keep
/// the rest findable, and what was loaded from the file counts as unused until looked up.
#[test]
fn issue_14_the_table_is_a_map() {
    use std::collections::HashMap;

    let mut index = SizeIndex::default();
    let mut model: HashMap<Vec<u8>, Sizes> = HashMap::new();
    let sizes = |n: u64| Sizes {
        raw: n,
        wire: n + 1,
    };
    for n in 0..2_000u64 {
        let name = format!("{}.M{n}P1.host", n % 97).into_bytes();
        // Loaded entries, some replaced by a later line, some removed.
        index.insert_loaded(&name, sizes(n));
        model.insert(name.clone(), sizes(n));
        if n % 7 == 0 {
            index.insert_loaded(&name, sizes(n + 1000));
            model.insert(name.clone(), sizes(n + 1000));
        }
        if n % 11 == 0 {
            assert_eq!(index.remove(&name), model.remove(&name));
        }
    }
    assert_eq!(index.len(), model.len());
    for (name, sizes) in &model {
        assert_eq!(index.get(name), Some(*sizes));
    }
    assert_eq!(index.get(b"absent"), None);
    assert_eq!(index.remove(b"absent"), None);
    // Look up every third name, add one: only those survive pruning.
    let mut kept: Vec<Vec<u8>> = model.keys().step_by(3).cloned().collect();
    for name in &kept {
        let hash = index.hasher().hash(name);
        assert_eq!(index.get_hashed(name, hash), model.get(name).copied());
    }
    index.insert(b"new", sizes(1));
    kept.push(b"new".to_vec());
    assert!(index.retain_used());
    assert_eq!(index.len(), kept.len());
    for name in &kept {
        assert!(index.get(name).is_some());
    }
    assert!(!index.retain_used(), "everything left is used");
}
