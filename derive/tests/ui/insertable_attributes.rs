use pgrepo::{Entity, Insertable};

#[derive(Entity)]
#[pgrepo(table = "users")]
struct User {
    #[pgrepo(id, generated)]
    id: i64,
    name: String,
}

#[derive(Insertable)]
struct NoEntity {
    name: String,
}

#[derive(Insertable)]
#[pgrepo(entity = User, table = "users")]
struct UnknownKey {
    #[pgrepo(column = "name")]
    name: String,
}

#[derive(Insertable)]
#[pgrepo(entity = User)]
struct Twice {
    name: String,
    #[pgrepo(field = "name")]
    also_name: String,
}

fn main() {}
