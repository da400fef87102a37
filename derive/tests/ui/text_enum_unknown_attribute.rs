use pgrepo::TextEnum;

#[derive(Debug, TextEnum)]
#[pgrepo(rename_all = "snake_case", table = "statuses")]
enum Status {
    #[pgrepo(rename_all = "lowercase")]
    Active,
    #[pgrepo(renmae = "gone")]
    Archived,
}

fn main() {}
