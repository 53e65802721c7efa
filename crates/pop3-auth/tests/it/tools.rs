//! The real tools that make the legacy hashes of issue 16 at test time: `doveadm pw`
//! (dovecot-core), `openssl passwd` (openssl), `mkpasswd` (whois), `htpasswd`
//! (apache2-utils). `.ci/run` installs them all.
//!
//! A missing tool skips its known answers with a loud line, written past the test harness's
//! capture, and fails under CI, where it must be there.

use std::io::Write as _;
use std::process::Command;

/// A tool's output line, trimmed; `None` (after the SKIP line) when the program is missing.
pub fn run(program: &str, package: &str, args: &[&str]) -> Option<String> {
    let output = match Command::new(program).args(args).output() {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            skip(program, package);
            return None;
        }
        Err(error) => panic!("{program} {args:?}: {error}"),
    };
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("tool output is UTF-8");
    Some(text.trim_end_matches(['\r', '\n']).to_owned())
}

/// `doveadm pw -s scheme -p password`: the `{SCHEME}...` line.
pub fn doveadm(scheme: &str, password: &str) -> Option<String> {
    run(
        "doveadm",
        "dovecot-core",
        &["pw", "-s", scheme, "-p", password],
    )
}

/// `openssl passwd -<flag> password`.
pub fn openssl(flag: &str, password: &str) -> Option<String> {
    run("openssl", "openssl", &["passwd", flag, password])
}

/// `mkpasswd -m method [extra...] password`.
pub fn mkpasswd(method: &str, extra: &[&str], password: &str) -> Option<String> {
    let mut args = vec!["-m", method];
    args.extend_from_slice(extra);
    args.push(password);
    run("mkpasswd", "whois", &args)
}

/// `htpasswd -nbB -C cost user password`: the hash after `user:`.
pub fn htpasswd_bcrypt(cost: &str, password: &str) -> Option<String> {
    let line = run(
        "htpasswd",
        "apache2-utils",
        &["-nbB", "-C", cost, "user", password],
    )?;
    Some(line.trim().trim_start_matches("user:").to_owned())
}

fn skip(program: &str, package: &str) {
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let line = format!(
        "!!! SKIPPED {test}: known answers from `{program}`, not installed (apt-get install \
         {package}; .ci/run installs it)\n"
    );
    // Straight to the process's stderr: the harness captures only `eprintln!`.
    let _ = std::io::stderr().write_all(line.as_bytes());
    assert!(
        std::env::var_os("CI").is_none(),
        "{program} ({package}) missing under CI"
    );
}
