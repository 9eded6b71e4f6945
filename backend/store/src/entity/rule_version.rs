use sea_orm::entity::prelude::*;

/// One saved version of a rule: `snapshot` is the JSON of its row and channels
/// (`rule_versions::Snapshot`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rule_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub rule_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i64,
    pub at: ChronoDateTimeUtc,
    pub actor: String,
    pub action: String,
    pub snapshot: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
