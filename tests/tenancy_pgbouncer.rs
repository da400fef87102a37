//! Tenant scopes through a real PgBouncer in transaction mode (`StatementMode::Unnamed`), with
//! more client tasks than server connections: each one-statement transaction (`BEGIN; SET LOCAL
//! pgrepo.tenant …`, the statement, `COMMIT`) lands on whichever server connection is free, so
//! a tenant that outlived its transaction would show up in another tenant's statements. The
//! application connects as an ordinary role, which PgBouncer admits through the test kit's
//! `PgBouncerOptions::user`, and which row-level security filters.

use std::collections::HashSet;
use std::sync::OnceLock;

use futures_util::future::join_all;
use pgrepo::testkit::{PgBouncer, PgBouncerOptions, TestCluster};
use pgrepo::tokio_postgres::types::Type;
use pgrepo::{Db, Executor as _, Sql, StatementMode};
use tokio::sync::OnceCell;

use crate::common::*;
use crate::tenancy::{note, Note, NOTES};

/// The application's role, admitted by the bouncer (roles are the cluster's, not a database's).
const APP_ROLE: &str = "pgrepo_bounced_tenant_app";
/// Server connections per database and role behind PgBouncer.
const POOL_SIZE: u32 = 2;
/// Client tasks, each serving a tenant of its own, on a `Db` of `MAX_SIZE` client connections.
const TASKS: usize = 16;
const MAX_SIZE: usize = 8;
/// Rows each tenant has before the tasks start.
const SEEDED: usize = 3;

/// A PgBouncer of these tests' own, admitting `APP_ROLE`. Never dropped; the cluster's
/// watchdog stops it.
fn bouncer() -> &'static PgBouncer {
    static BOUNCER: OnceLock<PgBouncer> = OnceLock::new();
    BOUNCER.get_or_init(|| {
        TestCluster::shared()
            .expect("test cluster")
            .pgbouncer_with(PgBouncerOptions::pool_size(POOL_SIZE).user(APP_ROLE))
            .expect("PgBouncer (apt-get install pgbouncer)")
    })
}

