//! One mistake in an entity's attributes is one error: the derive still generates the insert
//! struct, the impls and the constants, so the code using them compiles and only the mistake is
//! reported. A misspelt key is read as the key it was meant to be (`uniqe` as `unique`, so
//! `User::EMAIL` and `upsert` exist); an unknown key is ignored.
use pgrepo::{Db, Entity, Executor};

#[derive(Debug, Entity)]
#[pgrepo(table = "teams", colour = "red")]
struct Team {
    #[pgrepo(id, generated)]
    id: i64,
    name: String,
}

#[derive(Debug, Entity)]
#[pgrepo(table = "users", listing(name = "by_name", order_by = "name"))]
struct User {
    #[pgrepo(id, generated)]
    id: i64,
    #[pgrepo(uniqe)]
    email: String,
    name: String,
    #[pgrepo(belongs_to = Team)]
    team_id: i64,
    #[pgrepo(generated)]
    created_at: i64,
}

async fn uses(db: &Db) -> Result<(), pgrepo::Error> {
    let team = db
        .repo::<Team>()
        .insert(&NewTeam {
            name: "Core".into(),
        })
        .await?;
    let users = db.repo::<User>();
    let new = NewUser {
        email: "ada@example.com".into(),
        name: "Ada".into(),
        team_id: team.id,
    };
    let ada: User = users.insert(&new).await?;
    let _: i64 = ada.id;
    let _: Option<User> = users
        .find_one_by(User::EMAIL, "ada@example.com".to_owned())
        .await?;
    let _: User = users.upsert(&new).await?;
    let _ = users.list_by(User::BY_NAME);
    let _ = User::TEAM;
    Ok(())
}

fn main() {
    let _ = uses;
}
