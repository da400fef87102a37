use pgrepo::TextEnum;

#[derive(Debug, TextEnum)]
enum Status {
    Active,
    Suspended(String),
    Deleted { at: i64 },
}

fn main() {}
