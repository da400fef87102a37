//! The `chrono` feature: chrono date/time fields round-trip through the derive and `verify`
//! accepts them (`cargo test --features chrono --test integration chrono_types`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use pgrepo::Executor as _;
use pgrepo::{Entity, Error};

use crate::common::fresh;

#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "events", new_derive(Debug, Clone))]
pub struct Event {
    #[pgrepo(id, generated)]
    pub id: i64,
    pub at: DateTime<Utc>,
    pub local: NaiveDateTime,
    pub day: NaiveDate,
    pub reminder: Option<NaiveTime>,
}

const EVENTS: &str = "CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    local TIMESTAMP NOT NULL,
    day DATE NOT NULL,
    reminder TIME
)";

#[tokio::test]
async fn chrono_fields_round_trip_and_verify() {
    let t = fresh("chrono").await;
    t.db.batch_execute(EVENTS).await.unwrap();
    t.db.verify::<Event>().await.unwrap();

    let at = Utc.with_ymd_and_hms(2026, 11, 25, 21, 30, 15).unwrap()
        + chrono::Duration::microseconds(123_456);
    let day = NaiveDate::from_ymd_opt(2026, 2, 28).unwrap();
    let local = day.and_hms_micro_opt(23, 59, 59, 999_999).unwrap();
    let new = NewEvent {
        at,
        local,
        day,
        reminder: NaiveTime::from_hms_opt(8, 15, 0),
    };
    let events = t.db.repo::<Event>();
    let stored = events.insert(&new).await.unwrap();
    assert_eq!((stored.at, stored.local, stored.day), (at, local, day));
    assert_eq!(stored.reminder, new.reminder);
    let many = events
        .insert_many(&[
            NewEvent {
                reminder: None,
                ..new.clone()
            },
            new.clone(),
        ])
        .await
        .unwrap();
    assert_eq!(many[0].reminder, None);
    assert_eq!(events.get(stored.id).await.unwrap(), Some(stored.clone()));
    // The server sees the instant, not a local rendering of it.
    let epoch: f64 =
        t.db.query(
            "SELECT extract(epoch FROM at)::float8 FROM events WHERE id = $1",
            &[&stored.id],
        )
        .await
        .unwrap()[0]
            .get(0);
    assert!((epoch - at.timestamp_micros() as f64 / 1e6).abs() < 1e-6);

    // A chrono field over a column of another type is reported by verify.
    t.db.batch_execute("ALTER TABLE events ALTER COLUMN day TYPE TEXT")
        .await
        .unwrap();
    match t.db.verify::<Event>().await {
        Err(Error::SchemaMismatch(report)) => {
            assert!(format!("{report}").contains("day"), "{report}")
        }
        other => panic!("expected SchemaMismatch, got {other:?}"),
    }
}
