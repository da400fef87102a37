//! TLS against a real TLS-only server (the test kit's `ClusterOptions::tls_only`: its own CA,
//! a server certificate for `pgrepo-tls.test` and `127.0.0.1`, `hostssl` lines only): each
//! `sslmode` connects when it should, and each refusal says what to fix and keeps the TLS
//! library's or the server's error as its source.

use std::error::Error as _;
use std::sync::OnceLock;

use pgrepo::testkit::{ClusterOptions, TestCluster, TestDatabase, TlsFiles, CLIENT_CERT_USER};
use pgrepo::{Db, Error, Executor, SslMode, TlsConfig, TlsErrorKind};

fn cluster() -> &'static TestCluster {
    static CLUSTER: OnceLock<TestCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        // Always the system's PostgreSQL, also in a run against a second installation
        // (`PGREPO_TEST_BIN_DIR`): the PostgreSQL 18 CI uses for that is built without SSL.
        let options = ClusterOptions::default()
            .tls_only()
            .without_pg_stat_statements();
        TestCluster::start(options).expect("TLS-only test cluster")
    })
}

fn files() -> &'static TlsFiles {
    cluster().tls().expect("a TLS-only cluster")
}

async fn database(prefix: &str) -> TestDatabase {
    cluster().create_database(prefix).await.expect("database")
}

/// `postgres://postgres@{host}:{port}/{db}?{query}`.
fn url(host: &str, database: &TestDatabase, query: &str) -> String {
    format!(
        "postgres://postgres@{host}:{}/{}?{query}",
        cluster().port(),
        database.name()
    )
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

/// The rustls error in `error`'s `source()` chain.
fn rustls_error(error: &Error) -> &rustls::Error {
    let mut cause = error.source();
    while let Some(current) = cause {
        if let Some(found) = current.downcast_ref::<rustls::Error>() {
            return found;
        }
        cause = current.source();
    }
    panic!("no rustls::Error in the source chain of {error:?}");
}

async fn refused(url: &str) -> Error {
    Db::connect(url).await.expect_err("refused")
}

#[tokio::test]
async fn verify_full_with_the_right_root_connects_to_an_ip_host_and_a_named_host() {
    let database = database("tls_verify_full").await;
    let ca = files().ca_cert();
    let ip = url(
        "127.0.0.1",
        &database,
        &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    );
    let db = Db::connect(&ip).await.expect("verify-full by IP address");
    assert!(uses_tls(&db).await);

    // The DNS name in the certificate, sent as SNI; nothing resolves it, hence hostaddr.
    let named = url(
        pgrepo::testkit::SERVER_HOST_NAME,
        &database,
        &format!(
            "hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={}",
            ca.display()
        ),
    );
    let db = Db::connect(&named).await.expect("verify-full by host name");
    assert!(uses_tls(&db).await);
}

#[tokio::test]
async fn root_certificates_held_in_memory_are_used() {
    let database = database("tls_in_memory").await;
    let pem = std::fs::read(files().ca_cert()).expect("CA file");
    let db = Db::builder(&url("127.0.0.1", &database, "sslmode=disable"))
        .expect("url")
        .tls(TlsConfig::new(SslMode::VerifyFull).root_cert_pem(pem))
        .connect()
        .await
        .expect("verify-full with the CA in memory");
    assert!(uses_tls(&db).await);
}

#[tokio::test]
async fn a_certificate_for_another_host_is_refused_by_verify_full_only() {
    let database = database("tls_wrong_host").await;
    let roots = format!("sslrootcert={}", files().ca_cert().display());
    let wrong = url(
        "wrong-host.test",
        &database,
        &format!("hostaddr=127.0.0.1&sslmode=verify-full&{roots}"),
    );
    let error = refused(&wrong).await;
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    let tls = error.tls_error().expect("a TLS error");
    assert_eq!(tls.kind(), TlsErrorKind::HostMismatch);
    assert_eq!(tls.host(), "wrong-host.test");
    assert!(
        matches!(
            rustls_error(&error),
            rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. }
            )
        ),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("certificate is not valid for host wrong-host.test"),
        "{text}"
    );

    // verify-ca checks the chain only.
    let chain_only = url(
        "wrong-host.test",
        &database,
        &format!("hostaddr=127.0.0.1&sslmode=verify-ca&{roots}"),
    );
    let db = Db::connect(&chain_only)
        .await
        .expect("verify-ca ignores names");
    assert!(uses_tls(&db).await);
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let database = database("tls_wrong_root").await;
    let other = files().other_ca_cert();
    for mode in ["verify-ca", "verify-full", "require"] {
        let error = refused(&url(
            "127.0.0.1",
            &database,
            &format!("sslmode={mode}&sslrootcert={}", other.display()),
        ))
        .await;
        assert!(matches!(error, Error::Connect { .. }), "{mode}: {error:?}");
        assert_eq!(
            error.tls_error().map(|tls| tls.kind()),
            Some(TlsErrorKind::UntrustedCertificate),
            "{mode}"
        );
        assert!(
            matches!(
                rustls_error(&error),
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
            ),
            "{mode}: {error:?}"
        );
        let text = error.to_string();
        let expected = format!("certificate not trusted by sslrootcert {}", other.display());
        assert!(text.contains(&expected), "{mode}: {text}");
    }
}

#[tokio::test]
async fn require_without_roots_encrypts_without_verifying() {
    let database = database("tls_require").await;
    // `localhost` is not in the certificate, and no root is given: not checked, as libpq.
    let db = Db::connect(&url("localhost", &database, "sslmode=require"))
        .await
        .expect("require");
    assert!(uses_tls(&db).await);
    let db = Db::connect(&url("127.0.0.1", &database, "sslmode=prefer"))
        .await
        .expect("prefer");
    assert!(uses_tls(&db).await);
}

#[tokio::test]
async fn disable_is_refused_by_a_tls_only_server_with_its_error_kept() {
    let database = database("tls_disable").await;
    let error = refused(&url("127.0.0.1", &database, "sslmode=disable")).await;
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert_eq!(error.code().map(|code| code.code()), Some("28000"));
    assert!(error.tls_error().is_none());
    let text = error.to_string();
    assert!(text.contains("no pg_hba.conf entry"), "{text}");
    assert!(text.contains("no encryption"), "{text}");
}

#[tokio::test]
async fn a_client_certificate_authenticates_its_user() {
    let database = database("tls_client_cert").await;
    let files = files();
    let ca = files.ca_cert();
    let admin = Db::connect(&url(
        "127.0.0.1",
        &database,
        &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
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
    let as_user = |query: String| {
        format!(
            "postgres://{CLIENT_CERT_USER}@127.0.0.1:{}/{}?sslmode=verify-full&sslrootcert={}{query}",
            cluster().port(),
            database.name(),
            ca.display()
        )
    };

    let with_cert = as_user(format!(
        "&sslcert={}&sslkey={}",
        files.client_cert().display(),
        files.client_key().display()
    ));
    let db = Db::connect(&with_cert).await.expect("client certificate");
    let user: String = db
        .query("SELECT current_user::text", &[])
        .await
        .expect("user")[0]
        .get(0);
    assert_eq!(user, CLIENT_CERT_USER);

    // Without it, the server refuses the login after the handshake.
    let error = refused(&as_user(String::new())).await;
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert_eq!(error.code().map(|code| code.code()), Some("28000"));
    let text = error.to_string();
    assert!(
        text.contains("connection requires a valid client certificate"),
        "{text}"
    );
}
