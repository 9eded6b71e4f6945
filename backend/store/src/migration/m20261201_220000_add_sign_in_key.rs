//! The key that seals pending browser sign-ins (a cookie, not a table row): random, made once per
//! deployment and shared by its instances through the database. It was derived from the OIDC
//! client secret, which let anyone holding a sealed cookie test guesses of that secret offline.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Installation::Table)
                    .add_column(text_null(Installation::SignInKey))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Installation::Table)
                    .drop_column(Installation::SignInKey)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Installation {
    Table,
    SignInKey,
}
