//! What `verify` says about a tenant entity's table (`#[pgrepo(tenant)]`) that PostgreSQL would
//! not filter: row-level security off, no policy, policies that do not read the tenant setting,
//! and a verifying role that owns the table without `FORCE ROW LEVEL SECURITY`. Each report's
//! `fix` is run as given and the table then verifies clean; a verifying superuser gets a warning,
//! not a mismatch; entities without a tenant column are never reported.

use pgrepo::{
    Db, Entity, EntitySet, Error, Executor as _, Mismatch, SchemaReport, Sql, TenantProtection,
};

use crate::tenancy::{seed, tenants, Note};

/// What `verify` reports, whether it passed or not.
async fn report<S: EntitySet>(db: &Db) -> SchemaReport {
    match db.verify::<S>().await {
        Ok(report) => report,
        Err(Error::SchemaMismatch(report)) => report,
        Err(other) => panic!("verify failed: {other:?}"),
    }
}

/// The `TenantUnprotected` mismatches of `notes` (`Note`) as `db` verifies it.
async fn unprotected(db: &Db) -> Vec<(TenantProtection, String)> {
    let report = report::<Note>(db).await;
    report
        .mismatches
        .iter()
        .map(|m| match m {
            Mismatch::TenantUnprotected {
                table,
                column,
                reason,
                fix,
            } => {
                assert_eq!((table.as_str(), column.as_str()), ("notes", "tenant_id"));
                (reason.clone(), fix.clone())
            }
            other => panic!("not a tenancy mismatch: {other}"),
        })
        .collect()
}

/// Whether `report` warns that verify's role bypasses row-level security.
fn warns_of_bypass(report: &SchemaReport) -> bool {
    report
        .warnings
        .iter()
        .any(|w| w.contains("bypasses row-level security"))
}

/// The policy `verify` proposes for `notes` under the default setting.
const POLICY_FIX: &str = "CREATE POLICY tenant ON \"notes\" USING (\"tenant_id\" = (SELECT \
    NULLIF(current_setting('pgrepo.tenant', true), '')::int8))";

/// An entity without a tenant column, on a table without row-level security.
#[derive(Debug, Entity)]
#[pgrepo(table = "plain")]
struct Plain {
    #[pgrepo(id)]
    id: i64,
    tenant_id: i64,
}

#[tokio::test]
async fn a_protected_table_verifies_clean_and_other_entities_are_not_asked() {
    let t = tenants("vt_clean", |b| b).await;
    t.admin
        .db
        .batch_execute("CREATE TABLE plain (id BIGINT PRIMARY KEY, tenant_id BIGINT NOT NULL)")
        .await
        .unwrap();
    // As the application's role: nothing to report, nothing to warn about.
    let as_app = t.app.verify::<(Note, Plain)>().await.unwrap();
    assert!(!warns_of_bypass(&as_app), "{as_app}");
    // As the superuser: the table is fine; its own role is only a warning, once, for `notes`.
    let as_admin = t.admin.db.verify::<(Note, Plain)>().await.unwrap();
    let bypass: Vec<&String> = as_admin
        .warnings
        .iter()
        .filter(|w| w.contains("bypasses row-level security"))
        .collect();
    assert_eq!(bypass.len(), 1, "{as_admin}");
    assert!(bypass[0].starts_with("`notes`: "), "{}", bypass[0]);
    assert!(
        bypass[0].contains("SUPERUSER or BYPASSRLS"),
        "{}",
        bypass[0]
    );
}

#[tokio::test]
async fn row_level_security_disabled_is_reported_with_the_statement_that_enables_it() {
    let t = tenants("vt_disabled", |b| b).await;
    seed(&t.app).await;
    t.admin
        .db
        .batch_execute("ALTER TABLE notes DISABLE ROW LEVEL SECURITY")
        .await
        .unwrap();
    // What the report foretells: the application's role sees every tenant's rows.
    let seen: i64 = t
        .app
        .query("SELECT count(*) FROM notes", &[])
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(seen, 10);
    let expected = vec![(
        TenantProtection::RowSecurityDisabled,
        "ALTER TABLE \"notes\" ENABLE ROW LEVEL SECURITY".to_owned(),
    )];
    // A table-level fault: reported to any verifying role.
    assert_eq!(unprotected(&t.app).await, expected);
    assert_eq!(unprotected(&t.admin.db).await, expected);
    let text = report::<Note>(&t.app).await.mismatches[0].to_string();
    assert!(text.starts_with("`notes`: "), "{text}");
    assert!(text.contains("not enabled"), "{text}");
    assert!(text.contains("ENABLE ROW LEVEL SECURITY"), "{text}");
    // The fix, as given, is the whole fix.
    t.admin.db.batch_execute(&expected[0].1).await.unwrap();
    t.app.verify::<Note>().await.unwrap();
}

