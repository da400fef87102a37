use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "users", order_by = "name, id, name desc")]
struct User {
    #[pgrepo(id)]
    id: i64,
    name: String,
}

fn main() {}
