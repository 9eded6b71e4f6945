//! What usage reports read ([`jitroles_domain::usage`]): the grant rows of a period, a page at
//! a time, with only the columns the figures need; refusals counted by the database; a rule's
//! last use and its recent requesters, each one indexed query.
//!
//! Indexes: requests of the period range-scan `grants_requested (requested_at)`; grants held
//! into the period come from the live states (`grants_state_expires`) and the grants ended
//! after its start (`grants_state_ended (state, ended_at, requested_at)`, this module's
//! migration); a rule's last use and recent requesters scan `grants_rule (rule_id,
//! requested_at)` backwards or from a time; refusals range-scan `audit_events_at (at)`.
//! Requests are paged by `(requested_at, id)` from where the last page stopped, so a year of
//! a million grants is read in one pass over the index, not one per page.

use chrono::{DateTime, Utc};
use jitroles_domain::{
    DomainError,
    audit::AuditAction,
    directory::Sid,
    grant::GrantState,
    usage::{HAD_ACCESS, Period, UsageGrant, repeated_refusals},
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Func},
};
use std::collections::BTreeMap;

use crate::{
    entity::{audit_event, grant},
    records::corrupt,
    store::{Database, db_error},
};

type Row = (
    String,
    String,
    String,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

fn usage_columns<Q: QuerySelect>(query: Q) -> Q {
    query.select_only().columns([
        grant::Column::Id,
        grant::Column::RuleId,
        grant::Column::RuleName,
        grant::Column::SubjectSid,
        grant::Column::State,
        grant::Column::RequestedAt,
        grant::Column::ActivatedAt,
        grant::Column::EndedAt,
    ])
}

fn to_usage(row: Row) -> Result<UsageGrant, DomainError> {
    let (id, rule_id, rule_name, subject, state, requested_at, activated_at, ended_at) = row;
    Ok(UsageGrant::new(
        id,
        rule_id,
        rule_name,
        subject.parse().map_err(|e| corrupt("subject SID", e))?,
        GrantState::parse(&state).ok_or_else(|| corrupt("grant state", &state))?,
        requested_at,
        activated_at,
        ended_at,
    ))
}

fn states(states: &[GrantState]) -> Vec<&'static str> {
    states.iter().map(|s| s.as_str()).collect()
}

impl Database {
    pub(crate) async fn usage_requested(
        &self,
        period: &Period,
        after: Option<(DateTime<Utc>, String)>,
        limit: u32,
    ) -> Result<Vec<UsageGrant>, DomainError> {
        // the range starts at the cursor (not only at the period's start), so each page is an
        // index range from where the last one stopped: the OR alone would make every page
        // scan from the period's start again
        let start = after
            .as_ref()
            .map_or(period.from, |(at, _)| Ord::max(period.from, *at));
        let mut query = grant::Entity::find()
            .filter(grant::Column::RequestedAt.gte(start))
            .filter(grant::Column::RequestedAt.lt(period.to));
        if let Some((at, id)) = after {
            query = query.filter(
                Condition::any().add(grant::Column::RequestedAt.gt(at)).add(
                    Condition::all()
                        .add(grant::Column::RequestedAt.eq(at))
                        .add(grant::Column::Id.gt(id)),
                ),
            );
        }
        let rows: Vec<Row> = usage_columns(query)
            .order_by_asc(grant::Column::RequestedAt)
            .order_by_asc(grant::Column::Id)
            .limit(u64::from(limit))
            .into_tuple()
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        rows.into_iter().map(to_usage).collect()
    }

    pub(crate) async fn usage_held_into(
        &self,
        period: &Period,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UsageGrant>, DomainError> {
        let mut query = grant::Entity::find()
            .filter(grant::Column::RequestedAt.lt(period.from))
            .filter(
                Condition::any()
                    .add(
                        grant::Column::State
                            .is_in(states(&[GrantState::Active, GrantState::Ending])),
                    )
                    .add(
                        Condition::all()
                            .add(grant::Column::State.eq(GrantState::Ended.as_str()))
                            .add(grant::Column::EndedAt.gt(period.from)),
                    ),
            );
        if let Some(after) = after {
            query = query.filter(grant::Column::Id.gt(after));
        }
        let rows: Vec<Row> = usage_columns(query)
            .order_by_asc(grant::Column::Id)
            .limit(u64::from(limit))
            .into_tuple()
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        rows.into_iter().map(to_usage).collect()
    }

    pub(crate) async fn usage_refusals(
        &self,
        period: &Period,
    ) -> Result<Vec<(String, u64)>, DomainError> {
        let in_period = Condition::all()
            .add(audit_event::Column::At.gte(period.from))
            .add(audit_event::Column::At.lt(period.to))
            .add(audit_event::Column::RuleId.is_not_null());
        let counted: Vec<(Option<String>, i64)> = audit_event::Entity::find()
            .select_only()
            .column(audit_event::Column::RuleId)
            .column_as(Expr::col(audit_event::Column::Id).count(), "n")
            .filter(in_period.clone())
            .filter(audit_event::Column::Action.is_in([
                AuditAction::RequestRefused.as_str(),
                AuditAction::Rejected.as_str(),
            ]))
            .group_by(audit_event::Column::RuleId)
            .into_tuple()
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for (rule, n) in counted {
            if let Some(rule) = rule {
                *counts.entry(rule).or_default() += u64::try_from(n).unwrap_or(0);
            }
        }
        // the audit trail's folded repeats: at most one summary per window and key
        let summaries: Vec<(Option<String>, String)> = audit_event::Entity::find()
            .select_only()
            .column(audit_event::Column::RuleId)
            .column(audit_event::Column::Detail)
            .filter(in_period)
            .filter(audit_event::Column::Action.eq(AuditAction::Repeated.as_str()))
            .into_tuple()
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        for (rule, detail) in summaries {
            if let (Some(rule), Some(n)) = (rule, repeated_refusals(&detail)) {
                *counts.entry(rule).or_default() += n;
            }
        }
        Ok(counts.into_iter().collect())
    }

    pub(crate) async fn last_use(
        &self,
        rule_id: &str,
        before: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, DomainError> {
        let started = Func::coalesce([
            Expr::col(grant::Column::ActivatedAt),
            Expr::col(grant::Column::RequestedAt),
        ]);
        grant::Entity::find()
            .select_only()
            .column(grant::Column::RequestedAt)
            .filter(grant::Column::RuleId.eq(rule_id))
            .filter(grant::Column::RequestedAt.lt(before))
            .filter(grant::Column::State.is_in(states(&HAD_ACCESS)))
            .filter(Expr::expr(started).lt(before))
            .order_by_desc(grant::Column::RequestedAt)
            .limit(1)
            .into_tuple::<DateTime<Utc>>()
            .one(&self.conn)
            .await
            .map_err(db_error)
    }

    pub(crate) async fn requesters_since(
        &self,
        rule_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<Sid>, DomainError> {
        let sids: Vec<String> = grant::Entity::find()
            .select_only()
            .column(grant::Column::SubjectSid)
            .distinct()
            .filter(grant::Column::RuleId.eq(rule_id))
            .filter(grant::Column::RequestedAt.gte(since))
            .into_tuple()
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        sids.into_iter()
            .map(|s| s.parse().map_err(|e| corrupt("subject SID", e)))
            .collect()
    }
}
