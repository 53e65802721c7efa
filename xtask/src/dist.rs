//! `cargo xtask dist`: the Debian package, `target/dist/pop3d_<version>_<arch>.deb`.
//!
//! Built with `dpkg-deb` from a tree this module lays out, not with `cargo-deb`: `dpkg-deb`
//! comes with every Debian system (CI installs no cargo tool for it), and a man page per
//! command, the completions, the adapted conffile and unit are generated here anyway, so
//! `cargo-deb`'s manifest would only list files made by this code. The hand-written parts
//! (control template, maintainer scripts, copyright, changelog, lintian overrides) live in
//! `packaging/deb/`.
//!
//! - `adapt.rs`: the package's `pop3d.toml` and systemd unit, from those in `config/`;
//! - `manconf.rs`: `pop3d.toml(5)` from the commented example;
//! - `check.rs`: lintian, the file list, the conffiles and the man pages of a built package;
//! - `install.rs`: installs, uses and purges the package (root and
//!   `POP3D_TEST_INSTALL_DEB=1` only).

mod adapt;
mod check;
mod install;
mod manconf;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::process::{cargo, output, run};

pub(crate) use check::check;
pub(crate) use install::install_test;

/// The files the package holds besides the man pages of the subcommands, with their modes.
/// `check` compares the built package against this list.
pub(crate) const FILES: &[(&str, u32)] = &[
    ("etc/fail2ban/filter.d/pop3d.conf", 0o644),
    ("etc/pop3d/pop3d.toml", 0o644),
    ("lib/systemd/system/pop3d-lmtp.socket", 0o644),
    ("lib/systemd/system/pop3d-pop3s.socket", 0o644),
    ("lib/systemd/system/pop3d.service", 0o644),
    ("lib/systemd/system/pop3d.socket", 0o644),
    ("usr/sbin/pop3-admin", 0o755),
    ("usr/sbin/pop3d", 0o755),
    ("usr/share/bash-completion/completions/pop3-admin", 0o644),
    ("usr/share/doc/pop3d/changelog.Debian.gz", 0o644),
    ("usr/share/doc/pop3d/copyright", 0o644),
    (
        "usr/share/doc/pop3d/examples/pop3d-home-maildir.conf",
        0o644,
    ),
    ("usr/share/doc/pop3d/grafana-dashboard.json", 0o644),
    ("usr/share/doc/pop3d/prometheus-rules.yml", 0o644),
    ("usr/share/doc/pop3d/prometheus.yml", 0o644),
    ("usr/share/fish/vendor_completions.d/pop3-admin.fish", 0o644),
    ("usr/share/lintian/overrides/pop3d", 0o644),
    ("usr/share/man/man5/pop3d.toml.5.gz", 0o644),
    ("usr/share/man/man8/pop3-admin.8.gz", 0o644),
    ("usr/share/man/man8/pop3d.8.gz", 0o644),
    ("usr/share/zsh/vendor-completions/_pop3-admin", 0o644),
];

/// The systemd socket units (issue 19), shipped disabled.
pub(crate) const SOCKET_UNITS: [&str; 3] =
    ["pop3d.socket", "pop3d-pop3s.socket", "pop3d-lmtp.socket"];

/// The package's conffiles, exactly.
pub(crate) const CONFFILES: &[&str] =
    &["/etc/fail2ban/filter.d/pop3d.conf", "/etc/pop3d/pop3d.toml"];

/// A built package.
pub(crate) struct Package {
    pub(crate) deb: PathBuf,
    /// The Debian version, `<upstream>-<revision>`.
    pub(crate) version: String,
}

