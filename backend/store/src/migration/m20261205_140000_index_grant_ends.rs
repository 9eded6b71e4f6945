//! An index for usage reports: the grants ended after a period's start (they held access into
//! it). `requested_at` is in it so "requested before the period" is checked in the index, not
//! on each row of every grant ended since. Requests of a period and a rule's recent requests
//! use `index_grant_filters`' indexes; live grants, `grants_state_expires`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("grants_state_ended")
                    .table(Grants::Table)
                    .col(Grants::State)
                    .col(Grants::EndedAt)
                    .col(Grants::RequestedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("grants_state_ended")
                    .table(Grants::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Grants {
    Table,
    State,
    EndedAt,
    RequestedAt,
}
