use pgrepo::TextEnum;

#[derive(Debug, TextEnum)]
enum Never {}

fn main() {}
