//! What TLS a connection asks for, whatever library provides it: [`SslMode`] and its libpq
//! meaning, [`TlsConfig`] (from the URL's `sslmode`, `sslrootcert`, `sslcert`, `sslkey`, or
//! built in code), the policy that follows from them ([`Verification`]), and [`TlsError`], the
//! handshake failure every backend reports. The backends (rustls.rs, native.rs) only carry it
//! out.

// Without a TLS library only the parsing and the policy are used; the rest serves the backends.
#![cfg_attr(
    not(any(feature = "tls-rustls", feature = "tls-native")),
    allow(dead_code)
)]
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, Result};

use super::url::TlsParameters;

/// libpq's `sslmode`: whether the connection is encrypted and what of the server's certificate
/// is checked. The default is [`SslMode::Prefer`], as in libpq.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SslMode {
    /// Plaintext only.
    Disable,
    /// TLS when the server offers it, plaintext otherwise. The certificate is not checked
    /// unless root certificates are given (then as [`SslMode::VerifyCa`]). In a build without
    /// a TLS feature, always plaintext (as a libpq built without SSL).
    #[default]
    Prefer,
    /// TLS or no connection. Without root certificates the certificate is not checked
    /// (encrypted, but open to a man in the middle); with them, as [`SslMode::VerifyCa`], as
    /// libpq does.
    Require,
    /// TLS, and the server's certificate must chain to the given root certificates; its host
    /// names are not checked.
    VerifyCa,
    /// TLS, the certificate must chain to the given root certificates and name the host
    /// connected to (a DNS name, or an IP address for an IP host). What to use for a managed
    /// server.
    VerifyFull,
}

