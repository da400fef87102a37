use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "users", order_by = "name sideways")]
#[pgrepo(listing(name = "odd", order_by = "name,,id"))]
struct User {
    #[pgrepo(id)]
    id: i64,
    name: String,
}

fn main() {}
