//! Types: an entity with a native enum, a `citext` column, arrays, `numeric`, `inet`, `cidr` and
//! `interval`, verified against its table, inserted one and many at a time, read back and
//! looked up by the enum and (case-insensitively) by the email.
//!
//! Needs the features of the types it uses, and nothing else: without `DATABASE_URL` it starts a
//! throwaway PostgreSQL from the system's binaries (with `citext` from postgresql-contrib).
//! Run with `cargo run --example types --features decimal,cidr,interval`.

use std::net::IpAddr;

use pg_interval::Interval;
use pgrepo::prelude::*;
use pgrepo::testkit::TestCluster;
use rust_decimal::Decimal;

/// `CREATE TYPE plan AS ENUM ('free', 'pro')`: parameters are the enum type itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PgEnum)]
#[pgrepo(type_name = "plan", rename_all = "snake_case")]
enum Plan {
    Free,
    Pro,
}

#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "customers", new_derive(Debug, Clone))]
struct Customer {
    #[pgrepo(id, generated)]
    id: i64,
    /// `citext`: lookups ignore case.
    #[pgrepo(unique, sql_type = "citext")]
    email: String,
    #[pgrepo(lookup)]
    plan: Plan,
    /// `text[]`, possibly empty.
    tags: Vec<String>,
    /// `numeric(12, 2)`.
    balance: Decimal,
    /// `inet`.
    last_ip: Option<IpAddr>,
    /// `cidr`.
    network: Option<cidr::IpCidr>,
    /// `interval`: a month stays a month.
    billing_period: Interval,
}

const SCHEMA: &str = "
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TYPE plan AS ENUM ('free', 'pro');
CREATE TABLE customers (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email CITEXT NOT NULL UNIQUE,
    plan plan NOT NULL,
    tags TEXT[] NOT NULL,
    balance NUMERIC(12, 2) NOT NULL,
    last_ip INET,
    network CIDR,
    billing_period INTERVAL NOT NULL
);
CREATE INDEX customers_plan ON customers (plan);
";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            let cluster = TestCluster::shared()?;
            cluster.create_database("types").await?.url()
        }
    };
    let db = Db::connect(&url).await?;
    db.batch_execute(SCHEMA).await?;
    db.verify::<Customer>().await?;
    println!("verify: customers matches Customer");

    let customers = db.repo::<Customer>();
    let ada = customers
        .insert(&NewCustomer {
            email: "Ada@Example.com".into(),
            plan: Plan::Pro,
            tags: vec!["vip".into(), "beta".into()],
            balance: "1234.50".parse()?,
            last_ip: Some("192.0.2.7".parse()?),
            network: Some("192.0.2.0/24".parse()?),
            billing_period: Interval::new(1, 0, 0),
        })
        .await?;
    println!("inserted: {ada:?}");

    let more = customers
        .insert_many(&[
            NewCustomer {
                email: "grace@example.com".into(),
                plan: Plan::Free,
                tags: vec![],
                balance: Decimal::ZERO,
                last_ip: None,
                network: None,
                billing_period: Interval::new(12, 0, 0),
            },
            NewCustomer {
                email: "linus@example.com".into(),
                plan: Plan::Pro,
                tags: vec!["kernel".into()],
                balance: "-3.25".parse()?,
                last_ip: Some("2001:db8::1".parse()?),
                network: Some("2001:db8::/32".parse()?),
                billing_period: Interval::new(0, 14, 0),
            },
        ])
        .await?;
    println!(
        "inserted {} more; tags as stored: {:?}",
        more.len(),
        more.iter().map(|c| &c.tags).collect::<Vec<_>>()
    );

    let read_back = customers.get(ada.id).await?;
    assert_eq!(read_back.as_ref(), Some(&ada));
    let by_email = customers
        .find_one_by(Customer::EMAIL, "ada@example.com".to_owned())
        .await?;
    println!(
        "find_one_by(EMAIL, \"ada@example.com\") -> {:?}",
        by_email.map(|c| c.email)
    );
    let pro = customers.find_by(Customer::PLAN, Plan::Pro).await?;
    println!(
        "find_by(PLAN, Pro) -> {:?}",
        pro.iter().map(|c| &c.email).collect::<Vec<_>>()
    );
    assert_eq!(pro.len(), 2);
    Ok(())
}
