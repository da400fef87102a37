//! Types whose parameters the server resolves from the column (a native enum, `citext`) and
//! arrays, against a real server, in both statement modes; and what `verify` says when a field
//! is bound as `text` on such a column.

use std::net::IpAddr;

use pgrepo::{Entity, Error, Mismatch, PgEnum, StatementMode, TextEnum};

use crate::common::*;

pub const TYPES_SCHEMA: &str = r#"
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TYPE plan AS ENUM ('free', 'pro', 'enterprise');
CREATE TABLE accounts (
    id BIGSERIAL PRIMARY KEY,
    email CITEXT NOT NULL UNIQUE,
    plan plan NOT NULL,
    previous_plan plan,
    tags TEXT[] NOT NULL,
    scores BIGINT[] NOT NULL,
    aliases TEXT[],
    plans plan[] NOT NULL,
    ip INET
);
CREATE INDEX accounts_plan ON accounts (plan DESC, id);
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PgEnum)]
#[pgrepo(type_name = "plan", rename_all = "snake_case")]
pub enum Plan {
    Free,
    Pro,
    Enterprise,
}

#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "accounts", new_derive(Debug, Clone))]
#[pgrepo(listing(name = "by_plan", order_by = "plan desc, id"))]
pub struct Account {
    #[pgrepo(id, generated)]
    pub id: i64,
    #[pgrepo(unique, sql_type = "citext")]
    pub email: String,
    #[pgrepo(lookup)]
    pub plan: Plan,
    pub previous_plan: Option<Plan>,
    pub tags: Vec<String>,
    pub scores: Vec<i64>,
    pub aliases: Option<Vec<String>>,
    pub plans: Vec<Plan>,
    pub ip: Option<IpAddr>,
}

fn account(i: usize, plan: Plan) -> NewAccount {
    NewAccount {
        email: format!("User{i}@Example.com"),
        plan,
        previous_plan: (i % 2 == 0).then_some(Plan::Free),
        // Different lengths per row, including empty arrays and NULL.
        tags: (0..i % 3).map(|t| format!("tag{t}")).collect(),
        scores: (0..i as i64 % 4).map(|s| s * 10).collect(),
        aliases: (i % 3 != 1).then(|| vec![format!("alias{i}"); i % 2]),
        plans: vec![plan; i % 2 + 1],
        ip: Some(format!("10.0.0.{i}").parse().unwrap()),
    }
}

/// A database with the types schema; `None` (the test skips, saying so) only on a second
/// installation without `citext` (see `common::lacks_extension`).
async fn fresh_types(prefix: &str, mode: StatementMode) -> Option<TestDb> {
    let t = fresh_with(prefix, |b| b.statement_mode(mode)).await;
    if lacks_extension(&t.db, "citext").await {
        return None;
    }
    t.db.batch_execute(TYPES_SCHEMA)
        .await
        .expect("types schema");
    Some(t)
}

