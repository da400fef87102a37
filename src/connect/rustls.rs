//! The TLS policy carried out by rustls (ring provider) through tokio-postgres-rustls, which
//! sends the host name as SNI (none for an IP address, which rustls checks against the
//! certificate's IP addresses instead).
//!
//! The checks are rustls's own: `verify-full` is its WebPKI verifier as it is; `verify-ca` is
//! the same verifier with a certificate that chains to the roots but names another host
//! accepted (the name is checked only after the chain); `require` and `prefer` without roots
//! accept any certificate, as libpq does, but still check the handshake's signatures with the
//! provider's algorithms, so the session is bound to the certificate it shows.

use std::convert::Infallible;
use std::error::Error as StdError;
use std::io;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::tls::{ClientCert, Pem, Roots, TlsConfig, TlsErrorKind, Verification};
use super::Handshake;
use crate::error::{Error, Result};

/// tokio-postgres-rustls's connector, its failures made [`super::TlsError`]s.
#[derive(Clone)]
pub(crate) struct MakeTls {
    inner: MakeRustlsConnect,
    roots: Arc<str>,
}

pub(crate) fn make_connect(tls: &TlsConfig, verification: Verification) -> Result<MakeTls> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match verification {
        Verification::None => Arc::new(AnyCertificate {
            provider: provider.clone(),
        }),
        Verification::Chain => Arc::new(ChainOnly(webpki_verifier(tls, &provider)?)),
        Verification::ChainAndHost => webpki_verifier(tls, &provider)?,
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| Error::TlsSetting {
            parameter: "sslmode",
            reason: "the ring provider offers no TLS version".to_owned(),
            source: Some(Box::new(source)),
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match tls.client_cert() {
        None => builder.with_no_client_auth(),
        Some(cert) => {
            let (chain, key) = client_cert(cert)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|source| Error::TlsSetting {
                    parameter: "sslkey",
                    reason: format!(
                        "{} is not the key of {}",
                        cert.key.describe("sslkey", "client_cert_pem"),
                        cert.chain.describe("sslcert", "client_cert_pem")
                    ),
                    source: Some(Box::new(source)),
                })?
        }
    };
    Ok(MakeTls {
        inner: MakeRustlsConnect::new(config),
        roots: tls.describe_roots().into(),
    })
}

impl<S> MakeTlsConnect<S> for MakeTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect = Handshake<<MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect>;
    type Error = Infallible;

    fn make_tls_connect(&mut self, host: &str) -> Result<Self::TlsConnect, Infallible> {
        let inner = MakeTlsConnect::<S>::make_tls_connect(&mut self.inner, host)?;
        Ok(Handshake {
            inner,
            host: host.to_owned(),
            roots: self.roots.clone(),
            classify,
        })
    }
}

/// tokio-rustls reports rustls's error inside an `io::Error`, whose `source()` would skip it:
/// it is taken out, to be the [`super::TlsError`]'s source.
fn classify(
    error: Box<dyn StdError + Send + Sync>,
) -> (TlsErrorKind, Box<dyn StdError + Send + Sync>) {
    let error = match error.downcast::<io::Error>() {
        Ok(io)
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>()) =>
        {
            io.into_inner().expect("checked: a custom error")
        }
        Ok(io) => io,
        Err(other) => other,
    };
    let kind = match error.downcast_ref::<rustls::Error>() {
        Some(rustls::Error::InvalidCertificate(certificate)) => match certificate {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                TlsErrorKind::UntrustedCertificate
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsErrorKind::HostMismatch
            }
            _ => TlsErrorKind::InvalidCertificate,
        },
        _ => TlsErrorKind::Handshake,
    };
    (kind, error)
}

fn webpki_verifier(
    tls: &TlsConfig,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>> {
    let mut store = RootCertStore::empty();
    match tls.roots() {
        Some(Roots::Pem(pem)) => {
            let name = pem.describe("sslrootcert", "root_cert_pem");
            for cert in certificates(pem, "sslrootcert")? {
                store.add(cert).map_err(|source| Error::TlsSetting {
                    parameter: "sslrootcert",
                    reason: format!("{name} holds a certificate that cannot be a root"),
                    source: Some(Box::new(source)),
                })?;
            }
        }
        Some(Roots::System) => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(Error::TlsSetting {
                    parameter: "sslrootcert",
                    reason: "`system`: no root certificates found on this machine (install \
                             ca-certificates, or set SSL_CERT_FILE)"
                        .to_owned(),
                    source: found
                        .errors
                        .into_iter()
                        .next()
                        .map(|error| Box::new(error) as Box<dyn StdError + Send + Sync>),
                });
            }
        }
        None => {}
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
        .build()
        .map_err(|source| Error::TlsSetting {
            parameter: "sslrootcert",
            reason: format!("cannot check certificates against {}", tls.describe_roots()),
            source: Some(Box::new(source)),
        })
}

/// The certificates of a PEM bundle; at least one.
fn certificates(pem: &Pem, parameter: &'static str) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = pem.read(parameter)?;
    let name = || pem.describe(parameter, "root_cert_pem");
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| Error::TlsSetting {
            parameter,
            reason: format!("{} is not valid PEM", name()),
            source: Some(Box::new(source)),
        })?;
    if certs.is_empty() {
        return Err(crate::connect::tls::setting(
            parameter,
            format!("{} holds no BEGIN CERTIFICATE block", name()),
        ));
    }
    Ok(certs)
}

fn client_cert(
    cert: &ClientCert,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let chain = certificates(&cert.chain, "sslcert")?;
    let key_pem = cert.key.read("sslkey")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|source| Error::TlsSetting {
        parameter: "sslkey",
        reason: format!(
            "{} holds no private key (PKCS#8, PKCS#1 or SEC1 PEM)",
            cert.key.describe("sslkey", "client_cert_pem")
        ),
        source: Some(Box::new(source)),
    })?;
    Ok((chain, key))
}

/// `verify-ca`: rustls's WebPKI verifier, except that a certificate that chains to the roots
/// may name another host. WebPKI checks the name only once the chain is valid, so the name
/// error means exactly that.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `require`/`prefer` without roots: any certificate, as libpq; the handshake's signatures are
/// still checked against it.
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyCertificate {
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
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
