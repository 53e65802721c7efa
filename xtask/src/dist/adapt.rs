//! The package's variants of `config/pop3d.example.toml` and `config/pop3d.service`, made
//! by replacing a few exact lines. The files in `config/` stay the one source of the comments
//! and the hardening; a replaced line that is no longer there fails the build instead of
//! silently shipping the source-install variant.

use anyhow::{Result, bail};

/// `/etc/pop3d/pop3d.toml` of the package: the example with Debian's snakeoil certificate
/// (so that `pop3d check-config` passes and the service starts after install) and the
/// `[privileges]` section on, so that Maildirs `pop3-admin user add` creates as root are
/// the pop3d user's.
pub(crate) fn config(example: &str) -> Result<String> {
    replace_all(
        example,
        &[
            (
                "certificate = \"/etc/pop3d/fullchain.pem\"\nkey = \"/etc/pop3d/privkey.pem\"\n",
                "# The package starts with Debian's self-signed snakeoil certificate (package\n\
                 # ssl-cert; the pop3d user is in group ssl-cert), so that pop3d runs at once.\n\
                 # Clients will not trust it: set your real certificate and key here (e.g.\n\
                 # /etc/letsencrypt/live/<name>/fullchain.pem and privkey.pem, readable by\n\
                 # group ssl-cert or pop3d), then `systemctl reload pop3d`.\n\
                 certificate = \"/etc/ssl/certs/ssl-cert-snakeoil.pem\"\n\
                 key = \"/etc/ssl/private/ssl-cert-snakeoil.key\"\n",
            ),
            (
                "# [privileges]\n# user = \"pop3d\"\n# group = \"pop3d\"\n",
                "# In the package it is on, so that Maildirs pop3-admin creates as root are the\n\
                 # pop3d user's.\n\
                 [privileges]\nuser = \"pop3d\"\ngroup = \"pop3d\"\n",
            ),
        ],
    )
}

/// `/lib/systemd/system/pop3d.service` of the package: the source unit with the packaged
/// binary's path and the package's documentation; every hardening line unchanged.
pub(crate) fn unit(source: &str) -> Result<String> {
    let unit = replace_all(
        source,
        &[
            (
                "ExecStart=/usr/local/bin/pop3d ",
                "ExecStart=/usr/sbin/pop3d ",
            ),
            (
                "Documentation=file:///usr/share/doc/pop3d/ARCHITECTURE.md\n",
                "Documentation=man:pop3d(8) man:pop3d.toml(5)\n",
            ),
        ],
    )?;
    // The source unit's opening comment tells how to install it by hand; the package has.
    let body = unit.find("[Unit]").map_or(unit.as_str(), |at| &unit[at..]);
    Ok(format!(
        "# systemd unit for pop3d, from the pop3d package. Change it with a drop-in\n\
         # (systemctl edit pop3d), not here.\n{body}"
    ))
}

/// A socket unit as packaged: documented by the man pages (the package has no install.md).
pub(crate) fn socket(source: &str) -> Result<String> {
    replace_all(
        source,
        &[(
            "Documentation=file:///usr/share/doc/pop3d/install.md\n",
            "Documentation=man:pop3d(8) man:pop3d.toml(5)\n",
        )],
    )
}

fn replace_all(text: &str, replacements: &[(&str, &str)]) -> Result<String> {
    let mut out = text.to_owned();
    for (from, to) in replacements {
        if out.matches(from).count() != 1 {
            bail!(
                "expected exactly one {from:?} in the source file; update xtask/src/dist/adapt.rs"
            );
        }
        out = out.replace(from, to);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    const EXAMPLE: &str = include_str!("../../../config/pop3d.example.toml");
    const UNIT: &str = include_str!("../../../config/pop3d.service");

    #[test]
    fn the_package_config_uses_snakeoil_and_privileges() {
        let config = super::config(EXAMPLE).expect("adapts");
        assert!(config.contains("\ncertificate = \"/etc/ssl/certs/ssl-cert-snakeoil.pem\"\n"));
        assert!(config.contains("\nkey = \"/etc/ssl/private/ssl-cert-snakeoil.key\"\n"));
        assert!(config.contains("\n[privileges]\nuser = \"pop3d\"\ngroup = \"pop3d\"\n"));
        // The source's live pair is gone (the commented [[tls.sni]] example may name others).
        assert!(!config.contains("\ncertificate = \"/etc/pop3d/fullchain.pem\"\n"));
    }

    /// Every line of the source unit but the changed ones is in the package's, in order.
    #[test]
    fn the_package_unit_keeps_the_hardening() {
        let unit = super::unit(UNIT).expect("adapts");
        assert!(unit.contains("\nExecStart=/usr/sbin/pop3d --config /etc/pop3d/pop3d.toml\n"));
        let kept: Vec<&str> = UNIT
            .lines()
            .skip_while(|l| *l != "[Unit]")
            .filter(|l| !l.starts_with("ExecStart=") && !l.starts_with("Documentation="))
            .collect();
        let mut rest = unit.lines().skip_while(|l| *l != "[Unit]");
        for line in kept {
            assert!(rest.any(|l| l == line), "{line:?} lost or out of order");
        }
        assert!(super::unit("[Unit]\nExecStart=/bin/true\n").is_err());
    }
}
