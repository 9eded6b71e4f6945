use sea_orm::entity::prelude::*;

/// A grant: one person's time-boxed membership of a rule's group.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "grants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub group_sid: String,
    pub group_guid: String,
    pub group_dn: String,
    pub group_name: String,
    pub subject_sid: String,
    pub subject_dn: String,
    pub subject_account: String,
    pub subject_display_name: String,
    pub requested_by: String,
    pub justification: String,
    pub requested_at: ChronoDateTimeUtc,
    pub expires_at: ChronoDateTimeUtc,
    pub state: String,
    pub mechanism: String,
    pub extension_count: i32,
    pub ended_at: Option<ChronoDateTimeUtc>,
    pub end_reason: Option<String>,
    pub end_note: Option<String>,
    pub last_error: Option<String>,
    pub client_request_id: Option<String>,
    pub lease_holder: Option<String>,
    pub lease_until: Option<ChronoDateTimeUtc>,
    pub version: i64,
    /// A request that waited or came through break-glass (all `None` otherwise).
    pub duration_secs: Option<i64>,
    pub starts_at: Option<ChronoDateTimeUtc>,
    pub required_approvals: Option<i32>,
    pub lapses_at: Option<ChronoDateTimeUtc>,
    pub activated_at: Option<ChronoDateTimeUtc>,
    pub break_glass_reason: Option<String>,
    pub acknowledged_by_sid: Option<String>,
    pub acknowledged_by: Option<String>,
    pub acknowledgement: Option<String>,
    pub acknowledged_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
