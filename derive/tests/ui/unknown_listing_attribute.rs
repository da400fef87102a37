use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(
    table = "users",
    listing(name = "recent", order_by = "id desc", limit = 10)
)]
struct User {
    #[pgrepo(id)]
    id: i64,
}

fn main() {}
