//! Tenant scopes: PostgreSQL's row-level security filters every row by the tenant a scope sets
//! for one transaction at a time; statements of tenant entities outside a scope are refused
//! before any SQL is sent; roles and tables that would let rows through are refused; nothing
//! of a tenant stays on a pooled connection, whatever future is dropped when.

use std::time::Duration;

use futures_util::TryStreamExt as _;
use pgrepo::{Db, Entity, Error, Sql, StatementMode};

use crate::common::*;

#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "notes")]
pub struct Note {
    #[pgrepo(id, generated)]
    pub id: i64,
    #[pgrepo(tenant)]
    pub tenant_id: i64,
    pub body: String,
}

pub(crate) const NOTES: &str = "
CREATE TABLE notes (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX notes_tenant ON notes (tenant_id, id);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON notes
    USING (tenant_id = (SELECT NULLIF(current_setting('pgrepo.tenant', true), '')::bigint));
";

/// A database with `notes` (owned by the test kit's superuser, protected by a policy), and a
/// `Db` connected as an ordinary role of the application's, which the policy filters.
pub(crate) struct Tenants {
    /// The superuser's: sees every row.
    pub admin: TestDb,
    /// The application's role.
    pub app: Db,
    /// The application role's name.
    pub role: String,
}

pub(crate) async fn tenants(
    prefix: &str,
    configure: impl FnOnce(pgrepo::DbBuilder) -> pgrepo::DbBuilder,
) -> Tenants {
    let admin = fresh(prefix).await;
    admin.db.batch_execute(NOTES).await.unwrap();
    let role = format!("app_{}", admin.database.name());
    admin
        .db
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO {role}; \
             GRANT USAGE ON SEQUENCE notes_id_seq TO {role}"
        ))
        .await
        .unwrap();
    let url = as_role(&admin.database.url(), &role);
    let app = configure(Db::builder(&url).unwrap())
        .connect()
        .await
        .unwrap();
    Tenants { admin, app, role }
}

/// `url` with its user replaced by `role` (trust authentication: no password).
pub(crate) fn as_role(url: &str, role: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (_, host) = rest.split_once('@').expect("a user in the URL");
    format!("{scheme}://{role}@{host}")
}

/// What an insert carries: no tenant (the scope gives it).
pub(crate) fn note(body: &str) -> NewNote {
    NewNote {
        body: body.to_owned(),
    }
}

/// Notes for tenants 1 and 2, each written in its own scope.
pub(crate) async fn seed(app: &Db) -> (Vec<Note>, Vec<Note>) {
    let mut one = Vec::new();
    let mut two = Vec::new();
    for i in 0..5 {
        one.push(
            app.tenant(1i64)
                .unwrap()
                .repo::<Note>()
                .insert(&note(&format!("one {i}")))
                .await
                .unwrap(),
        );
        two.push(
            app.tenant(2i64)
                .unwrap()
                .repo::<Note>()
                .insert(&note(&format!("two {i}")))
                .await
                .unwrap(),
        );
    }
    (one, two)
}

