use super::{Resolved, Setting, UserPolicy};

#[test]
fn typed_values_are_stored_in_one_canonical_form() {
    let cases = [
        (Setting::Expire, "30", "30"),
        (Setting::Expire, " NEVER ", "never"),
        (Setting::Expire, "0", "0"),
        (Setting::LoginDelay, "900", "900"),
        (Setting::QuotaMessages, "1000", "1000"),
        (Setting::QuotaMessages, "Unlimited", "unlimited"),
        (Setting::QuotaBytes, "2G", "2147483648"),
        (Setting::QuotaBytes, "2T", "2199023255552"),
        (Setting::QuotaBytes, " 1t ", "1099511627776"),
        (Setting::QuotaBytes, "8388607T", "9223370937343148032"),
        (Setting::QuotaBytes, "500m", "524288000"),
        (Setting::QuotaBytes, "1024", "1024"),
        (Setting::QuotaBytes, "0", "unlimited"),
        (Setting::QuotaMessages, "0", "unlimited"),
    ];
    for (setting, typed, stored) in cases {
        assert_eq!(
            setting.canonical(typed).unwrap(),
            stored,
            "{setting} {typed:?}"
        );
    }
}

#[test]
fn out_of_range_and_garbage_are_refused_with_what_the_setting_takes() {
    let cases = [
        (Setting::Expire, "36501"),
        (Setting::Expire, "-1"),
        (Setting::Expire, "3 days"),
        (Setting::Expire, ""),
        (Setting::LoginDelay, "86401"),
        (Setting::LoginDelay, "never"),
        (Setting::QuotaMessages, "2G"),
        (Setting::QuotaBytes, "99999999999999999G"),
        (Setting::QuotaBytes, "1.5G"),
        (Setting::QuotaBytes, "+5"),
        (Setting::QuotaBytes, "8388608T"),
        (Setting::QuotaBytes, "1€"),
        (Setting::QuotaBytes, "T"),
        (Setting::QuotaMessages, "2T"),
    ];
    for (setting, typed) in cases {
        let error = setting.canonical(typed).unwrap_err();
        assert_eq!(error.setting, setting);
        assert!(error.to_string().starts_with(setting.name()), "{error}");
    }
}

#[test]
fn a_value_of_the_users_own_wins_and_an_unreadable_one_falls_back_to_the_site() {
    let mut policy = UserPolicy::default();
    assert_eq!(policy.expire(Some(7)), Resolved::Site(Some(7)));
    assert_eq!(policy.login_delay(60), Resolved::Site(60));
    policy.expire = Some("never".into());
    policy.login_delay = Some("0".into());
    assert_eq!(policy.expire(Some(7)), Resolved::Own(None));
    assert_eq!(policy.login_delay(60), Resolved::Own(0));

    // Written by hand into the database: never "unlimited", always the site's value.
    policy.quota_bytes = Some("lots".into());
    policy.quota_messages = Some("-3".into());
    policy.expire = Some("forever".into());
    assert!(matches!(
        policy.quota_bytes(Some(10)),
        Resolved::Unreadable(Some(10), _)
    ));
    assert!(matches!(
        policy.quota_messages(Some(5)),
        Resolved::Unreadable(Some(5), _)
    ));
    assert!(matches!(
        policy.expire(Some(7)),
        Resolved::Unreadable(Some(7), _)
    ));
    assert!(matches!(policy.expire(None), Resolved::Unreadable(None, _)));
}

#[test]
fn settings_are_found_by_their_name_or_column() {
    for setting in Setting::ALL {
        assert_eq!(Setting::from_name(setting.name()), Some(setting));
        assert_eq!(Setting::from_name(setting.column()), Some(setting));
    }
    assert_eq!(Setting::from_name("quota"), None);
}
