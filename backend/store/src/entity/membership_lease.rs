use sea_orm::entity::prelude::*;

/// A lease on a membership (group, person), held while an instance checks and writes it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "membership_leases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub group_sid: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject_sid: String,
    pub holder: String,
    pub until: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
