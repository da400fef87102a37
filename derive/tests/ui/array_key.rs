use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "tagged")]
struct Tagged {
    #[pgrepo(id)]
    id: Vec<i64>,
    #[pgrepo(lookup)]
    tags: Vec<String>,
    #[pgrepo(unique)]
    aliases: Option<Vec<String>>,
    // Not a key: fine.
    scores: Vec<i64>,
}

fn main() {}
