//! Why a grant ended, in the words of whoever ended it (an admin's revoke reason): until now
//! only the audit event's detail kept it, where the person cannot read it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Grants::Table)
                    .add_column(text_null(Grants::EndNote))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Grants::Table)
                    .drop_column(Grants::EndNote)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Grants {
    Table,
    EndNote,
}
