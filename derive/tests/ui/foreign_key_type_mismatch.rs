use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "teams")]
struct Team {
    #[pgrepo(id)]
    id: i64,
}

#[derive(Entity)]
#[pgrepo(table = "users")]
struct User {
    #[pgrepo(id)]
    id: i64,
    #[pgrepo(belongs_to = Team)]
    team_id: i32,
}

fn main() {}
