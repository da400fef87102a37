use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "users", order_by = "nickname, id")]
struct User {
    #[pgrepo(id)]
    id: i64,
    nickname: Option<String>,
}

fn main() {}
