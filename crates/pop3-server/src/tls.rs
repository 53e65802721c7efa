//! TLS: rustls with its safe defaults (TLS 1.2 and 1.3 only, no 0-RTT), the `pop3` ALPN
//! protocol, and a certificate that SIGHUP can replace without a restart.
//!
//! **ALPN**: a client that offers ALPN without `pop3` is refused by rustls with a
//! `no_application_protocol` alert, which stops cross-protocol attacks (ALPACA); a client that
//! offers no ALPN is served. **A failed reload keeps the old certificate**; nothing ever falls
//! back to plaintext.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use pop3_metrics::Metrics;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::TlsFiles;

/// Why a certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("TLS: {0}")]
pub struct TlsError(String);

/// The TLS side of the server: an acceptor and the reloadable certificate behind it.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    certificate: Arc<Reloadable>,
    files: TlsFiles,
}

impl Tls {
    /// Loads the certificate and key and builds the rustls configuration.
    pub fn load(files: &TlsFiles) -> Result<Tls, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let key = load_certified_key(files, &provider)?;
        let certificate = Arc::new(Reloadable {
            current: RwLock::new(Arc::new(key)),
        });
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(certificate.clone());
        config.alpn_protocols = vec![b"pop3".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            certificate,
            files: files.clone(),
        })
    }

    /// The acceptor for handshakes.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// A server-side handshake on `tcp`, bounded by `timeout` and counted in the metrics
    /// (`ok`, `failed`, `timeout`). `None` if it failed or timed out.
    pub(crate) async fn handshake(
        &self,
        tcp: TcpStream,
        timeout: Duration,
        metrics: &Metrics,
    ) -> Option<TlsStream<TcpStream>> {
        let (result, stream) = match tokio::time::timeout(timeout, self.acceptor.accept(tcp)).await
        {
            Ok(Ok(stream)) => ("ok", Some(stream)),
            Ok(Err(_)) => ("failed", None),
            Err(_) => ("timeout", None),
        };
        metrics.tls_handshake(result);
        stream
    }

    /// Reloads the certificate files (SIGHUP). On failure the old certificate stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let key = load_certified_key(&self.files, &provider)?;
        let mut current = self
            .certificate
            .current
            .write()
            .map_err(|_| TlsError("certificate lock poisoned".into()))?;
        *current = Arc::new(key);
        Ok(())
    }
}

#[derive(Debug)]
struct Reloadable {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Reloadable {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|key| key.clone())
    }
}

fn load_certified_key(
    files: &TlsFiles,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_file_iter(&files.certificate)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError(format!("{}: {e}", files.certificate.display())))?;
    if chain.is_empty() {
        return Err(TlsError(format!(
            "{}: no certificate",
            files.certificate.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| TlsError(format!("{}: {e}", files.key.display())))?;
    CertifiedKey::from_der(chain, key, provider)
        .map_err(|e| TlsError(format!("{}: {e}", files.key.display())))
}
