//! The [`ApprovalStore`] port: the approvers' decisions (one each per request, by the primary
//! key), each committed with the request's change and its audit event; the approvals list;
//! and the waiting requests that fall due.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jitroles_domain::{
    DomainError,
    approval::{Decision, Verdict},
    audit::NewAudit,
    directory::Sid,
    grant::{Grant, GrantState},
    page::{Page, PageRequest},
    ports::ApprovalStore,
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
    sea_query::{Expr, ExprTrait, Query},
};

use crate::{
    entity::{approval_decision, grant},
    grants::{grant_row, to_grant},
    notifications::outbox,
    records::{corrupt, insert_audit, unique_or},
    store::{Database, db_error},
};

fn to_decision(d: approval_decision::Model) -> Result<Decision, DomainError> {
    Ok(Decision {
        grant_id: d.grant_id,
        approver: d
            .approver_sid
            .parse()
            .map_err(|e| corrupt("approver SID", e))?,
        approver_account: d.approver_account,
        verdict: Verdict::parse(&d.verdict).ok_or_else(|| corrupt("verdict", &d.verdict))?,
        comment: d.comment,
        at: d.decided_at,
    })
}

/// Pending requests, and break-glass grants nobody acknowledged yet.
fn awaiting_condition(rules: &[String]) -> Condition {
    Condition::all()
        .add(grant::Column::RuleId.is_in(rules.iter().cloned()))
        .add(
            Condition::any()
                .add(grant::Column::State.eq(GrantState::Pending.as_str()))
                .add(
                    Condition::all()
                        .add(grant::Column::BreakGlassReason.is_not_null())
                        .add(grant::Column::AcknowledgedAt.is_null()),
                ),
        )
}

#[async_trait]
impl ApprovalStore for Database {
    async fn decide(
        &self,
        before: &Grant,
        decision: &Decision,
        after: &Grant,
        audits: Vec<NewAudit>,
    ) -> Result<Grant, DomainError> {
        let stored = Grant {
            version: before.version + 1,
            ..after.clone()
        };
        let tx = self.conn.begin().await.map_err(db_error)?;
        approval_decision::Entity::insert(approval_decision::ActiveModel {
            grant_id: Set(decision.grant_id.clone()),
            approver_sid: Set(decision.approver.to_string()),
            approver_account: Set(decision.approver_account.clone()),
            verdict: Set(decision.verdict.as_str().to_owned()),
            comment: Set(decision.comment.clone()),
            decided_at: Set(decision.at),
        })
        .exec_without_returning(&tx)
        .await
        .map_err(|e| {
            unique_or(e, || {
                DomainError::FailedPrecondition(
                    "you decided this request already; nothing was changed".into(),
                )
            })
        })?;
        let done = grant::Entity::update_many()
            .set(grant_row(&stored))
            .filter(grant::Column::Id.eq(before.id.clone()))
            .filter(grant::Column::Version.eq(before.version))
            .exec(&tx)
            .await
            .map_err(db_error)?;
        if done.rows_affected == 0 {
            // dropping the transaction rolls the decision back
            return Err(DomainError::Conflict(
                "the request changed meanwhile; look at it again".into(),
            ));
        }
        for audit in audits {
            outbox(&tx, &stored, &audit).await?;
            insert_audit(&tx, audit).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(stored)
    }

    async fn decisions(&self, grant_id: &str) -> Result<Vec<Decision>, DomainError> {
        self.decisions_of(&[grant_id.to_owned()]).await
    }

    async fn decisions_of(&self, grant_ids: &[String]) -> Result<Vec<Decision>, DomainError> {
        if grant_ids.is_empty() {
            return Ok(Vec::new());
        }
        approval_decision::Entity::find()
            .filter(approval_decision::Column::GrantId.is_in(grant_ids.iter().cloned()))
            .order_by_asc(approval_decision::Column::DecidedAt)
            .order_by_asc(approval_decision::Column::ApproverSid)
            .all(&self.conn)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(to_decision)
            .collect()
    }

    async fn awaiting(
        &self,
        rules: &[String],
        except: &Sid,
        page: PageRequest,
    ) -> Result<Page<Grant>, DomainError> {
        if rules.is_empty() {
            return Ok(page.page(Vec::new()));
        }
        let found = grant::Entity::find()
            .filter(awaiting_condition(rules))
            .filter(grant::Column::SubjectSid.ne(except.as_str()))
            .order_by(
                Expr::col(grant::Column::State).eq(GrantState::Pending.as_str()),
                Order::Desc,
            )
            .order_by_asc(grant::Column::RequestedAt)
            .order_by_asc(grant::Column::Id)
            .offset(page.offset)
            .limit(u64::from(page.size) + 1)
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        let grants = found
            .into_iter()
            .map(to_grant)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page.page(grants))
    }

    async fn awaiting_count(&self, rules: &[String], approver: &Sid) -> Result<u64, DomainError> {
        if rules.is_empty() {
            return Ok(0);
        }
        let decided = Query::select()
            .column(approval_decision::Column::GrantId)
            .from(approval_decision::Entity)
            .and_where(approval_decision::Column::ApproverSid.eq(approver.as_str()))
            .to_owned();
        grant::Entity::find()
            .filter(grant::Column::RuleId.is_in(rules.iter().cloned()))
            .filter(grant::Column::State.eq(GrantState::Pending.as_str()))
            .filter(grant::Column::SubjectSid.ne(approver.as_str()))
            .filter(Expr::col(grant::Column::Id).not_in_subquery(decided))
            .count(&self.conn)
            .await
            .map_err(db_error)
    }

    async fn due_waiting(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Grant>, DomainError> {
        let lapsing = grant::Entity::find()
            .filter(grant::Column::State.eq(GrantState::Pending.as_str()))
            .filter(grant::Column::LapsesAt.lte(now))
            .order_by_asc(grant::Column::LapsesAt)
            .limit(u64::from(limit))
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        let starting = grant::Entity::find()
            .filter(grant::Column::State.eq(GrantState::Scheduled.as_str()))
            .filter(grant::Column::StartsAt.lte(now))
            .order_by_asc(grant::Column::StartsAt)
            .limit(u64::from(limit))
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        let mut due: Vec<(DateTime<Utc>, Grant)> = lapsing
            .into_iter()
            .chain(starting)
            .map(|g| {
                let at = g.lapses_at.or(g.starts_at).unwrap_or(now);
                to_grant(g).map(|g| (at, g))
            })
            .collect::<Result<_, _>>()?;
        due.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
        due.truncate(limit as usize);
        Ok(due.into_iter().map(|(_, g)| g).collect())
    }

    async fn next_waiting(&self) -> Result<Option<DateTime<Utc>>, DomainError> {
        let lapse = grant::Entity::find()
            .filter(grant::Column::State.eq(GrantState::Pending.as_str()))
            .filter(grant::Column::LapsesAt.is_not_null())
            .order_by_asc(grant::Column::LapsesAt)
            .one(&self.conn)
            .await
            .map_err(db_error)?
            .and_then(|g| g.lapses_at);
        let start = grant::Entity::find()
            .filter(grant::Column::State.eq(GrantState::Scheduled.as_str()))
            .filter(grant::Column::StartsAt.is_not_null())
            .order_by_asc(grant::Column::StartsAt)
            .one(&self.conn)
            .await
            .map_err(db_error)?
            .and_then(|g| g.starts_at);
        Ok(lapse.into_iter().chain(start).min())
    }
}
