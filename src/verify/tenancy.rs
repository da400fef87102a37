//! The check that PostgreSQL filters a tenant entity's table (`#[pgrepo(tenant)]`): the part of
//! `verify` about row-level security, with one catalog query per tenant entity (`PROTECTION_SQL`;
//! other entities are never queried nor reported).
//!
//! What a table needs is the table's own business and always reported as a mismatch: row-level
//! security enabled, a policy, and policies that read the tenant setting. Whether rows get
//! through also depends on the role that connects, which `verify` only knows as its own: a
//! verifying role that would be refused tenant scopes as their owner (an ordinary role that owns
//! the table, without `FORCE ROW LEVEL SECURITY`) is a mismatch, since its tenant scopes would
//! fail (`Error::TenantUnprotected`, from `tenant::admit`); a superuser or `BYPASSRLS` role is
//! an administrator's connection (CI and migrations commonly verify as one), so that is a
//! warning saying what was not checked, never a mismatch.

use std::fmt;

use tokio_postgres::types::Type;

use super::{EntityCheck, Mismatch, SchemaReport};
use crate::db::Db;
use crate::error::Result;
use crate::exec::Executor as _;

/// Why PostgreSQL would not filter a tenant entity's rows by tenant
/// ([`Mismatch::TenantUnprotected`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TenantProtection {
    /// Row-level security is not enabled on the table: every role sees every tenant's rows.
    RowSecurityDisabled,
    /// Row-level security is enabled but the table has no policy: every row is hidden from
    /// everyone but its owner and roles that bypass row-level security.
    NoPolicy,
    /// These permissive policies for reads neither mention the tenant setting in their `USING`
    /// expression nor call a function whose definition does, and no restrictive policy does:
    /// the rows they let through are not filtered by the scope's tenant.
    PolicyIgnoresSetting {
        /// The policies, by name.
        policies: Vec<String>,
        /// The setting a scope's tenant goes into (`DbBuilder::tenant_setting`).
        setting: String,
    },
    /// The role `verify` connected as owns the table (or is a member of its owner), and the
    /// table lacks `FORCE ROW LEVEL SECURITY`: row-level security does not filter its owner,
    /// so tenant scopes of a `Db` connected as this role are refused.
    OwnerNotForced {
        /// The verifying role.
        role: String,
    },
}

impl fmt::Display for TenantProtection {
    /// What lets rows through (the fix is [`Mismatch::TenantUnprotected`]'s `fix`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TenantProtection::RowSecurityDisabled => f.write_str(
                "row-level security is not enabled, so every role sees every tenant's rows",
            ),
            TenantProtection::NoPolicy => f.write_str(
                "row-level security is enabled but the table has no policy, so every row is \
                 hidden from the application's role",
            ),
            TenantProtection::PolicyIgnoresSetting { policies, setting } => write!(
                f,
                "the policies {} let rows through without reading the tenant setting \
                 `{setting}` (neither their USING expression nor a function they call \
                 mentions it); drop them for a policy that does, or make them compare the \
                 tenant column with the setting",
                policies
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TenantProtection::OwnerNotForced { role } => write!(
                f,
                "the role `{role}` owns the table and row-level security does not filter a \
                 table's owner without FORCE ROW LEVEL SECURITY, so tenant scopes of this \
                 role are refused; force it, or connect as a role that does not own the table"
            ),
        }
    }
}

