//! Role rules, grants and the audit log. "One live grant per (rule, subject)" and "a rule name
//! is unique among live rules" are partial unique indexes, written in SQL that SQLite and
//! PostgreSQL both accept.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Rules::Table)
                    .if_not_exists()
                    .col(string_len(Rules::Id, 36).primary_key())
                    .col(string_len(Rules::Name, 100))
                    // lower-cased name: uniqueness ignores case
                    .col(string_len(Rules::NameKey, 100))
                    .col(text(Rules::Description))
                    .col(string_len(Rules::TargetSid, 184))
                    .col(string_len(Rules::TargetGuid, 36))
                    .col(text(Rules::TargetDn))
                    .col(string_len(Rules::TargetName, 256))
                    // JSON array of ACL entries
                    .col(text(Rules::Acl))
                    .col(big_integer(Rules::MaxDurationSecs))
                    .col(big_integer(Rules::DefaultDurationSecs))
                    .col(boolean(Rules::AllowExtension))
                    .col(big_integer_null(Rules::MaxTotalDurationSecs))
                    .col(string_len(Rules::Justification, 16))
                    .col(boolean(Rules::Enabled))
                    .col(timestamp_with_time_zone_null(Rules::ExpiresAt))
                    .col(big_integer(Rules::Version))
                    .col(timestamp_with_time_zone(Rules::CreatedAt))
                    .col(timestamp_with_time_zone(Rules::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Rules::DeletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Grants::Table)
                    .if_not_exists()
                    .col(string_len(Grants::Id, 36).primary_key())
                    .col(string_len(Grants::RuleId, 36))
                    .col(string_len(Grants::RuleName, 100))
                    .col(string_len(Grants::GroupSid, 184))
                    .col(string_len(Grants::GroupGuid, 36))
                    .col(text(Grants::GroupDn))
                    .col(string_len(Grants::GroupName, 256))
                    .col(string_len(Grants::SubjectSid, 184))
                    .col(text(Grants::SubjectDn))
                    .col(string_len(Grants::SubjectAccount, 256))
                    .col(string_len(Grants::SubjectDisplayName, 256))
                    .col(string_len(Grants::RequestedBy, 256))
                    .col(text(Grants::Justification))
                    .col(timestamp_with_time_zone(Grants::RequestedAt))
                    .col(timestamp_with_time_zone(Grants::ExpiresAt))
                    .col(string_len(Grants::State, 16))
                    .col(string_len(Grants::Mechanism, 16))
                    .col(integer(Grants::ExtensionCount))
                    .col(timestamp_with_time_zone_null(Grants::EndedAt))
                    .col(string_len_null(Grants::EndReason, 16))
                    .col(text_null(Grants::LastError))
                    .col(string_len_null(Grants::ClientRequestId, 100))
                    .col(big_integer(Grants::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .name("grants_rule")
                            .from(Grants::Table, Grants::RuleId)
                            .to(Rules::Table, Rules::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .if_not_exists()
                    .col(big_integer(AuditEvents::Id).primary_key().auto_increment())
                    .col(timestamp_with_time_zone(AuditEvents::At))
                    .col(string_len(AuditEvents::Action, 32))
                    .col(string_len(AuditEvents::Actor, 256))
                    .col(string_len_null(AuditEvents::RuleId, 36))
                    .col(string_len_null(AuditEvents::GrantId, 36))
                    .col(string_len_null(AuditEvents::SubjectAccount, 256))
                    .col(text(AuditEvents::Detail))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for sql in [
            "CREATE UNIQUE INDEX rules_live_name ON rules (name_key) WHERE deleted_at IS NULL",
            "CREATE UNIQUE INDEX grants_one_live ON grants (rule_id, subject_sid) \
             WHERE state IN ('activating', 'active', 'ending')",
            "CREATE UNIQUE INDEX grants_client_request ON grants (subject_sid, client_request_id) \
             WHERE client_request_id IS NOT NULL",
            "CREATE INDEX grants_state_expires ON grants (state, expires_at)",
            "CREATE INDEX grants_membership ON grants (group_sid, subject_sid)",
            "CREATE INDEX grants_subject ON grants (subject_sid, requested_at)",
            "CREATE INDEX audit_events_at ON audit_events (at)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvents::Table.into_iden(),
            Grants::Table.into_iden(),
            Rules::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Rules {
    Table,
    Id,
    Name,
    NameKey,
    Description,
    TargetSid,
    TargetGuid,
    TargetDn,
    TargetName,
    Acl,
    MaxDurationSecs,
    DefaultDurationSecs,
    AllowExtension,
    MaxTotalDurationSecs,
    Justification,
    Enabled,
    ExpiresAt,
    Version,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum Grants {
    Table,
    Id,
    RuleId,
    RuleName,
    GroupSid,
    GroupGuid,
    GroupDn,
    GroupName,
    SubjectSid,
    SubjectDn,
    SubjectAccount,
    SubjectDisplayName,
    RequestedBy,
    Justification,
    RequestedAt,
    ExpiresAt,
    State,
    Mechanism,
    ExtensionCount,
    EndedAt,
    EndReason,
    LastError,
    ClientRequestId,
    Version,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    At,
    Action,
    Actor,
    RuleId,
    GrantId,
    SubjectAccount,
    Detail,
}