/// A fresh database with `notes` (row-level security, a policy on `pgrepo.tenant`), `SEEDED`
/// rows for each tenant `1..=TASKS` written directly, and a `Db` through PgBouncer as the
/// application's role in `Unnamed` mode.
async fn bounced_tenants(prefix: &str) -> (TestDb, Db) {
    static ROLE: OnceCell<()> = OnceCell::const_new();
    let admin = fresh(prefix).await;
    ROLE.get_or_init(|| async {
        admin
            .db
            .batch_execute(&format!(
                "DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; \
                 EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            ))
            .await
            .unwrap();
    })
    .await;
    admin.db.batch_execute(NOTES).await.unwrap();
    admin
        .db
        .batch_execute(&format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO {APP_ROLE}; \
             GRANT USAGE ON SEQUENCE notes_id_seq TO {APP_ROLE}; \
             INSERT INTO notes (tenant_id, body) \
             SELECT t, 'seed ' || t || '.' || i \
             FROM generate_series(1, {TASKS}) t, generate_series(1, {SEEDED}) i"
        ))
        .await
        .unwrap();
    let app = Db::builder(&bouncer().url_as(APP_ROLE, admin.database.name()))
        .unwrap()
        .statement_mode(StatementMode::Unnamed)
        .max_size(MAX_SIZE)
        .connect()
        .await
        .expect("connect through PgBouncer as the application's role");
    (admin, app)
}

/// The ids of each tenant's seeded rows, by tenant (index 0 is tenant 1).
async fn seeded_ids(admin: &Db) -> Vec<Vec<i64>> {
    let rows = admin
        .query(
            "SELECT tenant_id, id FROM notes ORDER BY tenant_id, id",
            &[],
        )
        .await
        .unwrap();
    let mut ids = vec![Vec::new(); TASKS];
    for row in rows {
        ids[row.get::<_, i64>(0) as usize - 1].push(row.get::<_, i64>(1));
    }
    ids
}

/// What one task does for tenant `task + 1`: inserts, gets, listings, counts, hand-written SQL
/// and a transaction, checking after each write that it sees exactly its own rows.
async fn one_tenants_work(app: Db, task: usize, seeded: Vec<Vec<i64>>) {
    let tenant = task as i64 + 1;
    let scope = app.tenant(tenant).unwrap();
    let notes = scope.repo::<Note>();
    let mut mine: Vec<i64> = seeded[task].clone();
    let theirs: Vec<i64> = seeded
        .iter()
        .enumerate()
        .filter(|(other, _)| *other != task)
        .flat_map(|(_, ids)| ids.iter().copied())
        .collect();
    for round in 0..4 {
        let inserted = notes
            .insert(&note(&format!("{tenant}.{round}")))
            .await
            .unwrap();
        assert_eq!(inserted.tenant_id, tenant);
        mine.push(inserted.id);
        let many = notes.insert_many(&[note("a"), note("b")]).await.unwrap();
        assert!(many.iter().all(|n| n.tenant_id == tenant), "{many:?}");
        mine.extend(many.iter().map(|n| n.id));

        assert_eq!(notes.get(inserted.id).await.unwrap(), Some(inserted));
        let other = theirs[(task + round * 7) % theirs.len()];
        assert_eq!(notes.get(other).await.unwrap(), None, "tenant {tenant}");
        assert_eq!(notes.count().await.unwrap(), mine.len() as i64);
        let mut all: Vec<i64> = notes.all().await.unwrap().iter().map(|n| n.id).collect();
        all.sort_unstable();
        let mut expected = mine.clone();
        expected.sort_unstable();
        assert_eq!(all, expected, "tenant {tenant}, round {round}");
        let page = notes.list().first(100).await.unwrap();
        assert!(
            page.items.iter().all(|n| n.tenant_id == tenant),
            "{:?}",
            page.items
        );
        assert_eq!(page.items.len(), mine.len());
        // Hand-written SQL has only the policy, which reads the setting of this transaction.
        let (seen, setting): (i64, String) = {
            let rows = scope
                .query(
                    Sql::read(
                        "SELECT count(*), current_setting('pgrepo.tenant') FROM notes \
                         WHERE id <> $1",
                    )
                    .types(&[Type::INT8]),
                    &[&0i64],
                )
                .await
                .unwrap();
            (rows[0].get(0), rows[0].get(1))
        };
        assert_eq!((seen, setting), (mine.len() as i64, tenant.to_string()));
        // A transaction of the scope: several statements, one tenant.
        let (count, added) = scope
            .transaction(async |tx| {
                let added = tx.repo::<Note>().insert(&note("in tx")).await?;
                Ok((tx.repo::<Note>().count().await?, added))
            })
            .await
            .unwrap();
        mine.push(added.id);
        assert_eq!(count, mine.len() as i64);
    }
}

/// `current_setting('pgrepo.tenant', true)` of every server connection PgBouncer holds for the
/// application's role: plain statements through the bouncer, concurrently (each holds its
/// server connection a moment so that others land elsewhere), until every server backend of
/// the role (from `pg_stat_activity`) has answered.
async fn settings_left_on_server_connections(admin: &TestDb, app: &Db) -> Vec<(i32, String)> {
    let backends: HashSet<i32> = admin
        .db
        .query(
            Sql::read(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND usename = $2 \
                 AND backend_type = 'client backend'",
            )
            .types(&[Type::TEXT, Type::TEXT]),
            &[&admin.database.name(), &APP_ROLE],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        (1..=POOL_SIZE as usize).contains(&backends.len()),
        "{backends:?}"
    );
    let probe = Sql::read(
        "SELECT pg_backend_pid(), COALESCE(current_setting('pgrepo.tenant', true), '') \
         FROM pg_sleep(0.05)",
    );
    let mut seen = Vec::new();
    for _ in 0..20 {
        let answers = join_all((0..MAX_SIZE).map(|_| app.query(probe, &[]))).await;
        for rows in answers {
            let row = &rows.unwrap()[0];
            seen.push((row.get::<_, i32>(0), row.get::<_, String>(1)));
        }
        if backends
            .iter()
            .all(|pid| seen.iter().any(|(p, _)| p == pid))
        {
            return seen;
        }
    }
    panic!("the probes never reached every server connection {backends:?}: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_tenants_over_2_server_connections_each_see_only_their_rows() {
    let (admin, app) = bounced_tenants("bouncer_tenants").await;
    let seeded = seeded_ids(&admin.db).await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| tokio::spawn(one_tenants_work(app.clone(), task, seeded.clone())))
        .collect();
    for task in join_all(tasks).await {
        task.expect("tenant task");
    }
    // Every write went to its own tenant: SEEDED + 4 rounds of (1 + 2 + 1) each.
    let by_tenant: Vec<(i64, i64)> = admin
        .db
        .query(
            "SELECT tenant_id, count(*) FROM notes GROUP BY 1 ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected: Vec<(i64, i64)> = (1..=TASKS as i64)
        .map(|t| (t, (SEEDED + 4 * 4) as i64))
        .collect();
    assert_eq!(by_tenant, expected);
    // Nothing of any tenant is left on a server connection, and a plain statement sees no row.
    let left = settings_left_on_server_connections(&admin, &app).await;
    assert!(left.iter().all(|(_, s)| s.is_empty()), "{left:?}");
    let seen: i64 = app
        .query(Sql::read("SELECT count(*) FROM notes"), &[])
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(seen, 0);
}

/// The sensitivity check of the probe: a session-level `SET` through PgBouncer stays on its
/// server connection, and the probe finds it there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setting_left_on_a_server_connection_is_found_by_the_probe() {
    let (admin, app) = bounced_tenants("bouncer_tenant_probe").await;
    app.batch_execute("SET pgrepo.tenant = '7'").await.unwrap();
    let left = settings_left_on_server_connections(&admin, &app).await;
    assert!(left.iter().any(|(_, s)| s == "7"), "{left:?}");
    // And the policy then lets a plain statement on that connection see tenant 7's rows.
    let mut counts = HashSet::new();
    for _ in 0..20 {
        let answers = join_all(
            (0..MAX_SIZE).map(|_| app.query(Sql::read("SELECT count(*) FROM notes"), &[])),
        )
        .await;
        counts.extend(answers.into_iter().map(|r| r.unwrap()[0].get::<_, i64>(0)));
    }
    assert!(counts.contains(&(SEEDED as i64)), "{counts:?}");
}
