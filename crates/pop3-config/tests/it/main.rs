//! The integration tests of `pop3-config`: the server's view and the admin tool's view of the
//! same text. (`pop3d check-config` is tested on the binary in `pop3-server`'s `operations.rs`.)

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use pop3_config::{AdminSettings, Config, DEFAULT_ADMIN_SOCKET};

pub(crate) const BASE: &str = "[[listener]]\naddress = \"127.0.0.1:110\"\ntls = \"none\"\n\n[data]\n\
                    user_db = \"/tmp/u.db\"\nmail_root = \"/var/mail\"\n";

/// Parses `text` as the server and as the admin tool: each error, or `Ok`.
pub(crate) fn check(text: &str) -> (Result<Config, String>, Result<AdminSettings, String>) {
    (
        Config::parse(text, "t.toml").map_err(|e| e.to_string()),
        AdminSettings::parse(text, "t.toml").map_err(|e| e.to_string()),
    )
}

#[test]
fn the_example_config_reads_the_same_for_both() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/pop3d.example.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let (config, settings) = check(&text);
    let (config, settings) = (config.unwrap(), settings.unwrap());
    assert_eq!(config.user_db, settings.user_db);
    assert_eq!(config.mail_root, settings.mail_root);
    assert_eq!(config.argon2, settings.argon2);
    assert_eq!(config.admin_socket.as_ref(), Some(&settings.admin_socket));
    assert_eq!(config.run_as, settings.owner);
    assert_eq!(config.timeouts.idle, Duration::from_secs(600));
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
}

#[test]
fn the_admin_tool_reads_only_its_sections() {
    // Only [data]: enough for the tool; the server needs a listener.
    let only_data = "[data]\nuser_db = \"/tmp/u.db\"\nmail_root = \"/var/mail\"\n";
    let (config, settings) = check(only_data);
    assert!(config.unwrap_err().contains("listener"));
    let settings = settings.unwrap();
    assert_eq!(settings.admin_socket, Path::new(DEFAULT_ADMIN_SOCKET));
    assert_eq!(settings.owner, None);
    // A section the tool does not read is not looked at.
    let (config, settings) = check(&format!("{BASE}\n[metrics]\naddress = \"nowhere\"\n"));
    assert!(config.unwrap_err().contains("metrics.address"));
    assert!(settings.is_ok());
    // A disabled admin socket is still where the tool looks (it reports it unreachable).
    let text = format!("{BASE}\n[admin]\nenabled = false\nsocket = \"/tmp/a.sock\"\n");
    let (config, settings) = check(&text);
    assert_eq!(config.unwrap().admin_socket, None);
    assert_eq!(settings.unwrap().admin_socket, Path::new("/tmp/a.sock"));
}

#[test]
fn sections_both_read_fail_the_same_way_naming_key_and_line() {
    for (text, key, line) in [
        (BASE.replace("/var/mail", "mail"), "data.mail_root", Some(7)),
        (
            format!("{BASE}\n[auth]\nargon2_t = 0\n"),
            "auth.argon2_*",
            None,
        ),
        (format!("{BASE}\n[auth]\nargon2 = 1\n"), "argon2", Some(10)),
        (
            format!("{BASE}\n[admin]\nsockett = \"/a\"\n"),
            "sockett",
            Some(10),
        ),
        (
            format!("{BASE}\n[privileges]\nuser = \"u\"\n"),
            "group",
            Some(9),
        ),
        // Issue 19: RFC 7677 §4's floor, whether SCRAM is on or not.
        (
            format!("{BASE}\n[auth]\nscram_sha256 = true\nscram_iterations = 4095\n"),
            "auth.scram_iterations",
            Some(11),
        ),
        (
            format!("{BASE}\n[auth]\nscram_iterations = 100\n"),
            "auth.scram_iterations",
            Some(10),
        ),
    ] {
        let (config, settings) = check(&text);
        let (config, settings) = (config.unwrap_err(), settings.unwrap_err());
        assert_eq!(config, settings, "{text}");
        assert!(
            config.starts_with("t.toml: ") && config.contains(key),
            "{config}"
        );
        if let Some(line) = line {
            assert!(config.contains(&format!("line {line}:")), "{config}");
        }
    }
}

