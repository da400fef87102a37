use pgrepo::TextEnum;

#[derive(TextEnum)]
#[pgrepo(rename_all = "lowercase")]
enum Status {
    Active,
    #[pgrepo(rename = "active")]
    Enabled,
    InReview,
    Inreview,
}

fn main() {}
