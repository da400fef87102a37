use pgrepo::TextEnum;

#[derive(Debug, TextEnum)]
#[pgrepo(rename_all = "snake")]
enum Status {
    Active,
}

#[derive(Debug, TextEnum)]
#[pgrepo(rename_all = "Title Case")]
enum Level {
    Low,
}

fn main() {}
