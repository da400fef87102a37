use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "users")]
struct User {
    #[pgrepo(id, generated)]
    id: Option<i64>,
}

fn main() {}