/// Builds the release binaries and the package.
pub(crate) fn build(root: &Path) -> Result<Package> {
    cargo(&[
        "build",
        "--release",
        "--locked",
        "-p",
        "pop3-server",
        "-p",
        "pop3-admin",
    ])?;
    let release = root.join("target/release");
    let packaging = root.join("packaging/deb");
    let config = root.join("config");
    let version = debian_version(&read(&packaging.join("changelog"))?)?;
    let pop3d_version = output(&path_str(&release.join("pop3d"))?, &["--version"])?;
    let upstream = version
        .rsplit_once('-')
        .map_or(version.as_str(), |(u, _)| u);
    if pop3d_version.trim() != format!("pop3d {upstream}") {
        bail!(
            "packaging/deb/changelog is at {version} but the binary says {:?}: add a changelog \
             entry for the new version",
            pop3d_version.trim()
        );
    }
    let arch = output("dpkg", &["--print-architecture"])?.trim().to_owned();
    let dist = root.join("target/dist");
    let name = format!("pop3d_{version}_{arch}");
    let tree = dist.join(&name);
    if tree.exists() {
        fs::remove_dir_all(&tree).with_context(|| format!("cannot clear {}", tree.display()))?;
    }

    // Binaries, stripped as dh_strip does.
    for binary in ["pop3d", "pop3-admin"] {
        let to = tree.join("usr/sbin").join(binary);
        copy(&release.join(binary), &to)?;
        let to = path_str(&to)?;
        run(
            "strip",
            &[
                "--remove-section=.comment",
                "--remove-section=.note",
                "--strip-unneeded",
                &to,
            ],
            &[],
        )?;
    }
    // Configuration and the unit.
    let example = read(&config.join("pop3d.example.toml"))?;
    write(
        &tree.join("etc/pop3d/pop3d.toml"),
        &adapt::config(&example)?,
    )?;
    copy(
        &config.join("fail2ban-filter.conf"),
        &tree.join("etc/fail2ban/filter.d/pop3d.conf"),
    )?;
    let unit = adapt::unit(&read(&config.join("pop3d.service"))?)?;
    write(&tree.join("lib/systemd/system/pop3d.service"), &unit)?;
    // The socket units, installed but not enabled: pop3d.service binds its own ports unless
    // the admin chooses socket activation (docs/install.md).
    for socket in SOCKET_UNITS {
        let text = adapt::socket(&read(&config.join(socket))?)?;
        write(&tree.join("lib/systemd/system").join(socket), &text)?;
    }
    // Documentation.
    let doc = tree.join("usr/share/doc/pop3d");
    for file in [
        "grafana-dashboard.json",
        "prometheus-rules.yml",
        "prometheus.yml",
    ] {
        copy(&config.join(file), &doc.join(file))?;
    }
    copy(
        &config.join("pop3d-home-maildir.conf"),
        &doc.join("examples/pop3d-home-maildir.conf"),
    )?;
    copy(&packaging.join("copyright"), &doc.join("copyright"))?;
    copy(&packaging.join("changelog"), &doc.join("changelog.Debian"))?;
    gzip(&doc.join("changelog.Debian"))?;
    // Manual pages: the commands' from their clap definitions, pop3d.toml(5) from the example.
    // The pages' date: the changelog entry's, so a rebuild makes the same pages.
    let date = changelog_date(&read(&packaging.join("changelog"))?)?;
    let man8 = tree.join("usr/share/man/man8");
    fs::create_dir_all(&man8).context("cannot create man8")?;
    for binary in ["pop3d", "pop3-admin"] {
        run(
            &path_str(&release.join(binary))?,
            &["internal-manpages", &path_str(&man8)?, "--date", &date],
            &[],
        )?;
    }
    let page = manconf::render(&example, upstream, &date);
    write(&tree.join("usr/share/man/man5/pop3d.toml.5"), &page)?;
    let mut pages = Vec::new();
    for dir in ["usr/share/man/man5", "usr/share/man/man8"] {
        for entry in fs::read_dir(tree.join(dir)).context("cannot list the man pages")? {
            pages.push(path_str(
                &entry.context("cannot list the man pages")?.path(),
            )?);
        }
    }
    pages.sort();
    let mut args = vec!["-9nf"];
    args.extend(pages.iter().map(String::as_str));
    run("gzip", &args, &[])?;
    // Completions of pop3-admin, at Debian's paths.
    let admin = path_str(&release.join("pop3-admin"))?;
    for (shell, path) in [
        ("bash", "usr/share/bash-completion/completions/pop3-admin"),
        ("zsh", "usr/share/zsh/vendor-completions/_pop3-admin"),
        (
            "fish",
            "usr/share/fish/vendor_completions.d/pop3-admin.fish",
        ),
    ] {
        write(&tree.join(path), &output(&admin, &["completions", shell])?)?;
    }
    // Each override says why in that file.
    copy(
        &packaging.join("lintian-overrides"),
        &tree.join("usr/share/lintian/overrides/pop3d"),
    )?;
    control(&tree, &packaging, &version, &arch)?;

    let deb = dist.join(format!("{name}.deb"));
    run(
        "dpkg-deb",
        &[
            "--root-owner-group",
            "-Zxz",
            "--build",
            &path_str(&tree)?,
            &path_str(&deb)?,
        ],
        &[],
    )?;
    Ok(Package { deb, version })
}

