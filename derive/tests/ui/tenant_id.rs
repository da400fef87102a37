use pgrepo::Entity;

#[derive(Entity)]
#[pgrepo(table = "tenants")]
struct Tenant {
    #[pgrepo(id, tenant)]
    id: i64,
    name: String,
}

fn main() {}
