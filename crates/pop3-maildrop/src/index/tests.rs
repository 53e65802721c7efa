use super::*;

#[test]
fn round_trip_with_odd_names() {
    let mut index = SizeIndex::new();
    index.insert(b"plain.name".to_vec(), Sizes { raw: 10, wire: 12 });
    index.insert(b"sp ace%\xff\n".to_vec(), Sizes { raw: 0, wire: 0 });
    let mut text = Vec::new();
    text.extend_from_slice(HEADER.as_bytes());
    text.push(b'\n');
    for (name, sizes) in &index {
        escape_into(name, &mut text);
        text.extend_from_slice(format!(" {} {}\n", sizes.raw, sizes.wire).as_bytes());
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
