//! An admin's emergency controls: revoke every live grant of a person or of a rule in one
//! call, and freeze new requests (and extensions) of a rule or of every rule until unfrozen.
//!
//! A bulk revoke also cancels the requests that wait (pending or scheduled), which would give
//! access later. Each grant of a bulk revoke ends exactly as a single revoke ends it (`Shared::revoke`:
//! directory removal, notifications, its own audit event), one after another; a grant that
//! cannot be revoked is reported and the others go on. One summary event records the call.
//! Freezes are stored with their audit events; requests read them as they read rules (see
//! `Shared::live_freezes`), so a freeze holds on this instance at once and on the others within
//! 3 s. Release, revoke, expiry and reconciliation are never frozen.

use std::sync::Arc;

use jitroles_domain::{
    DomainError,
    access::{AdminRight, Caller},
    audit::{AuditAction, NewAudit},
    freeze::{self, Freeze, FreezeScope},
    grant::{self, Grant, GrantState, Revocable, Revocations},
    grant_filter::{GrantFilter, Person},
    page::{MAX_PAGE_SIZE, PageRequest},
    rule::check_text,
};

use super::shared::{Shared, audit};

/// Longest person text (a SID or an account name), as in grant listings.
const MAX_PERSON_CHARS: usize = 256;

pub struct Emergency(Arc<Shared>);

/// A freeze with the name of its rule (empty for every role, or a rule deleted since).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedFreeze {
    pub freeze: Freeze,
    pub rule_name: String,
}