/// Everything the entity can do with an enum, a citext and arrays, in one statement mode.
pub(crate) async fn round_trip(t: &TestDb) {
    t.db.verify::<Account>()
        .await
        .expect("the entity matches its table");
    let accounts = t.db.repo::<Account>();

    // Insert and read back: the enum, citext, arrays and inet survive both ways.
    let ada = accounts.insert(&account(4, Plan::Pro)).await.unwrap();
    assert_eq!(ada.plan, Plan::Pro);
    assert_eq!(accounts.get(ada.id).await.unwrap().as_ref(), Some(&ada));

    // Several rows in one statement: arrays of different lengths, empty and NULL.
    let news: Vec<NewAccount> = (10..16)
        .map(|i| account(i, [Plan::Free, Plan::Enterprise][i % 2]))
        .collect();
    let many = accounts.insert_many(&news).await.unwrap();
    for (new, stored) in news.iter().zip(&many) {
        assert_eq!(
            (&stored.tags, &stored.scores, &stored.aliases, &stored.plans),
            (&new.tags, &new.scores, &new.aliases, &new.plans),
            "row {} as stored",
            stored.email
        );
    }
    assert!(many
        .iter()
        .any(|a| a.tags.is_empty() && a.scores.is_empty()));
    assert!(many.iter().any(|a| a.aliases.is_none()));
    let ids: Vec<i64> = many.iter().map(|a| a.id).collect();
    let mut got = accounts.get_many(&ids).await.unwrap();
    got.sort_by_key(|a| a.id);
    assert_eq!(got, many);
    let counted = accounts
        .insert_many_count(&[account(20, Plan::Pro), account(21, Plan::Pro)])
        .await
        .unwrap();
    assert_eq!(counted, 2);

    // Lookups by the enum compare enums; a listing filters and sorts by it.
    let pro = accounts.find_by(Account::PLAN, Plan::Pro).await.unwrap();
    assert_eq!(pro.len(), 3);
    assert_eq!(
        accounts.count_by(Account::PLAN, Plan::Free).await.unwrap(),
        3
    );
    let enterprise = accounts
        .list()
        .filter(Account::PLAN, Plan::Enterprise)
        .unwrap()
        .first(10)
        .await
        .unwrap();
    assert_eq!(enterprise.items.len(), 3);
    let listing = accounts.list_by(Account::BY_PLAN);
    let first = listing.first(4).await.unwrap();
    let rest = listing
        .after(first.end_cursor.as_ref().unwrap(), 10)
        .await
        .unwrap();
    let order: Vec<Plan> = first
        .items
        .iter()
        .chain(&rest.items)
        .map(|a| a.plan)
        .collect();
    assert_eq!(order.len(), 9);
    // `desc` in the enum's declared order, not alphabetically.
    assert!(
        order.windows(2).all(|w| w[0] as u8 >= w[1] as u8),
        "{order:?}"
    );

    // A citext column compares case-insensitively: the parameter is citext, not text.
    let found = accounts
        .find_one_by(Account::EMAIL, "user4@example.COM".to_owned())
        .await
        .unwrap();
    assert_eq!(found.map(|a| a.id), Some(ada.id));
    let batch = accounts
        .find_by_any(Account::EMAIL, &["USER11@EXAMPLE.COM".to_owned()])
        .await
        .unwrap();
    assert_eq!(batch.len(), 1);

    // Updates bind the same types.
    let mut changed = ada.clone();
    changed.plan = Plan::Enterprise;
    changed.tags = vec!["a".into(), "b".into(), "c".into()];
    changed.aliases = None;
    assert_eq!(accounts.update(&changed).await.unwrap(), changed);
}

#[tokio::test]
async fn enums_citext_and_arrays_round_trip_with_prepared_statements() {
    let Some(t) = fresh_types("types_prepared", StatementMode::Prepared).await else {
        return;
    };
    round_trip(&t).await;
}

#[tokio::test]
async fn enums_citext_and_arrays_round_trip_with_unnamed_statements() {
    let Some(t) = fresh_types("types_unnamed", StatementMode::Unnamed).await else {
        return;
    };
    round_trip(&t).await;
}

/// The old way: an enum stored as text on a native enum column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, TextEnum)]
#[pgrepo(rename_all = "snake_case")]
pub enum PlanAsText {
    Free,
    Pro,
    Enterprise,
}

/// The same table, with the enum bound as text and the citext column as a plain `String`.
#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "accounts")]
pub struct TextBoundAccount {
    #[pgrepo(id, generated)]
    pub id: i64,
    #[pgrepo(unique)]
    pub email: String,
    #[pgrepo(lookup)]
    pub plan: PlanAsText,
    pub previous_plan: Option<PlanAsText>,
    pub tags: Vec<String>,
    pub scores: Vec<i64>,
    pub aliases: Option<Vec<String>>,
    pub plans: Vec<PlanAsText>,
    pub ip: Option<IpAddr>,
}

