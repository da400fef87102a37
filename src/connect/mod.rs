//! How a [`Db`](crate::Db) opens its connections: the connection string, split into what
//! tokio-postgres parses and the TLS parameters pgrepo reads itself (url.rs), the TLS policy
//! they ask for (tls.rs), and the library that carries it out: rustls (rustls.rs, feature
//! `tls-rustls`) or the platform's through native-tls (native.rs, feature `tls-native`, used
//! when `tls-rustls` is off). The pool (deadpool-postgres) gets the result as its manager and
//! knows nothing of TLS.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use deadpool_postgres::{ConfigConnectImpl, Manager, ManagerConfig};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::NoTls;
use tokio_postgres::Socket;

use crate::error::{Error, Result};

#[cfg(all(feature = "tls-native", not(feature = "tls-rustls")))]
mod native;
mod open;
#[cfg(feature = "tls-rustls")]
mod rustls;
mod tls;
mod url;

pub use open::ProviderError;
pub(crate) use open::{provider_failure, PasswordProvider};
pub use tls::{SslMode, TlsConfig, TlsError, TlsErrorKind};

/// The driver's settings and the TLS settings of connection string `url`.
///
/// # Errors
/// [`Error::TlsSetting`] for a bad TLS parameter, [`Error::InvalidUrl`] for the rest.
pub(crate) fn parse_url(url: &str) -> Result<(tokio_postgres::Config, TlsConfig)> {
    let parameters = url::split_tls_parameters(url);
    let tls = TlsConfig::from_parameters(&parameters)?;
    let config = parameters
        .rest
        .parse()
        .map_err(|source| Error::InvalidUrl { source })?;
    Ok((config, tls))
}

/// The pool's connection manager: `config` with `tls` applied, each connection opened with
/// the password `provider` gives, at the pace of `open`.
///
/// # Errors
/// [`Error::TlsUnavailable`] when `tls` needs TLS and no TLS feature is built in;
/// [`Error::TlsSetting`] when the settings cannot be used (files, certificates, modes).
pub(crate) fn manager(
    mut config: tokio_postgres::Config,
    tls: &TlsConfig,
    manager_config: ManagerConfig,
    provider: Option<PasswordProvider>,
) -> Result<Manager> {
    config.ssl_mode(tls.mode().driver_mode());
    if cfg!(not(any(feature = "tls-rustls", feature = "tls-native"))) && tls.mode().requires_tls() {
        return Err(Error::TlsUnavailable {
            sslmode: tls.mode(),
        });
    }
    let verification = tls.verification()?;
    if tls.mode() == SslMode::Disable {
        return Ok(open_with(config, NoTls, manager_config, provider));
    }
    #[cfg(feature = "tls-rustls")]
    let manager = open_with(
        config,
        rustls::make_connect(tls, verification)?,
        manager_config,
        provider,
    );
    #[cfg(all(feature = "tls-native", not(feature = "tls-rustls")))]
    let manager = open_with(
        config,
        native::make_connect(tls, verification)?,
        manager_config,
        provider,
    );
    // `prefer` without a TLS library: plaintext, as a libpq built without SSL.
    #[cfg(not(any(feature = "tls-rustls", feature = "tls-native")))]
    let manager = {
        let _ = verification;
        open_with(config, NoTls, manager_config, provider)
    };
    Ok(manager)
}

/// A manager opening connections over `tls` (see `open`).
fn open_with<T>(
    config: tokio_postgres::Config,
    tls: T,
    manager_config: ManagerConfig,
    provider: Option<PasswordProvider>,
) -> Manager
where
    T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
    T::Stream: Sync + Send,
    T::TlsConnect: Sync + Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    Manager::from_connect(
        config,
        open::Open::new(ConfigConnectImpl { tls }, provider),
        manager_config,
    )
}

/// What a backend's handshake error is: its kind and the error to keep as source.
type Classify =
    fn(Box<dyn StdError + Send + Sync>) -> (TlsErrorKind, Box<dyn StdError + Send + Sync>);

/// A backend's handshake whose failure becomes a [`TlsError`] naming the host and the roots.
#[cfg_attr(
    not(any(feature = "tls-rustls", feature = "tls-native")),
    allow(dead_code)
)]
pub(crate) struct Handshake<T> {
    inner: T,
    host: String,
    roots: Arc<str>,
    classify: Classify,
}

impl<S, T> TlsConnect<S> for Handshake<T>
where
    T: TlsConnect<S>,
    T::Future: Send + 'static,
{
    type Stream = T::Stream;
    type Error = TlsError;
    type Future = Pin<Box<dyn Future<Output = Result<T::Stream, TlsError>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let Handshake {
            inner,
            host,
            roots,
            classify,
        } = self;
        let handshake = inner.connect(stream);
        Box::pin(async move {
            handshake.await.map_err(|error| {
                let (kind, source) = classify(error.into());
                TlsError::new(kind, &host, roots, source)
            })
        })
    }
}

#[cfg(test)]
mod tests;
