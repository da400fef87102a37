//! One mistake in an insertable's attributes is one error: the derive still implements
//! `Insertable`, so the code inserting it compiles.
use pgrepo::{Db, Entity, Executor, Insertable};

#[derive(Debug, Entity)]
#[pgrepo(table = "users")]
struct User {
    #[pgrepo(id, generated)]
    id: i64,
    name: String,
}

#[derive(Insertable)]
#[pgrepo(entity = User)]
struct SignUp<'a> {
    #[pgrepo(column = "name")]
    display_name: &'a str,
}

async fn uses(db: &Db) -> Result<User, pgrepo::Error> {
    db.repo::<User>()
        .insert(&SignUp { display_name: "Ada" })
        .await
}

fn main() {
    let _ = uses;
}