#[tokio::test]
async fn verify_reports_text_bound_fields_on_enum_and_citext_columns() {
    let Some(t) = fresh_types("types_text_bound", StatementMode::Prepared).await else {
        return;
    };
    // What the report prevents: text into an enum column fails at the first insert.
    let err =
        t.db.repo::<TextBoundAccount>()
            .insert(&NewTextBoundAccount {
                email: "ada@example.com".into(),
                plan: PlanAsText::Pro,
                previous_plan: None,
                tags: vec![],
                scores: vec![],
                aliases: None,
                plans: vec![],
                ip: None,
            })
            .await
            .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42804"), "{err}");

    let Err(Error::SchemaMismatch(report)) = t.db.verify::<TextBoundAccount>().await else {
        panic!("verify must report the text-bound fields");
    };
    let columns: Vec<(&str, &str)> = report
        .mismatches
        .iter()
        .filter_map(|m| match m {
            Mismatch::ParamType { column, found, .. } => Some((column.as_str(), found.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        columns,
        [
            ("email", "citext"),
            ("plan", "plan"),
            ("previous_plan", "plan"),
            ("plans", "plan[]")
        ],
        "{report}"
    );
    let text = report.to_string();
    assert!(
        text.contains(r#"`PgEnum` with `#[pgrepo(type_name = "plan")]`"#),
        "{text}"
    );
    assert!(
        text.contains(r#"`#[pgrepo(sql_type = "citext")]`"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_citext_column_bound_as_text_is_case_sensitive() {
    // The failure `sql_type = "citext"` prevents: the same lookup through a field bound as
    // text compares as text and misses.
    let Some(t) = fresh_types("types_citext_text", StatementMode::Prepared).await else {
        return;
    };
    t.db.repo::<Account>()
        .insert(&account(1, Plan::Free))
        .await
        .unwrap();
    let text_bound = t.db.repo::<TextBoundAccount>();
    let exact = text_bound
        .find_one_by(TextBoundAccount::EMAIL, "User1@Example.com".to_owned())
        .await
        .unwrap();
    assert!(exact.is_some());
    let other_case = text_bound
        .find_one_by(TextBoundAccount::EMAIL, "user1@example.com".to_owned())
        .await
        .unwrap();
    assert!(
        other_case.is_none(),
        "bound as text, the lookup is case-sensitive"
    );
}

/// Domains: over `citext`, named by its base (`sql_type = "citext"`), and over `text`, read and
/// written as the base type. The server types an insert's parameter as the domain and checks the
/// domain's constraint.
#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "contacts")]
pub struct Contact {
    #[pgrepo(id, generated)]
    pub id: i64,
    #[pgrepo(unique, sql_type = "citext")]
    pub email: String,
    #[pgrepo(lookup)]
    pub handle: String,
}

async fn domains(mode: StatementMode) {
    let Some(t) = fresh_types("types_domains", mode).await else {
        return;
    };
    t.db.batch_execute(
        "CREATE DOMAIN email AS citext CHECK (VALUE LIKE '%@%'); \
         CREATE DOMAIN handle AS text CHECK (VALUE <> ''); \
         CREATE TABLE contacts (id BIGSERIAL PRIMARY KEY, email email NOT NULL UNIQUE, \
             handle handle NOT NULL)",
    )
    .await
    .unwrap();
    t.db.verify::<Contact>()
        .await
        .expect("the entity matches its table");
    let contacts = t.db.repo::<Contact>();
    let ada = contacts
        .insert(&NewContact {
            email: "Ada@Example.com".into(),
            handle: "ada".into(),
        })
        .await
        .unwrap();
    let found = contacts
        .find_one_by(Contact::EMAIL, "ada@example.com".to_owned())
        .await
        .unwrap();
    assert_eq!(found, Some(ada.clone()));
    let by_handle = contacts
        .find_by(Contact::HANDLE, "ada".to_owned())
        .await
        .unwrap();
    assert_eq!(by_handle, [ada]);
    let many = contacts
        .insert_many(&[
            NewContact {
                email: "b@example.com".into(),
                handle: "b".into(),
            },
            NewContact {
                email: "c@example.com".into(),
                handle: "c".into(),
            },
        ])
        .await
        .unwrap();
    assert_eq!(many.len(), 2);
    // The domain's constraint holds for values bound as its base type.
    let err = contacts
        .insert(&NewContact {
            email: "not an address".into(),
            handle: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("23514"), "{err}");
}

#[tokio::test]
async fn domain_columns_bind_as_their_base_with_prepared_statements() {
    domains(StatementMode::Prepared).await;
}

#[tokio::test]
async fn domain_columns_bind_as_their_base_with_unnamed_statements() {
    domains(StatementMode::Unnamed).await;
}
