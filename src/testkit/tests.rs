//! Unit tests of the test kit's helpers.

use super::*;

#[test]
fn database_names_are_sanitised_unique_and_short() {
    let a = unique_database_name("Orders-Spec ü!");
    let b = unique_database_name("Orders-Spec ü!");
    assert!(a.starts_with("orders_spec___"), "{a}");
    assert_ne!(a, b);
    assert!(a.contains(&std::process::id().to_string()));
    let long = unique_database_name(&"x".repeat(200));
    assert_eq!(long.len(), MAX_IDENTIFIER_LEN);
    assert!(unique_database_name("").starts_with("test_"));
}

#[test]
fn database_url_is_split_and_rebuilt() {
    let server = ExternalServer::parse("postgres://u:p@db.example:6543/app?sslmode=disable")
        .expect("valid URL");
    assert_eq!(server.port, 6543);
    assert_eq!(server.address, "db.example:6543");
    assert_eq!(
        server.url_for("t_1"),
        "postgres://u:p@db.example:6543/t_1?sslmode=disable"
    );
    let bare = ExternalServer::parse("postgresql://localhost").expect("valid URL");
    assert_eq!(bare.port, 5432);
    assert_eq!(bare.url_for("a b"), "postgresql://localhost/a%20b");
    let ipv6 = ExternalServer::parse("postgres://[::1]:5433/x").expect("valid URL");
    assert_eq!(ipv6.port, 5433);
    assert!(ExternalServer::parse("mysql://x/y").is_err());
    assert!(ExternalServer::parse("postgres://h:port/y").is_err());
}
