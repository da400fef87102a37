use pgrepo::PgEnum;

#[derive(Debug, PgEnum)]
#[pgrepo(type_name = "\"plan\"")]
enum Quoted {
    Free,
}

#[derive(Debug, PgEnum)]
#[pgrepo(type_name = "")]
enum Empty {
    Free,
}

#[derive(Debug, PgEnum)]
#[pgrepo(type_name = plan)]
enum NotAString {
    Free,
}

fn main() {}
