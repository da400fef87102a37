//! `#[derive(PgEnum)]` and `sql_type`: parameters resolved from the column, by name.

use pgrepo::tokio_postgres::types::{FromSql, Kind, ToSql, Type};
use pgrepo::{Entity, ParamType, PgEnum, SqlType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PgEnum)]
#[pgrepo(type_name = "billing.plan", rename_all = "snake_case")]
pub enum Plan {
    Free,
    #[pgrepo(rename = "professional")]
    Pro,
}

#[derive(Debug, Entity)]
#[pgrepo(table = "accounts")]
pub struct Account {
    #[pgrepo(id, generated)]
    pub id: i64,
    #[pgrepo(lookup)]
    pub plan: Plan,
    pub history: Vec<Plan>,
    #[pgrepo(unique, sql_type = "citext")]
    pub email: String,
    #[pgrepo(sql_type = "citext[]")]
    pub aliases: Option<Vec<String>>,
}

fn main() {
    assert_eq!(
        <Plan as SqlType>::PARAM_TYPE,
        ParamType::from_column("billing.plan")
    );
    let enum_type = Type::new("plan".into(), 16_500, Kind::Enum(vec![]), "billing".into());
    assert!(<Plan as ToSql>::accepts(&enum_type));
    assert!(<Plan as FromSql>::accepts(&enum_type));
    assert!(!<Plan as ToSql>::accepts(&Type::TEXT));
    let other_schema = Type::new("plan".into(), 16_501, Kind::Enum(vec![]), "public".into());
    assert!(!<Plan as ToSql>::accepts(&other_schema));

    let columns = Account::columns();
    assert_eq!(columns[1].param_type, ParamType::from_column("billing.plan"));
    assert_eq!(columns[1].pg_type.oid(), 0);
    assert_eq!(
        columns[2].param_type,
        ParamType::FromColumn { name: "billing.plan", array: true }
    );
    assert_eq!(columns[3].param_type, ParamType::from_column("citext"));
    assert_eq!(
        columns[4].param_type,
        ParamType::FromColumn { name: "citext", array: true }
    );
}
