//! Pending browser sign-ins travel in a sealed cookie now (a flood of `/auth/login` wrote a row
//! per call): their table goes. Rolling back makes it again, empty.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SignIns::Table).if_exists().to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SignIns::Table)
                    .if_not_exists()
                    .col(string_len(SignIns::State, 64).primary_key())
                    .col(string_len(SignIns::Nonce, 64))
                    .col(string_len(SignIns::PkceVerifier, 128))
                    .col(string_len(SignIns::ReturnTo, 2048))
                    .col(timestamp_with_time_zone(SignIns::ExpiresAt))
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum SignIns {
    Table,
    State,
    Nonce,
    PkceVerifier,
    ReturnTo,
    ExpiresAt,
}
