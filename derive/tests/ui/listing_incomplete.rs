use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(
    table = "users",
    listing(name = "recent"),
    listing(order_by = "id"),
    listing()
)]
#[pgrepo(listing = "recent")]
struct User {
    #[pgrepo(id)]
    id: i64,
}

fn main() {}
