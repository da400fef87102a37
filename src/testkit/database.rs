//! [`TestDatabase`]: one database per test on a test server, dropped with its handle on a
//! server the kit did not start.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio_postgres::{Client, NoTls};

use super::{TestkitError, MAX_IDENTIFIER_LEN};

/// A database created by [`TestCluster::create_database`].
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub(super) name: String,
    pub(super) url: String,
    /// What [`TestDatabase::connect`] uses: `url`, or the Unix socket on a TLS-only server.
    pub(super) connect_url: String,
    pub(super) address: String,
    /// The admin URL to drop it from when it is dropped (servers the kit did not start).
    pub(super) drop_from: Option<String>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(admin_url) = self.drop_from.take() else {
            return;
        };
        let (name, address) = (self.name.clone(), self.address.clone());
        // Its own thread and runtime: this may run inside (or after) the caller's runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let admin = connect(&admin_url, &address)
                    .await
                    .map_err(|e| e.to_string())?;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(error)) | Err(error) = dropped.map_err(|_| "panicked".to_owned()) {
            tracing::warn!(database = self.name, %error, "could not drop the test database");
        }
    }
}

impl TestDatabase {
    /// Connection URL of this database (as the cluster's superuser).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Opens a connection to this database, driven by a task spawned on the current tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// [`TestkitError::Postgres`] if the connection cannot be established.
    pub async fn connect(&self) -> Result<Client, TestkitError> {
        connect(&self.connect_url, &self.address).await
    }
}

pub(super) async fn connect(url: &str, address: &str) -> Result<Client, TestkitError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|source| TestkitError::Postgres {
            action: "connecting".to_owned(),
            server: address.to_owned(),
            source,
        })?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "testkit connection ended with an error");
        }
    });
    Ok(client)
}

pub(super) fn unique_database_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let suffix = format!(
        "_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut base: String = prefix
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_') => c,
            _ => '_',
        })
        .collect();
    if base.is_empty() {
        base.push_str("test");
    }
    base.truncate(MAX_IDENTIFIER_LEN - suffix.len());
    base + &suffix
}
