use pgrepo::{Entity, Insertable};

#[derive(Entity)]
#[pgrepo(table = "users")]
struct User {
    #[pgrepo(id, generated)]
    id: i64,
    name: String,
    email: String,
}

#[derive(Insertable)]
#[pgrepo(entity = User)]
struct SignUp {
    name: String,
}

fn main() {}
