use super::*;

#[test]
fn round_trip_with_odd_names() {
    let mut index = SizeIndex::default();
    index.insert(b"plain.name".to_vec(), Sizes { raw: 10, wire: 12 });
    index.insert(b"sp ace%\xff\n".to_vec(), Sizes { raw: 0, wire: 0 });
    let mut text = Vec::new();
    text.extend_from_slice(HEADER.as_bytes());
    text.push(b'\n');
    for (name, sizes) in &index {
        escape_into(name, &mut text);
        push_sizes(&mut text, sizes);
    }
    assert_eq!(parse(&text), index);
}

#[test]
fn damaged_lines_and_files_are_ignored() {
    assert!(parse(b"not an index\nx 1 1\n").is_empty());
    let index = parse(b"pop3d-index 1\ngood 5 6\nbad 7\nworse 9 100\n%zz 1 1\n 1 1\n");
    assert_eq!(index.len(), 1);
    assert_eq!(index[&b"good".to_vec()], Sizes { raw: 5, wire: 6 });
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
            let name = b"1767225628.M585909P4000Q1.mail.example.net".to_vec();
            // Absent, or whole (cut only before the newline): never other sizes.
            match index.get(&name) {
                None => assert_eq!(index.len(), 1, "{:?}", &line[..cut]),
                Some(sizes) => assert_eq!((sizes.raw, sizes.wire), (raw, wire)),
            }
            // The next append starts a new line after a torn one.
            let text = format!("{text}\nnext 7 8\n");
            assert_eq!(parse(text.as_bytes()).len(), index.len() + 1);
        }
    }
}
