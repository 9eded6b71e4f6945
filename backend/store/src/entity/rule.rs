use sea_orm::entity::prelude::*;

/// A role rule; `acl` is a JSON array, `approval` a JSON object; `deleted_at` marks a soft delete. Its notification
/// channels are rows of `rule_channels`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub name_key: String,
    pub description: String,
    pub target_sid: String,
    pub target_guid: String,
    pub target_dn: String,
    pub target_name: String,
    pub acl: String,
    pub max_duration_secs: i64,
    pub default_duration_secs: i64,
    pub allow_extension: bool,
    pub max_total_duration_secs: Option<i64>,
    pub justification: String,
    pub enabled: bool,
    pub expires_at: Option<ChronoDateTimeUtc>,
    /// The approval policy as JSON; `None`: requests never wait for approvals.
    pub approval: Option<String>,
    pub max_lead_secs: Option<i64>,
    pub version: i64,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub deleted_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
