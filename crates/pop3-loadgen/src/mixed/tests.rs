use super::script;
use crate::client::Expect;

fn pairs(entries: &[(&str, &str)]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn three_commands_per_message_with_the_replies_they_must_get() {
    let sizes = pairs(&[("1", "120"), ("2", "4000")]);
    let uids = pairs(&[("1", "abc"), ("2", "def")]);
    let (commands, replies) = script(&sizes, &uids).unwrap();
    assert_eq!(
        commands.concat(),
        "LIST 1\r\nUIDL 1\r\nRETR 1\r\nLIST 2\r\nUIDL 2\r\nRETR 2\r\n"
    );
    assert_eq!(
        replies,
        vec![
            Expect::Line("+OK 1 120".into()),
            Expect::Line("+OK 1 abc".into()),
            Expect::Body(120),
            Expect::Line("+OK 2 4000".into()),
            Expect::Line("+OK 2 def".into()),
            Expect::Body(4000),
        ]
    );
}

#[test]
fn a_size_that_is_not_a_number_is_an_error() {
    let sizes = pairs(&[("1", "many")]);
    let uids = pairs(&[("1", "abc")]);
    assert!(script(&sizes, &uids).is_err());
}
