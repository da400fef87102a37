use pgrepo::TextEnum;

#[derive(TextEnum)]
#[pgrepo(rename_all = "snake_case", table = "statuses")]
enum Status {
    #[pgrepo(rename_all = "lowercase")]
    Active,
    #[pgrepo(renmae = "gone")]
    Archived,
}

fn main() {}