#[tokio::test]
async fn a_tenant_scope_sees_only_its_tenants_rows_everywhere() {
    let t = tenants("tenant_rows", |b| b).await;
    let (one, two) = seed(&t.app).await;
    let scope = t.app.tenant(1i64).unwrap();
    let notes = scope.repo::<Note>();
    assert_eq!(notes.all().await.unwrap().len(), 5);
    assert_eq!(notes.count().await.unwrap(), 5);
    // An integer literal (`i32`) binds to the bigint column too.
    let literal = t.app.tenant(1).unwrap();
    assert_eq!(literal.repo::<Note>().count().await.unwrap(), 5);
    assert_eq!(notes.get(one[0].id).await.unwrap(), Some(one[0].clone()));
    assert_eq!(
        notes.get(two[0].id).await.unwrap(),
        None,
        "another tenant's row"
    );
    let ids: Vec<i64> = [one[1].id, two[1].id].into();
    let many = notes.get_many(&ids).await.unwrap();
    assert_eq!(many.len(), 1);
    // Listings and exports.
    let page = notes.list().first(100).await.unwrap();
    assert!(
        page.items.iter().all(|n| n.tenant_id == 1),
        "{:?}",
        page.items
    );
    assert_eq!(page.items.len(), 5);
    let exported: Vec<Note> = notes.list().export(2).try_collect().await.unwrap();
    assert_eq!(exported.len(), 5);
    // Loaders.
    let loader = scope.loader::<Note>();
    let (mine, theirs) = tokio::join!(loader.load(one[2].id), loader.load(two[2].id));
    assert!(mine.unwrap().is_some());
    assert!(theirs.unwrap().is_none());
    // Hand-written SQL, decoded by name.
    let all: Vec<Note> = scope
        .query_as(Sql::read("SELECT * FROM notes"), &[])
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    // Updates and deletes of another tenant's rows find nothing.
    let mut stolen = two[3].clone();
    stolen.body = "stolen".into();
    assert!(notes.update(&stolen).await.is_err());
    assert!(!notes.delete(two[3].id).await.unwrap());
    // Nothing of tenant 2 changed.
    let theirs = t
        .app
        .tenant(2i64)
        .unwrap()
        .repo::<Note>()
        .all()
        .await
        .unwrap();
    assert_eq!(theirs, two);
}