#[test]
fn idle_timeouts_below_rfc_1939_are_accepted_with_a_warning() {
    let with_idle = |secs: u64| format!("{BASE}\n[timeouts]\nidle_secs = {secs}\n");
    let config = Config::parse(&with_idle(1), "t.toml").unwrap();
    assert_eq!(config.timeouts.idle, Duration::from_secs(1));
    let warnings = config.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("timeouts.idle_secs") && warnings[0].contains("RFC 1939"),
        "{warnings:?}"
    );
    let config = Config::parse(&with_idle(600), "t.toml").unwrap();
    assert!(config.warnings().is_empty());
    let error = Config::parse(&with_idle(0), "t.toml")
        .unwrap_err()
        .to_string();
    assert!(error.contains("at least 1 second"), "{error}");
}

/// Issue 15 item 11: `[limits] ipv6_prefix`, 32 to 128, default 64; an error names the key.
#[test]
fn issue_15_ipv6_prefix_is_validated() {
    let with_prefix = |prefix: u32| format!("{BASE}\n[limits]\nipv6_prefix = {prefix}\n");
    assert_eq!(Config::parse(BASE, "t.toml").unwrap().ipv6_prefix, 64);
    for good in [32, 48, 56, 128] {
        let config = Config::parse(&with_prefix(good), "t.toml").unwrap();
        assert_eq!(u32::from(config.ipv6_prefix), good);
    }
    for bad in [0, 31, 129] {
        let error = Config::parse(&with_prefix(bad), "t.toml")
            .unwrap_err()
            .to_string();
        assert!(error.contains("limits.ipv6_prefix"), "{bad}: {error}");
    }
}

/// Issue 17: `[lmtp]`, absent by default; a socket or an address is needed; each bad value
/// is refused naming the key and the line; a non-loopback TCP address is warned about.
#[test]
fn issue_17_lmtp_is_validated() {
    assert_eq!(Config::parse(BASE, "t.toml").unwrap().lmtp, None);
    let with = |keys: &str| Config::parse(&format!("{BASE}\n[lmtp]\n{keys}\n"), "t.toml");
    let lmtp = with("socket = \"/run/pop3d/lmtp.sock\"")
        .unwrap()
        .lmtp
        .unwrap();
    assert_eq!(lmtp.clients, ["postfix"]);
    assert_eq!(lmtp.recipient_delimiter, Some('+'));
    assert_eq!(lmtp.protocol.max_message_octets, 50 * 1024 * 1024);
    assert_eq!(lmtp.idle, Duration::from_secs(300));
    let none = with("recipient_delimiter = \"\"\naddress = \"127.0.0.1:24\"").unwrap();
    assert_eq!(none.lmtp.as_ref().unwrap().recipient_delimiter, None);
    assert!(none.warnings().is_empty(), "{:?}", none.warnings());
    let open = with("address = \"0.0.0.0:24\"").unwrap();
    assert!(open.warnings().iter().any(|w| w.contains("lmtp.address")));
    for (keys, key) in [
        ("clients = []", "`lmtp`"),
        ("socket = \"relative.sock\"", "lmtp.socket"),
        ("socket = \"/s\"\naddress = \"nowhere\"", "lmtp.address"),
        (
            "socket = \"/s\"\nmax_message_bytes = 10",
            "lmtp.max_message_bytes",
        ),
        ("socket = \"/s\"\nmax_recipients = 0", "lmtp.max_recipients"),
        ("socket = \"/s\"\nconnections = 0", "lmtp.connections"),
        ("socket = \"/s\"\nidle_secs = 0", "lmtp.idle_secs"),
        (
            "socket = \"/s\"\nrecipient_delimiter = \"ab\"",
            "lmtp.recipient_delimiter",
        ),
        ("socket = \"/s\"\nbogus = 1", "bogus"),
    ] {
        let error = with(keys).unwrap_err().to_string();
        assert!(error.contains(key), "{keys}: {error}");
        assert!(error.contains("line "), "{keys}: {error}");
    }
}

/// Issue 18: `[mailbox] listing_cache`, "auto" by default, "on" or "off"; anything else is
/// refused naming the key.
#[test]
fn issue_18_listing_cache_is_read() {
    use pop3_maildrop::ListingCache;
    assert_eq!(
        Config::parse(BASE, "t.toml").unwrap().listing_cache,
        ListingCache::Auto
    );
    for (value, want) in [
        ("auto", ListingCache::Auto),
        ("on", ListingCache::On),
        ("off", ListingCache::Off),
    ] {
        let text = format!("{BASE}\n[mailbox]\nlisting_cache = \"{value}\"\n");
        assert_eq!(Config::parse(&text, "t.toml").unwrap().listing_cache, want);
    }
    let bad = format!("{BASE}\n[mailbox]\nlisting_cache = \"nfs\"\n");
    let error = Config::parse(&bad, "t.toml").unwrap_err().to_string();
    assert!(
        error.contains("listing_cache") && error.contains("line "),
        "{error}"
    );
}