impl SslMode {
    /// The value as written in a connection string (`verify-full`).
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(value: &str) -> Result<SslMode> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => {
                return Err(setting(
                    "sslmode",
                    "`allow` (plaintext first, TLS if refused) is not supported: use `prefer` \
                     (TLS first) or `disable`",
                ))
            }
            _ => {
                return Err(setting(
                    "sslmode",
                    format!(
                        "unknown value `{value}`: use disable, prefer, require, verify-ca or \
                         verify-full"
                    ),
                ))
            }
        })
    }

    /// Whether a connection without TLS is refused.
    pub(crate) fn requires_tls(self) -> bool {
        !matches!(self, SslMode::Disable | SslMode::Prefer)
    }

    /// tokio-postgres's mode: whether to ask for TLS and whether to settle for plaintext.
    pub(crate) fn driver_mode(self) -> tokio_postgres::config::SslMode {
        match self {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// PEM text held in memory or read from a file when the pool is built.
#[derive(Clone)]
pub(crate) enum Pem {
    Memory(Arc<[u8]>),
    File(PathBuf),
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::Memory(bytes) => write!(f, "Memory({} bytes)", bytes.len()),
            Pem::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

impl Pem {
    /// The PEM text; `parameter` names the setting in the error.
    pub(crate) fn read(&self, parameter: &'static str) -> Result<Arc<[u8]>> {
        match self {
            Pem::Memory(bytes) => Ok(bytes.clone()),
            Pem::File(path) => {
                std::fs::read(path)
                    .map(Arc::from)
                    .map_err(|source| Error::TlsSetting {
                        parameter,
                        reason: format!("cannot read {}", path.display()),
                        source: Some(Box::new(source)),
                    })
            }
        }
    }

    /// How an error names it: `sslrootcert /path/ca.pem`, or the builder method.
    pub(crate) fn describe(&self, parameter: &str, method: &str) -> String {
        match self {
            Pem::File(path) => format!("{parameter} {}", path.display()),
            Pem::Memory(_) => format!("the PEM given to DbBuilder::{method}"),
        }
    }
}

/// Where the root certificates come from.
#[derive(Debug, Clone)]
pub(crate) enum Roots {
    Pem(Pem),
    /// The platform's trusted roots (`sslrootcert=system`).
    System,
}

/// A client certificate chain and its private key (PEM; PKCS#8, PKCS#1 or SEC1 key).
#[derive(Debug, Clone)]
pub(crate) struct ClientCert {
    pub(crate) chain: Pem,
    pub(crate) key: Pem,
}

/// TLS settings of a [`Db`](crate::Db): libpq's `sslmode`, `sslrootcert`, `sslcert` and
/// `sslkey`, read from the connection string by [`Db::builder`](crate::Db::builder), or built
/// here for certificates held in memory and given with [`DbBuilder::tls`](crate::DbBuilder::tls).
///
/// ```
/// use pgrepo::{SslMode, TlsConfig};
/// # let ca_pem = b"-----BEGIN CERTIFICATE-----\n...".to_vec();
/// let tls = TlsConfig::new(SslMode::VerifyFull).root_cert_pem(ca_pem);
/// # let _ = tls;
/// ```
///
/// Files are read when the pool is built ([`DbBuilder::build`](crate::DbBuilder::build)), not
/// per connection: a rotated certificate takes a new `Db`.
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    mode: SslMode,
    roots: Option<Roots>,
    client_cert: Option<ClientCert>,
}

impl TlsConfig {
    /// Settings with `mode`, no root certificates and no client certificate.
    pub fn new(mode: SslMode) -> TlsConfig {
        TlsConfig {
            mode,
            ..TlsConfig::default()
        }
    }

    /// The `sslmode`.
    pub fn mode(&self) -> SslMode {
        self.mode
    }

    /// Sets the `sslmode`.
    #[must_use]
    pub fn ssl_mode(mut self, mode: SslMode) -> TlsConfig {
        self.mode = mode;
        self
    }

    /// Trusts the certificates in `pem` (one or more `BEGIN CERTIFICATE` blocks, e.g. a cloud
    /// provider's CA bundle); calling it again adds to them. Replaces a root file or the
    /// system's roots.
    #[must_use]
    pub fn root_cert_pem(mut self, pem: impl Into<Vec<u8>>) -> TlsConfig {
        let mut bytes = match self.roots {
            Some(Roots::Pem(Pem::Memory(earlier))) => earlier.to_vec(),
            _ => Vec::new(),
        };
        bytes.push(b'\n');
        bytes.extend(pem.into());
        self.roots = Some(Roots::Pem(Pem::Memory(bytes.into())));
        self
    }

    /// Trusts the certificates in the PEM file at `path` (`sslrootcert=<path>`).
    #[must_use]
    pub fn root_cert_file(mut self, path: impl Into<PathBuf>) -> TlsConfig {
        self.roots = Some(Roots::Pem(Pem::File(path.into())));
        self
    }

    /// Trusts the platform's root certificates (`sslrootcert=system`): with `tls-rustls` those
    /// rustls-native-certs finds (on Linux the OpenSSL store, `SSL_CERT_FILE`/`SSL_CERT_DIR`
    /// honoured), with `tls-native` the library's own. As in libpq, only with
    /// [`SslMode::VerifyFull`]: a public CA vouches for any name it signed.
    #[must_use]
    pub fn system_roots(mut self) -> TlsConfig {
        self.roots = Some(Roots::System);
        self
    }

    /// Presents a client certificate: `chain_pem` (the certificate, then any intermediates)
    /// and its private key `key_pem`, for servers whose `pg_hba.conf` asks for one
    /// (`clientcert=verify-ca`/`verify-full`, or `cert` authentication).
    #[must_use]
    pub fn client_cert_pem(
        mut self,
        chain_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> TlsConfig {
        self.client_cert = Some(ClientCert {
            chain: Pem::Memory(chain_pem.into().into()),
            key: Pem::Memory(key_pem.into().into()),
        });
        self
    }

    /// Presents the client certificate in the PEM file `chain` with its key in `key`
    /// (`sslcert=…&sslkey=…`).
    #[must_use]
    pub fn client_cert_files(
        mut self,
        chain: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> TlsConfig {
        self.client_cert = Some(ClientCert {
            chain: Pem::File(chain.into()),
            key: Pem::File(key.into()),
        });
        self
    }

    /// The settings a connection string asks for.
    pub(crate) fn from_parameters(parameters: &TlsParameters) -> Result<TlsConfig> {
        let mut config = TlsConfig::default();
        if let Some(mode) = &parameters.sslmode {
            config.mode = SslMode::parse(mode)?;
        }
        config.roots = parameters.sslrootcert.as_deref().map(|root| match root {
            "system" => Roots::System,
            path => Roots::Pem(Pem::File(PathBuf::from(path))),
        });
        config.client_cert =
            match (&parameters.sslcert, &parameters.sslkey) {
                (Some(chain), Some(key)) => Some(ClientCert {
                    chain: Pem::File(PathBuf::from(chain)),
                    key: Pem::File(PathBuf::from(key)),
                }),
                (None, None) => None,
                (Some(_), None) => {
                    return Err(setting(
                        "sslcert",
                        "a client certificate needs its private key: add sslkey=<key file>",
                    ))
                }
                (None, Some(_)) => return Err(setting(
                    "sslkey",
                    "a private key needs its client certificate: add sslcert=<certificate file>",
                )),
            };
        Ok(config)
    }

    /// What the settings make of the server's certificate, or why they cannot be used.
    pub(crate) fn verification(&self) -> Result<Verification> {
        match (&self.roots, self.mode) {
            (_, SslMode::Disable) => Ok(Verification::None),
            (Some(Roots::System), SslMode::VerifyFull) => Ok(Verification::ChainAndHost),
            (Some(Roots::System), mode) => Err(setting(
                "sslrootcert",
                format!(
                    "`system` trusts every public CA, which vouches for any name it signed: \
                     it needs sslmode=verify-full, not {mode} (as in libpq)"
                ),
            )),
            (None, SslMode::Prefer | SslMode::Require) => Ok(Verification::None),
            (None, mode) => Err(setting(
                "sslrootcert",
                format!(
                    "sslmode={mode} checks the server's certificate against root certificates, \
                     and none are given: add sslrootcert=<CA file> (your provider's CA bundle) \
                     or sslrootcert=system to the URL, or use DbBuilder::root_cert_pem"
                ),
            )),
            (Some(_), SslMode::VerifyFull) => Ok(Verification::ChainAndHost),
            (Some(_), _) => Ok(Verification::Chain),
        }
    }

    pub(crate) fn roots(&self) -> Option<&Roots> {
        self.roots.as_ref()
    }

    pub(crate) fn client_cert(&self) -> Option<&ClientCert> {
        self.client_cert.as_ref()
    }

    /// How a handshake error names the trusted roots.
    pub(crate) fn describe_roots(&self) -> String {
        match &self.roots {
            Some(Roots::Pem(pem)) => pem.describe("sslrootcert", "root_cert_pem"),
            Some(Roots::System) => "the system's roots (sslrootcert=system)".to_owned(),
            None => "no root certificates".to_owned(),
        }
    }
}

/// What is checked of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verification {
    /// Nothing: encrypted, not authenticated (`prefer`, `require` without roots).
    None,
    /// Its chain to the roots, not its names (`verify-ca`; `require` with roots).
    Chain,
    /// Its chain and that it names the host (`verify-full`).
    ChainAndHost,
}

pub(crate) fn setting(parameter: &'static str, reason: impl Into<String>) -> Error {
    Error::TlsSetting {
        parameter,
        reason: reason.into(),
        source: None,
    }
}

/// Which way a TLS handshake failed; see [`TlsError::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsErrorKind {
    /// The server's certificate does not chain to the trusted roots (unknown issuer, bad
    /// signature): the wrong `sslrootcert`, or not the server meant.
    UntrustedCertificate,
    /// The certificate chains to the roots but does not name the host connected to.
    HostMismatch,
    /// The certificate is expired, not yet valid, revoked or malformed.
    InvalidCertificate,
    /// Any other failure: no common protocol version or cipher, an alert from the server
    /// (e.g. it wants a client certificate), the connection closing mid-handshake.
    Handshake,
}

/// A TLS handshake with the server failed. It is the `source()` of the driver's error inside
/// [`Error::Connect`](crate::Error::Connect) (see [`Error::tls_error`](crate::Error::tls_error)),
/// and its own `source()` is the TLS library's error (with `tls-rustls`, a `rustls::Error`).
#[derive(Debug)]
pub struct TlsError {
    kind: TlsErrorKind,
    host: String,
    roots: Arc<str>,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl TlsError {
    pub(crate) fn new(
        kind: TlsErrorKind,
        host: &str,
        roots: Arc<str>,
        source: Box<dyn std::error::Error + Send + Sync>,
    ) -> TlsError {
        TlsError {
            kind,
            host: host.to_owned(),
            roots,
            source,
        }
    }

    /// Which way the handshake failed.
    pub fn kind(&self) -> TlsErrorKind {
        self.kind
    }

    /// The host name (or IP address) the certificate was checked against.
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (host, roots, source) = (&self.host, &self.roots, &self.source);
        match self.kind {
            TlsErrorKind::UntrustedCertificate => write!(
                f,
                "certificate not trusted by {roots}: the server at {host} presented a \
                 certificate that does not chain to it; give the CA that signed the server's \
                 certificate (your provider's CA bundle) as sslrootcert ({source})"
            ),
            TlsErrorKind::HostMismatch => write!(
                f,
                "certificate is not valid for host {host}: connect with a host name the \
                 certificate names, or use sslmode=verify-ca to check the chain only ({source})"
            ),
            TlsErrorKind::InvalidCertificate => write!(
                f,
                "the certificate of the server at {host} cannot be used: {source}"
            ),
            TlsErrorKind::Handshake => write!(f, "TLS handshake with {host} failed: {source}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}
