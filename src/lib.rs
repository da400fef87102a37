//! # pgrepo
//!
//! Typed, fast, safe PostgreSQL repositories. Derive [`Entity`] on a struct and get a
//! repository of static, prepared statements whose parameter types come from the Rust field
//! types: prepared once per connection, never re-parsed, never casting an indexed column.
//!
//! ```no_run
//! use pgrepo::prelude::*; // Db, Entity, and the Executor methods every scope shares
//!
//! #[derive(Debug, Entity)]
//! #[pgrepo(table = "users")]
//! struct User {
//!     #[pgrepo(id, generated)]
//!     id: i64,
//!     #[pgrepo(unique)]
//!     email: String,
//!     name: String,
//!     hair_color: Option<String>,
//! }
//!
//! # async fn demo() -> Result<(), pgrepo::Error> {
//! let db = Db::connect("postgres://postgres@localhost/app").await?;
//! db.verify::<User>().await?; // the table matches the struct, or every mismatch is listed
//! let users = db.repo::<User>();
//! let ada = users
//!     .insert(&NewUser { email: "ada@example.com".into(), name: "Ada".into(), hair_color: None })
//!     .await?;
//! assert_eq!(users.get(ada.id).await?.map(|u| u.name), Some("Ada".to_owned()));
//! let by_email = users.find_one_by(User::EMAIL, "ada@example.com".to_owned()).await?;
//! # let _ = by_email;
//! # Ok(()) }
//! ```
//!
//! | feature | what | where |
//! | --- | --- | --- |
//! | one set of methods for every scope | `repo`, `loader`, `strict`, `query`, `query_as`, `execute`, `batch_execute` on a `Db`, a `Tx` or a `Strict` scope | [`Executor`], [`prelude`] |
//! | prepared-statement repositories | CRUD, lookups, `insert_many` in one statement, upsert, typed raw SQL that says whether it reads | [`Repo`], [`Executor::query_as`], [`Sql`] |
//! | hand-written SQL decoded by column name | entities (`SELECT *` in any column order), joins of entities, scalars and tuples; mismatches named before any row is decoded | [`Executor::query_as`], [`Entity::select_list`], [`FromRow`] |
//! | inserts from your own types | a request body or borrowed view inserts without copying, fields checked at compile time | `#[derive(Insertable)]`, [`Insertable`] |
//! | connection handling | autocommit statements keep their connection between statements and pipeline when the pool is saturated; transactions get their own | [`DbBuilder`], [`Db::status`] |
//! | transactions | statements in one transaction, committed or rolled back as a whole; `BEGIN` pipelined with the first statement; isolation, read-only, a prelude; rolled back whatever future is dropped; an aborted one refuses to commit | [`Db::begin`], [`Db::transaction`], [`TxOptions`], [`Tx`] |
//! | statement modes | prepared once per connection, or unnamed (nothing kept on the server) | [`StatementMode`], [`DbBuilder::statement_mode`] |
//! | keyset pagination | pages after/before cursors (encrypted with a secret, only signed and readable without one), same cost at any depth; equality filters; streaming export; index advice | [`Repo::list`], [`Listing`], [`DbBuilder::cursor_secret`] |
//! | batched loaders | concurrent `load(key)` calls become one `= ANY($1)` statement; relations load one statement per level | [`Loader`], [`LookupLoader`], [`Repo::grouped`] |
//! | strict mode | a lookup by one key (`get`, `find_by` on a foreign key, …) run for more different keys than a limit in one scope is an N+1 error or warning; optionally any read | [`Strict`] |
//! | schema verification | every mismatch between structs and tables at once, including inserts that cannot succeed and a `PgEnum`'s labels | [`Db::verify`], [`Mismatch`] |
//! | schema-change safety | statements invalidated by `ALTER TABLE` are re-prepared, not failed | (automatic) |
//! | typed errors | unique / foreign-key / NOT NULL / CHECK violations, serialization failures and deadlocks (`is_retryable`), lock and statement timeouts, pool and connect timeouts, aborted transactions, commits of unknown outcome, not found; causes kept, server messages and SQLSTATE shown | [`Error`] |
//! | TLS to managed servers | libpq's `sslmode` (up to `verify-full`), `sslrootcert` (a file or `system`), `sslcert`/`sslkey` read from the URL; in-memory certificates; refusals that say what to fix | [`DbBuilder::tls`], [`TlsConfig`], [`Error::tls_error`] |
//! | test kit (feature `testkit`) | a throwaway PostgreSQL from the system's binaries, optionally TLS-only with its own CA | `testkit` |
//! | truthful types | built-in types declared by OID; enums, domains, `citext`, `vector` typed by the server from the column (no cast, the column's operators and index); arrays (`Vec<T>`), also in `insert_many`; a field bound as `text` on an enum or `citext` column reported by `verify` | [`SqlType`], [`ParamType`], `#[derive(PgEnum)]`, `#[pgrepo(sql_type = "...")]` |
//!
//! Cargo features (the types are the crates' own codecs; pgrepo only declares them):
//!
//! | feature | default | adds |
//! | --- | --- | --- |
//! | `uuid` | yes | `uuid::Uuid` (`uuid`) |
//! | `json` | yes | `serde_json::Value`, [`Json<T>`] (`jsonb`) |
//! | `time` | yes | `time` dates and times |
//! | `chrono` | | `chrono` dates and times |
//! | `decimal` | | `rust_decimal::Decimal` (`numeric`) |
//! | `cidr` | | `cidr::IpInet` (`inet`), `cidr::IpCidr` (`cidr`); `std::net::IpAddr` (`inet`) needs no feature |
//! | `interval` | | `pg_interval::Interval` (`interval`) |
//! | `pgvector` | | `pgvector::Vector` (`vector`), `pgvector::SparseVector` (`sparsevec`) |
//! | `tls-rustls` | yes | TLS through rustls (ring); `sslrootcert=system` through rustls-native-certs |
//! | `tls-native` | | TLS through the platform's library (native-tls), when `tls-rustls` is off |
//! | `testkit` | | `testkit`: throwaway PostgreSQL servers |
//!
//! How a call travels through the library: `ARCHITECTURE.md` at the repository's root.
//!
//! Each statement runs in a `tracing` span `pgrepo.statement` with the statement's label, table,
//! row count and duration.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
// On docs.rs (nightly, `--cfg docsrs`): items behind a feature say which one.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod connect;
mod db;
mod entity;
mod error;
mod exec;
mod listing;
mod loader;
mod pool;
mod repo;
mod row;
mod scope;
mod sql;
mod sql_type;
mod strict;
mod tenant;
mod timeouts;
mod tx;
mod verify;

