use sea_orm::entity::prelude::*;

/// One audit event.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: ChronoDateTimeUtc,
    pub action: String,
    pub actor: String,
    pub rule_id: Option<String>,
    pub grant_id: Option<String>,
    pub subject_account: Option<String>,
    pub detail: String,
    pub source: Option<String>,
    /// Place in the hash chain; NULL until the chainer appends the event.
    pub chain_seq: Option<i64>,
    /// SHA-256 (hex) of the event before ‖ this one's content.
    pub chain_hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
