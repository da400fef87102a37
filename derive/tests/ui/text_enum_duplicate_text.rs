use pgrepo::TextEnum;

#[derive(Debug, TextEnum)]
#[pgrepo(rename_all = "lowercase")]
enum Status {
    Active,
    #[pgrepo(rename = "active")]
    Enabled,
    InReview,
    Inreview,
}

fn main() {}
