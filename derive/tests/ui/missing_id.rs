use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "users")]
struct User {
    id: i64,
    name: String,
}

fn main() {}
