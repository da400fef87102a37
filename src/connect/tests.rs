//! The TLS settings a connection string asks for, and what they make of the server's
//! certificate; handshakes against a real server are in tests/tls.rs.

use super::tls::Verification;
use super::*;

fn tls_of(url: &str) -> Result<TlsConfig> {
    parse_url(url).map(|(_, tls)| tls)
}

#[test]
fn verify_full_is_read_by_pgrepo_not_refused_by_the_driver() {
    let (config, tls) =
        parse_url("postgres://u@db.example/app?sslmode=verify-full&sslrootcert=/ca.pem")
            .expect("parses");
    assert_eq!(tls.mode(), SslMode::VerifyFull);
    assert_eq!(
        tls.verification().expect("usable"),
        Verification::ChainAndHost
    );
    assert_eq!(tls.describe_roots(), "sslrootcert /ca.pem");
    assert_eq!(config.get_dbname(), Some("app"));
}

#[test]
fn each_sslmode_checks_what_libpq_checks() {
    let cases = [
        ("disable", Verification::None),
        ("prefer", Verification::None),
        ("require", Verification::None),
        ("require&sslrootcert=/ca.pem", Verification::Chain),
        ("prefer&sslrootcert=/ca.pem", Verification::Chain),
        ("verify-ca&sslrootcert=/ca.pem", Verification::Chain),
        (
            "verify-full&sslrootcert=/ca.pem",
            Verification::ChainAndHost,
        ),
        ("verify-full&sslrootcert=system", Verification::ChainAndHost),
    ];
    for (query, expected) in cases {
        let tls = tls_of(&format!("postgres://h/d?sslmode={query}")).expect(query);
        assert_eq!(tls.verification().expect(query), expected, "{query}");
    }
    assert_eq!(
        tls_of("postgres://h/d").expect("parses").mode(),
        SslMode::Prefer
    );
}

#[test]
fn verifying_without_roots_says_how_to_give_them() {
    for mode in ["verify-ca", "verify-full"] {
        let tls = tls_of(&format!("postgres://h/d?sslmode={mode}")).expect("parses");
        let error = tls.verification().expect_err("no roots");
        assert!(matches!(
            error,
            Error::TlsSetting {
                parameter: "sslrootcert",
                ..
            }
        ));
        let text = error.to_string();
        assert!(text.contains(&format!("sslmode={mode}")), "{text}");
        assert!(text.contains("sslrootcert=<CA file>"), "{text}");
    }
}

#[test]
fn system_roots_need_verify_full() {
    let tls = tls_of("postgres://h/d?sslmode=require&sslrootcert=system").expect("parses");
    let text = tls.verification().expect_err("weak mode").to_string();
    assert!(
        text.contains("needs sslmode=verify-full, not require"),
        "{text}"
    );
}

#[test]
fn bad_parameters_name_themselves() {
    let unknown = tls_of("postgres://h/d?sslmode=verify_full").expect_err("unknown mode");
    assert!(
        unknown.to_string().contains("unknown value `verify_full`"),
        "{unknown}"
    );
    let allow = tls_of("host=h sslmode=allow").expect_err("allow");
    assert!(allow.to_string().contains("use `prefer`"), "{allow}");
    let lonely = tls_of("postgres://h/d?sslcert=/c.pem").expect_err("no key");
    assert!(lonely.to_string().contains("add sslkey="), "{lonely}");
}

#[test]
fn builder_settings_replace_the_urls() {
    let builder = crate::Db::builder("postgres://h/d?sslmode=require")
        .expect("parses")
        .ssl_mode(SslMode::VerifyFull)
        .root_cert_pem(b"-----BEGIN CERTIFICATE-----".to_vec());
    let tls = builder.tls_config();
    assert_eq!(tls.mode(), SslMode::VerifyFull);
    assert_eq!(
        tls.describe_roots(),
        "the PEM given to DbBuilder::root_cert_pem"
    );
}

#[test]
fn an_unreadable_root_file_keeps_the_io_error() {
    let error = crate::Db::builder(
        "postgres://h/d?sslmode=verify-full&sslrootcert=/nonexistent/pgrepo-ca.pem",
    )
    .expect("parses")
    .build()
    .expect_err("no such file");
    if cfg!(not(any(feature = "tls-rustls", feature = "tls-native"))) {
        assert!(matches!(error, Error::TlsUnavailable { .. }));
        return;
    }
    assert!(matches!(
        error,
        Error::TlsSetting {
            parameter: "sslrootcert",
            ..
        }
    ));
    assert!(
        error
            .to_string()
            .contains("cannot read /nonexistent/pgrepo-ca.pem"),
        "{error}"
    );
    let source = std::error::Error::source(&error).expect("a source");
    assert!(
        source.downcast_ref::<std::io::Error>().is_some(),
        "{source:?}"
    );
}

/// Without a TLS feature, a URL that requires TLS fails when the pool is built and names the
/// feature; `prefer` connects in plaintext.
#[cfg(not(any(feature = "tls-rustls", feature = "tls-native")))]
#[test]
fn requiring_tls_without_a_tls_feature_names_the_feature() {
    for mode in ["require", "verify-ca", "verify-full"] {
        let error = crate::Db::builder(&format!("postgres://h/d?sslmode={mode}"))
            .expect("parses")
            .build()
            .expect_err("no TLS library");
        assert!(matches!(error, Error::TlsUnavailable { .. }), "{error:?}");
        let text = error.to_string();
        assert!(
            text.contains(&format!("sslmode={mode} needs TLS")),
            "{text}"
        );
        assert!(text.contains("enable the `tls-rustls` feature"), "{text}");
    }
    crate::Db::builder("postgres://h/d?sslmode=prefer")
        .expect("parses")
        .build()
        .expect("prefer builds in plaintext");
}
