//! The audit log's hash chain: each event's place in the chain (`chain_seq`) and hash
//! (`chain_hash`, hex), NULL until the chainer appends it, and the one-row chain head
//! (`audit_chain`) the chainer locks. Events already stored stay unchained here: the chainer
//! appends them in id order the first time it runs (the hash is the domain's, which a
//! migration must not depend on).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // one column per statement: SQLite alters one at a time
        for column in [
            big_integer_null(AuditEvents::ChainSeq),
            string_len_null(AuditEvents::ChainHash, 64),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditEvents::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AuditChain::Table)
                    .if_not_exists()
                    .col(integer(AuditChain::Id).primary_key())
                    .col(big_integer(AuditChain::Seq))
                    .col(string_len(AuditChain::Hash, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AuditChain::Table)
                    .columns([AuditChain::Id, AuditChain::Seq, AuditChain::Hash])
                    .values_panic([1.into(), 0i64.into(), "0".repeat(64).into()])
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        for sql in [
            // one event per place: two appenders can never both write seq N
            "CREATE UNIQUE INDEX audit_events_chain_seq ON audit_events (chain_seq)",
            // what the chainer looks for, cheaply, every second
            "CREATE INDEX audit_events_unchained ON audit_events (id) WHERE chain_seq IS NULL",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in [
            "DROP INDEX audit_events_unchained",
            "DROP INDEX audit_events_chain_seq",
        ] {
            db.execute_unprepared(sql).await?;
        }
        manager
            .drop_table(Table::drop().table(AuditChain::Table).to_owned())
            .await?;
        for column in [AuditEvents::ChainHash, AuditEvents::ChainSeq] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditEvents::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    ChainSeq,
    ChainHash,
}

#[derive(DeriveIden)]
enum AuditChain {
    Table,
    Id,
    Seq,
    Hash,
}