#[tokio::test]
async fn inserts_take_the_tenant_from_the_scope_and_the_policy_refuses_any_other() {
    let t = tenants("tenant_write", |b| b).await;
    let scope = t.app.tenant(2i64).unwrap();
    let notes = scope.repo::<Note>();
    // The insert struct has no tenant: the scope's is written.
    let one = notes.insert(&note("mine")).await.unwrap();
    assert_eq!(one.tenant_id, 2);
    let many = notes
        .insert_many(&[note("a"), note("b"), note("c")])
        .await
        .unwrap();
    assert!(many.iter().all(|n| n.tenant_id == 2), "{many:?}");
    assert_eq!(
        notes
            .insert_many_count(&[note("d"), note("e")])
            .await
            .unwrap(),
        2
    );
    // An update never moves a row to another tenant: the tenant column is not written.
    let mut moved = one.clone();
    moved.tenant_id = 1;
    moved.body = "edited".into();
    let updated = notes.update(&moved).await.unwrap();
    assert_eq!((updated.tenant_id, updated.body.as_str()), (2, "edited"));
    // Hand-written SQL writing another tenant's row is refused by the policy.
    let error = scope
        .execute(
            "INSERT INTO notes (tenant_id, body) VALUES (1, 'smuggled')",
            &[],
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("row-level security"), "{error}");
    let rows = t
        .admin
        .db
        .query("SELECT tenant_id, count(*) FROM notes GROUP BY 1", &[])
        .await
        .unwrap();
    let by_tenant: Vec<(i64, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(by_tenant, [(2, 6)]);
}

#[tokio::test]
async fn a_tenant_entity_outside_a_scope_is_refused_before_any_sql() {
    let t = tenants("tenant_required", |b| b).await;
    seed(&t.app).await;
    reset_stats(&t.admin.db).await;
    let refused = |result: Result<_, Error>| {
        let error = result.unwrap_err();
        assert!(
            matches!(error, Error::TenantRequired { table: "notes", .. }),
            "{error:?}"
        );
    };
    refused(t.app.repo::<Note>().all().await.map(|_| ()));
    refused(t.app.repo::<Note>().count().await.map(|_| ()));
    refused(t.app.repo::<Note>().insert(&note("x")).await.map(|_| ()));
    refused(t.app.repo::<Note>().list().first(10).await.map(|_| ()));
    // A loader's batch says which statement its callers' keys failed in.
    let error = t.app.loader::<Note>().load(1).await.unwrap_err();
    assert!(
        matches!(error, Error::Batch { .. }) && error.to_string().contains("needs a tenant scope"),
        "{error:?}"
    );
    refused(t.app.strict().repo::<Note>().get(1).await.map(|_| ()));
    let tx = t.app.begin().await.unwrap();
    refused(tx.repo::<Note>().get(1).await.map(|_| ()));
    tx.rollback().await.unwrap();
    // None of them reached the server.
    assert_calls(&t.admin.db, &["notes"], 0).await;
    // Hand-written SQL outside a scope sees no tenant's rows: the policy fails closed.
    let seen: i64 = t
        .app
        .query("SELECT count(*) FROM notes", &[])
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(seen, 0);
}

#[tokio::test]
async fn roles_and_tables_that_let_rows_through_are_refused() {
    let t = tenants("tenant_unprotected", |b| b).await;
    seed(&t.app).await;
    let unprotected = |result: Result<Vec<Note>, Error>, says: &str| {
        let error = result.unwrap_err();
        assert!(
            matches!(error, Error::TenantUnprotected { .. }) && error.to_string().contains(says),
            "{error:?} should say {says:?}"
        );
    };
    // The superuser (the test kit's own role) is never filtered.
    let admin_scope = t.admin.db.tenant(1i64).unwrap();
    unprotected(admin_scope.repo::<Note>().all().await, "superuser");
    // BYPASSRLS.
    let bypass = format!("{}_bypass", t.role);
    t.admin
        .db
        .batch_execute(&format!(
            "CREATE ROLE {bypass} LOGIN BYPASSRLS; GRANT SELECT ON notes TO {bypass}"
        ))
        .await
        .unwrap();
    let bypassing = Db::connect(&as_role(&t.admin.database.url(), &bypass))
        .await
        .unwrap();
    unprotected(
        bypassing.tenant(1i64).unwrap().repo::<Note>().all().await,
        "BYPASSRLS",
    );
    // The table's owner, without FORCE ROW LEVEL SECURITY; then with it.
    let owner = altered(&t, &format!("ALTER TABLE notes OWNER TO {}", t.role)).await;
    unprotected(
        owner.tenant(1i64).unwrap().repo::<Note>().all().await,
        "FORCE ROW LEVEL SECURITY",
    );
    let owner = altered(&t, "ALTER TABLE notes FORCE ROW LEVEL SECURITY").await;
    let all = owner.tenant(1i64).unwrap().repo::<Note>().all().await;
    assert_eq!(all.unwrap().len(), 5);
    // Row-level security off; on without a policy.
    let app = altered(
        &t,
        "ALTER TABLE notes NO FORCE ROW LEVEL SECURITY; ALTER TABLE notes OWNER TO postgres; \
         ALTER TABLE notes DISABLE ROW LEVEL SECURITY",
    )
    .await;
    unprotected(
        app.tenant(1i64).unwrap().repo::<Note>().all().await,
        "not enabled",
    );
    let app = altered(
        &t,
        "ALTER TABLE notes ENABLE ROW LEVEL SECURITY; DROP POLICY tenant ON notes",
    )
    .await;
    unprotected(
        app.tenant(1i64).unwrap().repo::<Note>().all().await,
        "no policy",
    );
}

/// Runs `sql` as the admin, then connects a new `Db` as the application's role (whose checks
/// start afresh: they are cached per `Db`).
async fn altered(t: &Tenants, sql: &str) -> Db {
    t.admin.db.batch_execute(sql).await.unwrap();
    Db::connect(&as_role(&t.admin.database.url(), &t.role))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_tenant_never_outlives_its_transaction() {
    // One connection: whatever a scope leaves on it, the next statement meets.
    let t = tenants("tenant_leak", |b| b.max_size(1)).await;
    seed(&t.app).await;
    let setting = || async {
        let rows = t
            .app
            .query("SELECT current_setting('pgrepo.tenant', true)", &[])
            .await
            .unwrap();
        rows[0].get::<_, Option<String>>(0).unwrap_or_default()
    };
    let scope = t.app.tenant(1i64).unwrap();
    scope.repo::<Note>().all().await.unwrap();
    assert_eq!(setting().await, "");
    // After a failed statement.
    assert!(scope.execute("SELECT 1/0", &[]).await.is_err());
    assert_eq!(setting().await, "");
    // After a transaction rolled back by its body's error, and one whose body panicked.
    let _ = scope
        .transaction(async |tx| {
            tx.repo::<Note>().all().await?;
            Err::<(), _>(Error::TransactionAborted)
        })
        .await;
    assert_eq!(setting().await, "");
    let app = t.app.clone();
    let panicked = tokio::spawn(async move {
        let scope = app.tenant(1i64).unwrap();
        scope
            .transaction(async |tx| {
                tx.repo::<Note>().all().await?;
                panic!("a bug in the body");
                #[allow(unreachable_code)]
                Ok(())
            })
            .await
    })
    .await;
    assert!(panicked.is_err());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(setting().await, "");
    // After futures dropped at every await point.
    for polls in 1..=6 {
        for pause_us in [0, 300] {
            poll_then_drop(
                scope.repo::<Note>().all(),
                polls,
                Duration::from_micros(pause_us),
            )
            .await;
            assert_eq!(setting().await, "", "after {polls} polls");
            let seen: i64 = t
                .app
                .query("SELECT count(*) FROM notes", &[])
                .await
                .unwrap()[0]
                .get(0);
            assert_eq!(
                seen, 0,
                "a plain statement after {polls} polls saw a tenant's rows"
            );
        }
    }
}

#[tokio::test]
async fn a_scopes_transaction_sets_the_tenant_once_for_all_its_statements() {
    let t = tenants("tenant_tx", |b| b).await;
    seed(&t.app).await;
    let scope = t.app.tenant(2i64).unwrap();
    let (count, inserted) = scope
        .transaction(async |tx| {
            let notes = tx.repo::<Note>();
            let inserted = notes.insert(&note("in a transaction")).await?;
            Ok((notes.count().await?, inserted))
        })
        .await
        .unwrap();
    assert_eq!(count, 6);
    assert_eq!(
        scope.repo::<Note>().get(inserted.id).await.unwrap(),
        Some(inserted)
    );
    assert_eq!(
        t.app
            .tenant(1i64)
            .unwrap()
            .repo::<Note>()
            .count()
            .await
            .unwrap(),
        5
    );
}

#[tokio::test]
async fn a_cursor_of_one_tenant_is_rejected_in_another_tenants_scope() {
    let t = tenants("tenant_cursor", |b| b.cursor_secret(b"secret".to_vec())).await;
    seed(&t.app).await;
    let one = t.app.tenant(1i64).unwrap();
    let cursor = one
        .repo::<Note>()
        .list()
        .first(2)
        .await
        .unwrap()
        .end_cursor
        .unwrap();
    assert_eq!(
        one.repo::<Note>()
            .list()
            .after(&cursor, 2)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    let two = t.app.tenant(2i64).unwrap();
    let error = two
        .repo::<Note>()
        .list()
        .after(&cursor, 2)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidCursor { .. }), "{error:?}");
}

#[tokio::test]
async fn bad_tenant_ids_are_refused_before_anything_is_sent() {
    let t = tenants("tenant_ids", |b| b).await;
    for bad in ["", "a\0b", &"x".repeat(300)] {
        let error = t.app.tenant(bad).unwrap_err();
        assert!(matches!(error, Error::InvalidTenant { .. }), "{error:?}");
    }
    // Text ids are bound, never quoted into SQL: a quote is just a character of the id. Here
    // a text id for a bigint tenant column is refused before anything is sent; hand-written
    // SQL in its scope meets the policy, which casts the setting to bigint and fails.
    let sneaky = t.app.tenant("1' OR '1'='1").unwrap();
    let error = sneaky.repo::<Note>().all().await.unwrap_err();
    assert!(matches!(error, Error::InvalidTenant { .. }), "{error:?}");
    let error = sneaky
        .query("SELECT count(*) FROM notes", &[])
        .await
        .unwrap_err();
    assert!(error.to_string().contains("bigint"), "{error}");
}

#[tokio::test]
async fn an_all_tenants_scope_sees_what_its_role_may_see() {
    let t = tenants("tenant_all", |b| b).await;
    seed(&t.app).await;
    // The owner's (superuser's) Db sees every tenant's rows, on purpose.
    assert_eq!(
        t.admin
            .db
            .all_tenants()
            .repo::<Note>()
            .count()
            .await
            .unwrap(),
        10
    );
    // The application's role sees none: the policies still apply to it.
    assert_eq!(t.app.all_tenants().repo::<Note>().count().await.unwrap(), 0);
}

#[tokio::test]
async fn tenant_scopes_work_with_unnamed_statements() {
    let t = tenants("tenant_unnamed", |b| {
        b.statement_mode(StatementMode::Unnamed)
    })
    .await;
    let (one, two) = seed(&t.app).await;
    let scope = t.app.tenant(1i64).unwrap();
    assert_eq!(scope.repo::<Note>().count().await.unwrap(), 5);
    assert_eq!(scope.repo::<Note>().get(two[0].id).await.unwrap(), None);
    assert_eq!(
        scope.repo::<Note>().get(one[0].id).await.unwrap(),
        Some(one[0].clone())
    );
    let n: i64 = scope
        .transaction(async |tx| Ok(tx.query("SELECT count(*) FROM notes", &[]).await?[0].get(0)))
        .await
        .unwrap();
    assert_eq!(n, 5);
}

#[tokio::test]
async fn generated_statements_filter_by_the_tenant_even_under_a_policy_that_does_not() {
    let t = tenants("tenant_second_line", |b| b).await;
    let (one, two) = seed(&t.app).await;
    // A mistaken policy that lets every row through.
    t.admin
        .db
        .batch_execute("DROP POLICY tenant ON notes; CREATE POLICY open ON notes USING (true)")
        .await
        .unwrap();
    let scope = t.app.tenant(1i64).unwrap();
    let notes = scope.repo::<Note>();
    reset_stats(&t.admin.db).await;
    assert_eq!(notes.get(two[0].id).await.unwrap(), None);
    assert_eq!(notes.get(one[0].id).await.unwrap(), Some(one[0].clone()));
    assert_eq!(notes.count().await.unwrap(), 5);
    assert_eq!(notes.all().await.unwrap().len(), 5);
    assert_eq!(notes.list().first(100).await.unwrap().items.len(), 5);
    assert!(!notes.delete(two[1].id).await.unwrap());
    // The filter is a bound parameter of the statement, seen by the server: two gets, a delete.
    assert_calls(
        &t.admin.db,
        &["FROM \"notes\" WHERE \"id\" = $1 AND \"tenant_id\" = $2"],
        3,
    )
    .await;
    // Hand-written SQL has only the policy: here, none.
    let seen: i64 = scope
        .query("SELECT count(*) FROM notes", &[])
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(seen, 10);
}

#[tokio::test]
async fn an_all_tenants_scope_cannot_insert_without_a_tenant() {
    let t = tenants("tenant_all_insert", |b| b).await;
    let error = t
        .admin
        .db
        .all_tenants()
        .repo::<Note>()
        .insert(&note("whose?"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::TenantRequired { .. }), "{error:?}");
}

#[tokio::test]
async fn a_tenant_id_of_another_type_than_the_column_is_refused_before_anything_is_sent() {
    let t = tenants("tenant_type", |b| b).await;
    let error = t
        .app
        .tenant("acme")
        .unwrap()
        .repo::<Note>()
        .get(1)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidTenant { .. }), "{error:?}");
}

#[tokio::test]
async fn a_tenant_id_reaches_the_server_exactly_as_given() {
    let t = tenants("tenant_exact", |b| b).await;
    for id in [
        r"o'brien",
        r"back\slash\'",
        r"'; RESET ALL; SELECT '",
        "ünïcødé ✓",
        "E'x'",
    ] {
        let scope = t.app.tenant(id).unwrap();
        let rows = scope
            .query("SELECT current_setting('pgrepo.tenant')", &[])
            .await
            .unwrap();
        assert_eq!(rows[0].get::<_, String>(0), id);
    }
}
