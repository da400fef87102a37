use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "teams")]
struct Team {
    #[pgrepo(id)]
    id: i64,
}

// `owner` has no `_id` to strip: the relation would be `Project::OWNER`, like the lookup.
#[derive(Entity)]
#[pgrepo(table = "projects")]
struct Project {
    #[pgrepo(id)]
    id: i64,
    #[pgrepo(belongs_to = Team)]
    owner: i64,
}

// The relation of `team_id` is `Member::TEAM`, and so is the lookup by `team`.
#[derive(Entity)]
#[pgrepo(table = "members")]
struct Member {
    #[pgrepo(id)]
    id: i64,
    #[pgrepo(belongs_to = Team)]
    team_id: i64,
    #[pgrepo(lookup)]
    team: String,
}

// A listing named like a lookup.
#[derive(Entity)]
#[pgrepo(table = "users", listing(name = "email", order_by = "email"))]
struct User {
    #[pgrepo(id)]
    id: i64,
    #[pgrepo(unique)]
    email: String,
}

fn main() {}
