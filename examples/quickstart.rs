//! Quickstart: derive an entity, create and verify its table, then insert, read, update and
//! delete rows through the generated repository.
//!
//! Needs nothing: without `DATABASE_URL` it starts a throwaway PostgreSQL from the system's
//! binaries (removed when it exits). Run with `cargo run --example quickstart`.

use pgrepo::prelude::*;
use pgrepo::testkit::TestCluster; // Db, Entity, TextEnum, and the methods every scope shares

#[derive(Debug, Clone, Copy, PartialEq, Eq, TextEnum)]
#[pgrepo(rename_all = "snake_case")]
enum Plan {
    Free,
    Pro,
}

#[derive(Debug, Clone, Entity)]
#[pgrepo(table = "users", new_derive(Debug, Clone))]
struct User {
    #[pgrepo(id, generated)]
    id: uuid::Uuid,
    #[pgrepo(unique)]
    email: String,
    name: String,
    hair_color: Option<String>,
    plan: Plan,
    #[pgrepo(generated)]
    created_at: time::OffsetDateTime,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => {
            let cluster = TestCluster::shared()?;
            cluster.create_database("quickstart").await?.url()
        }
    };
    let db = Db::connect(&url).await?;
    db.batch_execute(
        "CREATE TABLE IF NOT EXISTS users (
            id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
            email TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            hair_color TEXT,
            plan TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .await?;
    db.verify::<User>().await?;
    println!("verified: table `users` matches struct `User`");

    let users = db.repo::<User>();
    let ada = users
        .insert(&NewUser {
            email: "ada@example.com".into(),
            name: "Ada".into(),
            hair_color: Some("brown".into()),
            plan: Plan::Free,
        })
        .await?;
    println!("inserted {} ({}) with id {}", ada.name, ada.email, ada.id);

    let team = users
        .insert_many(&[
            NewUser {
                email: "grace@example.com".into(),
                name: "Grace".into(),
                hair_color: None,
                plan: Plan::Pro,
            },
            NewUser {
                email: "linus@example.com".into(),
                name: "Linus".into(),
                hair_color: Some("blond".into()),
                plan: Plan::Free,
            },
        ])
        .await?;
    println!("inserted {} more in one statement", team.len());

    let found = users.get(ada.id).await?.expect("just inserted");
    println!(
        "get({}) -> {} on plan {:?}",
        found.id, found.name, found.plan
    );
    let by_email = users
        .find_one_by(User::EMAIL, "grace@example.com".to_owned())
        .await?;
    println!("find_one_by(email) -> {:?}", by_email.map(|u| u.name));

    let mut upgraded = found.clone();
    upgraded.plan = Plan::Pro;
    let upgraded = users.update(&upgraded).await?;
    println!("updated {}: plan {:?}", upgraded.name, upgraded.plan);

    match users
        .insert(&NewUser {
            email: "ada@example.com".into(),
            name: "Ada again".into(),
            hair_color: None,
            plan: Plan::Free,
        })
        .await
    {
        Err(pgrepo::Error::UniqueViolation { constraint, .. }) => {
            println!("duplicate email rejected by `{constraint}`")
        }
        other => println!("unexpected: {other:?}"),
    }

    let ids: Vec<uuid::Uuid> = team.iter().map(|u| u.id).collect();
    println!(
        "get_many -> {} rows in one statement",
        users.get_many(&ids).await?.len()
    );
    println!("deleted ada: {}", users.delete(ada.id).await?);
    println!("{} users left", users.count().await?);
    Ok(())
}
