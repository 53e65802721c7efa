use std::time::Duration;

use pop3_maildrop::{Maildrop, OpenOptions};

use super::{Style, deliver_postfix, fill};

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn open(path: &std::path::Path) -> Maildrop {
    let options = OpenOptions {
        session: "test".into(),
        lock_wait: Duration::ZERO,
        ..Default::default()
    };
    Maildrop::open(path, &options).unwrap()
}

#[test]
fn postfix_names_carry_no_sizes_and_split_new_from_cur() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 5, 500, 1, Style::Postfix, 2).unwrap();
    let cur = names(&dir.path().join("cur"));
    let new = names(&dir.path().join("new"));
    assert_eq!((cur.len(), new.len()), (2, 3));
    for name in cur.iter().chain(&new) {
        assert!(!name.contains(",S=") && !name.contains(",W="), "{name}");
        let (secs, rest) = name.split_once(".M").unwrap();
        assert!(secs.chars().all(|c| c.is_ascii_digit()), "{name}");
        assert!(
            rest.contains("P4000Q") && rest.contains(".mail.example.net"),
            "{name}"
        );
    }
    assert!(cur.iter().all(|n| n.ends_with(":2,S")));
}

/// The sizes pop3d's scan measures in Postfix-style names equal the `W=` the pop3d style
/// writes for the same messages, and bodies are stored with LF endings.
#[test]
fn both_styles_give_the_same_wire_sizes() {
    let postfix = tempfile::tempdir().unwrap();
    let ours = tempfile::tempdir().unwrap();
    fill(postfix.path(), 4, 700, 3, Style::Postfix, 0).unwrap();
    fill(ours.path(), 4, 700, 3, Style::Pop3d, 0).unwrap();
    let ours_names = names(&ours.path().join("new"));
    assert!(
        ours_names
            .iter()
            .all(|n| n.contains(",S=") && n.contains(",W="))
    );
    let body = std::fs::read(ours.path().join("new").join(&ours_names[0])).unwrap();
    assert!(!body.contains(&b'\r'));
    let sizes = |path| -> Vec<u64> {
        open(path)
            .messages()
            .iter()
            .map(|m| m.wire_size())
            .collect()
    };
    assert_eq!(sizes(postfix.path()), sizes(ours.path()));
}

#[test]
fn a_postfix_delivery_lands_in_new() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 1, 100, 1, Style::Postfix, 1).unwrap();
    let name = deliver_postfix(dir.path(), 1_000_000).unwrap();
    assert_eq!(names(&dir.path().join("new")), vec![name]);
    assert!(names(&dir.path().join("tmp")).is_empty());
    assert_eq!(open(dir.path()).messages().len(), 2);
}