/// The table and the verifying role as row-level security sees them. `$1` is the table's
/// reference, `$2` the tenant setting's name. A policy "reads the setting" when its `USING`
/// expression mentions the name, or it calls a function (recorded in `pg_depend`) whose
/// definition does; one level deep.
const PROTECTION_SQL: &str = "\
WITH reads AS (
    SELECT p.oid, p.polname::text AS name, p.polpermissive AS permissive,
           p.polcmd IN ('r', '*') AND p.polqual IS NOT NULL AS filters_reads,
           strpos(COALESCE(pg_catalog.pg_get_expr(p.polqual, p.polrelid), ''), $2) > 0
           OR EXISTS (
               SELECT 1 FROM pg_catalog.pg_depend d
               JOIN pg_catalog.pg_proc f ON f.oid = d.refobjid
               WHERE d.classid = 'pg_catalog.pg_policy'::regclass AND d.objid = p.oid
                 AND d.refclassid = 'pg_catalog.pg_proc'::regclass AND f.prokind = 'f'
                 AND strpos(pg_catalog.pg_get_functiondef(f.oid), $2) > 0
           ) AS reads_setting
    FROM pg_catalog.pg_policy p
    WHERE p.polrelid = to_regclass($1)
)
SELECT r.rolname::text, r.rolsuper, r.rolbypassrls,
       c.relrowsecurity, c.relforcerowsecurity,
       pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE'),
       (SELECT count(*) FROM reads),
       ARRAY(SELECT name FROM reads
             WHERE permissive AND filters_reads AND NOT reads_setting ORDER BY name),
       EXISTS (SELECT 1 FROM reads WHERE NOT permissive AND filters_reads AND reads_setting)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_roles r ON r.rolname = current_user
WHERE c.oid = to_regclass($1)";

/// Reports what lets rows of `check`'s table through, if it has a tenant column; `column_type`
/// is the tenant column's type as the catalog names it (for the policy in the fix).
pub(super) async fn check(
    db: &Db,
    check: &EntityCheck,
    column_type: Option<&str>,
    report: &mut SchemaReport,
) -> Result<()> {
    let Some(column) = check.columns.iter().find(|c| c.tenant) else {
        return Ok(());
    };
    let setting = crate::tenant::settings_name(db.settings()).to_owned();
    let rows = db
        .query(
            crate::Sql::read(PROTECTION_SQL).types(&[Type::TEXT, Type::TEXT]),
            &[&check.table_ref, &setting],
        )
        .await?;
    let Some(row) = rows.first() else {
        // The table is gone since the columns were read: `MissingTable` said so.
        return Ok(());
    };
    let table_ref = &check.table_ref;
    let mut column_ref = String::new();
    crate::sql::quote_ident(&mut column_ref, column.name);
    let policy = format!(
        "CREATE POLICY tenant ON {table_ref} USING ({column_ref} = (SELECT \
         NULLIF(current_setting('{setting}', true), '')::{}))",
        column_type.unwrap_or("<type>")
    );
    let mut unprotected = |reason: TenantProtection, fix: String| {
        report.mismatches.push(Mismatch::TenantUnprotected {
            table: check.table.to_owned(),
            column: column.name.to_owned(),
            reason,
            fix,
        });
    };
    let role: String = row.get(0);
    let bypasses = row.get::<_, bool>(1) || row.get::<_, bool>(2);
    let (enabled, forced, owns): (bool, bool, bool) = (row.get(3), row.get(4), row.get(5));
    let policies: i64 = row.get(6);
    let ignoring: Vec<String> = row.get(7);
    let restricted: bool = row.get(8);
    if !enabled {
        unprotected(
            TenantProtection::RowSecurityDisabled,
            format!("ALTER TABLE {table_ref} ENABLE ROW LEVEL SECURITY"),
        );
    }
    if policies == 0 {
        unprotected(TenantProtection::NoPolicy, policy.clone());
    } else if !ignoring.is_empty() && !restricted {
        let drops: Vec<String> = ignoring
            .iter()
            .map(|name| {
                let mut quoted = String::new();
                crate::sql::quote_ident(&mut quoted, name);
                format!("DROP POLICY {quoted} ON {table_ref}")
            })
            .collect();
        unprotected(
            TenantProtection::PolicyIgnoresSetting {
                policies: ignoring,
                setting: setting.clone(),
            },
            format!("{}; {policy}", drops.join("; ")),
        );
    }
    if bypasses {
        report.warnings.push(format!(
            "`{}`: verify connected as `{role}`, which bypasses row-level security \
             (SUPERUSER or BYPASSRLS): tenant scopes of a Db connected as this role are refused; \
             whether the application's role owns the table without FORCE ROW LEVEL SECURITY \
             was not checked (verify with the application's Db to check it)",
            check.table
        ));
    } else if owns && !forced {
        unprotected(
            TenantProtection::OwnerNotForced { role },
            format!("ALTER TABLE {table_ref} FORCE ROW LEVEL SECURITY"),
        );
    }
    Ok(())
}
