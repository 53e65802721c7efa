//! TLS: rustls with its safe defaults (TLS 1.2 and 1.3 only, no 0-RTT), the `pop3` ALPN
//! protocol, and certificates chosen by the client's SNI that SIGHUP can replace without a
//! restart.
//!
//! **ALPN**: a client that offers ALPN without `pop3` is refused by rustls with a
//! `no_application_protocol` alert, which stops cross-protocol attacks (ALPACA); a client that
//! offers no ALPN is served. **A failed reload keeps the old certificates, all of them**: the
//! set in use is always one that loaded whole, so "reload failed" means "nothing changed".
//! Nothing ever falls back to plaintext.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use pop3_metrics::Metrics;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::certificates::{CertificateSet, TlsError};
use crate::config::TlsFiles;

/// The TLS side of the server: an acceptor and the reloadable certificates behind it.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    certificate: Arc<Reloadable>,
    files: TlsFiles,
}

impl Tls {
    /// Loads every certificate and key (the default and `[[tls.sni]]`) and builds the rustls
    /// configuration.
    pub fn load(files: &TlsFiles) -> Result<Tls, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let set = CertificateSet::load(files, &provider)?;
        let certificate = Arc::new(Reloadable {
            current: RwLock::new(Arc::new(set)),
        });
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::new(e.to_string()))?
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

    /// The certificates in use now (after the last successful reload): file, SNI names and
    /// not-after of each.
    pub(crate) fn certificates(&self) -> Vec<pop3_admin_api::CertificateFacts> {
        match self.certificate.current.read() {
            Ok(set) => set.facts(),
            Err(poisoned) => poisoned.into_inner().facts(),
        }
    }

    /// Reloads every certificate file (SIGHUP). If any pair fails, the whole old set stays:
    /// a mix of renewed and stale pairs is a state no file describes, and an admin reading
    /// "reload failed" must be able to conclude that nothing changed. The names come from the
    /// config read at start; a reload does not reread it.
    pub fn reload(&self) -> Result<(), TlsError> {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let set = CertificateSet::load(&self.files, &provider)?;
        let mut current = self
            .certificate
            .current
            .write()
            .map_err(|_| TlsError::new("certificate lock poisoned".into()))?;
        *current = Arc::new(set);
        Ok(())
    }
}

#[derive(Debug)]
struct Reloadable {
    current: RwLock<Arc<CertificateSet>>,
}

impl ResolvesServerCert for Reloadable {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let set = self.current.read().ok()?.clone();
        Some(set.choose(hello.server_name()))
    }
}