#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;

/// The derives and the [`Executor`] trait, whose methods every scope (`Db`, `Tx`, `Strict`)
/// shares: `use pgrepo::prelude::*;`.
pub mod prelude {
    pub use crate::{Db, Entity, Executor, Insertable, PgEnum, Sql, TextEnum, Tx};
}

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use connect::{ProviderError, SslMode, TlsConfig, TlsError, TlsErrorKind};
pub use db::{Db, DbBuilder};
pub use entity::{ColumnDef, Direction, Entity, Insertable, Lookup, Upsertable};
pub use error::{CancelReason, Error, LockWait, Result};
pub use exec::{Executor, Params, Settings, StatementMode};
pub use listing::cursor::{Cursor, MAX_CURSOR_LEN};
pub use listing::{
    IndexAdvice, Listing, Page, SortKey, DEFAULT_MAX_EXPORT_BATCH, DEFAULT_MAX_PAGE_SIZE,
    PAGE_SIZE_CEILING,
};
pub use loader::{Loader, LoaderConfig, LookupLoader};
pub use pool::{Holder, PoolStatus};
pub use repo::relation::BelongsTo;
pub use repo::Repo;
pub use row::{FromRow, SelectList};
pub use scope::Scope;
pub use sql::raw::Sql;
pub use sql::{Access, Keyed, Shape, Statement};
pub use sql_type::{ParamType, SqlType};
pub use strict::{OnNPlusOne, StatementCount, Strict, DEFAULT_N_PLUS_ONE_LIMIT};
pub use tenant::{TenantId, DEFAULT_TENANT_SETTING, MAX_TENANT_ID_LEN};
pub use timeouts::Timeouts;
pub use tx::{Isolation, Tx, TxOptions};
pub use verify::{EntitySet, InsertFailure, Mismatch, SchemaReport, TenantProtection};

pub use pgrepo_derive::{Entity, Insertable, PgEnum, TextEnum};

/// The driver, re-exported so applications use the version pgrepo was built with.
pub use tokio_postgres;

/// The pool, re-exported so applications use the version pgrepo was built with.
pub use deadpool_postgres;

#[cfg(feature = "json")]
pub use tokio_postgres::types::Json;
