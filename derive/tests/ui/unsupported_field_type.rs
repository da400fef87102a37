use pgrepo::Entity;

struct Money(i64);

#[derive(Entity)]
#[pgrepo(table = "accounts")]
struct Account {
    #[pgrepo(id)]
    id: i64,
    balance: Money,
}

fn main() {}
