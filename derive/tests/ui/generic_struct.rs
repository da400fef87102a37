use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "boxes")]
struct Boxed<T> {
    #[pgrepo(id)]
    id: i64,
    value: T,
}

fn main() {}
