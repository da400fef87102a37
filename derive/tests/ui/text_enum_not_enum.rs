use pgrepo::TextEnum;

#[derive(TextEnum)]
struct Status {
    active: bool,
}

fn main() {}
