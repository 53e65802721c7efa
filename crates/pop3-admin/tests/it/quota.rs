//! Issue 19: `pop3-admin deliver` under `[quota]` (exit 73 over it, nothing written; 75 when
//! the site defers), and `user list` showing usage against quota from `maildirsize`.

use crate::support::Site;

fn site_with_quota(section: &str) -> Site {
    let site = Site::new();
    let text = std::fs::read_to_string(&site.config).unwrap();
    std::fs::write(&site.config, format!("{text}\n[quota]\n{section}\n")).unwrap();
    site.run(&["user", "add", "bob", "--password-stdin"], b"pw\n");
    site
}

fn files(site: &Site) -> usize {
    ["new", "cur", "tmp"]
        .iter()
        .map(|d| {
            std::fs::read_dir(site.maildir("bob").join(d))
                .unwrap()
                .count()
        })
        .sum()
}

#[test]
fn deliver_over_quota_exits_73_and_writes_nothing() {
    let site = site_with_quota("messages = 2\nbytes = \"1K\"");
    let message = b"Subject: hi\n\nhello\n";
    for _ in 0..2 {
        let (code, _, err) = site.run(&["deliver", "bob"], message);
        assert_eq!(code, 0, "{err}");
    }
    let (code, _, err) = site.run(&["deliver", "bob"], message);
    assert_eq!(code, 73, "{err}");
    assert!(err.contains("mailbox full"), "{err}");
    assert_eq!(files(&site), 2);
    // The table and the JSON show the usage against the quota.
    let (code, table, err) = site.run(&["user", "list"], b"");
    assert_eq!(code, 0, "{err}");
    let header = table.lines().next().unwrap();
    assert!(
        header.contains("MESSAGES") && header.contains("SIZE"),
        "{table}"
    );
    let bob = table.lines().nth(1).unwrap();
    assert!(bob.contains(" 2/2 ") && bob.contains(" 38/1K "), "{table}");
    let (_, json, _) = site.run(&["user", "list", "--json"], b"");
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows[0]["quota"]["messages"], 2, "{json}");
    assert_eq!(rows[0]["quota"]["bytes"], 38, "{json}");
    assert_eq!(rows[0]["quota"]["limit_bytes"], 1024, "{json}");
    // Without a readable maildirsize: "-", never a rescan.
    std::fs::write(site.maildir("bob").join("maildirsize"), "damaged").unwrap();
    let (_, table, _) = site.run(&["user", "list"], b"");
    assert!(table.lines().nth(1).unwrap().contains(" -/2 "), "{table}");
}

#[test]
fn deliver_over_quota_with_defer_exits_75() {
    let site = site_with_quota("messages = 1\nover_quota = \"defer\"");
    assert_eq!(site.run(&["deliver", "bob"], b"a\n").0, 0);
    let (code, _, err) = site.run(&["deliver", "bob"], b"b\n");
    assert_eq!(code, 75, "{err}");
    assert_eq!(files(&site), 1);
}
