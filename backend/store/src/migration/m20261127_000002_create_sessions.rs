//! Browser sessions and sign-ins under way, shared by every instance on one database.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .if_not_exists()
                    // hex SHA-256 of the cookie's secret
                    .col(string_len(Sessions::Key, 64).primary_key())
                    .col(string_len(Sessions::Account, 256))
                    .col(string_len(Sessions::DisplayName, 256))
                    .col(string_len(Sessions::Subject, 256))
                    .col(text_null(Sessions::IdToken))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::LastSeenAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Sessions::EndedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_expires_at")
                    .table(Sessions::Table)
                    .col(Sessions::ExpiresAt)
                    .to_owned(),
            )
            .await?;
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

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SignIns::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Key,
    Account,
    DisplayName,
    Subject,
    IdToken,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
    EndedAt,
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
