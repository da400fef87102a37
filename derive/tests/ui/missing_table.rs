use pgrepo::Entity;

#[derive(Entity)]
struct UserAccount {
    #[pgrepo(id)]
    id: i64,
}

fn main() {}
