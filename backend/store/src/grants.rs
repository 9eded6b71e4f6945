//! The [`GrantStore`] port: grants and the audit log. Every change commits together with its
//! audit event (and its notifications); grant changes are conditional on the version read.

use crate::{
    entity::{audit_event, grant, membership_lease, rule},
    notifications::outbox,
    records::{corrupt, insert_audit, live_states, open_states, unique_or},
    store::{Database, db_error},
};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jitroles_domain::{
    DomainError,
    approval::{Acknowledgement, BreakGlass, Deferred},
    audit::{AuditAction, AuditEvent, AuditFilter, NewAudit},
    directory::{Mechanism, Sid},
    grant::{EndReason, Grant, GrantState, Lease, Subject},
    grant_filter::{GrantFilter, Person},
    page::{Page, PageRequest},
    ports::{GrantChange, GrantStore},
    rule::TargetGroup,
    usage::{Period, UsageGrant},
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
    sea_query::{Expr, ExprTrait, Func, OnConflict},
};

pub(crate) fn to_grant(g: grant::Model) -> Result<Grant, DomainError> {
    Ok(Grant {
        id: g.id,
        rule_id: g.rule_id,
        rule_name: g.rule_name,
        group: TargetGroup {
            sid: g.group_sid.parse().map_err(|e| corrupt("group SID", e))?,
            guid: g.group_guid,
            dn: g.group_dn,
            name: g.group_name,
        },
        subject: Subject {
            sid: g
                .subject_sid
                .parse()
                .map_err(|e| corrupt("subject SID", e))?,
            dn: g.subject_dn,
            account: g.subject_account,
            display_name: g.subject_display_name,
        },
        requested_by: g.requested_by,
        justification: g.justification,
        requested_at: g.requested_at,
        expires_at: g.expires_at,
        state: GrantState::parse(&g.state).ok_or_else(|| corrupt("grant state", &g.state))?,
        mechanism: match g.mechanism.as_str() {
            "ttl" => Mechanism::Ttl,
            _ => Mechanism::Scheduled,
        },
        extension_count: u32::try_from(g.extension_count).unwrap_or(0),
        ended_at: g.ended_at,
        end_reason: g.end_reason.as_deref().and_then(EndReason::parse),
        end_note: g.end_note,
        last_error: g.last_error,
        client_request_id: g.client_request_id,
        lease: g
            .lease_holder
            .zip(g.lease_until)
            .map(|(holder, until)| Lease { holder, until }),
        version: g.version,
        deferred: g
            .duration_secs
            .map(|secs| -> Result<Deferred, DomainError> {
                let acknowledged = match (g.acknowledged_by_sid, g.acknowledged_at) {
                    (Some(sid), Some(at)) => Some(Acknowledgement {
                        by: sid.parse().map_err(|e| corrupt("acknowledging SID", e))?,
                        by_account: g.acknowledged_by.unwrap_or_default(),
                        comment: g.acknowledgement.unwrap_or_default(),
                        at,
                    }),
                    _ => None,
                };
                Ok(Deferred {
                    duration: Duration::from_secs(u64::try_from(secs).unwrap_or(0)),
                    starts_at: g.starts_at,
                    required: g
                        .required_approvals
                        .and_then(|n| u8::try_from(n).ok())
                        .unwrap_or(0),
                    lapses_at: g.lapses_at,
                    activated_at: g.activated_at,
                    break_glass: g.break_glass_reason.map(|reason| BreakGlass {
                        reason,
                        acknowledged,
                    }),
                })
            })
            .transpose()?,
    })
}

