use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "notes")]
struct Note {
    #[pgrepo(id)]
    id: i64,
    #[pgrepo(tenant)]
    tenant_id: i64,
    #[pgrepo(tenant)]
    org_id: i64,
}

fn main() {}
