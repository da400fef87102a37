use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "projects")]
struct Project {
    #[pgrepo(id)]
    id: i64,
    #[pgrepo(relation = "owner")]
    owner_id: i64,
}

fn main() {}
