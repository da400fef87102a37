use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "users")]
struct User;

fn main() {}
