use pgrepo::TextEnum;

#[derive(TextEnum)]
enum Status {
    Active,
    Suspended(String),
    Deleted { at: i64 },
}

fn main() {}
