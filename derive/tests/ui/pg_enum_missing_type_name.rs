use pgrepo::PgEnum;

#[derive(Debug, PgEnum)]
#[pgrepo(rename_all = "snake_case")]
enum BillingPlan {
    Free,
    Pro,
}

fn main() {}
