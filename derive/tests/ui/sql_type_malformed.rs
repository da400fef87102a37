use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "items")]
struct Item {
    #[pgrepo(id, generated)]
    id: i64,
    #[pgrepo(sql_type = "vector(3)")]
    embedding: String,
    #[pgrepo(sql_type = "a.b.c")]
    path: String,
}

fn main() {}
