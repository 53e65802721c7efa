//! Issue 19: a certificate per name (SNI). Which certificate `openssl s_client` is served for
//! each name, a wildcard, an unknown name and no SNI, over implicit TLS and STLS; and a reload
//! with one broken pair keeping the whole old set.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{Sections, TestServer};

/// The SANs of the default certificate `support` writes.
const DEFAULT: &str = "DNS:localhost";

/// Writes a self-signed pair for `names` as `<stem>.pem` and `<stem>.key` in `dir`.
fn write_pair(dir: &Path, stem: &str, names: &[&str]) {
    let names = names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    let cert = rcgen::generate_simple_self_signed(names).unwrap();
    std::fs::write(dir.join(format!("{stem}.pem")), cert.cert.pem()).unwrap();
    std::fs::write(
        dir.join(format!("{stem}.key")),
        cert.signing_key.serialize_pem(),
    )
    .unwrap();
}

/// A test server whose `[tls]` also has `org` for mail.example.org and pop.example.org, and
/// `net` for *.example.net, both in `dir`.
fn start(dir: &Path) -> TestServer {
    write_pair(dir, "org", &["mail.example.org", "pop.example.org"]);
    write_pair(dir, "net", &["*.example.net"]);
    let sni = format!(
        "\n[[tls.sni]]\nnames = [\"mail.example.org\", \"POP.example.org\"]\n\
         certificate = \"{d}/org.pem\"\nkey = \"{d}/org.key\"\n\
         [[tls.sni]]\nnames = [\"*.example.net\"]\n\
         certificate = \"{d}/net.pem\"\nkey = \"{d}/net.key\"\n",
        d = dir.display()
    );
    TestServer::start_edited(Sections::default(), |text| {
        // [[tls.sni]] right after [tls]'s own keys, before [data].
        text.replacen("\n[data]", &format!("{sni}\n[data]"), 1)
    })
}

/// The subjectAltName of the certificate served for `name` (`None`: no SNI), over STLS or
/// implicit TLS; `None` if openssl is not installed.
fn served(addr: SocketAddr, starttls: bool, name: Option<&str>) -> Option<String> {
    let mut command = Command::new("openssl");
    command.args([
        "s_client",
        "-connect",
        &addr.to_string(),
        "-crlf",
        "-ign_eof",
    ]);
    if starttls {
        command.args(["-starttls", "pop3"]);
    }
    match name {
        Some(name) => command.args(["-servername", name]),
        None => command.arg("-noservername"),
    };
    let mut child = (command.stdin(Stdio::piped()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = std::io::Write::write_all(&mut stdin, b"QUIT\n");
    }
    let session = child.wait_with_output().unwrap();
    // s_client prints the server's certificate as PEM; x509 reads the first one.
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = x509.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, &session.stdout).unwrap();
    drop(stdin);
    let out = x509.wait_with_output().unwrap();
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Each listener, each kind of name: the certificate served is the one the config lists it
/// under, else the default.
#[test]
fn each_name_gets_its_certificate_over_stls_and_implicit_tls() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let org = "DNS:mail.example.org, DNS:pop.example.org";
    let cases = [
        (Some("mail.example.org"), org),
        // Listed in uppercase, asked in mixed case: names are compared without case.
        (Some("Pop.Example.ORG"), org),
        (Some("imap.example.net"), "DNS:*.example.net"),
        // A wildcard is one label: neither the bare domain nor two labels.
        (Some("example.net"), DEFAULT),
        (Some("a.b.example.net"), DEFAULT),
        (Some("unknown.example.com"), DEFAULT),
        (None, DEFAULT),
    ];
    for (starttls, addr) in [
        (true, server.addrs.starttls),
        (false, server.addrs.implicit),
    ] {
        for (name, expected) in cases {
            let Some(san) = served(addr, starttls, name) else {
                eprintln!("!!! SKIPPED each_name_gets_its_certificate: no openssl");
                assert!(std::env::var_os("CI").is_none(), "openssl missing under CI");
                return;
            };
            assert!(
                san.contains(expected) && san.contains("Subject Alternative Name"),
                "starttls {starttls}, SNI {name:?}: served {san:?}, expected {expected}"
            );
        }
    }
}

/// SIGHUP's reload: one broken pair fails it and keeps every old certificate, including the
/// pairs whose files were renewed; once fixed, the reload takes them all.
#[test]
fn a_reload_with_a_broken_pair_keeps_the_whole_old_set() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let tls = server.tls.clone().unwrap();
    let (addr, stls) = (server.addrs.implicit, server.addrs.starttls);
    let Some(before) = served(addr, false, Some("imap.example.net")) else {
        eprintln!("!!! SKIPPED a_reload_with_a_broken_pair_keeps_the_whole_old_set: no openssl");
        assert!(std::env::var_os("CI").is_none(), "openssl missing under CI");
        return;
    };
    assert!(before.ends_with("DNS:*.example.net"), "{before}");
    // `net` renewed, `org`'s key broken.
    write_pair(dir.path(), "net", &["*.example.net", "renewed.example.net"]);
    std::fs::write(dir.path().join("org.key"), "not a key").unwrap();
    let error = tls.reload().unwrap_err().to_string();
    assert!(error.contains("org.key"), "names the broken file: {error}");
    assert_eq!(served(addr, false, Some("imap.example.net")), Some(before));
    let org = served(stls, true, Some("mail.example.org")).unwrap();
    assert!(
        org.ends_with("DNS:pop.example.org"),
        "the old org pair still served: {org}"
    );
    // Fixed: the reload takes the renewed pair.
    write_pair(dir.path(), "org", &["mail.example.org"]);
    tls.reload().unwrap();
    let net = served(addr, false, Some("imap.example.net")).unwrap();
    assert!(net.ends_with("DNS:renewed.example.net"), "{net}");
    let org = served(stls, true, Some("mail.example.org")).unwrap();
    assert!(org.ends_with("DNS:mail.example.org"), "{org}");
    // Loading (what `pop3d check-config` and the start do) fails the same way on any pair.
    std::fs::write(dir.path().join("net.pem"), "").unwrap();
    let config = pop3_server::Config::load(&server.dir.path().join("pop3d.toml")).unwrap();
    let files = config.tls.unwrap();
    let error = pop3_server::Tls::load(&files).err().unwrap().to_string();
    assert!(
        error.contains("net.pem") && error.contains("no certificate"),
        "{error}"
    );
}

/// `pop3d check-config` loads every pair: a `[[tls.sni]]` pair that does not load fails it,
/// naming the file; a good one passes.
#[test]
fn check_config_loads_every_sni_pair() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::support::write_config(dir.path(), Sections::default());
    write_pair(dir.path(), "org", &["mail.example.org"]);
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "\n[data]",
        &format!(
            "\n[[tls.sni]]\nnames = [\"mail.example.org\"]\ncertificate = \"{d}/org.pem\"\n\
             key = \"{d}/org.key\"\n\n[data]",
            d = dir.path().display()
        ),
        1,
    );
    std::fs::write(&config, text).unwrap();
    let check = || {
        let out = crate::daemon::pop3d()
            .args(["check-config", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stderr) = check();
    assert!(ok, "{stderr}");
    std::fs::write(dir.path().join("org.key"), "not a key").unwrap();
    let (ok, stderr) = check();
    assert!(!ok && stderr.contains("org.key"), "{stderr}");
}
