//! The rustls client configuration for STARTTLS: ring as the crypto provider, trust roots from
//! the system store or a CA file, and no certificate check where Postfix's levels `may` and
//! `encrypt` do none.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::{Error, TlsLevel, TrustRoots};

/// The client configuration for `level`; built only when a session reaches STARTTLS, so that
/// a run without TLS never loads a trust store.
pub(crate) fn client_config(level: TlsLevel, trust: &TrustRoots) -> Result<ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let config = if level == TlsLevel::Secure {
        builder.with_root_certificates(roots(trust)?).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unchecked(provider)))
            .with_no_client_auth()
    };
    Ok(config)
}

fn roots(trust: &TrustRoots) -> Result<RootCertStore, Error> {
    let mut store = RootCertStore::empty();
    match trust {
        TrustRoots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
        }
        TrustRoots::File(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| Error::Config(format!("CA file {}: {e}", path.display())))?;
            store.add_parsable_certificates(certs);
        }
    }
    if store.is_empty() {
        let from = match trust {
            TrustRoots::System => "the system store".to_owned(),
            TrustRoots::File(p) => p.display().to_string(),
        };
        return Err(Error::Config(format!("no trusted CA certificate in {from}")));
    }
    Ok(store)
}

/// The server name to verify and to send as SNI: the host as written in the next hop.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(host.to_owned())
        .map_err(|e| Error::Config(format!("TLS server name {host:?}: {e}")))
}

/// Accepts any certificate (Postfix's `may` and `encrypt`: encryption without
/// authentication), but still checks the handshake's signatures, so the session is at least
/// bound to the key the server presented.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
