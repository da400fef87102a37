//! Derive macros of [`pgrepo`](https://docs.rs/pgrepo): `#[derive(Entity)]` maps a struct to a
//! table, `#[derive(Insertable)]` inserts from a struct of your own, `#[derive(TextEnum)]` stores
//! a fieldless enum as text.
//!
//! Use them through the `pgrepo` crate (`use pgrepo::{Entity, Insertable, TextEnum};`), never
//! by depending on this crate directly: the generated code names `::pgrepo` items, and the two
//! crates are released together with an exact version pin. Each derive's documentation is the
//! reference of its attributes, and shows on the re-exports in `pgrepo`.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod ast;
mod attr;
mod case;
mod check;
mod ctxt;
mod expand;
mod names;
mod sort_key;

/// Maps a struct to a table.
///
/// Each named field is a column, in declaration order: the library's own statements select
/// them in that order and read rows back by position; hand-written SQL
/// (`Executor::query_as`) is matched to the fields by column name.
/// The derive implements `pgrepo::Entity` and `pgrepo::FromRow` for the struct (and
/// `pgrepo::Upsertable` when the table has a conflict target), and generates beside it:
///
/// - the insert struct `New{Struct}` (e.g. `NewUser`): every field the database does not fill,
///   with the entity's visibility and each field's own visibility and doc comments;
/// - a typed lookup constant per `lookup`, `unique` or `belongs_to` field (`User::EMAIL`);
/// - a relation constant per `belongs_to` field (`Post::AUTHOR`);
/// - a sort key constant per `listing` (`User::RECENT`).
///
/// ```rust,no_run
/// use pgrepo::prelude::*; // Db, Entity, and the Executor methods (repo, query, …)
///
/// #[derive(Debug, Clone, Entity)]
/// #[pgrepo(table = "users", order_by = "created_at desc")]
/// #[pgrepo(listing(name = "by_name", order_by = "name, email"))]
/// pub struct User {
///     #[pgrepo(id, generated)]
///     pub id: i64,
///     #[pgrepo(unique)]
///     pub email: String,
///     pub name: String,
///     #[pgrepo(column = "hair")]
///     pub hair_color: Option<String>,
///     #[pgrepo(generated)]
///     pub created_at: i64,
/// }
///
/// #[derive(Debug, Entity)]
/// #[pgrepo(table = "posts")]
/// pub struct Post {
///     #[pgrepo(id, generated)]
///     pub id: i64,
///     #[pgrepo(belongs_to = User, relation = "author")]
///     pub author_id: i64,
///     pub title: String,
/// }
///
/// # async fn demo(db: &Db) -> Result<(), pgrepo::Error> {
/// let users = db.repo::<User>();
/// // `NewUser` has every field but the generated `id` and `created_at`.
/// let ada = users
///     .insert(&NewUser { email: "ada@example.com".into(), name: "Ada".into(), hair_color: None })
///     .await?;
/// let same = users.find_one_by(User::EMAIL, "ada@example.com".to_owned()).await?;
/// let newest = users.list().first(20).await?; // `order_by`: newest first
/// let by_name = users.list_by(User::BY_NAME).first(20).await?;
/// let with_posts = db.repo::<Post>().grouped(Post::AUTHOR, vec![ada]).await?;
/// # let _ = (same, newest, by_name, with_posts);
/// # Ok(()) }
/// ```
///
/// A field's type is one of the types `pgrepo::SqlType` is implemented for (`bool`, `i16`,
/// `i32`, `i64`, `f32`, `f64`, `String`, `Vec<u8>`, `std::net::IpAddr`, and with the crate's
/// features `uuid::Uuid`, `serde_json::Value`, `pgrepo::Json<T>`, `time` and `chrono` dates and
/// times, `rust_decimal::Decimal`, `cidr` types, `pg_interval::Interval`, `pgvector::Vector`),
/// a `#[derive(TextEnum)]` or `#[derive(PgEnum)]` enum, your own `SqlType` type, a `Vec` of one
/// of them (an array column), or an `Option` of one of them (a nullable column).
///
/// Attributes go in `#[pgrepo(...)]`, keys separated by commas, on the struct or on a field;
/// one key may be spread over several `#[pgrepo(...)]` attributes, but each key (other than
/// `listing`) is given at most once.
///
/// # Struct attributes
///
/// | attribute | | |
/// | --- | --- | --- |
/// | `table = "users"` | required | the table's name |
/// | `schema = "app"` | | the table's schema; without it the connection's `search_path` decides |
/// | `new_struct = "SignUp"` | | the insert struct's name, instead of `New{Struct}` |
/// | `new_derive(Debug, Clone)` | | derives put on the insert struct (none by default) |
/// | `order_by = "created_at desc, name"` | | the default order of `Repo::list` |
/// | `listing(name = "recent", order_by = "created_at desc")` | repeatable | a named sort key, `User::RECENT`, for `Repo::list_by` |
///
/// Names are used as written: `table = "Users"` is the quoted identifier `"Users"`.
///
/// ## `order_by` and `listing`
///
/// A sort key is a comma-separated list of **field** names (not column names), each followed
/// by `asc` or `desc` in any case (`asc` when absent). Sort fields must not be `Option`s:
/// keyset pagination needs a total order. The primary key is appended as the tiebreaker unless
/// the key already contains it. Without `order_by`, listings are in primary key order.
///
/// `listing(name = "...", order_by = "...")` declares a named sort key: an associated constant
/// of type `pgrepo::SortKey<Self>` named after it in upper case, passed to `Repo::list_by`. The
/// name must be a Rust identifier and must not clash with another generated constant.
///
/// ```rust
/// # use pgrepo::Entity;
/// #[derive(Entity)]
/// #[pgrepo(table = "articles", order_by = "published_at desc")]
/// #[pgrepo(
///     listing(name = "by_title", order_by = "title"),
///     listing(name = "oldest", order_by = "published_at ASC, id")
/// )]
/// struct Article {
///     #[pgrepo(id, generated)]
///     id: i64,
///     title: String,
///     published_at: i64,
/// }
///
/// let _: pgrepo::SortKey<Article> = Article::BY_TITLE;
/// assert_eq!(Article::OLDEST.name(), "oldest");
/// ```
///
/// ## `new_struct` and `new_derive`
///
/// ```rust
/// # use pgrepo::Entity;
/// #[derive(Entity)]
/// #[pgrepo(table = "tags", schema = "blog", new_struct = "TagDraft", new_derive(Debug, Clone))]
/// pub struct Tag {
///     #[pgrepo(id)]
///     pub name: String,
///     pub color: Option<String>,
/// }
///
/// let draft = TagDraft { name: "rust".into(), color: None };
/// let _copy = draft.clone();
/// ```
///
/// # Field attributes
///
/// | attribute | |
/// | --- | --- |
/// | `id` | the primary key: exactly one field, not an `Option`; composite keys are not supported |
/// | `generated` | filled by the database (default, identity, trigger): left out of the insert struct and of updates, read back with `RETURNING` |
/// | `column = "db_name"` | the column's name, when it differs from the field's (`r#type` maps to `type` without it) |
/// | `lookup` | a typed lookup by this column, `Self::FIELD`, for `Repo::find_by` and friends (not on an array field: keys are also bound many at a time as one array) |
/// | `unique` | a lookup by a unique column (single-row reads), and the upsert conflict target |
/// | `belongs_to = Parent` | a foreign key to `Parent`'s primary key: a lookup, and a relation constant |
/// | `relation = "name"` | the name of a `belongs_to` field's relation constant |
/// | `sql_type = "citext"` | the column's type when the database defines it (`citext`, an enum, a domain, an extension's type; `schema.name` allowed; for an array field the element type, `citext` or `citext[]`): parameters are then typed by the server from the column |
///
/// ## `sql_type`
///
/// Parameters of a `String` field are declared `text`. On a `citext` column that makes lookups
/// compare as `text`, case-sensitively; `sql_type = "citext"` leaves the parameter's type to the
/// server, which takes the column's, so `find_one_by(User::EMAIL, "ada@example.com")` finds
/// `Ada@Example.com` and the column's index is used. The field's Rust type must accept the
/// named type (a `String` accepts `citext`; a domain is encoded as its base type).
/// `Db::verify` reports a `String` on a `citext` column without it, and a `TextEnum` on an
/// enum column.
///
/// ```rust
/// # use pgrepo::Entity;
/// #[derive(Entity)]
/// #[pgrepo(table = "members")]
/// struct Member {
///     #[pgrepo(id, generated)]
///     id: i64,
///     #[pgrepo(unique, sql_type = "citext")]
///     email: String,
///     #[pgrepo(sql_type = "citext[]")]
///     aliases: Vec<String>,
/// }
///
/// assert_eq!(Member::columns()[1].param_type, pgrepo::ParamType::from_column("citext"));
/// ```
///
/// ## `id` and `generated`
///
/// `#[pgrepo(id, generated)]` is a key the database assigns (`bigint GENERATED ALWAYS AS
/// IDENTITY`, `serial`, a `uuid` default): inserts leave it out and return it. A plain
/// `#[pgrepo(id)]` is a key the caller provides (a natural key): it is a field of the insert
/// struct. Any other field can be `generated` too (`created_at ... DEFAULT now()`). Updates
/// write every field that is neither the key nor `generated`. `Db::verify` reports a
/// `generated` field whose `NOT NULL` column has no default, identity, generation expression or
/// `BEFORE INSERT` trigger, a field not `generated` on a `GENERATED ALWAYS` column, and a
/// `NOT NULL` column without a default that the struct has no field for: inserts would fail.
///
/// ## `lookup`, `unique` and upserts
///
/// `lookup` declares an associated constant `pgrepo::Lookup<Self, K>` named after the field in
/// upper case (`K` is the field's type without `Option`), used by `Repo::find_by`,
/// `find_one_by`, `find_by_any`, `count_by`, `find_grouped`, `Listing::filter` and
/// `LookupLoader`. `unique` does the same for a column with a unique constraint, and makes it the
/// conflict target of `Repo::upsert` (`INSERT ... ON CONFLICT (column) DO UPDATE`). Without a
/// `unique` field, a primary key the caller provides is the conflict target; with neither, the
/// entity is not `Upsertable` and `upsert` does not compile.
///
/// ```rust,no_run
/// # use pgrepo::prelude::*;
/// #[derive(Debug, Entity)]
/// #[pgrepo(table = "accounts")]
/// struct Account {
///     #[pgrepo(id, generated)]
///     id: i64,
///     #[pgrepo(unique)]
///     login: String,
///     #[pgrepo(lookup)]
///     country: Option<String>,
/// }
///
/// # async fn demo(db: &Db) -> Result<(), pgrepo::Error> {
/// let accounts = db.repo::<Account>();
/// let french = accounts.find_by(Account::COUNTRY, "fr".to_owned()).await?;
/// // Inserts, or updates the row with the same `login`.
/// let ada = accounts
///     .upsert(&NewAccount { login: "ada".into(), country: Some("uk".into()) })
///     .await?;
/// # let _ = (french, ada);
/// # Ok(()) }
/// ```
///
/// ## `belongs_to` and `relation`
///
/// `belongs_to = Parent` takes the parent entity's type (a path, not a string). The field's type
/// must be the parent's key type, or an `Option` of it for an optional parent; a mismatch is a
/// compile error at the attribute. It generates a lookup constant named after the field, and a
/// `pgrepo::BelongsTo<Self, Parent>` relation constant named after the field without its `_id`
/// suffix (`team_id` gives `TEAM`), or `relation = "..."` (which must be a Rust identifier).
/// Relations load children and parents in one statement: `Repo::children`, `Repo::grouped`,
/// `Repo::parents`.
///
/// ```rust
/// # use pgrepo::Entity;
/// #[derive(Entity)]
/// #[pgrepo(table = "teams")]
/// struct Team {
///     #[pgrepo(id, generated)]
///     id: i64,
/// }
///
/// #[derive(Entity)]
/// #[pgrepo(table = "members")]
/// struct Member {
///     #[pgrepo(id, generated)]
///     id: i64,
///     #[pgrepo(belongs_to = Team)]
///     team_id: i64,
///     #[pgrepo(belongs_to = Member, relation = "mentor")]
///     mentor_id: Option<i64>,
/// }
///
/// let _: pgrepo::BelongsTo<Member, Team> = Member::TEAM;
/// let _: pgrepo::BelongsTo<Member, Member> = Member::MENTOR;
/// let _: pgrepo::Lookup<Member, i64> = Member::MENTOR_ID;
/// ```
///
/// ## `column`
///
/// ```rust
/// # use pgrepo::Entity;
/// #[derive(Entity)]
/// #[pgrepo(table = "events")]
/// struct Event {
///     #[pgrepo(id, generated, column = "event_id")]
///     id: i64,
///     #[pgrepo(column = "kind")]
///     r#type: String,
/// }
///
/// assert_eq!(Event::columns()[1].name, "kind");
/// ```
///
/// # Mistakes
///
/// Every mistake in the attributes is a compile error pointing at it, with a `help:` line
/// showing the right form, and all of them are reported at once. The items are generated even
/// then, so a typo is one error rather than one more at every use of `NewUser` or
/// `User::EMAIL`; a misspelt key (`#[pgrepo(uniqe)]`) is read as the key it was meant to be.
#[proc_macro_derive(Entity, attributes(pgrepo))]
pub fn derive_entity(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand::derive_entity_inner(input.into()).into()
}

