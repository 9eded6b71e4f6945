//! Indexes for the admin's grant listing, filtered by rule or by person (account name, any
//! case) and read newest first, with history. By SID and by state, the indexes of
//! `create_rules_and_grants` serve already.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("grants_rule")
                    .table(Grants::Table)
                    .col(Grants::RuleId)
                    .col(Grants::RequestedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("grants_requested")
                    .table(Grants::Table)
                    .col(Grants::RequestedAt)
                    .to_owned(),
            )
            .await?;
        // an expression index: sea-query writes these for PostgreSQL only, so in SQL both
        // databases accept; the query compares lower(subject_account) alike
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX grants_account ON grants (lower(subject_account), requested_at)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["grants_account", "grants_requested", "grants_rule"] {
            manager
                .drop_index(Index::drop().name(name).table(Grants::Table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Grants {
    Table,
    RuleId,
    RequestedAt,
}
