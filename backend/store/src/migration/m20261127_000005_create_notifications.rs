//! Notification channels, the rules' channel lists, and the outbox.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Channels::Table)
                    .if_not_exists()
                    .col(string_len(Channels::Id, 36).primary_key())
                    .col(string_len(Channels::Name, 100))
                    .col(string_len(Channels::NameKey, 100).unique_key())
                    // the transport's settings as JSON (secrets by reference only)
                    .col(text(Channels::Transport))
                    // JSON array of lifecycle event names
                    .col(text(Channels::Lifecycle))
                    .col(big_integer_null(Channels::ExpiringLeadSecs))
                    .col(boolean(Channels::Enabled))
                    .col(big_integer(Channels::Version))
                    .col(timestamp_with_time_zone(Channels::CreatedAt))
                    .col(timestamp_with_time_zone(Channels::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // one column per statement: SQLite alters one thing at a time
        for column in [Rules::SuccessChannels, Rules::FailureChannels] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Rules::Table)
                        .add_column(text(column).default("[]"))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .if_not_exists()
                    .col(string_len(Notifications::Id, 36).primary_key())
                    .col(string_len(Notifications::ChannelId, 36))
                    .col(string_len(Notifications::Event, 32))
                    .col(string_len(Notifications::GrantId, 36))
                    // what the notification says, as JSON, fixed when the event happened
                    .col(text(Notifications::Facts))
                    .col(string_len(Notifications::State, 16))
                    .col(integer(Notifications::Attempts))
                    .col(text_null(Notifications::LastError))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .col(timestamp_with_time_zone(Notifications::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Notifications::SentAt))
                    .col(string_len_null(Notifications::DedupeKey, 200).unique_key())
                    .col(big_integer(Notifications::Version))
                    // no foreign key to channels: deleting a channel must never make a grant
                    // transition fail; the worker skips notifications of a deleted channel
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for sql in [
            "CREATE INDEX notifications_due ON notifications (state, next_attempt_at)",
            "CREATE INDEX notifications_created ON notifications (created_at)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Notifications::Table).to_owned())
            .await?;
        for column in [Rules::FailureChannels, Rules::SuccessChannels] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Rules::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(Channels::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Channels {
    Table,
    Id,
    Name,
    NameKey,
    Transport,
    Lifecycle,
    ExpiringLeadSecs,
    Enabled,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Rules {
    Table,
    SuccessChannels,
    FailureChannels,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    ChannelId,
    Event,
    GrantId,
    Facts,
    State,
    Attempts,
    LastError,
    CreatedAt,
    NextAttemptAt,
    SentAt,
    DedupeKey,
    Version,
}
