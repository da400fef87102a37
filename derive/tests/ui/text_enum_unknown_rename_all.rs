use pgrepo::TextEnum;

#[derive(TextEnum)]
#[pgrepo(rename_all = "snake")]
enum Status {
    Active,
}

#[derive(TextEnum)]
#[pgrepo(rename_all = "Title Case")]
enum Level {
    Low,
}

fn main() {}
