use pgrepo::TextEnum;

#[derive(Debug, TextEnum)]
#[pgrepo(type_name = "plan", rename_all = "snake_case")]
enum Plan {
    Free,
    Pro,
}

fn main() {}