/// Issue 18: `proxy_protocol` and `trusted_proxies` on a listener go together; each block is
/// an address block; an error names the key and the line.
#[test]
fn issue_18_proxy_listeners_are_validated() {
    let listener = |keys: &str| {
        let text = BASE.replace("tls = \"none\"\n", &format!("tls = \"none\"\n{keys}\n"));
        Config::parse(&text, "t.toml")
    };
    assert_eq!(listener("").unwrap().listeners[0].trusted_proxies, None);
    let config = listener("proxy_protocol = true\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]");
    let blocks = config.unwrap().listeners[0]
        .trusted_proxies
        .clone()
        .unwrap();
    assert_eq!(blocks.len(), 2);
    assert!(blocks[0].contains("10.9.8.7".parse().unwrap()));
    assert!(blocks[1].contains("::1".parse().unwrap()));
    assert_eq!(
        listener("proxy_protocol = false").unwrap().listeners[0].trusted_proxies,
        None
    );
    let timeouts = Config::parse(&format!("{BASE}\n[timeouts]\nproxy_header_secs = 2\n"), "t");
    assert_eq!(
        timeouts.unwrap().timeouts.proxy_header,
        Duration::from_secs(2)
    );
    assert_eq!(
        Config::parse(BASE, "t").unwrap().timeouts.proxy_header,
        Duration::from_secs(5)
    );
    for (keys, key) in [
        ("proxy_protocol = true", "listener.proxy_protocol"),
        (
            "trusted_proxies = [\"10.0.0.0/8\"]",
            "listener.trusted_proxies",
        ),
        (
            "proxy_protocol = false\ntrusted_proxies = [\"10.0.0.0/8\"]",
            "listener.trusted_proxies",
        ),
        (
            "proxy_protocol = true\ntrusted_proxies = []",
            "listener.trusted_proxies",
        ),
        (
            "proxy_protocol = true\ntrusted_proxies = [\"10.0.0.1/8\"]",
            "listener.trusted_proxies",
        ),
        (
            "proxy_protocol = true\ntrusted_proxies = [\"proxy.example\"]",
            "listener.trusted_proxies",
        ),
    ] {
        let error = listener(keys).unwrap_err().to_string();
        assert!(error.contains(key), "{keys}: {error}");
        assert!(error.contains("line "), "{keys}: {error}");
    }
}

/// Issue 18: `[admin.nodes]`, the nodes `pop3-admin` watches: absent by default, read in name
/// order, and a bad name or a relative socket refused by the server and the tool alike,
/// naming the key and the line.
#[test]
fn issue_18_admin_nodes_are_read_and_checked_by_both() {
    let (config, settings) = check(BASE);
    assert!(config.is_ok());
    assert!(settings.unwrap().nodes.is_empty());
    let text = format!(
        "{BASE}\n[admin.nodes]\nnode2 = \"/run/pop3d/node2.sock\"\nnode1 = \"/run/pop3d/admin.sock\"\n"
    );
    let (config, settings) = check(&text);
    assert!(config.is_ok());
    let nodes = settings.unwrap().nodes;
    let names: Vec<_> = nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["node1", "node2"]);
    assert_eq!(nodes[1].socket, Path::new("/run/pop3d/node2.sock"));
    for (entry, key) in [
        ("Node2 = \"/a.sock\"", "not a node name"),
        ("\"no:colon\" = \"/a.sock\"", "not a node name"),
        ("\"-x\" = \"/a.sock\"", "not a node name"),
        (
            &*format!("{} = \"/a.sock\"", "n".repeat(33)),
            "not a node name",
        ),
        ("node2 = \"relative.sock\"", "admin.nodes.node2"),
        ("node2 = 3", "invalid type"),
    ] {
        let text = format!("{BASE}\n[admin.nodes]\n{entry}\n");
        let (config, settings) = check(&text);
        let (config, settings) = (config.unwrap_err(), settings.unwrap_err());
        assert_eq!(config, settings, "{text}");
        assert!(config.contains(key), "{entry}: {config}");
        assert!(config.contains("line 10:"), "{entry}: {config}");
    }
    for good in ["a", "node-2", "mx1.example", "0_b"] {
        assert_eq!(pop3_config::check_node_name(good), Ok(()), "{good}");
    }
}

