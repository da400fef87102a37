//! Integration tests against a real PostgreSQL: the project's test kit starts a throwaway
//! cluster (or uses `DATABASE_URL`); every test works in a database of its own.

mod common;

mod cancellation;
#[cfg(feature = "chrono")]
mod chrono_types;
mod commit_outcome;
mod core;
mod cursor_abuse;
mod cursor_secret;
mod decode_by_name;
#[cfg(any(
    feature = "decimal",
    feature = "cidr",
    feature = "interval",
    feature = "pgvector"
))]
mod ecosystem_types;
mod error_kinds;
mod errors;
mod insertable;
mod keyset_depth;
mod lifecycle;
mod lifetimes;
mod listing_names;
mod loaders;
mod pagination;
mod pgbouncer;
mod pool;
mod scopes;
mod seams;
mod server_faults;
mod strict;
mod tenancy;
mod tenancy_pgbouncer;
mod timeouts;
#[cfg(feature = "tls-rustls")]
mod tls;
// The platform's TLS library is used only when rustls is not built in.
#[cfg(all(feature = "tls-native", not(feature = "tls-rustls")))]
mod tls_native;
mod transactions;
mod types;
mod verify_inserts;
mod verify_tenancy;
