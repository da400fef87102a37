use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = users, schema = "", new_struct = "New User", new_derive = "Debug")]
struct User {
    #[pgrepo(id = true)]
    id: i64,
    #[pgrepo(column)]
    name: String,
    #[pgrepo(belongs_to = "User")]
    parent_id: i64,
    #[pgrepo(belongs_to)]
    other_id: i64,
}

#[derive(Entity)]
#[pgrepo(table = "posts", new_struct = "Post")]
struct Post {
    #[pgrepo(id)]
    id: i64,
}

fn main() {}