pub(crate) fn grant_row(g: &Grant) -> grant::ActiveModel {
    let d = g.deferred.as_ref();
    let glass = d.and_then(|d| d.break_glass.as_ref());
    let ack = glass.and_then(|b| b.acknowledged.as_ref());
    grant::ActiveModel {
        id: Set(g.id.clone()),
        rule_id: Set(g.rule_id.clone()),
        rule_name: Set(g.rule_name.clone()),
        group_sid: Set(g.group.sid.to_string()),
        group_guid: Set(g.group.guid.clone()),
        group_dn: Set(g.group.dn.clone()),
        group_name: Set(g.group.name.clone()),
        subject_sid: Set(g.subject.sid.to_string()),
        subject_dn: Set(g.subject.dn.clone()),
        subject_account: Set(g.subject.account.clone()),
        subject_display_name: Set(g.subject.display_name.clone()),
        requested_by: Set(g.requested_by.clone()),
        justification: Set(g.justification.clone()),
        requested_at: Set(g.requested_at),
        expires_at: Set(g.expires_at),
        state: Set(g.state.as_str().to_owned()),
        mechanism: Set(g.mechanism.to_string()),
        extension_count: Set(i32::try_from(g.extension_count).unwrap_or(i32::MAX)),
        ended_at: Set(g.ended_at),
        end_reason: Set(g.end_reason.map(|r| r.as_str().to_owned())),
        end_note: Set(g.end_note.clone()),
        last_error: Set(g.last_error.clone()),
        client_request_id: Set(g.client_request_id.clone()),
        lease_holder: Set(g.lease.as_ref().map(|l| l.holder.clone())),
        lease_until: Set(g.lease.as_ref().map(|l| l.until)),
        version: Set(g.version),
        duration_secs: Set(d.map(|d| i64::try_from(d.duration.as_secs()).unwrap_or(i64::MAX))),
        starts_at: Set(d.and_then(|d| d.starts_at)),
        required_approvals: Set(d.map(|d| i32::from(d.required))),
        lapses_at: Set(d.and_then(|d| d.lapses_at)),
        activated_at: Set(d.and_then(|d| d.activated_at)),
        break_glass_reason: Set(glass.map(|b| b.reason.clone())),
        acknowledged_by_sid: Set(ack.map(|a| a.by.to_string())),
        acknowledged_by: Set(ack.map(|a| a.by_account.clone())),
        acknowledgement: Set(ack.map(|a| a.comment.clone())),
        acknowledged_at: Set(ack.map(|a| a.at)),
    }
}

fn rows<T>(
    rows: Vec<T>,
    f: impl Fn(T) -> Result<Grant, DomainError>,
) -> Result<Vec<Grant>, DomainError> {
    rows.into_iter().map(f).collect()
}

#[async_trait]
impl GrantStore for Database {
    async fn restored_snapshot(&self) -> Result<Option<DateTime<Utc>>, DomainError> {
        self.snapshot_taken_at().await
    }

