use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "users", listing(name = "most recent", order_by = "id desc"))]
struct User {
    #[pgrepo(id)]
    id: i64,
}

fn main() {}
