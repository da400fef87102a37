//! Where the benchmarked PostgreSQL comes from.
//!
//! One function, [`start_database`], decides it for the whole run, so switching from a server
//! started by hand to pgrepo's test kit changes this file only.

use crate::Result;

/// A database the whole run uses; dropping it may drop the database (test kit), so the suite
/// keeps it alive until the end.
pub struct Database {
    url: String,
    /// What keeps a test-kit database alive; `None` for `DATABASE_URL`.
    _guard: Option<Box<dyn std::any::Any>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Database {
    /// Connection URL (`postgres://…`) every implementation connects with.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// The PostgreSQL for this run: `DATABASE_URL` if it is set, otherwise a throwaway server.
///
/// The throwaway server comes from pgrepo's test kit
/// (`pgrepo::testkit::TestCluster::shared()?.create_database("bench")`), which needs the `pgrepo`
/// dependency in `benches/Cargo.toml`. Until that dependency is enabled, `DATABASE_URL` is
/// required; README.md shows how to start a server by hand.
///
/// # Errors
/// When `DATABASE_URL` is unset and no test kit is available, or the test kit fails.
pub async fn start_database() -> Result<Database> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return Ok(Database { url, _guard: None });
    }
    // With the `pgrepo` dependency enabled, replace this error with:
    //     let cluster = pgrepo::testkit::TestCluster::shared()?;
    //     let database = cluster.create_database("bench").await?;
    //     return Ok(Database { url: database.url(), _guard: Some(Box::new(database)) });
    Err("DATABASE_URL is not set and the pgrepo test kit is not enabled in benches/Cargo.toml; \
         start a PostgreSQL as README.md shows and set DATABASE_URL=postgres://…"
        .into())
}
