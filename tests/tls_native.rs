//! TLS through the platform's library (feature `tls-native` without `tls-rustls`: OpenSSL on
//! Linux) against the test kit's TLS-only server: `verify-full` connects with the right root,
//! the wrong root and the wrong host name are refused with the library's reason kept, and a
//! client certificate (PKCS#8 key) authenticates its user. native-tls does not say why a
//! handshake failed in a form that can be matched, so every refusal is
//! `TlsErrorKind::Handshake` with OpenSSL's verification result in the message.
//!
//! Run with `cargo test --test integration --no-default-features
//! --features uuid,json,time,tls-native tls_native`.

use std::sync::OnceLock;

use pgrepo::testkit::{ClusterOptions, TestCluster, TestDatabase, CLIENT_CERT_USER};
use pgrepo::{Db, Error, Executor, TlsErrorKind};

fn cluster() -> &'static TestCluster {
    static CLUSTER: OnceLock<TestCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        // The system's PostgreSQL, as in tls.rs: the second installation CI uses has no SSL.
        let options = ClusterOptions::default()
            .tls_only()
            .without_pg_stat_statements();
        TestCluster::start(options).expect("TLS-only test cluster")
    })
}

async fn database(prefix: &str) -> TestDatabase {
    cluster().create_database(prefix).await.expect("database")
}

/// `postgres://{user}@{host}:{port}/{db}?{query}`.
fn url(user: &str, host: &str, database: &TestDatabase, query: &str) -> String {
    format!(
        "postgres://{user}@{host}:{}/{}?{query}",
        cluster().port(),
        database.name()
    )
}

fn ca() -> String {
    cluster()
        .tls()
        .expect("TLS files")
        .ca_cert()
        .display()
        .to_string()
}

async fn uses_tls(db: &Db) -> bool {
    db.query(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )
    .await
    .expect("pg_stat_ssl")[0]
        .get(0)
}

/// The refusal, checked to be a TLS handshake failure at `host` whose message has `reason`.
async fn refused_handshake(url: &str, host: &str, reason: &str) {
    let error = Db::connect(url).await.expect_err("refused");
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    let tls = error.tls_error().expect("a TLS error");
    assert_eq!(tls.kind(), TlsErrorKind::Handshake, "{error}");
    assert_eq!(tls.host(), host);
    let text = error.to_string();
    assert!(
        text.contains(&format!("TLS handshake with {host} failed")) && text.contains(reason),
        "{text}"
    );
}

#[tokio::test]
async fn tls_native_verify_full_connects_and_refuses_the_wrong_root_or_host() {
    let database = database("tls_native").await;
    let verify_full = format!("sslmode=verify-full&sslrootcert={}", ca());
    let db = Db::connect(&url("postgres", "127.0.0.1", &database, &verify_full))
        .await
        .expect("verify-full by IP address");
    assert!(uses_tls(&db).await);
    let named = url(
        "postgres",
        pgrepo::testkit::SERVER_HOST_NAME,
        &database,
        &format!("hostaddr=127.0.0.1&{verify_full}"),
    );
    let db = Db::connect(&named).await.expect("verify-full by host name");
    assert!(uses_tls(&db).await);

    let other = cluster().tls().expect("TLS files").other_ca_cert();
    let wrong_root = url(
        "postgres",
        "127.0.0.1",
        &database,
        &format!("sslmode=verify-full&sslrootcert={}", other.display()),
    );
    refused_handshake(&wrong_root, "127.0.0.1", "certificate verify failed").await;

    let wrong_host = url(
        "postgres",
        "wrong-host.test",
        &database,
        &format!("hostaddr=127.0.0.1&{verify_full}"),
    );
    refused_handshake(&wrong_host, "wrong-host.test", "certificate verify failed").await;
    // verify-ca checks the chain only.
    let chain_only = wrong_host.replace("verify-full", "verify-ca");
    let db = Db::connect(&chain_only)
        .await
        .expect("verify-ca ignores names");
    assert!(uses_tls(&db).await);
}

#[tokio::test]
async fn tls_native_client_certificate_authenticates_its_user() {
    let database = database("tls_native_cert").await;
    let admin = Db::connect(&url(
        "postgres",
        "127.0.0.1",
        &database,
        &format!("sslmode=verify-full&sslrootcert={}", ca()),
    ))
    .await
    .expect("admin");
    admin
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE {CLIENT_CERT_USER} LOGIN; \
             EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        ))
        .await
        .expect("role");
    let files = cluster().tls().expect("TLS files");
    let with_cert = url(
        CLIENT_CERT_USER,
        "127.0.0.1",
        &database,
        &format!(
            "sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}",
            ca(),
            files.client_cert().display(),
            files.client_key().display()
        ),
    );
    let db = Db::connect(&with_cert).await.expect("client certificate");
    let user: String = db
        .query("SELECT current_user::text", &[])
        .await
        .expect("user")[0]
        .get(0);
    assert_eq!(user, CLIENT_CERT_USER);
}
