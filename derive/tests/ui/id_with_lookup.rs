use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "teams")]
struct Team {
    #[pgrepo(id)]
    id: i64,
}

#[derive(Entity)]
#[pgrepo(table = "a")]
struct A {
    #[pgrepo(id, lookup)]
    id: i64,
}

#[derive(Entity)]
#[pgrepo(table = "b")]
struct B {
    #[pgrepo(id, unique)]
    id: i64,
}

#[derive(Entity)]
#[pgrepo(table = "c")]
struct C {
    #[pgrepo(id, belongs_to = Team)]
    id: i64,
}

fn main() {}
