use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "statuses")]
enum Status {
    Active,
    Archived,
}

#[derive(Entity)]
#[pgrepo(table = "bits")]
union Bits {
    a: i64,
    b: f64,
}

fn main() {}
