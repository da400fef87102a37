use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "users")]
struct User {
    #[pgrepo(id)]
    id: i64,
    name: String,
    #[pgrepo(column = "name")]
    display_name: String,
}

fn main() {}
