//! Requests that wait (approvals, a scheduled start, break-glass): the rule's approval policy
//! and scheduling limit; what a waiting request carries on its grant row; each approver's
//! decision; and "one live grant per (rule, person)" widened to "one open request or live
//! grant", pending and scheduled included.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // one column per statement: SQLite alters one at a time
        let rule_columns = [
            text_null(Rules::Approval),
            big_integer_null(Rules::MaxLeadSecs),
        ];
        for mut column in rule_columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Rules::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        let grant_columns = [
            big_integer_null(Grants::DurationSecs),
            timestamp_with_time_zone_null(Grants::StartsAt),
            integer_null(Grants::RequiredApprovals),
            timestamp_with_time_zone_null(Grants::LapsesAt),
            timestamp_with_time_zone_null(Grants::ActivatedAt),
            text_null(Grants::BreakGlassReason),
            string_len_null(Grants::AcknowledgedBySid, 184),
            string_len_null(Grants::AcknowledgedBy, 256),
            text_null(Grants::Acknowledgement),
            timestamp_with_time_zone_null(Grants::AcknowledgedAt),
        ];
        for mut column in grant_columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Grants::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ApprovalDecisions::Table)
                    .if_not_exists()
                    .col(string_len(ApprovalDecisions::GrantId, 36))
                    .col(string_len(ApprovalDecisions::ApproverSid, 184))
                    .col(string_len(ApprovalDecisions::ApproverAccount, 256))
                    .col(string_len(ApprovalDecisions::Verdict, 16))
                    .col(text(ApprovalDecisions::Comment))
                    .col(timestamp_with_time_zone(ApprovalDecisions::DecidedAt))
                    .primary_key(
                        Index::create()
                            .col(ApprovalDecisions::GrantId)
                            .col(ApprovalDecisions::ApproverSid),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for sql in [
            "DROP INDEX grants_one_live",
            "CREATE UNIQUE INDEX grants_one_open ON grants (rule_id, subject_sid) \
             WHERE state IN ('pending', 'scheduled', 'activating', 'active', 'ending')",
            "CREATE INDEX grants_waiting ON grants (state, rule_id, requested_at)",
            "CREATE INDEX grants_lapses ON grants (state, lapses_at)",
            "CREATE INDEX grants_starts ON grants (state, starts_at)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in [
            "DROP INDEX grants_starts",
            "DROP INDEX grants_lapses",
            "DROP INDEX grants_waiting",
            "DROP INDEX grants_one_open",
            "CREATE UNIQUE INDEX grants_one_live ON grants (rule_id, subject_sid) \
             WHERE state IN ('activating', 'active', 'ending')",
        ] {
            db.execute_unprepared(sql).await?;
        }
        manager
            .drop_table(Table::drop().table(ApprovalDecisions::Table).to_owned())
            .await?;
        for column in [
            Grants::DurationSecs,
            Grants::StartsAt,
            Grants::RequiredApprovals,
            Grants::LapsesAt,
            Grants::ActivatedAt,
            Grants::BreakGlassReason,
            Grants::AcknowledgedBySid,
            Grants::AcknowledgedBy,
            Grants::Acknowledgement,
            Grants::AcknowledgedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Grants::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [Rules::Approval, Rules::MaxLeadSecs] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Rules::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Rules {
    Table,
    Approval,
    MaxLeadSecs,
}

#[derive(DeriveIden, Clone, Copy)]
enum Grants {
    Table,
    DurationSecs,
    StartsAt,
    RequiredApprovals,
    LapsesAt,
    ActivatedAt,
    BreakGlassReason,
    AcknowledgedBySid,
    AcknowledgedBy,
    Acknowledgement,
    AcknowledgedAt,
}

#[derive(DeriveIden)]
enum ApprovalDecisions {
    Table,
    GrantId,
    ApproverSid,
    ApproverAccount,
    Verdict,
    Comment,
    DecidedAt,
}