#[tokio::test]
async fn a_table_without_a_policy_is_reported_with_a_policy_to_create() {
    let t = tenants("vt_no_policy", |b| b).await;
    seed(&t.app).await;
    t.admin
        .db
        .batch_execute("DROP POLICY tenant ON notes")
        .await
        .unwrap();
    let expected = vec![(TenantProtection::NoPolicy, POLICY_FIX.to_owned())];
    assert_eq!(unprotected(&t.app).await, expected);
    assert_eq!(unprotected(&t.admin.db).await, expected);
    // With row-level security off too, both are reported.
    t.admin
        .db
        .batch_execute("ALTER TABLE notes DISABLE ROW LEVEL SECURITY")
        .await
        .unwrap();
    let both: Vec<TenantProtection> = unprotected(&t.app)
        .await
        .into_iter()
        .map(|(reason, _)| reason)
        .collect();
    assert_eq!(
        both,
        [
            TenantProtection::RowSecurityDisabled,
            TenantProtection::NoPolicy
        ]
    );
    // Running both fixes protects the table: verify passes and scopes see their tenant's rows.
    for (_, fix) in unprotected(&t.app).await {
        t.admin.db.batch_execute(&fix).await.unwrap();
    }
    t.app.verify::<Note>().await.unwrap();
    let scope = t.app.tenant(1i64).unwrap();
    let mine: i64 = scope
        .query(Sql::read("SELECT count(*) FROM notes"), &[])
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(mine, 5);
}

#[tokio::test]
async fn policies_that_do_not_read_the_tenant_setting_are_reported() {
    let t = tenants("vt_ignores", |b| b).await;
    seed(&t.app).await;
    let admin = &t.admin.db;
    admin
        .batch_execute(
            "DROP POLICY tenant ON notes; CREATE POLICY \"Open\" ON notes USING (true); \
             CREATE POLICY writes ON notes FOR INSERT WITH CHECK (true)",
        )
        .await
        .unwrap();
    // The permissive read policy lets every row through; the insert-only one filters no read.
    let found = unprotected(&t.app).await;
    assert_eq!(
        found,
        [(
            TenantProtection::PolicyIgnoresSetting {
                policies: vec!["Open".into()],
                setting: "pgrepo.tenant".into()
            },
            format!("DROP POLICY \"Open\" ON \"notes\"; {POLICY_FIX}")
        )]
    );
    let text = report::<Note>(&t.app).await.mismatches[0].to_string();
    assert!(
        text.contains("`Open`") && text.contains("pgrepo.tenant"),
        "{text}"
    );
    // A restrictive policy that reads the setting filters what the open one lets through.
    admin
        .batch_execute(
            "CREATE POLICY only_tenant ON notes AS RESTRICTIVE USING \
             (tenant_id = (SELECT NULLIF(current_setting('pgrepo.tenant', true), '')::bigint))",
        )
        .await
        .unwrap();
    assert_eq!(unprotected(&t.app).await, []);
    admin
        .batch_execute("DROP POLICY only_tenant ON notes")
        .await
        .unwrap();
    // A policy that reads the setting through a function of its own is reading it.
    admin
        .batch_execute(
            "DROP POLICY \"Open\" ON notes; \
             CREATE FUNCTION current_tenant() RETURNS bigint LANGUAGE sql STABLE \
                 AS $$ SELECT NULLIF(current_setting('pgrepo.tenant', true), '')::bigint $$; \
             CREATE POLICY by_function ON notes USING (tenant_id = current_tenant())",
        )
        .await
        .unwrap();
    assert_eq!(unprotected(&t.app).await, []);
    // A Db whose scopes set another setting than the one the policy reads.
    let renamed = Db::builder(&crate::tenancy::as_role(&t.admin.database.url(), &t.role))
        .unwrap()
        .tenant_setting("app.tenant_id")
        .connect()
        .await
        .unwrap();
    let found = unprotected(&renamed).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].0,
        TenantProtection::PolicyIgnoresSetting {
            policies: vec!["by_function".into()],
            setting: "app.tenant_id".into()
        }
    );
    assert!(
        found[0]
            .1
            .contains("current_setting('app.tenant_id', true)"),
        "{}",
        found[0].1
    );
    // Its fix, run as given, leaves nothing to report.
    admin.batch_execute(&found[0].1).await.unwrap();
    renamed.verify::<Note>().await.unwrap();
}

#[tokio::test]
async fn an_owner_without_force_row_level_security_is_reported_to_itself_only() {
    let t = tenants("vt_owner", |b| b).await;
    seed(&t.app).await;
    t.admin
        .db
        .batch_execute(&format!("ALTER TABLE notes OWNER TO {}", t.role))
        .await
        .unwrap();
    let expected = vec![(
        TenantProtection::OwnerNotForced {
            role: t.role.clone(),
        },
        "ALTER TABLE \"notes\" FORCE ROW LEVEL SECURITY".to_owned(),
    )];
    assert_eq!(unprotected(&t.app).await, expected);
    let text = report::<Note>(&t.app).await.mismatches[0].to_string();
    assert!(
        text.contains(&format!("`{}` owns the table", t.role)),
        "{text}"
    );
    // What the report foretells: this role's tenant scopes are refused (by a `Db` that has not
    // checked the table yet: each checks a table once).
    let app = Db::connect(&crate::tenancy::as_role(&t.admin.database.url(), &t.role))
        .await
        .unwrap();
    let error = app
        .tenant(1i64)
        .unwrap()
        .repo::<Note>()
        .all()
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::TenantUnprotected { .. }),
        "{error:?}"
    );
    // A superuser verifying the same table: a warning about itself, no mismatch.
    let as_admin = t.admin.db.verify::<Note>().await.unwrap();
    assert!(warns_of_bypass(&as_admin), "{as_admin}");
    // The fix, as given.
    t.admin.db.batch_execute(&expected[0].1).await.unwrap();
    t.app.verify::<Note>().await.unwrap();
}
