use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "users")]
struct User {
    #[pgrepo(id)]
    id: i64,
    #[pgrepo(lokup)]
    email: String,
    #[pgrepo(order_by = "name")]
    name: String,
}

fn main() {}
