//! [`DbBuilder`]: the settings of a [`Db`] (pool size and waits, TLS, timeouts, connection
//! lifetimes and hooks, statement mode, cursor secret), and how `build` turns them into a pool.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Hook, HookError, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::future::BoxFuture;

use crate::connect::{PasswordProvider, ProviderError, SslMode, TlsConfig};
use crate::error::{Error, Result};
use crate::exec::{Settings, StatementMode};
use crate::pool::{spawn_reaper, Connections, Lifetime, LifetimeSettings};
use crate::timeouts::Timeouts;

use super::{Db, DbInner};
#[cfg(doc)]
use crate::TxOptions;

/// Run on each new connection before it serves anyone ([`DbBuilder::after_connect`]).
pub(super) type AfterConnect = Arc<
    dyn for<'c> Fn(&'c tokio_postgres::Client) -> BoxFuture<'c, Result<(), tokio_postgres::Error>>
        + Send
        + Sync,
>;

/// What runs when a connection opens: the caller's code, shown in `Debug` as set or not.
#[derive(Clone, Default)]
pub(super) struct OnConnect {
    pub(super) after_connect: Option<AfterConnect>,
    pub(super) password_provider: Option<PasswordProvider>,
}

impl fmt::Debug for OnConnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnConnect")
            .field("after_connect", &self.after_connect.is_some())
            .field("password_provider", &self.password_provider.is_some())
            .finish()
    }
}

/// Settings of a [`Db`]; start from [`Db::builder`].
#[derive(Debug, Clone)]
pub struct DbBuilder {
    pub(super) config: tokio_postgres::Config,
    pub(super) tls: TlsConfig,
    pub(super) max_size: usize,
    pub(super) wait_timeout: Duration,
    pub(super) connect_timeout: Duration,
    pub(super) pipelining: bool,
    pub(super) hold_warning: Option<Duration>,
    pub(super) timeouts: Timeouts,
    pub(super) settings: Settings,
    pub(super) lifetime: LifetimeSettings,
    pub(super) on_connect: OnConnect,
}