/// Inserts from a struct of your own (a request body, a borrowed view) without copying it into
/// the entity's `New{Struct}`: implements `pgrepo::Insertable` for it.
///
/// Each field fills the entity field of the same name, or the one `field = "..."` names, and is
/// checked at compile time: a field the entity does not have, a field of a type the column
/// cannot take, or a struct that leaves out a field the database does not fill is a compile
/// error. A field has the entity field's type or a borrowed form of it: `&str` for `String`,
/// `&[u8]` for `Vec<u8>`, and their `Option`s. Lifetimes and generics are allowed.
///
/// ```rust,no_run
/// use pgrepo::prelude::*;
///
/// #[derive(Debug, Entity)]
/// #[pgrepo(table = "users")]
/// struct User {
///     #[pgrepo(id, generated)]
///     id: i64,
///     name: String,
///     email: String,
///     bio: Option<String>,
/// }
///
/// #[derive(Insertable)]
/// #[pgrepo(entity = User)]
/// struct SignUp<'a> {
///     email: &'a str,
///     #[pgrepo(field = "name")]
///     display_name: &'a str,
///     bio: Option<&'a str>,
/// }
///
/// # async fn demo(db: &Db) -> Result<(), pgrepo::Error> {
/// let user = db
///     .repo::<User>()
///     .insert(&SignUp { email: "ada@example.com", display_name: "Ada", bio: None })
///     .await?;
/// # let _ = user;
/// # Ok(()) }
/// ```
///
/// # Struct attributes
///
/// | attribute | | |
/// | --- | --- | --- |
/// | `entity = User` | required | the entity whose table it inserts into: its type, a path (`crate::models::User`), not a string |
///
/// # Field attributes
///
/// | attribute | |
/// | --- | --- |
/// | `field = "name"` | the entity field it fills, when the names differ (a field name, not a column name) |
///
/// Mistakes are reported like `#[derive(Entity)]`'s: each at its tokens, with a `help:` line,
/// all at once.
#[proc_macro_derive(Insertable, attributes(pgrepo))]
pub fn derive_insertable(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand::derive_insertable_inner(input.into()).into()
}

