//! The certificates the server holds: the default pair and the `[[tls.sni]]` pairs, loaded
//! together as one [`CertificateSet`], and the choice among them by a client's SNI.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use pop3_admin_api::CertificateFacts;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{SniName, TlsFiles};

/// Why a certificate could not be loaded (naming the file), or TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("TLS: {0}")]
pub struct TlsError(String);

impl TlsError {
    pub(crate) fn new(message: String) -> TlsError {
        TlsError(message)
    }
}

/// Every certificate of a `[tls]` section, loaded. **Loaded whole or not at all**: one bad
/// pair fails the load, so a server never holds a set the files did not describe.
#[derive(Debug)]
pub(crate) struct CertificateSet {
    default: Arc<CertifiedKey>,
    /// Exact names, lowercase.
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Wildcards by the name after `*.`, lowercase.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    /// Each pair's file, names and not-after, read at load (the admin overview).
    facts: Vec<CertificateFacts>,
}

impl CertificateSet {
    /// Reads every pair of `files`; the first failure names its file.
    pub(crate) fn load(
        files: &TlsFiles,
        provider: &CryptoProvider,
    ) -> Result<CertificateSet, TlsError> {
        let default = Arc::new(load_pair(&files.certificate, &files.key, provider)?);
        let mut facts = vec![certificate_facts(&files.certificate, &default, Vec::new())];
        let (mut exact, mut wildcard) = (HashMap::new(), HashMap::new());
        for pair in &files.sni {
            let key = Arc::new(load_pair(&pair.certificate, &pair.key, provider)?);
            let names = pair.names.iter().map(sni_name).collect();
            facts.push(certificate_facts(&pair.certificate, &key, names));
            for name in &pair.names {
                // pop3-config refuses a name listed twice, so nothing is overwritten here.
                match name {
                    SniName::Exact(name) => exact.insert(name.clone(), key.clone()),
                    SniName::Wildcard(rest) => wildcard.insert(rest.clone(), key.clone()),
                };
            }
        }
        Ok(CertificateSet {
            default,
            exact,
            wildcard,
            facts,
        })
    }

    /// Every pair's file, names and not-after: the default first, then `[[tls.sni]]`.
    pub(crate) fn facts(&self) -> Vec<CertificateFacts> {
        self.facts.clone()
    }

    /// The certificate for a client that asked for `server_name`: an exact name first, then a
    /// wildcard for its first label stripped (one label only, RFC 6125 §6.4.3), else the
    /// default (no SNI, an unknown name, an IP address).
    pub(crate) fn choose(&self, server_name: Option<&str>) -> Arc<CertifiedKey> {
        let Some(name) = server_name else {
            return self.default.clone();
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(key) = self.exact.get(&name) {
            return key.clone();
        }
        let wildcard = name
            .split_once('.')
            .and_then(|(_, rest)| self.wildcard.get(rest));
        wildcard.unwrap_or(&self.default).clone()
    }
}

/// A pair's facts; the not-after of its leaf, `None` if the leaf does not parse as X.509
/// (rustls checked only that the key matches it).
fn certificate_facts(file: &Path, key: &CertifiedKey, names: Vec<String>) -> CertificateFacts {
    let not_after = key.end_entity_cert().ok().and_then(|leaf| {
        let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
        Some(parsed.validity().not_after.timestamp())
    });
    CertificateFacts {
        file: file.display().to_string(),
        names,
        not_after,
    }
}

/// A name of `[[tls.sni]]` as written.
fn sni_name(name: &SniName) -> String {
    match name {
        SniName::Exact(name) => name.clone(),
        SniName::Wildcard(rest) => format!("*.{rest}"),
    }
}

fn load_pair(
    certificate: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_file_iter(certificate)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::new(format!("{}: {e}", certificate.display())))?;
    if chain.is_empty() {
        return Err(TlsError::new(format!(
            "{}: no certificate",
            certificate.display()
        )));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| TlsError::new(format!("{}: {e}", key.display())))?;
    CertifiedKey::from_der(chain, private, provider)
        .map_err(|e| TlsError::new(format!("{}: {e}", key.display())))
}