/// Issue 18: the LMTP TCP listener takes `proxy_protocol` with `trusted_proxies`, like a
/// POP3 listener; not without a TCP address.
#[test]
fn issue_18_lmtp_proxy_keys_are_validated() {
    let with = |keys: &str| Config::parse(&format!("{BASE}\n[lmtp]\n{keys}\n"), "t.toml");
    let on = with(
        "address = \"127.0.0.1:24\"\nproxy_protocol = true\ntrusted_proxies = [\"10.0.0.5/32\"]",
    );
    assert_eq!(
        on.unwrap().lmtp.unwrap().trusted_proxies.map(|b| b.len()),
        Some(1)
    );
    for (keys, key) in [
        (
            "address = \"127.0.0.1:24\"\nproxy_protocol = true",
            "lmtp.proxy_protocol",
        ),
        (
            "address = \"127.0.0.1:24\"\ntrusted_proxies = [\"10.0.0.5/32\"]",
            "lmtp.trusted_proxies",
        ),
        (
            "socket = \"/s\"\nproxy_protocol = true\ntrusted_proxies = [\"10.0.0.5/32\"]",
            "lmtp.proxy_protocol",
        ),
        (
            "address = \"127.0.0.1:24\"\nproxy_protocol = true\ntrusted_proxies = [\"x\"]",
            "lmtp.trusted_proxies",
        ),
    ] {
        let error = with(keys).unwrap_err().to_string();
        assert!(
            error.contains(key) && error.contains("line "),
            "{keys}: {error}"
        );
    }
}

/// Review of issue 18: a /0 in `trusted_proxies` is accepted with a warning.
#[test]
fn issue_18_trusting_every_address_is_warned_about() {
    let with = |block: &str| {
        let keys = format!("proxy_protocol = true\ntrusted_proxies = [\"{block}\"]\n");
        let text = BASE.replace("tls = \"none\"\n", &format!("tls = \"none\"\n{keys}"));
        Config::parse(&text, "t.toml").unwrap().warnings()
    };
    assert!(with("10.0.0.5/32").is_empty());
    for everything in ["0.0.0.0/0", "::/0"] {
        let warnings = with(everything);
        assert!(
            warnings.iter().any(|w| w.contains("trusted_proxies")),
            "{everything}: {warnings:?}"
        );
    }
}

/// Issue 19: a listener's socket-activation name is `name` as written, else `pop3s` for
/// implicit TLS and `pop3` otherwise; a name systemd could not send is refused.
#[test]
fn issue_19_listener_names() {
    let listener = |tls: &str, keys: &str| {
        let text = BASE.replace("tls = \"none\"\n", &format!("tls = \"{tls}\"\n{keys}\n"));
        let text = format!("{text}\n[tls]\ncertificate = \"/c\"\nkey = \"/k\"\n");
        Config::parse(&text, "t.toml").map_err(|e| e.to_string())
    };
    assert_eq!(listener("none", "").unwrap().listeners[0].name, "pop3");
    assert_eq!(listener("starttls", "").unwrap().listeners[0].name, "pop3");
    assert_eq!(listener("implicit", "").unwrap().listeners[0].name, "pop3s");
    let named = listener("none", "name = \"pop3-internal\"").unwrap();
    assert_eq!(named.listeners[0].name, "pop3-internal");
    for bad in [
        "\"\"",
        "\"a:b\"",
        "\"a b\"",
        &format!("\"{}\"", "x".repeat(256)),
    ] {
        let error = listener("none", &format!("name = {bad}")).unwrap_err();
        assert!(error.contains("listener.name"), "{bad}: {error}");
    }
}

mod quota;
mod sni;

#[test]
fn scram_is_off_by_default_and_on_adds_the_mechanism_for_both() {
    use pop3_proto::sasl::Mechanism;
    let (config, settings) = check(BASE);
    let (config, settings) = (config.unwrap(), settings.unwrap());
    assert_eq!(
        (config.scram_iterations, settings.scram_iterations),
        (None, None)
    );
    assert!(
        !config
            .protocol
            .sasl_mechanisms
            .contains(&Mechanism::ScramSha256)
    );
    let on = format!("{BASE}\n[auth]\nscram_sha256 = true\nscram_iterations = 8192\n");
    let (config, settings) = check(&on);
    let (config, settings) = (config.unwrap(), settings.unwrap());
    assert_eq!(config.scram_iterations, Some(8192));
    assert_eq!(settings.scram_iterations, Some(8192));
    assert_eq!(
        config.protocol.sasl_mechanisms,
        [Mechanism::Plain, Mechanism::Login, Mechanism::ScramSha256]
    );
    // Listing the mechanism without turning SCRAM on is a mistake, named with its line.
    let listed = format!("{BASE}\n[auth]\nsasl = [\"PLAIN\", \"SCRAM-SHA-256\"]\n");
    let error = check(&listed).0.unwrap_err();
    assert!(
        error.contains("auth.sasl") && error.contains("line 10"),
        "{error}"
    );
}

