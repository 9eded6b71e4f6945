use sea_orm::entity::prelude::*;

/// The single row (id 1) that names this deployment.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "installation")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub installation_id: String,
    pub created_at: ChronoDateTimeUtc,
    /// Seals pending browser sign-ins (base64 of 32 random bytes); set on first need.
    pub sign_in_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
