//! Opening each new connection: the password asked of a provider for each one (rotated
//! passwords, IAM tokens), and a pace for attempts while the server refuses them.
//!
//! This is the pool's `Connect` (deadpool-postgres's seam for how a connection is made); the
//! TLS connector it wraps comes from the module above, so TLS works as without it.
//!
//! **Pace.** After a failed attempt (the server restarting, unreachable), further attempts are
//! spaced out, 50 ms after the first failure doubling to 1 s, for the whole pool: callers wait
//! for their turn (within the connect timeout) instead of each retrying at once, so a pool
//! under load makes a handful of attempts per second, not thousands, and the first success ends
//! the waiting.
//!
//! **Provider failures.** deadpool-postgres only carries the driver's error out of a connect,
//! which has no public constructor. A provider's error is therefore handed to the driver as the
//! I/O failure of a stream that fails at once (nothing reaches the network), and taken back out
//! of it by [`provider_failure`], so the caller gets [`Error::Credentials`] with the provider's
//! own error as source.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use deadpool_postgres::Connect;
use futures_util::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio_postgres::{Client, Config, NoTls};

use crate::error::Error;

/// A boxed error of a password provider.
pub type ProviderError = Box<dyn std::error::Error + Send + Sync>;

/// Asked for the password of each new connection
/// ([`DbBuilder::password_provider`](crate::DbBuilder::password_provider)).
pub(crate) type PasswordProvider =
    Arc<dyn Fn() -> BoxFuture<'static, Result<String, ProviderError>> + Send + Sync>;

/// The first pause after a failed attempt, and the longest.
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// How the pool opens a connection: `inner` (the TLS connector's), with the provider's
/// password and at the pace of [`Pace`].
pub(crate) struct Open<C> {
    inner: C,
    provider: Option<PasswordProvider>,
    pace: Pace,
}

impl<C> Open<C> {
    pub(crate) fn new(inner: C, provider: Option<PasswordProvider>) -> Self {
        Open {
            inner,
            provider,
            pace: Pace::default(),
        }
    }
}

impl<C: Connect> Connect for Open<C> {
    fn connect(
        &self,
        pg_config: &Config,
    ) -> BoxFuture<'_, Result<(Client, tokio::task::JoinHandle<()>), tokio_postgres::Error>> {
        let pg_config = pg_config.clone();
        Box::pin(async move {
            self.pace.turn().await;
            let result = match &self.provider {
                None => self.inner.connect(&pg_config).await,
                Some(provider) => match provider().await {
                    Ok(password) => {
                        let mut config = pg_config;
                        config.password(password);
                        self.inner.connect(&config).await
                    }
                    Err(error) => Err(carry(error).await),
                },
            };
            self.pace.record(result.is_ok());
            result
        })
    }
}

/// The pace of attempts, shared by the whole pool.
#[derive(Default)]
struct Pace {
    state: Mutex<PaceState>,
    recovered: Notify,
}

#[derive(Default)]
struct PaceState {
    /// Failed attempts since the last success.
    failures: u32,
    /// When the next attempt may start (while `failures > 0`).
    next: Option<Instant>,
}

impl Pace {
    fn pause(failures: u32) -> Duration {
        FIRST_PAUSE
            .saturating_mul(1 << failures.saturating_sub(1).min(8))
            .min(LONGEST_PAUSE)
    }

    /// Waits until this caller may attempt: at once while attempts succeed; else one caller
    /// per pause, or as soon as another caller's attempt succeeds.
    async fn turn(&self) {
        loop {
            let wait = {
                let mut state = lock(&self.state);
                let now = Instant::now();
                match state.next {
                    _ if state.failures == 0 => return,
                    Some(next) if next > now => next - now,
                    _ => {
                        state.next = Some(now + Pace::pause(state.failures));
                        return;
                    }
                }
            };
            // Woken when the pause ends or another caller's attempt succeeds.
            let _ = tokio::time::timeout(wait, self.recovered.notified()).await;
        }
    }

    fn record(&self, succeeded: bool) {
        let mut state = lock(&self.state);
        if succeeded {
            let was_failing = state.failures > 0;
            *state = PaceState::default();
            drop(state);
            if was_failing {
                self.recovered.notify_waiters();
            }
        } else {
            state.failures = state.failures.saturating_add(1);
            let next = Instant::now() + Pace::pause(state.failures);
            state.next = Some(state.next.map_or(next, |n| n.max(next)));
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The provider's error, marked so that [`provider_failure`] finds it in the driver's.
#[derive(Debug)]
struct ProviderFailed(ProviderError);

impl fmt::Display for ProviderFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the password provider failed: {}", self.0)
    }
}

impl std::error::Error for ProviderFailed {}

/// A driver error carrying `error`: the startup of a connection over a stream that fails its
/// first write with it (nothing reaches the network).
async fn carry(error: ProviderError) -> tokio_postgres::Error {
    let mut config = Config::new();
    config.user("pgrepo");
    config.ssl_mode(tokio_postgres::config::SslMode::Disable);
    let stream = FailingStream(Some(std::io::Error::other(ProviderFailed(error))));
    match config.connect_raw(stream, NoTls).await {
        Err(error) => error,
        Ok(_) => unreachable!("a stream that fails every write never completes a startup"),
    }
}

/// [`Error::Credentials`] when the driver's error carries a provider's failure ([`carry`]);
/// else the error back.
pub(crate) fn provider_failure(
    error: tokio_postgres::Error,
) -> Result<Error, tokio_postgres::Error> {
    let carries = std::error::Error::source(&error)
        .and_then(|cause| cause.downcast_ref::<std::io::Error>())
        .and_then(std::io::Error::get_ref)
        .is_some_and(|inner| inner.is::<ProviderFailed>());
    if !carries {
        return Err(error);
    }
    let failed = error
        .into_source()
        .and_then(|cause| cause.downcast::<std::io::Error>().ok())
        .and_then(|io| io.into_inner())
        .and_then(|inner| inner.downcast::<ProviderFailed>().ok())
        .expect("checked above");
    Ok(Error::Credentials { source: failed.0 })
}

/// A stream whose first write fails with its error, and every later one with "closed".
struct FailingStream(Option<std::io::Error>);

impl FailingStream {
    fn fail(&mut self) -> std::io::Error {
        self.0
            .take()
            .unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::NotConnected))
    }
}

impl AsyncRead for FailingStream {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(Err(self.get_mut().fail()))
    }
}

impl AsyncWrite for FailingStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Err(self.get_mut().fail()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Err(self.get_mut().fail()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_providers_error_comes_back_out_of_the_drivers() {
        let driver = carry("token service down".into()).await;
        match provider_failure(driver) {
            Ok(Error::Credentials { source }) => {
                assert_eq!(source.to_string(), "token service down")
            }
            other => panic!("expected Credentials, got {other:?}"),
        }
        let unrelated = "postgres://host:notaport/db"
            .parse::<Config>()
            .expect_err("an invalid port");
        assert!(provider_failure(unrelated).is_err());
    }

    #[test]
    fn pauses_double_from_50_ms_to_1_s() {
        let ms = |failures| Pace::pause(failures).as_millis();
        assert_eq!(
            [ms(1), ms(2), ms(3), ms(5), ms(6), ms(40)],
            [50, 100, 200, 800, 1000, 1000]
        );
    }
}
