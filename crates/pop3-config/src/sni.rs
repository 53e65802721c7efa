//! `[[tls.sni]]`: more certificate/key pairs, each served to clients that ask (by SNI, RFC
//! 6066 §3) for one of its names; `[tls]`'s own pair stays the default.

use std::collections::HashSet;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Invalid, invalid};

/// A certificate/key pair served for a list of names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SniPair {
    /// The names, lowercase; never empty.
    pub names: Vec<SniName>,
    /// The certificate chain, leaf first.
    pub certificate: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// A name of [`SniPair`]: a DNS name, or `*.` and a DNS name (one label of wildcard, as in
/// RFC 6125 §6.4.3). Lowercase ASCII, no trailing dot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SniName {
    /// Exactly this name.
    Exact(String),
    /// Any one label followed by this name (`*.example.net` holds `example.net`): it matches
    /// `mail.example.net`, not `example.net` nor `a.b.example.net`.
    Wildcard(String),
}

/// One `[[tls.sni]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSni {
    names: Spanned<Vec<Spanned<String>>>,
    certificate: PathBuf,
    key: PathBuf,
}

/// Every entry has at least one name; every name is well formed and appears once in all the
/// entries (a name in two pairs would leave the choice to the order of the file).
pub(crate) fn validate(raw: Vec<RawSni>) -> Result<Vec<SniPair>, Invalid> {
    let mut seen = HashSet::new();
    let mut pairs = Vec::new();
    for entry in raw {
        if entry.names.get_ref().is_empty() {
            return Err(invalid(
                "tls.sni.names",
                &entry.names,
                "is empty: name at least one host, e.g. [\"mail.example.org\"]",
            ));
        }
        let mut names = Vec::new();
        for text in entry.names.get_ref() {
            let name =
                parse_name(text.get_ref()).map_err(|why| invalid("tls.sni.names", text, why))?;
            if !seen.insert(name.clone()) {
                return Err(invalid(
                    "tls.sni.names",
                    text,
                    "appears twice: each name is served by one certificate",
                ));
            }
            names.push(name);
        }
        pairs.push(SniPair {
            names,
            certificate: entry.certificate,
            key: entry.key,
        });
    }
    Ok(pairs)
}

/// A DNS name (RFC 1123 labels: letters, digits, inner hyphens, at most 63 octets each and
/// 253 in all), or `*.` followed by one with at least two labels (`*.com` would claim a whole
/// top-level domain). IP addresses are refused: RFC 6066 §3 forbids them in SNI, so such an
/// entry could never be chosen.
fn parse_name(text: &str) -> Result<SniName, &'static str> {
    let lower = text.to_ascii_lowercase();
    if lower.parse::<std::net::IpAddr>().is_ok() {
        return Err("is an IP address; clients never send one as SNI (RFC 6066 §3)");
    }
    match lower.strip_prefix("*.") {
        Some(rest) => {
            check_dns_name(rest)?;
            if !rest.contains('.') {
                return Err("a wildcard needs at least two labels after `*.`, e.g. *.example.net");
            }
            Ok(SniName::Wildcard(rest.to_owned()))
        }
        None => {
            check_dns_name(&lower)?;
            Ok(SniName::Exact(lower))
        }
    }
}

fn check_dns_name(name: &str) -> Result<(), &'static str> {
    const WHY: &str = "is not a DNS name or `*.` and a DNS name (letters, digits, inner hyphens; \
                       labels of 1 to 63 octets; no trailing dot)";
    if name.is_empty() || name.len() > 253 {
        return Err(WHY);
    }
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if name.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(WHY)
    }
}
