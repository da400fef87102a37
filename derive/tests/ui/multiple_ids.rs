use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "memberships")]
struct Membership {
    #[pgrepo(id)]
    user_id: i64,
    #[pgrepo(id)]
    team_id: i64,
}

fn main() {}
