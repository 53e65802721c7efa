//! `[quota]` (issue 19): read the same by the server and the admin tool (`deliver` enforces
//! it); garbage and out-of-range values refused with the key and the line.

use pop3_config::{OverQuota, Quota};
use pop3_maildrop::QuotaLimit;

use crate::{BASE, check};

fn quota(section: &str) -> Quota {
    let text = format!("{BASE}\n[quota]\n{section}\n");
    let (config, settings) = check(&text);
    let (config, settings) = (config.unwrap(), settings.unwrap());
    assert_eq!(config.quota, settings.quota, "{text}");
    config.quota
}

#[test]
fn values_and_defaults() {
    let none = check(BASE).0.unwrap().quota;
    assert_eq!(none, Quota::default());
    assert_eq!(none.limit, QuotaLimit::UNLIMITED);
    assert_eq!(none.over_quota, OverQuota::Reject);
    let q = quota("messages = 1000\nbytes = \"500M\"\nover_quota = \"defer\"");
    assert_eq!(q.limit.messages, Some(1000));
    assert_eq!(q.limit.bytes, Some(500 * 1024 * 1024));
    assert_eq!(q.over_quota, OverQuota::Defer);
    assert_eq!(quota("bytes = 2048").limit.bytes, Some(2048));
    assert_eq!(quota("bytes = \"2G\"").limit.bytes, Some(2 << 30));
    assert_eq!(
        quota("messages = 0\nbytes = 0").limit,
        QuotaLimit::UNLIMITED
    );
    assert_eq!(
        quota("over_quota = \"reject\"").over_quota,
        OverQuota::Reject
    );
}

#[test]
fn bad_values_name_the_key_and_line() {
    for (entry, key) in [
        ("messages = -1", "`quota.messages`"),
        ("messages = \"ten\"", "invalid type"),
        ("bytes = -5", "`quota.bytes`"),
        ("bytes = \"500MB\"", "`quota.bytes`"),
        ("bytes = \"lots\"", "`quota.bytes`"),
        ("bytes = \"99999999T\"", "`quota.bytes`"),
        ("bytes = 1.5", "`quota.bytes`"),
        ("bytes = true", "`quota.bytes`"),
        ("over_quota = \"bounce\"", "`quota.over_quota`"),
        ("limit = 5", "unknown field"),
    ] {
        let text = format!("{BASE}\n[quota]\n{entry}\n");
        let (config, settings) = check(&text);
        let (config, settings) = (config.unwrap_err(), settings.unwrap_err());
        assert_eq!(config, settings, "{text}");
        assert!(config.contains(key), "{entry}: {config}");
        assert!(config.contains("line 10"), "{entry}: {config}");
    }
}
