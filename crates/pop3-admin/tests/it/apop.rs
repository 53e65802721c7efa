//! Issue 15 #8: `user apop set [--only]`, `clear`, and what `user list` shows.

use pop3_auth::{Authenticator, Credential, HashParams, Outcome, apop};

use crate::support::{Site, can_log_in};

/// Whether the APOP digest of `secret` logs `user` in (APOP enabled, as the server would be).
fn can_log_in_with_apop(site: &Site, user: &str, secret: &str) -> bool {
    let params = HashParams {
        m_kib: 64,
        t: 1,
        p: 1,
    };
    let timestamp = "<0123456789abcdef0123456789abcdef.1@host>";
    let digest = apop::digest(timestamp, secret);
    let credential = Credential::Apop {
        timestamp,
        digest: &digest,
    };
    let outcome = Authenticator::new(params, true)
        .unwrap()
        .authenticate(&site.db(), user, credential)
        .unwrap();
    matches!(outcome, Outcome::Accepted(_))
}

/// `(apop, apop_only)` of `user` as `user list --json` shows them, and the table's row.
fn listed(site: &Site, user: &str) -> (bool, bool, String) {
    let (code, json, err) = site.run(&["user", "list", "--json"], b"");
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&json).unwrap();
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == user)
        .unwrap();
    let (_, table, _) = site.run(&["user", "list"], b"");
    assert!(
        table.lines().next().unwrap().contains("APOP-ONLY"),
        "{table}"
    );
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("{user} ")))
        .unwrap()
        .to_owned();
    (
        row["apop"].as_bool().unwrap(),
        row["apop_only"].as_bool().unwrap(),
        line,
    )
}

#[test]
fn issue_15_8_apop_secret_keeps_passwords_and_only_is_set_cleared_and_listed() {
    let site = Site::new();
    assert_eq!(
        site.run(&["user", "add", "alice", "--password-stdin"], b"pw\n")
            .0,
        0
    );
    let set = |extra: &[&str]| {
        let mut args = vec!["user", "apop", "set", "alice", "--secret-stdin"];
        args.extend_from_slice(extra);
        let (code, out, err) = site.run(&args, b"an apop secret\n");
        assert_eq!(code, 0, "{err}");
        out
    };

    // The default: the secret adds APOP and takes nothing away.
    let out = set(&[]);
    assert!(out.contains("password logins still allowed"), "{out}");
    assert!(can_log_in(&site, "alice", "pw"));
    assert!(can_log_in_with_apop(&site, "alice", "an apop secret"));
    let (apop, only, line) = listed(&site, "alice");
    assert!(apop && !only, "{line}");
    assert!(line.contains("yes      yes   no "), "{line}");

    // --only: RFC 1939 §7's stricter mode.
    let out = set(&["--only"]);
    assert!(out.contains("APOP only"), "{out}");
    assert!(!can_log_in(&site, "alice", "pw"));
    assert!(can_log_in_with_apop(&site, "alice", "an apop secret"));
    let (apop, only, line) = listed(&site, "alice");
    assert!(apop && only, "{line}");
    assert!(line.contains("yes      yes   yes "), "{line}");

    // Setting the secret again without --only allows passwords again.
    set(&[]);
    assert!(can_log_in(&site, "alice", "pw"));
    assert!(!listed(&site, "alice").1);

    // Clearing the secret clears APOP-only too.
    set(&["--only"]);
    assert_eq!(site.run(&["user", "apop", "clear", "alice"], b"").0, 0);
    assert!(can_log_in(&site, "alice", "pw"));
    assert!(!can_log_in_with_apop(&site, "alice", "an apop secret"));
    let (apop, only, line) = listed(&site, "alice");
    assert!(!apop && !only, "{line}");

    // The help says what --only does.
    let (code, help, _) = site.run(&["user", "apop", "set", "--help"], b"");
    assert_eq!(code, 0);
    assert!(
        help.contains("--only") && help.contains("RFC 1939"),
        "{help}"
    );
}
