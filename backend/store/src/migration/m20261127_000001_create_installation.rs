//! The deployment's identity: one row, made on first start, shared by every instance.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Installation::Table)
                    .if_not_exists()
                    .col(integer(Installation::Id).primary_key())
                    .col(string_len(Installation::InstallationId, 36))
                    .col(timestamp_with_time_zone(Installation::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Installation::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
#[allow(clippy::enum_variant_names)] // the column is installation_id in table installation
enum Installation {
    Table,
    Id,
    InstallationId,
    CreatedAt,
}