/// `DEBIAN/`: control (with the size and the shared-library dependencies), conffiles,
/// md5sums and the maintainer scripts; then every mode set as dpkg-deb wants them.
fn control(tree: &Path, packaging: &Path, version: &str, arch: &str) -> Result<()> {
    let debian = tree.join("DEBIAN");
    let shlibs = shlibs_depends(tree)?;
    let installed_kib = tree_size(tree)?.div_ceil(1024);
    let control = read(&packaging.join("control"))?
        .replace("@VERSION@", version)
        .replace("@ARCH@", arch)
        .replace("@INSTALLED_SIZE@", &installed_kib.to_string())
        .replace("@SHLIBS_DEPENDS@", &shlibs);
    let placeholder = |word: &str| {
        word.len() > 2
            && word.starts_with('@')
            && word.ends_with('@')
            && word[1..word.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_')
    };
    if let Some(word) = control.split([' ', ',', '\n']).find(|w| placeholder(w)) {
        bail!("packaging/deb/control has a placeholder this task does not fill: {word}");
    }
    write(&debian.join("control"), &control)?;
    write(
        &debian.join("conffiles"),
        &format!("{}\n", CONFFILES.join("\n")),
    )?;
    let mut files = Vec::new();
    list_files(tree, tree, &mut files)?;
    files.retain(|f| !f.starts_with("DEBIAN/"));
    files.sort();
    let mut md5sum = Command::new("md5sum");
    md5sum.current_dir(tree).args(&files);
    let sums = md5sum.output().context("cannot run md5sum")?;
    if !sums.status.success() {
        bail!("md5sum failed: {}", sums.status);
    }
    fs::write(debian.join("md5sums"), &sums.stdout).context("cannot write md5sums")?;
    for script in ["postinst", "prerm", "postrm"] {
        copy(&packaging.join(script), &debian.join(script))?;
    }
    set_modes(tree)
}

/// `libc6 (>= …), …` for the binaries, as `dpkg-shlibdeps` computes `${shlibs:Depends}` (it
/// wants a `debian/control`, so it runs in a scratch directory holding a minimal one).
fn shlibs_depends(tree: &Path) -> Result<String> {
    let scratch = tree.with_extension("shlibs");
    write(
        &scratch.join("debian/control"),
        "Source: pop3d\n\nPackage: pop3d\nArchitecture: any\n",
    )?;
    let mut command = Command::new("dpkg-shlibdeps");
    command.current_dir(&scratch).arg("-O");
    for binary in ["pop3d", "pop3-admin"] {
        command.arg(format!(
            "-e{}",
            path_str(&tree.join("usr/sbin").join(binary))?
        ));
    }
    let out = command
        .output()
        .context("cannot run dpkg-shlibdeps (package dpkg-dev)")?;
    if !out.status.success() {
        bail!(
            "dpkg-shlibdeps failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    fs::remove_dir_all(&scratch).context("cannot remove the dpkg-shlibdeps scratch directory")?;
    let text = String::from_utf8(out.stdout).context("dpkg-shlibdeps output")?;
    text.lines()
        .find_map(|l| l.strip_prefix("shlibs:Depends="))
        .map(str::to_owned)
        .context("dpkg-shlibdeps printed no shlibs:Depends")
}

/// The version of the newest entry of a Debian changelog: `pop3d (0.1.0-1) unstable; …`.
fn debian_version(changelog: &str) -> Result<String> {
    changelog
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("pop3d ("))
        .and_then(|l| l.split_once(')'))
        .map(|(version, _)| version.to_owned())
        .filter(|v| v.contains('-'))
        .context("packaging/deb/changelog must open with `pop3d (<upstream>-<revision>) …`")
}

/// The date of the newest changelog entry (` -- Name <mail>  Mon, 30 Nov 2026 …`), as
/// YYYY-MM-DD.
fn changelog_date(changelog: &str) -> Result<String> {
    let date = changelog
        .lines()
        .find_map(|l| l.strip_prefix(" -- "))
        .and_then(|l| l.split_once(">  "))
        .map(|(_, date)| date)
        .context("packaging/deb/changelog has no ` -- Name <mail>  date` line")?;
    Ok(output("date", &["-u", "-d", date, "+%F"])?
        .trim()
        .to_owned())
}

fn set_modes(dir: &Path) -> Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            set_modes(&path)?;
            continue;
        }
        let executable = path
            .parent()
            .is_some_and(|p| p.ends_with("usr/sbin") || p.ends_with("DEBIAN"))
            && !path.ends_with("DEBIAN/control")
            && !path.ends_with("DEBIAN/conffiles")
            && !path.ends_with("DEBIAN/md5sums");
        let mode = if executable { 0o755 } else { 0o644 };
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot chmod {}", path.display()))?;
    }
    Ok(())
}

fn tree_size(dir: &Path) -> Result<u64> {
    let mut files = Vec::new();
    list_files(dir, dir, &mut files)?;
    let mut total = 0;
    for file in files {
        total += fs::metadata(dir.join(file))?.len();
    }
    Ok(total)
}

/// Every file below `dir`, relative to `base`.
fn list_files(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            list_files(base, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(base) {
            out.push(path_str(relative)?);
        }
    }
    Ok(())
}

fn gzip(path: &Path) -> Result<()> {
    run("gzip", &["-9nf", &path_str(path)?], &[])
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    Ok(())
}

fn path_str(path: &Path) -> Result<String> {
    path.to_str()
        .map(str::to_owned)
        .with_context(|| format!("{} is not UTF-8", path.display()))
}
