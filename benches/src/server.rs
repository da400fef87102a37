//! Where the benchmarked PostgreSQL comes from.
//!
//! One function, [`start_database`], decides it for the whole run: `DATABASE_URL` if set,
//! otherwise pgrepo's test kit starts a throwaway server.

use crate::Result;
use pgrepo::Executor as _;

/// The database the whole run uses, kept alive (with whatever owns it) until the end.
pub struct Database {
    url: String,
    /// The test kit's handle of the database; `None` for `DATABASE_URL`.
    _guard: Option<Box<dyn std::any::Any>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Connection URL (`postgres://…`) every implementation connects with.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// The PostgreSQL for this run: `DATABASE_URL` if it is set, otherwise a throwaway server from
/// pgrepo's test kit (`pgrepo::testkit::TestCluster::shared()`, started from the system's
/// PostgreSQL binaries and removed when the process exits) with a fresh database `bench_…`.
///
/// # Errors
/// When the test kit cannot start a server or create the database.
pub async fn start_database() -> Result<Database> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        if !url.trim().is_empty() {
            return Ok(Database { url, _guard: None });
        }
    }
    // Blocks this thread for a few seconds on the first call; nothing else runs yet.
    let cluster = pgrepo::testkit::TestCluster::shared()?;
    let database = cluster.create_database("bench").await?;
    Ok(Database {
        url: database.url(),
        _guard: Some(Box::new(database)),
    })
}

/// For the pgrepo-only benches: a current-thread runtime, the run's database, a pgrepo `Db` on
/// it, and `schema` (`;`-separated statements) applied.
///
/// # Panics
/// When the runtime, the database or the schema cannot be set up: a bench cannot run then.
pub fn pgrepo_setup(schema: &str) -> (tokio::runtime::Runtime, Database, pgrepo::Db) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (database, db) = runtime.block_on(async {
        let database = start_database().await.expect("database");
        let db = pgrepo::Db::connect(database.url()).await.expect("connect");
        db.batch_execute(schema).await.expect("schema");
        (database, db)
    });
    (runtime, database, db)
}
