use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "users")]
#[pgrepo(listing(name = "recent", order_by = "id desc"))]
#[pgrepo(listing(name = "recent", order_by = "name"))]
struct User {
    #[pgrepo(id)]
    id: i64,
    name: String,
}

fn main() {}
