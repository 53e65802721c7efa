use std::time::Duration;

use std::cell::RefCell;

use super::format_unique;
use crate::Maildir;

/// A hook on a Maildir.
pub(crate) type Hook = Box<dyn FnMut(&Maildir)>;

thread_local! {
    /// Called by `commit_within` between the rename into `new/` and the append to
    /// `maildirsize` (tests of the quota lock).
    pub(crate) static AFTER_RENAME: RefCell<Option<Hook>> =
        RefCell::new(None);
}

#[test]
fn names_of_one_second_sort_in_delivery_order() {
    let at = |micros: u64, n: u64| {
        format_unique(
            Duration::from_micros(1_700_000_000_000_000 + micros),
            42,
            n,
            "host",
        )
    };
    assert_eq!(at(7, 3), "1700000000.M000007P42Q0000000003.host");
    assert!(at(99_999, 0) < at(100_000, 1));
    assert!(at(5, 9) < at(5, 10));
}

#[test]
fn host_names_are_escaped() {
    let name = format_unique(Duration::ZERO, 1, 0, "a/b:c,d e");
    assert_eq!(name, "0.M000000P1Q0000000000.a\\057b\\072c\\054d_e");
}
