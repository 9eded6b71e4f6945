//! The audit log's hash chain in the database: appending committed events to it, reading it in
//! chain order, and its head. The hash itself is the domain's (`jitroles_domain::audit::chain`).
//!
//! Chain order is `chain_seq`, not the id: on PostgreSQL ids are taken at insert and commit in
//! another order, so an event is chained after it commits. Whoever appends first takes the
//! chain head's row lock (PostgreSQL) or the write lock (SQLite) with an UPDATE of the head,
//! then reads the head and the unchained events: two instances append one after the other, and
//! an event that commits late gets a later place.

use jitroles_domain::{
    DomainError,
    audit::chain::{self, Break, ChainedEvent, Checkpoint, EventContent, Head, Walk},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait, sea_query::Expr,
};

use crate::{
    Database,
    entity::{audit_chain, audit_event},
    records::corrupt,
    store::db_error,
};

/// Events per page when verifying.
const VERIFY_PAGE: u64 = 5_000;

/// Events chained per transaction: bounds the time the head is locked.
const BATCH: u64 = 1_000;

/// What an event's hash covers, moved out of its row (verify reads a million of these).
fn content(e: audit_event::Model) -> EventContent {
    EventContent {
        id: e.id,
        at: e.at,
        action: e.action,
        actor: e.actor,
        rule_id: e.rule_id,
        grant_id: e.grant_id,
        subject_account: e.subject_account,
        detail: e.detail,
        source: e.source,
    }
}

/// Where the chain ends, as the one-row `audit_chain` records it.
async fn read_head(c: &impl ConnectionTrait) -> Result<Head, DomainError> {
    let row = audit_chain::Entity::find_by_id(1)
        .one(c)
        .await
        .map_err(db_error)?
        .ok_or_else(|| corrupt("audit chain head", "the row is missing"))?;
    Ok(Head {
        seq: u64::try_from(row.seq).map_err(|_| corrupt("audit chain head", row.seq))?,
        hash: chain::from_hex(&row.hash).ok_or_else(|| corrupt("audit chain head", &row.hash))?,
    })
}

impl Database {
    /// Appends every committed, unchained audit event to the chain, in id order, in batches;
    /// returns how many. Safe to call from several instances at once.
    pub async fn chain_audit(&self) -> Result<u64, DomainError> {
        let mut total = 0;
        loop {
            let chained = self.chain_batch().await?;
            total += chained;
            if chained < BATCH {
                return Ok(total);
            }
        }
    }

    async fn chain_batch(&self) -> Result<u64, DomainError> {
        // a look without the lock first: most calls find nothing, and on SQLite taking the
        // lock is a write
        let waiting = audit_event::Entity::find()
            .select_only()
            .column(audit_event::Column::Id)
            .filter(audit_event::Column::ChainSeq.is_null())
            .limit(1)
            .into_tuple::<i64>()
            .one(&self.conn)
            .await
            .map_err(db_error)?;
        if waiting.is_none() {
            return Ok(0);
        }
        let tx = self.conn.begin().await.map_err(db_error)?;
        // the lock before any read: a SQLite transaction that read first could not upgrade
        audit_chain::Entity::update_many()
            .col_expr(
                audit_chain::Column::Seq,
                Expr::col(audit_chain::Column::Seq),
            )
            .filter(audit_chain::Column::Id.eq(1))
            .exec(&tx)
            .await
            .map_err(db_error)?;
        let head = read_head(&tx).await?;
        let events = audit_event::Entity::find()
            .filter(audit_event::Column::ChainSeq.is_null())
            .order_by_asc(audit_event::Column::Id)
            .limit(BATCH)
            .all(&tx)
            .await
            .map_err(db_error)?;
        let contents: Vec<_> = events.into_iter().map(content).collect();
        let (links, new_head) = chain::append(head, &contents);
        for (e, (seq, hash)) in contents.iter().zip(links) {
            audit_event::Entity::update_many()
                .col_expr(audit_event::Column::ChainSeq, Expr::value(seq as i64))
                .col_expr(
                    audit_event::Column::ChainHash,
                    Expr::value(chain::to_hex(&hash)),
                )
                .filter(audit_event::Column::Id.eq(e.id))
                .exec(&tx)
                .await
                .map_err(db_error)?;
        }
        audit_chain::Entity::update_many()
            .col_expr(audit_chain::Column::Seq, Expr::value(new_head.seq as i64))
            .col_expr(
                audit_chain::Column::Hash,
                Expr::value(chain::to_hex(&new_head.hash)),
            )
            .filter(audit_chain::Column::Id.eq(1))
            .exec(&tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(contents.len() as u64)
    }

    /// Where the chain ends.
    pub async fn chain_head(&self) -> Result<Head, DomainError> {
        read_head(&self.conn).await
    }

    /// Chained events after place `after` up to place `up_to`, in chain order, at most `limit`
    /// (pages by place: a reader holds one page at a time).
    pub async fn chained_events(
        &self,
        after: u64,
        up_to: u64,
        limit: u64,
    ) -> Result<Vec<ChainedEvent>, DomainError> {
        let rows = audit_event::Entity::find()
            .filter(audit_event::Column::ChainSeq.gt(after as i64))
            .filter(audit_event::Column::ChainSeq.lte(up_to as i64))
            .order_by_asc(audit_event::Column::ChainSeq)
            .limit(limit)
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|mut e| ChainedEvent {
                // the filter keeps chain_seq positive
                chain_seq: e.chain_seq.unwrap_or_default() as u64,
                hash: e.chain_hash.take().unwrap_or_default(),
                content: content(e),
            })
            .collect())
    }

    /// Walks the chain up to the head read at the start, a page at a time (constant memory),
    /// with the domain's [`Walk`]: the head verified (its place is how many events), or the
    /// first break.
    pub async fn verify_chain(
        &self,
        checkpoint: Option<Checkpoint>,
    ) -> Result<Result<Head, Break>, DomainError> {
        let head = self.chain_head().await?;
        let mut walk = Walk::new(checkpoint);
        let mut after = 0;
        loop {
            let page = self.chained_events(after, head.seq, VERIFY_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.chain_seq;
            for e in &page {
                if let Err(b) = walk.step(e) {
                    return Ok(Err(b));
                }
            }
        }
        Ok(walk.finish(head))
    }

    /// Events not yet in the chain.
    pub async fn unchained_audit_events(&self) -> Result<u64, DomainError> {
        audit_event::Entity::find()
            .filter(audit_event::Column::ChainSeq.is_null())
            .count(&self.conn)
            .await
            .map_err(db_error)
    }
}