impl Emergency {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self(shared)
    }

    /// Revokes every live grant of `person` (a SID or an account name, matched as grant
    /// listings match it: against the grants as stored, so an account deleted from the
    /// directory is still found), of every rule.
    pub async fn revoke_person(
        &self,
        _: &AdminRight,
        actor: &Caller,
        person: &str,
        reason: &str,
    ) -> Result<Revocations, DomainError> {
        let reason = grant::revoke_reason(reason)?;
        let person = person.trim();
        check_text("person", person, MAX_PERSON_CHARS, false)?;
        if person.is_empty() {
            return Err(DomainError::invalid(
                "person",
                "is required: a SID or an account name",
            ));
        }
        let filter = GrantFilter {
            person: Some(Person::parse(person)),
            states: GrantState::OPEN.to_vec(),
            ..GrantFilter::live()
        };
        let done = self.revoke_matching(&filter, actor, &reason).await?;
        self.summarise(
            AuditAction::RevokedAllOfPerson,
            actor,
            None,
            Some(person.to_owned()),
            &done,
            &reason,
        )
        .await;
        Ok(done)
    }

    /// Revokes every live grant of the rule `rule_id`.
    pub async fn revoke_rule(
        &self,
        _: &AdminRight,
        actor: &Caller,
        rule_id: &str,
        reason: &str,
    ) -> Result<Revocations, DomainError> {
        let reason = grant::revoke_reason(reason)?;
        let rule = self.0.stored_rule(rule_id).await?;
        let filter = GrantFilter {
            rule_id: Some(rule.id.clone()),
            states: GrantState::OPEN.to_vec(),
            ..GrantFilter::live()
        };
        let done = self.revoke_matching(&filter, actor, &reason).await?;
        self.summarise(
            AuditAction::RevokedAllOfRule,
            actor,
            Some(rule.id),
            None,
            &done,
            &reason,
        )
        .await;
        Ok(done)
    }

    /// Every grant `filter` matches is read first (revoking changes what a later page would
    /// hold), then each is revoked.
    async fn revoke_matching(
        &self,
        filter: &GrantFilter,
        actor: &Caller,
        reason: &str,
    ) -> Result<Revocations, DomainError> {
        let mut live = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .0
                .ports
                .grants
                .grants(filter, PageRequest::parse(MAX_PAGE_SIZE, &token)?)
                .await?;
            live.extend(page.items);
            match page.next {
                Some(next) => token = next,
                None => break,
            }
        }
        let mut done = Revocations::default();
        for g in live {
            if matches!(g.state, GrantState::Pending | GrantState::Scheduled) {
                // a request that waits would give access later: it is cancelled instead
                match self.cancel_waiting(actor, &g, reason).await {
                    Ok(stored) => done.revoked.push(stored),
                    Err(e) => done.failed.push((g, e.said())),
                }
                continue;
            }
            let g = match grant::revocable(&g) {
                Revocable::Now => g,
                Revocable::No => continue,
                Revocable::AfterActivation => {
                    // its request holds the membership's lock until the grant is active or
                    // failed: wait for that turn, then look again
                    drop(self.0.memberships.lock(&g.group.sid, &g.subject.sid).await);
                    let now = match self.0.grant(&g.id).await {
                        Ok(now) => now,
                        Err(e) => {
                            done.failed.push((g, e.said()));
                            continue;
                        }
                    };
                    match grant::revocable(&now) {
                        Revocable::Now => now,
                        Revocable::No => continue,
                        Revocable::AfterActivation => {
                            done.failed.push((now, grant::STILL_ACTIVATING.to_owned()));
                            continue;
                        }
                    }
                }
            };
            match self.0.revoke(actor, &g.id, reason).await {
                Ok(stored) => done.revoked.push(stored),
                Err(e) => {
                    tracing::warn!(grant = %g.id, error = %e, "a grant of a bulk revoke was not revoked");
                    done.failed.push((g, e.said()));
                }
            }
        }
        Ok(done)
    }

    /// A pending or scheduled request of a bulk revoke, cancelled with the admin's reason.
    async fn cancel_waiting(
        &self,
        actor: &Caller,
        waiting: &Grant,
        reason: &str,
    ) -> Result<Grant, DomainError> {
        let now = self.0.now();
        let cancelled = Grant {
            state: GrantState::Cancelled,
            ended_at: Some(now),
            end_note: Some(reason.to_owned()),
            ..waiting.clone()
        };
        let event = audit(
            AuditAction::Cancelled,
            &actor.account_name,
            waiting,
            format!("cancelled by an emergency revoke: {reason}"),
            now,
        );
        self.0
            .ports
            .grants
            .update_grant(waiting, &cancelled, Some(event))
            .await
    }

    /// The call's summary event. The grants' own events are stored already, so a failure
    /// here is logged, not returned: the caller must learn what was revoked.
    async fn summarise(
        &self,
        action: AuditAction,
        actor: &Caller,
        rule_id: Option<String>,
        subject_account: Option<String>,
        done: &Revocations,
        reason: &str,
    ) {
        let event = NewAudit {
            at: self.0.now(),
            action,
            actor: actor.account_name.clone(),
            rule_id,
            grant_id: None,
            subject_account,
            detail: done.summary(reason),
            source: None,
        };
        if let Err(e) = self.0.ports.grants.record_audit(event).await {
            tracing::error!(error = %e, "the summary of a bulk revoke was not recorded");
        }
    }

    /// Stops new requests and extensions of `scope` until unfrozen; freezing what is frozen
    /// replaces the reason.
    pub async fn freeze(
        &self,
        _: &AdminRight,
        actor: &Caller,
        scope: FreezeScope,
        reason: &str,
    ) -> Result<NamedFreeze, DomainError> {
        let reason = freeze::freeze_reason(reason)?;
        let rule_name = self.rule_name(&scope, true).await?;
        let now = self.0.now();
        let frozen = Freeze {
            scope,
            reason,
            frozen_by: actor.account_name.clone(),
            frozen_at: now,
        };
        let detail = format!("{} frozen: {}", what(&rule_name), frozen.reason);
        self.0
            .ports
            .rules
            .freeze(
                &frozen,
                freeze_audit(
                    AuditAction::RequestsFrozen,
                    actor,
                    &frozen.scope,
                    detail,
                    now,
                ),
            )
            .await?;
        self.0.rules_changed();
        Ok(NamedFreeze {
            freeze: frozen,
            rule_name,
        })
    }

    /// Lets requests of `scope` in again; FAILED_PRECONDITION when it is not frozen.
    pub async fn unfreeze(
        &self,
        _: &AdminRight,
        actor: &Caller,
        scope: FreezeScope,
    ) -> Result<(), DomainError> {
        let freezes = self.0.ports.rules.freezes().await?;
        freeze::check_frozen(&freezes, &scope)?;
        let was = freezes.iter().find(|f| f.scope == scope);
        // the rule may have been deleted since (its freeze went with it): its id will do
        let rule_name = self.rule_name(&scope, false).await?;
        let detail = match was {
            Some(f) => format!(
                "{} unfrozen (frozen by {} at {}: {})",
                what(&rule_name),
                f.frozen_by,
                f.frozen_at,
                f.reason
            ),
            None => format!("{} unfrozen", what(&rule_name)),
        };
        let now = self.0.now();
        self.0
            .ports
            .rules
            .unfreeze(
                &scope,
                freeze_audit(AuditAction::RequestsUnfrozen, actor, &scope, detail, now),
            )
            .await?;
        self.0.rules_changed();
        Ok(())
    }

    /// The freezes in force, every role's first, each with its rule's name.
    pub async fn freezes(&self, _: &AdminRight) -> Result<Vec<NamedFreeze>, DomainError> {
        let freezes = self.0.ports.rules.freezes().await?;
        let rules = self.0.ports.rules.rules().await?;
        Ok(freezes
            .into_iter()
            .map(|f| {
                let rule_name = match &f.scope {
                    FreezeScope::All => String::new(),
                    FreezeScope::Rule(id) => rules
                        .iter()
                        .find(|r| &r.id == id)
                        .map(|r| r.spec.name.clone())
                        .unwrap_or_default(),
                };
                NamedFreeze {
                    freeze: f,
                    rule_name,
                }
            })
            .collect())
    }

    /// The name of the scope's rule (empty for every role); NOT_FOUND for a rule that is not
    /// there when `must_exist`, else its id.
    async fn rule_name(
        &self,
        scope: &FreezeScope,
        must_exist: bool,
    ) -> Result<String, DomainError> {
        match scope {
            FreezeScope::All => Ok(String::new()),
            FreezeScope::Rule(id) => match self.0.stored_rule(id).await {
                Ok(rule) => Ok(rule.spec.name),
                Err(DomainError::NotFound { .. }) if !must_exist => Ok(id.clone()),
                Err(e) => Err(e),
            },
        }
    }
}

/// "requests for DBA", "requests for all roles".
fn what(rule_name: &str) -> String {
    if rule_name.is_empty() {
        "requests for all roles".to_owned()
    } else {
        format!("requests for {rule_name}")
    }
}

fn freeze_audit(
    action: AuditAction,
    actor: &Caller,
    scope: &FreezeScope,
    detail: String,
    at: chrono::DateTime<chrono::Utc>,
) -> NewAudit {
    NewAudit {
        at,
        action,
        actor: actor.account_name.clone(),
        rule_id: match scope {
            FreezeScope::All => None,
            FreezeScope::Rule(id) => Some(id.clone()),
        },
        grant_id: None,
        subject_account: None,
        detail,
        source: None,
    }
}
