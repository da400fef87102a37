use pgrepo::TextEnum;

#[derive(TextEnum)]
enum Never {}

fn main() {}
