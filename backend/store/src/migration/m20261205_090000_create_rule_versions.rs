//! Rule history: every saved version of a rule, whole (`snapshot`: the store's JSON of the
//! rule's row and its channels), with who saved it, when and how (the audit action). A rule
//! saved before this table existed gets its current version recorded when it next changes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RuleVersions::Table)
                    .if_not_exists()
                    .col(string_len(RuleVersions::RuleId, 64))
                    .col(big_integer(RuleVersions::Version))
                    .col(timestamp_with_time_zone(RuleVersions::At))
                    .col(string_len(RuleVersions::Actor, 256))
                    .col(string_len(RuleVersions::Action, 64))
                    .col(text(RuleVersions::Snapshot))
                    .primary_key(
                        Index::create()
                            .col(RuleVersions::RuleId)
                            .col(RuleVersions::Version),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RuleVersions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RuleVersions {
    Table,
    RuleId,
    Version,
    At,
    Actor,
    Action,
    Snapshot,
}
