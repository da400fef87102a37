//! `#[derive(TextEnum)]` enums are field types of entities, and map variants to texts.
#![deny(missing_docs, warnings)]

use pgrepo::tokio_postgres::types::{FromSql, ToSql, Type};
use pgrepo::{Entity, SqlType, TextEnum};

/// A status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, TextEnum)]
#[pgrepo(rename_all = "snake_case")]
pub enum Status {
    /// Active.
    Active,
    /// In review.
    InReview,
    /// Archived, stored under its old name.
    #[pgrepo(rename = "gone")]
    Archived,
}

/// Stored with the names as written.
#[derive(Debug, PartialEq, TextEnum)]
pub enum Level {
    /// Low.
    Low,
    /// High.
    High,
}

/// An entity with text enum fields.
#[derive(Entity)]
#[pgrepo(table = "tickets", order_by = "status")]
pub struct Ticket {
    /// Key.
    #[pgrepo(id, generated)]
    pub id: i64,
    /// A sortable, looked-up enum column.
    #[pgrepo(lookup)]
    pub status: Status,
    /// A nullable one.
    pub level: Option<Level>,
}

fn encode<T: ToSql>(value: &T) -> Vec<u8> {
    let mut out = pgrepo::__private::BytesMut::new();
    let _ = value.to_sql_checked(&Type::TEXT, &mut out);
    out.to_vec()
}

fn main() {
    assert_eq!(encode(&Status::InReview), b"in_review");
    assert_eq!(encode(&Status::Archived), b"gone");
    assert_eq!(encode(&Level::High), b"High");
    assert_eq!(
        Status::from_sql(&Type::TEXT, b"active").ok(),
        Some(Status::Active)
    );
    assert_eq!(
        Status::from_sql(&Type::TEXT, b"gone").ok(),
        Some(Status::Archived)
    );
    let unknown = Status::from_sql(&Type::TEXT, b"Active")
        .err()
        .map(|e| e.to_string());
    assert!(unknown.is_some_and(|e| e.contains("in_review")));
    assert!(
        <Status as ToSql>::accepts(&Type::TEXT) && <Status as FromSql>::accepts(&Type::VARCHAR)
    );
    assert!(!<Status as ToSql>::accepts(&Type::INT4));
    assert_eq!(<Status as SqlType>::PG_TYPE, Type::TEXT);
    assert_eq!(<Option<Level> as SqlType>::ARRAY_TYPE, Type::TEXT_ARRAY);

    let status: pgrepo::Lookup<Ticket, Status> = Ticket::STATUS;
    assert_eq!(status.column(), 1);
    assert!(Ticket::columns()[2].nullable);
}
