use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "users", order_by = "")]
#[pgrepo(listing(name = "blank", order_by = "  "))]
struct User {
    #[pgrepo(id)]
    id: i64,
}

fn main() {}
