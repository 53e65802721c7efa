//! `[[tls.sni]]` (issue 19): names as written become exact names and one-label wildcards;
//! malformed, duplicate and empty names are refused naming the key and the line.

use std::path::Path;

use pop3_config::{Config, SniName};

const TLS: &str = "[[listener]]\naddress = \"127.0.0.1:995\"\ntls = \"implicit\"\n\n[data]\n\
                   user_db = \"/tmp/u.db\"\nmail_root = \"/var/mail\"\n\n[tls]\n\
                   certificate = \"/etc/d.pem\"\nkey = \"/etc/d.key\"\n";

/// `TLS` with one `[[tls.sni]]` per names list (the list as TOML); its names on line 14 and
/// every 5 lines after.
fn with_sni(names: &[&str]) -> String {
    let mut text = TLS.to_owned();
    for (i, list) in names.iter().enumerate() {
        text += &format!(
            "\n[[tls.sni]]\nnames = {list}\ncertificate = \"/etc/{i}.pem\"\nkey = \"/etc/{i}.key\"\n"
        );
    }
    text
}

#[test]
fn sni_pairs_are_read_in_order_with_their_names() {
    let text = with_sni(&[
        r#"["Mail.Example.org", "*.example.net"]"#,
        r#"["localhost", "*.b.example.net"]"#,
    ]);
    let config = Config::parse(&text, "t.toml").unwrap();
    let tls = config.tls.unwrap();
    assert_eq!(tls.certificate, Path::new("/etc/d.pem"));
    assert_eq!(tls.sni.len(), 2);
    assert_eq!(
        tls.sni[0].names,
        [
            SniName::Exact("mail.example.org".into()),
            SniName::Wildcard("example.net".into())
        ]
    );
    assert_eq!(tls.sni[1].key, Path::new("/etc/1.key"));
    assert_eq!(
        tls.sni[1].names[1],
        SniName::Wildcard("b.example.net".into())
    );
    // Every file is named for the readability check, with its key.
    let keys: Vec<String> = tls.paths().into_iter().map(|(key, _)| key).collect();
    assert_eq!(
        keys,
        [
            "tls.certificate",
            "tls.key",
            "tls.sni[0].certificate",
            "tls.sni[0].key",
            "tls.sni[1].certificate",
            "tls.sni[1].key"
        ]
    );
    // Without [[tls.sni]], only the default pair.
    assert!(
        Config::parse(TLS, "t.toml")
            .unwrap()
            .tls
            .unwrap()
            .sni
            .is_empty()
    );
}

#[test]
fn bad_sni_names_are_refused_naming_key_and_line() {
    for (names, line, why) in [
        (vec!["[]"], 14, "is empty"),
        (
            vec![r#"["a.example.org", "A.example.org"]"#],
            14,
            "appears twice",
        ),
        (
            vec![r#"["*.example.net"]"#, r#"["x.org", "*.EXAMPLE.net"]"#],
            19,
            "appears twice",
        ),
        (vec![r#"["*.com"]"#], 14, "at least two labels"),
        (vec![r#"["*"]"#], 14, "not a DNS name"),
        (vec![r#"["a.*.example.net"]"#], 14, "not a DNS name"),
        (vec![r#"["**.example.net"]"#], 14, "not a DNS name"),
        (vec![r#"["mail.example.org."]"#], 14, "not a DNS name"),
        (vec![r#"["-mail.example.org"]"#], 14, "not a DNS name"),
        (vec![r#"["mail_1.example.org"]"#], 14, "not a DNS name"),
        (vec![r#"["ex..org"]"#], 14, "not a DNS name"),
        (vec![r#"[""]"#], 14, "not a DNS name"),
        (vec![r#"["192.0.2.1"]"#], 14, "IP address"),
        (vec![r#"["::1"]"#], 14, "IP address"),
    ] {
        let error = Config::parse(&with_sni(&names), "t.toml")
            .unwrap_err()
            .to_string();
        assert!(error.contains("`tls.sni.names`"), "{names:?}: {error}");
        assert!(
            error.contains(&format!("line {line}:")),
            "{names:?}: {error}"
        );
        assert!(error.contains(why), "{names:?}: {error}");
    }
    // A label over 63 octets, a name over 253.
    let label = format!("[\"{}.org\"]", "a".repeat(64));
    let name = format!("[\"{}org\"]", "abcdefghi.".repeat(26));
    for list in [label, name] {
        let error = Config::parse(&with_sni(&[&list]), "t.toml")
            .unwrap_err()
            .to_string();
        assert!(error.contains("not a DNS name"), "{error}");
    }
    // Unknown keys and missing files are errors of the section, as for [tls].
    let typo =
        TLS.to_owned() + "\n[[tls.sni]]\nname = [\"a.org\"]\ncertificate = \"c\"\nkey = \"k\"\n";
    let error = Config::parse(&typo, "t.toml").unwrap_err().to_string();
    assert!(error.contains("name"), "{error}");
    let no_key = TLS.to_owned() + "\n[[tls.sni]]\nnames = [\"a.org\"]\ncertificate = \"c\"\n";
    let error = Config::parse(&no_key, "t.toml").unwrap_err().to_string();
    assert!(error.contains("key"), "{error}");
}
