//! Tenant scopes: row-level security enforced by PostgreSQL, with the tenant set for one
//! transaction at a time.
//!
//! An entity declares its tenant column with `#[pgrepo(tenant)]`; its generated statements are
//! marked tenant-scoped ([`Statement::is_tenant_scoped`](crate::Statement::is_tenant_scoped)).
//! [`Db::tenant`](crate::Db::tenant) makes a [`Scope`](crate::Scope) whose every statement runs
//! in a one-statement transaction: `BEGIN; SET LOCAL pgrepo.tenant = E'<id>'` in one message
//! (the name is [`DbBuilder::tenant_setting`](crate::DbBuilder::tenant_setting)'s, checked; the id
//! an escape-string literal, checked for NUL), the statement and `COMMIT`, pipelined: one round
//! trip, three requests. Its transactions set it in their `BEGIN`. The setting is
//! transaction-local: nothing of it stays on a pooled connection. (A bound
//! `set_config($1, $2, true)` costs a fourth request and a parse; measured slower, see
//! benches/benches/tenancy.rs.)
//!
//! Fail closed, in the one execution path (`exec::run_in`), before any SQL is sent:
//! - a tenant-scoped statement outside a tenant scope is [`Error::TenantRequired`];
//! - inside one, the first statement on each table checks, once per `Db`, that PostgreSQL will
//!   filter its rows: the role is neither a superuser nor `BYPASSRLS`, the table has row-level
//!   security enabled and a policy, and, if the role owns it, `FORCE ROW LEVEL SECURITY`
//!   ([`Error::TenantUnprotected`] otherwise, saying what to run);
//! - [`Db::all_tenants`](crate::Db::all_tenants) is the explicit scope for back-office code
//!   that must see every tenant (connect it as a role that may).

use std::collections::HashSet;
use std::panic::Location;
use std::sync::{Arc, Mutex};

use tokio_postgres::types::{ToSql, Type};

use crate::db::Db;
use crate::error::{Error, Result};
use crate::exec::envelope::Locals;
use crate::exec::{Executor, Settings};
use crate::scope::Scope;
use crate::sql::raw::Sql;
use crate::sql::Statement;

/// The setting policies read when none is configured: `current_setting('pgrepo.tenant', true)`.
pub const DEFAULT_TENANT_SETTING: &str = "pgrepo.tenant";

/// The longest tenant id accepted (bytes of its text form).
pub const MAX_TENANT_ID_LEN: usize = 256;

/// A value that names a tenant: its text form is what the setting holds, and what policies
/// cast back (`NULLIF(current_setting('pgrepo.tenant', true), '')::bigint`); as a parameter
/// it is bound to the tenant column's own type (so give the column's type: `i64` for
/// `bigint`, `Uuid` for `uuid`, `String` or `&str` for `text`).
pub trait TenantId {
    /// The text the setting is given.
    fn to_setting(&self) -> String;

    /// The id as a parameter, and which column types it binds to.
    #[doc(hidden)]
    fn to_param(&self) -> TenantParam;
}

/// A tenant id as a parameter, and which column types it binds to.
#[doc(hidden)]
pub type TenantParam = (Arc<dyn ToSql + Send + Sync>, fn(&Type) -> bool);

macro_rules! tenant_id {
    ($($ty:ty => $owned:ty),*) => {$(
        impl TenantId for $ty {
            fn to_setting(&self) -> String {
                self.to_string()
            }

            fn to_param(&self) -> TenantParam {
                let owned: $owned = self.to_owned();
                (Arc::new(owned), <$owned as ToSql>::accepts)
            }
        }
    )*};
}
tenant_id!(String => String, str => String);

macro_rules! tenant_id_int {
    ($($ty:ty),*) => {$(
        impl TenantId for $ty {
            fn to_setting(&self) -> String {
                self.to_string()
            }

            fn to_param(&self) -> TenantParam {
                (Arc::new(IntId(i64::from(*self))), IntId::accepts_type)
            }
        }
    )*};
}
tenant_id_int!(i16, i32, i64, u32);

