//! Leases on memberships (group, person): the instance that holds one checks "does another
//! grant cover it?" and writes the directory, so two instances never interleave those steps
//! for one membership. A row lives only while its holder works (released after the write);
//! a crashed holder's row runs out.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MembershipLeases::Table)
                    .if_not_exists()
                    .col(string_len(MembershipLeases::GroupSid, 184))
                    .col(string_len(MembershipLeases::SubjectSid, 184))
                    .col(string(MembershipLeases::Holder))
                    .col(timestamp_with_time_zone(MembershipLeases::Until))
                    .primary_key(
                        Index::create()
                            .col(MembershipLeases::GroupSid)
                            .col(MembershipLeases::SubjectSid),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MembershipLeases::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum MembershipLeases {
    Table,
    GroupSid,
    SubjectSid,
    Holder,
    Until,
}
