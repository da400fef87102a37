use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "users", order_by = "nmae")]
#[pgrepo(listing(name = "by_hair", order_by = "hair desc"))]
struct User {
    #[pgrepo(id)]
    id: i64,
    name: String,
    #[pgrepo(column = "hair")]
    hair_color: String,
}

fn main() {}
