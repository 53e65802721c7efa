//! Issue 19: `user set` writes a user's own EXPIRE, LOGIN-DELAY and quotas, checks every value
//! before writing any, and `user list --json` shows them.

use crate::support::Site;

/// The user's row of `user list --json`.
fn listed(site: &Site, user: &str) -> serde_json::Value {
    let (code, json, err) = site.run(&["user", "list", "--json"], b"");
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&json).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == user)
        .unwrap()
        .clone()
}

#[test]
fn issue_19_user_set_stores_canonical_values_and_default_clears_them() {
    let site = Site::new();
    let (code, _, err) = site.run(&["user", "add", "bob", "--password-stdin"], b"pw\n");
    assert_eq!(code, 0, "{err}");
    let row = listed(&site, "bob");
    assert!(
        row["expire"].is_null() && row["quota_bytes"].is_null(),
        "{row}"
    );

    let (code, out, err) = site.run(
        &[
            "user",
            "set",
            "bob",
            "--expire",
            "NEVER",
            "--login-delay",
            "900",
            "--quota-bytes",
            "2G",
            "--quota-messages",
            "unlimited",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("expire of bob: never"), "{out}");
    assert!(out.contains("quota-bytes of bob: 2147483648"), "{out}");
    let row = listed(&site, "bob");
    assert_eq!(row["expire"], "never");
    assert_eq!(row["login_delay"], "900");
    assert_eq!(row["quota_bytes"], "2147483648");
    assert_eq!(row["quota_messages"], "unlimited");

    let (code, out, err) = site.run(&["user", "set", "bob", "--expire", "default"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("expire of bob: default"), "{out}");
    let row = listed(&site, "bob");
    assert!(row["expire"].is_null(), "{row}");
    assert_eq!(row["login_delay"], "900");
}

#[test]
fn issue_19_user_set_checks_every_value_before_writing_any() {
    let site = Site::new();
    site.run(&["user", "add", "bob", "--password-stdin"], b"pw\n");
    // The first value is good, the second is not: nothing is written.
    let (code, _, err) = site.run(
        &[
            "user",
            "set",
            "bob",
            "--expire",
            "3",
            "--login-delay",
            "a week",
        ],
        b"",
    );
    assert_ne!(code, 0);
    assert!(err.contains("login-delay must be"), "{err}");
    let row = listed(&site, "bob");
    assert!(row["expire"].is_null(), "{row}");
    for bad in [
        ["--expire", "36501"],
        ["--quota-bytes", "1.5G"],
        ["--quota-messages", "12x"],
    ] {
        let (code, _, err) = site.run(&["user", "set", "bob", bad[0], bad[1]], b"");
        assert_ne!(code, 0, "{bad:?}");
        assert!(err.contains("must be"), "{err}");
    }
    // Nothing to set, or no such user: refused too.
    let (code, _, err) = site.run(&["user", "set", "bob"], b"");
    assert_ne!(code, 0, "{err}");
    let (code, _, err) = site.run(&["user", "set", "nobody", "--expire", "3"], b"");
    assert_ne!(code, 0);
    assert!(err.contains("nobody"), "{err}");
}
