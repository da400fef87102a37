use pgrepo::Entity;

// Every mistake is reported by one compilation.
#[derive(Entity)]
#[pgrepo(order_by = "created")]
struct User {
    #[pgrepo(id)]
    id: Option<i64>,
    #[pgrepo(uniq)]
    email: String,
    #[pgrepo(generated)]
    created_at: i64,
}

fn main() {}
