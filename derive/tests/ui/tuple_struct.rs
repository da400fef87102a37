use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "users")]
struct User(i64, String);

fn main() {}
