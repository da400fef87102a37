use pgrepo::{Entity, Insertable};

#[derive(Entity)]
#[pgrepo(table = "users")]
struct User {
    #[pgrepo(id, generated)]
    id: i64,
    name: String,
    age: i32,
}

#[derive(Insertable)]
#[pgrepo(entity = User)]
struct SignUp<'a> {
    name: &'a str,
    age: i64,
}

fn main() {}
