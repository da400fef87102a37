use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(tabel = "users")]
struct User {
    #[pgrepo(id)]
    id: i64,
}

#[derive(Entity)]
#[pgrepo(table = "posts", limit = 10)]
struct Post {
    #[pgrepo(id)]
    id: i64,
}

fn main() {}