    async fn insert_grant(&self, g: &Grant, audit: NewAudit) -> Result<(), DomainError> {
        let tx = self.conn.begin().await.map_err(db_error)?;
        // the request may have read a copy of the rule: it must still be live and target the
        // group the grant writes, or a deleted or retargeted rule would gain a grant
        let current = rule::Entity::find_by_id(g.rule_id.clone())
            .filter(rule::Column::DeletedAt.is_null())
            .filter(rule::Column::TargetSid.eq(g.group.sid.as_str()))
            .count(&tx)
            .await
            .map_err(db_error)?;
        if current == 0 {
            return Err(DomainError::FailedPrecondition(
                "the role was deleted or moved to another group meanwhile; look at it again".into(),
            ));
        }
        grant::Entity::insert(grant_row(g))
            .exec_without_returning(&tx)
            .await
            .map_err(|e| {
                unique_or(e, || {
                    DomainError::AlreadyExists(format!(
                        "{} already has a live grant or an open request of {}",
                        g.subject.account, g.rule_name
                    ))
                })
            })?;
        outbox(&tx, g, &audit).await?;
        insert_audit(&tx, audit).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn update_grant(
        &self,
        before: &Grant,
        after: &Grant,
        audit: Option<NewAudit>,
    ) -> Result<Grant, DomainError> {
        let stored = Grant {
            version: before.version + 1,
            ..after.clone()
        };
        let tx = self.conn.begin().await.map_err(db_error)?;
        let done = grant::Entity::update_many()
            .set(grant_row(&stored))
            .filter(grant::Column::Id.eq(before.id.clone()))
            .filter(grant::Column::Version.eq(before.version))
            .exec(&tx)
            .await
            .map_err(db_error)?;
        if done.rows_affected == 0 {
            return Err(DomainError::Conflict(
                "the grant changed meanwhile; look at it again".into(),
            ));
        }
        if let Some(audit) = audit {
            outbox(&tx, &stored, &audit).await?;
            insert_audit(&tx, audit).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(stored)
    }

    async fn update_grants(
        &self,
        changes: Vec<GrantChange>,
    ) -> Result<Vec<Result<Grant, DomainError>>, DomainError> {
        let tx = self.conn.begin().await.map_err(db_error)?;
        let mut done = Vec::with_capacity(changes.len());
        for change in changes {
            let stored = Grant {
                version: change.before.version + 1,
                ..change.after
            };
            let updated = grant::Entity::update_many()
                .set(grant_row(&stored))
                .filter(grant::Column::Id.eq(change.before.id.clone()))
                .filter(grant::Column::Version.eq(change.before.version))
                .exec(&tx)
                .await
                .map_err(db_error)?;
            if updated.rows_affected == 0 {
                done.push(Err(DomainError::Conflict(
                    "the grant changed meanwhile; look at it again".into(),
                )));
                continue;
            }
            if let Some(audit) = change.audit {
                outbox(&tx, &stored, &audit).await?;
                insert_audit(&tx, audit).await?;
            }
            done.push(Ok(stored));
        }
        tx.commit().await.map_err(db_error)?;
        Ok(done)
    }

    async fn grant(&self, id: &str) -> Result<Option<Grant>, DomainError> {
        grant::Entity::find_by_id(id.to_owned())
            .one(&self.conn)
            .await
            .map_err(db_error)?
            .map(to_grant)
            .transpose()
    }

    async fn grant_by_request_id(
        &self,
        subject: &Sid,
        client_request_id: &str,
    ) -> Result<Option<Grant>, DomainError> {
        grant::Entity::find()
            .filter(grant::Column::SubjectSid.eq(subject.as_str()))
            .filter(grant::Column::ClientRequestId.eq(client_request_id))
            .one(&self.conn)
            .await
            .map_err(db_error)?
            .map(to_grant)
            .transpose()
    }

    async fn open_grant(&self, rule_id: &str, subject: &Sid) -> Result<Option<Grant>, DomainError> {
        grant::Entity::find()
            .filter(grant::Column::RuleId.eq(rule_id))
            .filter(grant::Column::SubjectSid.eq(subject.as_str()))
            .filter(grant::Column::State.is_in(open_states()))
            .one(&self.conn)
            .await
            .map_err(db_error)?
            .map(to_grant)
            .transpose()
    }

    async fn live_on_group(
        &self,
        group: &Sid,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Grant>, DomainError> {
        let mut query = grant::Entity::find()
            .filter(grant::Column::GroupSid.eq(group.as_str()))
            .filter(grant::Column::State.is_in(live_states()));
        if let Some(after) = after {
            query = query.filter(grant::Column::Id.gt(after));
        }
        let found = query
            .order_by_asc(grant::Column::Id)
            .limit(u64::from(limit))
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        rows(found, to_grant)
    }

    async fn covering_any(&self, group: &Sid, subjects: &[Sid]) -> Result<Vec<Grant>, DomainError> {
        let found = grant::Entity::find()
            .filter(grant::Column::GroupSid.eq(group.as_str()))
            .filter(grant::Column::SubjectSid.is_in(subjects.iter().map(Sid::as_str)))
            .filter(grant::Column::State.is_in(live_states()))
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        rows(found, to_grant)
    }

    async fn take_membership(
        &self,
        group: &Sid,
        subject: &Sid,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, DomainError> {
        use membership_lease::Column as C;
        let row = membership_lease::ActiveModel {
            group_sid: Set(group.to_string()),
            subject_sid: Set(subject.to_string()),
            holder: Set(holder.to_owned()),
            until: Set(until),
        };
        // one statement: insert, or take over a lease that ran out or is our own
        let taken = membership_lease::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([C::GroupSid, C::SubjectSid])
                    .update_columns([C::Holder, C::Until])
                    .action_and_where(
                        Expr::col((membership_lease::Entity, C::Until))
                            .lte(now)
                            .or(Expr::col((membership_lease::Entity, C::Holder)).eq(holder)),
                    )
                    .to_owned(),
            )
            .exec_without_returning(&self.conn)
            .await
            .map_err(db_error)?;
        Ok(taken == 1)
    }

    async fn release_membership(
        &self,
        group: &Sid,
        subject: &Sid,
        holder: &str,
    ) -> Result<(), DomainError> {
        use membership_lease::Column as C;
        membership_lease::Entity::delete_many()
            .filter(C::GroupSid.eq(group.as_str()))
            .filter(C::SubjectSid.eq(subject.as_str()))
            .filter(C::Holder.eq(holder))
            .exec(&self.conn)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn release_memberships_of(&self, instance: &str) -> Result<(), DomainError> {
        use membership_lease::Column as C;
        // holder names are `<instance>#<hex>`; `%` and `_` in an instance name are taken
        // literally by checking the prefix exactly as well
        let prefix = format!("{instance}#");
        let held = membership_lease::Entity::find()
            .filter(C::Holder.starts_with(&prefix))
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        for row in held.into_iter().filter(|r| r.holder.starts_with(&prefix)) {
            membership_lease::Entity::delete_many()
                .filter(C::GroupSid.eq(row.group_sid))
                .filter(C::SubjectSid.eq(row.subject_sid))
                .filter(C::Holder.eq(row.holder))
                .exec(&self.conn)
                .await
                .map_err(db_error)?;
        }
        Ok(())
    }

    async fn grants_of(
        &self,
        subject: &Sid,
        page: PageRequest,
    ) -> Result<Page<Grant>, DomainError> {
        // live first: order by "is it ended" (ended_at null first), then newest
        let found = grant::Entity::find()
            .filter(grant::Column::SubjectSid.eq(subject.as_str()))
            .order_by(Expr::col(grant::Column::EndedAt).is_null(), Order::Desc)
            .order_by_desc(grant::Column::RequestedAt)
            .order_by_asc(grant::Column::Id)
            .offset(page.offset)
            .limit(u64::from(page.size) + 1)
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        Ok(page.page(rows(found, to_grant)?))
    }

    async fn grants(
        &self,
        filter: &GrantFilter,
        page: PageRequest,
    ) -> Result<Page<Grant>, DomainError> {
        // the SQL of GrantFilter::matches
        let mut query = grant::Entity::find();
        match &filter.person {
            Some(Person::Sid(sid)) => {
                query = query.filter(grant::Column::SubjectSid.eq(sid.as_str()));
            }
            Some(Person::Account(account)) => {
                query = query.filter(
                    Func::lower(Expr::col(grant::Column::SubjectAccount)).eq(account.as_str()),
                );
            }
            None => {}
        }
        if let Some(rule_id) = &filter.rule_id {
            query = query.filter(grant::Column::RuleId.eq(rule_id.as_str()));
        }
        if !filter.states.is_empty() {
            query =
                query.filter(grant::Column::State.is_in(filter.states.iter().map(|s| s.as_str())));
        }
        let found = query
            .order_by_desc(grant::Column::RequestedAt)
            .order_by_asc(grant::Column::Id)
            .offset(page.offset)
            .limit(u64::from(page.size) + 1)
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        Ok(page.page(rows(found, to_grant)?))
    }

    async fn due(
        &self,
        now: DateTime<Utc>,
        holder: &str,
        limit: u32,
    ) -> Result<Vec<Grant>, DomainError> {
        let found = grant::Entity::find()
            .filter(
                Condition::any()
                    .add(
                        Condition::all()
                            .add(grant::Column::State.eq(GrantState::Ending.as_str()))
                            .add(
                                Condition::any()
                                    .add(grant::Column::LeaseUntil.is_null())
                                    .add(grant::Column::LeaseUntil.lte(now))
                                    .add(grant::Column::LeaseHolder.eq(holder)),
                            ),
                    )
                    .add(
                        Condition::all()
                            .add(grant::Column::State.eq(GrantState::Active.as_str()))
                            .add(grant::Column::ExpiresAt.lte(now)),
                    ),
            )
            .order_by_asc(grant::Column::ExpiresAt)
            .limit(u64::from(limit))
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        rows(found, to_grant)
    }

    async fn overdue(&self, now: DateTime<Utc>) -> Result<u64, DomainError> {
        grant::Entity::find()
            .filter(
                Condition::any()
                    .add(grant::Column::State.eq(GrantState::Ending.as_str()))
                    .add(
                        Condition::all()
                            .add(grant::Column::State.eq(GrantState::Active.as_str()))
                            .add(grant::Column::ExpiresAt.lte(now)),
                    ),
            )
            .count(&self.conn)
            .await
            .map_err(db_error)
    }

    async fn activating(&self) -> Result<Vec<Grant>, DomainError> {
        let found = grant::Entity::find()
            .filter(grant::Column::State.eq(GrantState::Activating.as_str()))
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        rows(found, to_grant)
    }

    async fn next_expiry(&self) -> Result<Option<DateTime<Utc>>, DomainError> {
        let expiry = grant::Entity::find()
            .filter(grant::Column::State.eq(GrantState::Active.as_str()))
            .order_by_asc(grant::Column::ExpiresAt)
            .one(&self.conn)
            .await
            .map_err(db_error)?
            .map(|g| g.expires_at);
        let lease_end = grant::Entity::find()
            .filter(grant::Column::State.eq(GrantState::Ending.as_str()))
            .filter(grant::Column::LeaseUntil.is_not_null())
            .order_by_asc(grant::Column::LeaseUntil)
            .one(&self.conn)
            .await
            .map_err(db_error)?
            .and_then(|g| g.lease_until);
        Ok(expiry.into_iter().chain(lease_end).min())
    }

    async fn record_audit(&self, audit: NewAudit) -> Result<(), DomainError> {
        insert_audit(&self.conn, audit).await
    }

    async fn audit_events(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, DomainError> {
        let mut query = audit_event::Entity::find();
        if let Some(account) = &filter.subject_account {
            query = query.filter(audit_event::Column::SubjectAccount.eq(account.clone()));
        }
        if let Some(rule_id) = &filter.rule_id {
            query = query.filter(audit_event::Column::RuleId.eq(rule_id.clone()));
        }
        if let Some(action) = filter.action {
            query = query.filter(audit_event::Column::Action.eq(action.as_str()));
        }
        if let Some(since) = filter.since {
            query = query.filter(audit_event::Column::At.gte(since));
        }
        if let Some(until) = filter.until {
            query = query.filter(audit_event::Column::At.lt(until));
        }
        let found = query
            .order_by_desc(audit_event::Column::Id)
            .offset(page.offset)
            .limit(u64::from(page.size) + 1)
            .all(&self.conn)
            .await
            .map_err(db_error)?;
        let events = found
            .into_iter()
            .map(|e| {
                Ok(AuditEvent {
                    id: e.id,
                    event: NewAudit {
                        at: e.at,
                        action: AuditAction::parse(&e.action)
                            .ok_or_else(|| corrupt("audit action", &e.action))?,
                        actor: e.actor,
                        rule_id: e.rule_id,
                        grant_id: e.grant_id,
                        subject_account: e.subject_account,
                        detail: e.detail,
                        source: e.source,
                    },
                })
            })
            .collect::<Result<Vec<_>, DomainError>>()?;
        Ok(page.page(events))
    }

    async fn usage_requested(
        &self,
        period: &Period,
        after: Option<(DateTime<Utc>, String)>,
        limit: u32,
    ) -> Result<Vec<UsageGrant>, DomainError> {
        Database::usage_requested(self, period, after, limit).await
    }

    async fn usage_held_into(
        &self,
        period: &Period,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UsageGrant>, DomainError> {
        Database::usage_held_into(self, period, after, limit).await
    }

    async fn usage_refusals(&self, period: &Period) -> Result<Vec<(String, u64)>, DomainError> {
        Database::usage_refusals(self, period).await
    }

    async fn last_use(
        &self,
        rule_id: &str,
        before: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, DomainError> {
        Database::last_use(self, rule_id, before).await
    }

    async fn requesters_since(
        &self,
        rule_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<Sid>, DomainError> {
        Database::requesters_since(self, rule_id, since).await
    }
}