/// Issue 19: values out of range are refused naming the key and the line.
#[test]
fn issue_19_policy_values_out_of_range_name_key_and_line() {
    for (keys, key) in [
        ("login_delay_secs = 86401", "server.login_delay_secs"),
        ("login_delay_secs = -1", "login_delay_secs"),
    ] {
        let (config, _) = check(&format!("{BASE}\n[server]\n{keys}\n"));
        let error = config.unwrap_err();
        assert!(error.contains(key), "{keys}: {error}");
        assert!(error.contains("line 10:"), "{keys}: {error}");
    }
    let (config, _) = check(&format!("{BASE}\n[server]\nlogin_delay_secs = 86400\n"));
    assert_eq!(config.unwrap().protocol.login_delay, Some(86_400));
}

/// Issue 19: `server.expire` is `"never"` or days from 0 to 36500, as a number or digits;
/// anything else is refused naming the key and its line.
#[test]
fn issue_19_expire_out_of_range_or_garbage_is_refused_with_key_and_line() {
    use pop3_proto::Expire;
    let with = |value: &str| format!("{BASE}\n[server]\nexpire = {value}\n");
    for (value, expected) in [
        ("\"never\"", Expire::Never),
        ("\"0\"", Expire::Days(0)),
        ("0", Expire::Days(0)),
        ("3", Expire::Days(3)),
        ("\"3\"", Expire::Days(3)),
        ("36500", Expire::Days(36_500)),
    ] {
        let config = Config::parse(&with(value), "t.toml").unwrap();
        assert_eq!(config.protocol.expire, Some(expected), "{value}");
    }
    for value in [
        "36501",
        "\"36501\"",
        "-1",
        "\"-1\"",
        "\"3 days\"",
        "\"\"",
        "\"NEVER\"",
        "99999999999",
        "\"99999999999\"",
        "3.5",
        "true",
        "[3]",
    ] {
        let error = Config::parse(&with(value), "t.toml")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("server.expire") && error.contains("line 10:"),
            "{value}: {error}"
        );
    }
}

/// Issue 20 review S3: the per-user session history's bounds are `[admin]` keys, 20,000
/// users × 10 sessions by default, read alike by the server and the tool; absurd values are
/// refused naming the key and the line.
#[test]
fn issue_20_history_bounds_are_read_and_checked_by_both() {
    let (config, settings) = check(BASE);
    let default = pop3_config::HistoryBounds {
        users: 20_000,
        sessions_per_user: 10,
    };
    assert_eq!(config.unwrap().history, default);
    assert_eq!(settings.unwrap().history, default);
    let text = format!("{BASE}\n[admin]\nhistory_users = 50000\nhistory_sessions_per_user = 5\n");
    let (config, settings) = check(&text);
    let wanted = pop3_config::HistoryBounds {
        users: 50_000,
        sessions_per_user: 5,
    };
    assert_eq!(config.unwrap().history, wanted);
    assert_eq!(settings.unwrap().history, wanted);
    for (keys, key, line) in [
        ("history_users = 0", "admin.history_users", 10),
        ("history_users = 1000001", "admin.history_users", 10),
        ("history_users = -1", "invalid value", 10),
        (
            "history_sessions_per_user = 0",
            "admin.history_sessions_per_user",
            10,
        ),
        (
            "history_sessions_per_user = 1001",
            "admin.history_sessions_per_user",
            10,
        ),
        (
            "history_users = 1000000\nhistory_sessions_per_user = 2",
            "admin.history_sessions_per_user",
            11,
        ),
    ] {
        let text = format!("{BASE}\n[admin]\n{keys}\n");
        let (config, settings) = check(&text);
        let (config, settings) = (config.unwrap_err(), settings.unwrap_err());
        assert_eq!(config, settings, "{text}");
        assert!(config.contains(key), "{keys}: {config}");
        assert!(
            config.contains(&format!("line {line}:")),
            "{keys}: {config}"
        );
    }
}