impl DbBuilder {
    /// How long a connection may live before it is replaced (default: 30 min; `None`: for
    /// ever). A connection past it is closed instead of being handed out, and one serving
    /// autocommit statements is closed when its last running statement ends, so a busy service
    /// rotates its connections too; callers never see it. Keeps sessions from outliving a
    /// failover, a DNS change or a server's memory growth.
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.lifetime.max_lifetime = lifetime;
        self
    }

    /// How long a connection may stay idle before it is closed (default: 10 min; `None`:
    /// never), down to [`DbBuilder::min_idle`]. Checked in the background, a few times per
    /// timeout; also for connections kept for autocommit statements.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.lifetime.idle_timeout = timeout;
        self
    }

    /// How many idle connections to keep open (default: 0): idle ones are not closed below
    /// it, and new ones are opened in the background (within [`DbBuilder::max_size`]) when
    /// fewer are idle, e.g. after a server restart, so the next burst does not wait for
    /// connects.
    pub fn min_idle(mut self, min_idle: usize) -> Self {
        self.lifetime.min_idle = min_idle;
        self
    }

    /// Runs `hook` on each new connection before it serves anyone, e.g. to set the session
    /// up. If it fails, the connection is closed and the caller waiting for it gets
    /// [`Error::Pool`] whose source (the pool's `PostCreateHook` error) holds the hook's error
    /// ([`Error::code`] reads its SQLSTATE).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), pgrepo::Error> {
    /// let db = pgrepo::Db::builder("postgres://app@db/app")?
    ///     .after_connect(|client| {
    ///         Box::pin(async move { client.batch_execute("SET search_path = app, public").await })
    ///     })
    ///     .connect()
    ///     .await?;
    /// # let _ = db; Ok(()) }
    /// ```
    pub fn after_connect<F>(mut self, hook: F) -> Self
    where
        F: for<'c> Fn(
                &'c tokio_postgres::Client,
            ) -> BoxFuture<'c, Result<(), tokio_postgres::Error>>
            + Send
            + Sync
            + 'static,
    {
        self.on_connect.after_connect = Some(Arc::new(hook));
        self
    }

    /// Asks `provider` for the password of each new connection, replacing the URL's: rotated
    /// passwords, short-lived tokens (AWS RDS IAM, Azure AD). Called once per connection
    /// opened, never for a connection reused. If it fails, no connection is attempted and the
    /// caller gets [`Error::Credentials`] with the provider's error as source.
    ///
    /// ```no_run
    /// # async fn fetch_token() -> Result<String, pgrepo::ProviderError> { Ok(String::new()) }
    /// # async fn demo() -> Result<(), pgrepo::Error> {
    /// let db = pgrepo::Db::builder("postgres://app@db/app")?
    ///     .password_provider(fetch_token)
    ///     .connect()
    ///     .await?;
    /// # let _ = db; Ok(()) }
    /// ```
    pub fn password_provider<F, Fut>(mut self, provider: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<String, ProviderError>> + Send + 'static,
    {
        self.on_connect.password_provider = Some(Arc::new(move || Box::pin(provider())));
        self
    }

    /// Maximum number of connections (default: 16).
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }

    /// How long a statement waits for a free connection before failing with
    /// [`Error::PoolTimeout`] (default: 5 s).
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Whether autocommit statements, when every connection is busy, are pipelined on the
    /// least busy connection already running autocommit statements instead of waiting for a
    /// free one (default: on). Transactions always get a connection of their own.
    pub fn pipelining(mut self, pipelining: bool) -> Self {
        self.pipelining = pipelining;
        self
    }

    /// The secret every listing of this `Db` (and of its transactions) encrypts its cursors
    /// with, so that clients can neither read the sort values in a cursor nor alter or forge
    /// one (XChaCha20-Poly1305, under a key derived from the secret with HMAC-SHA256). Use a
    /// random secret of 32 bytes or more, the same on every instance that serves the same
    /// clients. A listing's own [`Listing::secret`](crate::Listing::secret) takes precedence.
    ///
    /// **Set it.** Without a secret (here or on the listing), cursors are only signed, with a
    /// key built into pgrepo: their sort values are readable base64 (a customer's email, when
    /// listing by email, ends up in URLs and logs), and anyone who reads pgrepo's source can
    /// forge one. pgrepo warns (`tracing`) the first time it issues such a cursor.
    ///
    /// Cursors issued without a secret are refused by listings with one, and the other way
    /// round (`Error::InvalidCursor` says so): setting a secret on a running service sends
    /// clients that are mid-walk back to the first page, once.
    pub fn cursor_secret(mut self, secret: impl Into<Arc<[u8]>>) -> Self {
        self.settings.cursor_secret = Some(crate::listing::cursor::CursorKey::new(secret.into()));
        self
    }

    /// How statements reach the server (default: [`StatementMode::Prepared`], prepared once
    /// per connection). [`StatementMode::Unnamed`] sends each statement unnamed with its
    /// parameter types, as connection poolers in transaction mode need.
    pub fn statement_mode(mut self, mode: StatementMode) -> Self {
        self.settings.statement_mode = mode;
        self
    }

    /// How long a transaction may hold its connection before pgrepo logs a warning naming where
    /// it was borrowed (and another when it comes back); `None` turns the warnings off
    /// (default: 10 s). Where each current holder borrowed its connection is also what
    /// [`Error::PoolTimeout`] reports.
    pub fn hold_warning(mut self, threshold: Option<Duration>) -> Self {
        self.hold_warning = threshold;
        self
    }

    /// The statement, lock-wait and idle-in-transaction timeouts of every connection (default:
    /// [`Timeouts::default`]: 30 s, 10 s, 60 s; [`Timeouts::none`] leaves the server's). Sent
    /// as startup options, so they cost no round trip; a transaction overrides them for itself
    /// with [`TxOptions::timeouts`]. A statement they cancel fails with
    /// [`Error::QueryCanceled`] or [`Error::LockNotAvailable`] saying which fired.
    ///
    /// With [`StatementMode::Unnamed`] (a pooler in transaction mode, which refuses startup
    /// options and shares server sessions) they are set in each transaction instead
    /// (`SET LOCAL`); autocommit statements then run under the server's settings.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The `application_name` every connection reports (`pg_stat_activity`, the server log):
    /// name your service, so that a DBA can tell its sessions apart (default: the URL's, else
    /// `pgrepo`).
    pub fn application_name(mut self, name: &str) -> Self {
        self.config.application_name(name);
        self
    }

    /// How long opening a connection may take (default: 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The TLS settings, replacing those of the connection string (`sslmode`, `sslrootcert`,
    /// `sslcert`, `sslkey`): for certificates held in memory.
    ///
    /// ```no_run
    /// # async fn demo(ca_pem: Vec<u8>) -> Result<(), pgrepo::Error> {
    /// use pgrepo::{Db, SslMode, TlsConfig};
    /// let db = Db::builder("postgres://app@db.example.com/app")?
    ///     .tls(TlsConfig::new(SslMode::VerifyFull).root_cert_pem(ca_pem))
    ///     .connect()
    ///     .await?;
    /// # let _ = db; Ok(()) }
    /// ```
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// Sets the `sslmode`, keeping the other TLS settings.
    pub fn ssl_mode(mut self, mode: SslMode) -> Self {
        self.tls = self.tls.ssl_mode(mode);
        self
    }

    /// Trusts the root certificates in `pem` (see [`TlsConfig::root_cert_pem`]).
    pub fn root_cert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls = self.tls.root_cert_pem(pem);
        self
    }

    /// Presents a client certificate (see [`TlsConfig::client_cert_pem`]).
    pub fn client_cert_pem(
        mut self,
        chain_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls = self.tls.client_cert_pem(chain_pem, key_pem);
        self
    }

    /// The TLS settings, as read from the connection string and changed since.
    pub fn tls_config(&self) -> &TlsConfig {
        &self.tls
    }

    /// The setting tenant scopes put the tenant id into (default
    /// [`DEFAULT_TENANT_SETTING`](crate::DEFAULT_TENANT_SETTING), `pgrepo.tenant`): the name
    /// your row-level security policies read with `current_setting(name, true)`. A custom
    /// setting's name needs a dot (`app.tenant_id`).
    pub fn tenant_setting(mut self, name: impl Into<String>) -> Self {
        self.settings.tenant_setting = Some(name.into().into());
        self
    }

    /// Builds the pool and opens one connection to check the settings.
    ///
    /// # Errors
    /// [`Error::Connect`] when the server cannot be reached, refuses the login or the TLS
    /// handshake fails ([`Error::tls_error`] says how); [`Error::ConnectTimeout`] when it does
    /// not answer within the connect timeout; as [`DbBuilder::build`] when the settings are
    /// invalid.
    pub async fn connect(self) -> Result<Db> {
        let db = self.build()?;
        drop(db.connection(Location::caller()).await?);
        Ok(db)
    }

    /// Builds the pool without connecting; connections open on first use.
    ///
    /// # Errors
    /// [`Error::PoolBuild`] when the settings are invalid; [`Error::TlsSetting`] when the TLS
    /// settings cannot be used (a file that cannot be read, no root certificates for
    /// `verify-full`); [`Error::TlsUnavailable`] when they require TLS in a build without a
    /// TLS feature.
    pub fn build(mut self) -> Result<Db> {
        if self.settings.statement_mode == StatementMode::Unnamed {
            self.settings.tx_timeouts = Some(self.timeouts);
        } else if let Some(options) = self.timeouts.startup_options(self.config.get_options()) {
            self.config.options(options);
        }
        let manager = crate::connect::manager(
            self.config,
            &self.tls,
            ManagerConfig {
                // Fast recycling keeps each connection's prepared statements; `Tx` never returns
                // a connection with an open transaction to the pool. A closed connection is
                // still found (`is_closed`) and replaced.
                recycling_method: RecyclingMethod::Fast,
            },
            self.on_connect.password_provider,
        )?;
        let lifetime = Lifetime::new(self.lifetime);
        let mut pool = Pool::builder(manager)
            .max_size(self.max_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.wait_timeout))
            .create_timeout(Some(self.connect_timeout))
            .recycle_timeout(Some(self.connect_timeout))
            .pre_recycle(lifetime.pre_recycle_hook());
        if let Some(hook) = self.on_connect.after_connect {
            pool = pool.post_create(Hook::async_fn(move |client, _| {
                let hook = Arc::clone(&hook);
                Box::pin(async move { hook(client).await.map_err(HookError::Backend) })
            }));
        }
        if self.settings.statement_mode == StatementMode::Unnamed {
            // Behind a pooler in transaction mode: the driver must never look a type up later
            // (after `after_connect`, which may set the search path).
            pool = pool.post_create(Hook::async_fn(crate::exec::learn_types_hook));
        }
        let pool = pool.build().map_err(|source| Error::PoolBuild { source })?;
        let db = Db::with_connections(
            Connections::new(pool, self.pipelining, self.hold_warning, lifetime),
            self.settings,
        );
        if let Some(interval) = self.lifetime.reap_interval() {
            spawn_reaper(Arc::downgrade(&db.inner), interval, |inner: &DbInner| {
                Box::pin(inner.connections.maintain())
            });
        }
        Ok(db)
    }
}
