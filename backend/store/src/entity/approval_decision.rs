use sea_orm::entity::prelude::*;

/// One approver's decision on one request (the primary key allows one each).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approval_decisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub grant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub approver_sid: String,
    pub approver_account: String,
    pub verdict: String,
    pub comment: String,
    pub decided_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
