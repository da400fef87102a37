use pgrepo::TextEnum;

#[derive(Debug, TextEnum)]
struct Status {
    active: bool,
}

fn main() {}