/// Stores a fieldless enum as text: implements `ToSql`, `FromSql` and `pgrepo::SqlType`, so the
/// enum is a field type of entities (and a lookup or sort key like any other column).
///
/// Each variant is stored as its name, or as `rename_all` and `rename` say. Values are bound as
/// `TEXT`; reading accepts text columns and PostgreSQL enum types, and a text that no variant
/// maps to is a decoding error naming the enum and the variants. The enum must implement
/// `Debug` (`ToSql` requires it).
///
/// ```rust
/// use pgrepo::{Entity, TextEnum};
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, TextEnum)]
/// #[pgrepo(rename_all = "snake_case")]
/// pub enum Status {
///     Active,     // "active"
///     InReview,   // "in_review"
///     #[pgrepo(rename = "gone")]
///     Archived,   // "gone"
/// }
///
/// #[derive(Entity)]
/// #[pgrepo(table = "tickets", order_by = "status")]
/// pub struct Ticket {
///     #[pgrepo(id, generated)]
///     pub id: i64,
///     #[pgrepo(lookup)]
///     pub status: Status,
/// }
///
/// let _: pgrepo::Lookup<Ticket, Status> = Ticket::STATUS;
/// ```
///
/// # Enum attributes
///
/// | attribute | |
/// | --- | --- |
/// | `rename_all = "snake_case"` | how variant names become texts, with serde's spellings: `"snake_case"` (`InReview` → `in_review`), `"lowercase"` (`inreview`), `"UPPERCASE"` (`INREVIEW`), `"SCREAMING_SNAKE_CASE"` (`IN_REVIEW`), `"kebab-case"` (`in-review`), `"camelCase"` (`inReview`), `"PascalCase"` (`InReview`, the default) |
///
/// # Variant attributes
///
/// | attribute | |
/// | --- | --- |
/// | `rename = "text"` | this variant's text, whatever `rename_all` says |
///
/// Two variants stored as the same text, a variant with fields, an enum without variants and
/// an unknown rule are compile errors, each with a `help:` line.
#[proc_macro_derive(TextEnum, attributes(pgrepo))]
pub fn derive_text_enum(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand::derive_text_enum_inner(input.into()).into()
}

