use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "users")]
#[pgrepo(table = "accounts")]
struct User {
    #[pgrepo(id, id)]
    id: i64,
    #[pgrepo(column = "mail", column = "email")]
    email: String,
}

fn main() {}
