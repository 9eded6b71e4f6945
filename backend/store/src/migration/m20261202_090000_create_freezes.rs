//! Freezes: an admin stopped new requests and extensions of one rule (`scope` = its id) or of
//! every rule (`scope` = `*`), with the reason requesters read, until unfrozen. One row per
//! scope; in the database so that a freeze holds across restarts and on every instance.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Freezes::Table)
                    .if_not_exists()
                    .col(string_len(Freezes::Scope, 36).primary_key())
                    .col(text(Freezes::Reason))
                    .col(string_len(Freezes::FrozenBy, 256))
                    .col(timestamp_with_time_zone(Freezes::FrozenAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Freezes::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Freezes {
    Table,
    Scope,
    Reason,
    FrozenBy,
    FrozenAt,
}