/// Maps a fieldless enum to a PostgreSQL enum type (`CREATE TYPE plan AS ENUM (...)`):
/// implements `ToSql`, `FromSql` and `pgrepo::SqlType`, so the enum is a field type of entities
/// (and a lookup, filter or sort key like any other column).
///
/// Parameters of such a field are the enum type itself: statements leave their type to the
/// server, which takes it from the column (`pgrepo::ParamType::FromColumn`), so inserts need no
/// cast and `WHERE plan = $1` compares enums (in the type's order, with its index). Values are
/// encoded as their labels; reading accepts only the named type, and a label no variant maps
/// to is a decoding error naming the enum and the variants. The enum must implement `Debug`.
///
/// ```rust
/// use pgrepo::{Entity, PgEnum};
///
/// // CREATE TYPE plan AS ENUM ('free', 'pro', 'enterprise');
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, PgEnum)]
/// #[pgrepo(type_name = "plan", rename_all = "snake_case")]
/// pub enum Plan {
///     Free,
///     Pro,
///     #[pgrepo(rename = "enterprise")]
///     Business,
/// }
///
/// #[derive(Entity)]
/// #[pgrepo(table = "accounts")]
/// pub struct Account {
///     #[pgrepo(id, generated)]
///     pub id: i64,
///     #[pgrepo(lookup)]
///     pub plan: Plan,
/// }
///
/// let _: pgrepo::Lookup<Account, Plan> = Account::PLAN;
/// assert_eq!(
///     <Plan as pgrepo::SqlType>::PARAM_TYPE,
///     pgrepo::ParamType::from_column("plan")
/// );
/// ```
///
/// # Enum attributes
///
/// | attribute | | |
/// | --- | --- | --- |
/// | `type_name = "plan"` | required | the enum type's name as the catalog stores it (lower case unless created quoted), or `schema.plan` |
/// | `rename_all = "snake_case"` | | how variant names become labels, as for `#[derive(TextEnum)]` |
///
/// # Variant attributes
///
/// | attribute | |
/// | --- | --- |
/// | `rename = "label"` | this variant's label, whatever `rename_all` says |
///
/// A missing or malformed `type_name`, two variants with the same label, a variant with
/// fields, an enum without variants and an unknown rule are compile errors, each with a `help:`
/// line. `Db::verify` reports a column of another type (a `text` column, another enum), and
/// labels the type lacks (writing them fails) or that no variant maps to (reading them fails).
#[proc_macro_derive(PgEnum, attributes(pgrepo))]
pub fn derive_pg_enum(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand::derive_pg_enum_inner(input.into()).into()
}
