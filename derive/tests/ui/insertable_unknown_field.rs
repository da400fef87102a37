use pgrepo::{Entity, Insertable};

#[derive(Entity)]
#[pgrepo(table = "users")]
struct User {
    #[pgrepo(id, generated)]
    id: i64,
    name: String,
}

#[derive(Insertable)]
#[pgrepo(entity = User)]
struct SignUp<'a> {
    nmae: &'a str,
}

fn main() {}
