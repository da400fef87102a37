//! The TLS policy carried out by the platform's TLS library (OpenSSL on Linux, Secure
//! Transport on macOS, SChannel on Windows) through postgres-native-tls: feature `tls-native`,
//! used when `tls-rustls` is off. native-tls does not say why a handshake failed in a form
//! that can be matched, so every failure is [`TlsErrorKind::Handshake`] with the library's
//! message as its source.

use std::error::Error as StdError;
use std::sync::Arc;

use native_tls::{Certificate, Identity, TlsConnector};
use postgres_native_tls::MakeTlsConnector;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::tls::MakeTlsConnect;

use super::tls::{setting, Roots, TlsConfig, TlsErrorKind, Verification};
use super::Handshake;
use crate::error::{Error, Result};

/// postgres-native-tls's connector, its failures made [`super::TlsError`]s.
#[derive(Clone)]
pub(crate) struct MakeTls {
    inner: MakeTlsConnector,
    roots: Arc<str>,
}

fn library_error(
    parameter: &'static str,
    reason: String,
) -> impl FnOnce(native_tls::Error) -> Error {
    move |source| Error::TlsSetting {
        parameter,
        reason,
        source: Some(Box::new(source)),
    }
}

pub(crate) fn make_connect(tls: &TlsConfig, verification: Verification) -> Result<MakeTls> {
    let mut builder = TlsConnector::builder();
    match verification {
        Verification::None => builder.danger_accept_invalid_certs(true),
        Verification::Chain => builder.danger_accept_invalid_hostnames(true),
        Verification::ChainAndHost => &mut builder,
    };
    if let Some(Roots::Pem(pem)) = tls.roots() {
        // Only the given roots, as libpq: a public CA must not vouch for a private server.
        builder.disable_built_in_roots(true);
        let name = pem.describe("sslrootcert", "root_cert_pem");
        let bytes = pem.read("sslrootcert")?;
        let blocks = certificate_blocks(&bytes);
        if blocks.is_empty() {
            return Err(setting(
                "sslrootcert",
                format!("{name} holds no BEGIN CERTIFICATE block"),
            ));
        }
        for block in blocks {
            let cert = Certificate::from_pem(block).map_err(library_error(
                "sslrootcert",
                format!("{name} is not valid PEM"),
            ))?;
            builder.add_root_certificate(cert);
        }
    }
    if let Some(cert) = tls.client_cert() {
        let (chain, key) = (cert.chain.read("sslcert")?, cert.key.read("sslkey")?);
        let identity = Identity::from_pkcs8(&chain, &key).map_err(library_error(
            "sslkey",
            format!(
                "{} and {} are not a certificate and its PKCS#8 key (BEGIN PRIVATE KEY)",
                cert.chain.describe("sslcert", "client_cert_pem"),
                cert.key.describe("sslkey", "client_cert_pem")
            ),
        ))?;
        builder.identity(identity);
    }
    let connector = builder.build().map_err(library_error(
        "sslmode",
        "the platform's TLS library refused the settings".to_owned(),
    ))?;
    Ok(MakeTls {
        inner: MakeTlsConnector::new(connector),
        roots: tls.describe_roots().into(),
    })
}

/// Each `BEGIN CERTIFICATE` … `END CERTIFICATE` block of a bundle (native-tls reads one).
fn certificate_blocks(pem: &[u8]) -> Vec<&[u8]> {
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let mut blocks = Vec::new();
    let mut rest = pem;
    while let Some(start) = find(rest, b"-----BEGIN CERTIFICATE-----") {
        let Some(end) = find(&rest[start..], END) else {
            break;
        };
        let stop = start + end + END.len();
        blocks.push(&rest[start..stop]);
        rest = &rest[stop..];
    }
    blocks
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn classify(
    error: Box<dyn StdError + Send + Sync>,
) -> (TlsErrorKind, Box<dyn StdError + Send + Sync>) {
    (TlsErrorKind::Handshake, error)
}

impl<S> MakeTlsConnect<S> for MakeTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = <MakeTlsConnector as MakeTlsConnect<S>>::Stream;
    type TlsConnect = Handshake<<MakeTlsConnector as MakeTlsConnect<S>>::TlsConnect>;
    type Error = native_tls::Error;

    fn make_tls_connect(&mut self, host: &str) -> Result<Self::TlsConnect, native_tls::Error> {
        let inner = MakeTlsConnect::<S>::make_tls_connect(&mut self.inner, host)?;
        Ok(Handshake {
            inner,
            host: host.to_owned(),
            roots: self.roots.clone(),
            classify,
        })
    }
}