/// An integer tenant id, bound as whichever integer type the column has (`db.tenant(7)` is an
/// `i32` literal; the column is usually `bigint`), refused when it does not fit.
#[derive(Debug)]
struct IntId(i64);

impl IntId {
    fn accepts_type(ty: &Type) -> bool {
        matches!(*ty, Type::INT2 | Type::INT4 | Type::INT8)
    }
}

impl ToSql for IntId {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        match *ty {
            Type::INT2 => i16::try_from(self.0)?.to_sql(ty, out),
            Type::INT4 => i32::try_from(self.0)?.to_sql(ty, out),
            _ => self.0.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        Self::accepts_type(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

#[cfg(feature = "uuid")]
impl TenantId for uuid::Uuid {
    fn to_setting(&self) -> String {
        self.hyphenated().to_string()
    }

    fn to_param(&self) -> TenantParam {
        (Arc::new(*self), <uuid::Uuid as ToSql>::accepts)
    }
}

impl<T: TenantId + ?Sized> TenantId for &T {
    fn to_setting(&self) -> String {
        (**self).to_setting()
    }

    fn to_param(&self) -> TenantParam {
        (**self).to_param()
    }
}

/// A scope's tenant: its text (the setting, cursors) and its typed value (the tenant filter's
/// parameter, inserts).
pub(crate) struct TenantValue {
    pub(crate) text: Arc<str>,
    pub(crate) param: Arc<dyn ToSql + Send + Sync>,
    accepts: fn(&Type) -> bool,
}

impl std::fmt::Debug for TenantValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TenantValue").field(&self.text).finish()
    }
}

impl PartialEq for TenantValue {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}
impl Eq for TenantValue {}

/// The scope's tenant as the last parameter of a tenant-filtered statement, checked against the
/// column's type before anything is sent.
pub(crate) fn tenant_param<'s>(
    settings: &'s Settings,
    statement: &Statement,
) -> Result<&'s (dyn ToSql + Sync)> {
    let Some(Tenancy::One(tenant)) = &settings.tenant else {
        return Err(Error::TenantRequired {
            table: statement.table,
            statement: statement.label,
        });
    };
    let ty = statement
        .types
        .last()
        .expect("a tenant parameter is declared");
    // OID 0: the server types it from the column (a domain, an enum): it checks it then.
    if ty.oid() != 0 && !(tenant.accepts)(ty) {
        return Err(Error::InvalidTenant {
            reason: "its Rust type does not bind to the tenant column's type (give an i64 \
                     for bigint, a Uuid for uuid, a String for text)",
        });
    }
    Ok(tenant.param.as_ref())
}

impl Db {
    /// A scope serving tenant `id`: every statement in it (repositories, listings, exports,
    /// loaders, `query_as`, …) runs in a transaction that first sets the tenant
    /// transaction-locally (`BEGIN; SET LOCAL pgrepo.tenant = E'<id>'`, pipelined with the
    /// statement and `COMMIT`: one round trip), so PostgreSQL's row-level security
    /// policies filter every row, and nothing of it stays on a pooled connection. Its
    /// transactions ([`Scope::transaction`]) set it in their `BEGIN`.
    ///
    /// The policies do the filtering; pgrepo makes sure they apply: the first statement on each
    /// tenant table checks, once per `Db`, that the role does not bypass them and that the table
    /// has them ([`Error::TenantUnprotected`]). A policy reads the setting like this:
    ///
    /// ```sql
    /// ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
    /// ALTER TABLE notes FORCE ROW LEVEL SECURITY; -- if the app's role owns the table
    /// CREATE POLICY tenant ON notes
    ///     USING (tenant_id = (SELECT NULLIF(current_setting('pgrepo.tenant', true), '')::bigint));
    /// ```
    ///
    /// (the sub-select is evaluated once per statement; `NULLIF` because after a transaction
    /// that set it, the setting reads `''`, not NULL). Without a scope, a statement of a tenant
    /// entity is refused ([`Error::TenantRequired`]), and hand-written SQL sees no tenant's
    /// rows. Cursors of one tenant's listings are rejected in another's scope.
    ///
    /// Where it is called is recorded as the borrower of its statements' connections.
    ///
    /// # Errors
    /// [`Error::InvalidTenant`] for an id whose text is empty, has a NUL byte or is longer than
    /// [`MAX_TENANT_ID_LEN`].
    #[track_caller]
    pub fn tenant(&self, id: impl TenantId) -> Result<Scope> {
        let text = checked_id(&id)?;
        check_setting_name(settings_name(self.settings()))?;
        let (param, accepts) = id.to_param();
        let mut settings = self.settings().clone();
        settings.locals = Some(Arc::new(Locals::new(&[(settings_name(&settings), &text)])));
        settings.tenant = Some(Tenancy::One(Arc::new(TenantValue {
            text: text.into(),
            param,
            accepts,
        })));
        Ok(Scope::new(self.clone(), settings, Location::caller()))
    }

