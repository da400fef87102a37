//! One mistake in a text enum's attributes is one error: the derive still implements the traits
//! an entity field needs, so the entity using the enum compiles.
use pgrepo::{Entity, TextEnum};

#[derive(Debug, Clone, Copy, TextEnum)]
#[pgrepo(rename_all = "snake_case")]
enum Status {
    Active,
    #[pgrepo(renmae = "gone")]
    Archived,
}

#[derive(Debug, Entity)]
#[pgrepo(table = "accounts")]
struct Account {
    #[pgrepo(id, generated)]
    id: i64,
    #[pgrepo(lookup)]
    status: Status,
}

fn main() {
    let _ = Account::STATUS;
    let _ = NewAccount {
        status: Status::Active,
    };
}