    /// A scope in which statements of tenant entities run without a tenant: for back-office,
    /// migration and reporting code that must see every tenant, on purpose and visibly. No
    /// tenant is set, so what it sees is what the role may see: connect it as a role that
    /// bypasses row-level security (a separate `Db` with an owner or admin role); as the
    /// application's role, the policies still hide every row.
    #[track_caller]
    pub fn all_tenants(&self) -> Scope {
        let at = Location::caller();
        tracing::info!(at = %at, "pgrepo: an all-tenants scope was made");
        let mut settings = self.settings().clone();
        settings.tenant = Some(Tenancy::All);
        Scope::new(self.clone(), settings, at)
    }
}

/// Which tenant a scope serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tenancy {
    /// One tenant.
    One(Arc<TenantValue>),
    /// Every tenant, on purpose ([`Db::all_tenants`](crate::Db::all_tenants)).
    All,
}

/// Tables whose protection a `Db` has checked, shared by every scope made from it.
#[derive(Debug, Clone, Default)]
pub(crate) struct CheckedTables(Arc<Mutex<HashSet<&'static str>>>);

impl CheckedTables {
    fn contains(&self, table: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(table)
    }

    fn insert(&self, table: &'static str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(table);
    }
}

/// A tenant id's text, checked: not empty, no NUL byte (which PostgreSQL's text cannot hold),
/// at most [`MAX_TENANT_ID_LEN`] bytes.
pub(crate) fn checked_id(id: &(impl TenantId + ?Sized)) -> Result<String> {
    let text = id.to_setting();
    let reason = if text.is_empty() {
        "it is empty"
    } else if text.contains('\0') {
        "it contains a NUL byte"
    } else if text.len() > MAX_TENANT_ID_LEN {
        "it is longer than 256 bytes"
    } else {
        return Ok(text);
    };
    Err(Error::InvalidTenant { reason })
}

/// A custom setting's name as `SET LOCAL` takes it: `part.part…`, each part a lower-case
/// letter or `_` followed by letters, digits and `_` (no quoting needed, nothing else).
pub(crate) fn check_setting_name(name: &str) -> Result<()> {
    let part = |p: &str| {
        p.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    if name.contains('.') && name.len() <= 63 && name.split('.').all(part) {
        Ok(())
    } else {
        Err(Error::InvalidTenant {
            reason: "the tenant setting's name (DbBuilder::tenant_setting) must be a custom \
                     setting name such as `app.tenant_id`: lower-case parts of letters, digits \
                     and `_`, joined by dots",
        })
    }
}

/// Lets a tenant-scoped statement run in `exec`, or says why not, before anything is sent.
pub(crate) async fn admit<X: Executor + ?Sized>(exec: &X, statement: &Statement) -> Result<()> {
    let settings = exec.settings();
    let Some(table) = statement.tenant_table else {
        return Ok(());
    };
    match &settings.tenant {
        None => Err(Error::TenantRequired {
            table: statement.table,
            statement: statement.label,
        }),
        Some(Tenancy::All) => Ok(()),
        Some(Tenancy::One(_)) if settings.checked_tables.contains(table) => Ok(()),
        Some(Tenancy::One(_)) => {
            check_protection(exec, settings, table).await?;
            settings.checked_tables.insert(table);
            Ok(())
        }
    }
}

/// The role and the table, as row-level security sees them.
const PROTECTION: &str = "SELECT r.rolname::text, r.rolsuper, r.rolbypassrls, \
    c.relrowsecurity, c.relforcerowsecurity, pg_has_role(current_user, c.relowner, 'USAGE'), \
    (SELECT count(*) FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid) \
    FROM pg_catalog.pg_roles r LEFT JOIN pg_catalog.pg_class c ON c.oid = to_regclass($1) \
    WHERE r.rolname = current_user";

async fn check_protection<X: Executor + ?Sized>(
    exec: &X,
    settings: &Settings,
    table: &'static str,
) -> Result<()> {
    let sql = Sql::read(PROTECTION).types(&[Type::TEXT]);
    let statement = sql.statement("tenant_check");
    let rows = exec.run(&statement, &[&table]).await?;
    let unprotected = |reason: String| Error::TenantUnprotected {
        table: table.to_owned(),
        reason,
    };
    let Some(row) = rows.first() else {
        return Err(unprotected("the current role was not found".into()));
    };
    let role: String = row.get(0);
    if row.get::<_, bool>(1) {
        return Err(unprotected(format!(
            "the role `{role}` is a superuser, which row-level security never filters; \
             connect tenant scopes as a role without SUPERUSER and BYPASSRLS"
        )));
    }
    if row.get::<_, bool>(2) {
        return Err(unprotected(format!(
            "the role `{role}` has BYPASSRLS, which row-level security never filters; \
             `ALTER ROLE {role} NOBYPASSRLS` or connect as another role"
        )));
    }
    let Some(enabled) = row.get::<_, Option<bool>>(3) else {
        return Err(unprotected("the table does not exist".into()));
    };
    if !enabled {
        return Err(unprotected(format!(
            "row-level security is not enabled: `ALTER TABLE {table} ENABLE ROW LEVEL \
             SECURITY` and create a policy on the tenant column"
        )));
    }
    if row.get::<_, i64>(6) == 0 {
        return Err(unprotected(format!(
            "the table has no policy (with none, every row is hidden from everyone but its \
             owner): `CREATE POLICY tenant ON {table} USING (<tenant column> = \
             (SELECT NULLIF(current_setting('{}', true), '')::<type>))`",
            settings_name(settings)
        )));
    }
    let forced: bool = row.get(4);
    let owns: bool = row.get(5);
    if owns && !forced {
        return Err(unprotected(format!(
            "the role `{role}` owns the table, and row-level security does not filter its \
             owner: `ALTER TABLE {table} FORCE ROW LEVEL SECURITY`, or connect as a role that \
             does not own it"
        )));
    }
    Ok(())
}

/// The name of the setting a scope's tenant goes into.
pub(crate) fn settings_name(settings: &Settings) -> &str {
    settings
        .tenant_setting
        .as_deref()
        .unwrap_or(DEFAULT_TENANT_SETTING)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_checked_before_anything_is_sent() {
        assert_eq!(checked_id(&42i64).unwrap(), "42");
        assert_eq!(checked_id("acme").unwrap(), "acme");
        for bad in ["", "a\0b", &"x".repeat(MAX_TENANT_ID_LEN + 1)] {
            assert!(
                matches!(checked_id(bad), Err(Error::InvalidTenant { .. })),
                "{bad:?}"
            );
        }
        assert!(checked_id(&"x".repeat(MAX_TENANT_ID_LEN)).is_ok());
    }

    #[test]
    fn setting_names_need_no_quoting() {
        for good in ["pgrepo.tenant", "app.tenant_id", "a.b.c", "_x.y2"] {
            assert!(check_setting_name(good).is_ok(), "{good}");
        }
        for bad in [
            "tenant",
            "App.x",
            "a.'x",
            "a. b",
            "a.b; DROP",
            "a..b",
            ".a",
            "a.1b",
        ] {
            assert!(check_setting_name(bad).is_err(), "{bad}");
        }
    }
}
