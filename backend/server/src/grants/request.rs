//! What requesters do: see the roles they may request, request one, extend a grant. A request
//! is decided by the domain from the whole case (the caller's right, the ask, their live grant,
//! the grants covering the same membership, whether they are a member already); the grant is
//! committed `activating` before the directory write and `active` after it.

use std::{sync::Arc, time::Duration};

use jitroles_domain::{
    DomainError,
    access::{Caller, authorize_request},
    approval,
    audit::AuditAction,
    directory::Mechanism,
    freeze::{self, Asking, Freeze},
    grant::{self, Ask, Grant, GrantState, RequestCase, Subject},
    notify,
    rule::RoleRule,
};

use super::{
    activation::confirm,
    shared::{Shared, audit},
};
use crate::deadline;

pub struct Requests(Arc<Shared>);

/// A role someone may request, with their live grant of it.
pub struct RequestableRole {
    pub rule: RoleRule,
    pub live: Option<Grant>,
    /// The freeze that stops requests and extensions of it now (of every role, or its own).
    pub frozen: Option<Freeze>,
}

/// What a requester is offered: the roles they may request, and the freeze of every role.
pub struct Offer {
    pub roles: Vec<RequestableRole>,
    pub all_frozen: Option<Freeze>,
}

impl Requests {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self(shared)
    }

    /// The roles `caller` may request now, with their live grant of each and the freezes
    /// that hold (a frozen role is offered, with its freeze, so the person sees why).
    pub async fn roles_for(&self, caller: &Caller) -> Result<Offer, DomainError> {
        let now = self.0.now();
        let freezes = self.0.live_freezes().await?;
        let mut roles = Vec::new();
        for rule in self.0.live_rules().await?.iter() {
            if rule.check_open(now).is_err()
                || authorize_request(caller, &rule.id, &rule.spec.acl).is_err()
            {
                continue;
            }
            let live = self
                .0
                .ports
                .grants
                .open_grant(&rule.id, &caller.sid)
                .await?;
            roles.push(RequestableRole {
                frozen: freeze::freeze_on(&freezes, &rule.id).cloned(),
                rule: rule.clone(),
                live,
            });
        }
        let all_frozen = freezes
            .iter()
            .find(|f| f.scope == freeze::FreezeScope::All)
            .cloned();
        Ok(Offer { roles, all_frozen })
    }

    /// Adds `caller` to the role's group until the grant expires. A refusal (not allowed,
    /// the rule closed, a permanent member) goes to the rule's failure channels once. Runs
    /// to its end even if the caller is answered first (see [`deadline`]).
    pub async fn request(
        &self,
        caller: &Caller,
        rule_id: &str,
        ask: Ask,
    ) -> Result<Grant, DomainError> {
        let (this, caller, rule_id) = (Self(self.0.clone()), caller.clone(), rule_id.to_owned());
        deadline::detached(async move { this.request_now(&caller, &rule_id, ask).await }).await
    }

    async fn request_now(
        &self,
        caller: &Caller,
        rule_id: &str,
        ask: Ask,
    ) -> Result<Grant, DomainError> {
        let rule = self.0.requested_rule(rule_id).await?;
        let shared = &self.0;
        let grants = &shared.ports.grants;
        if let Some(id) = &ask.client_request_id
            && let Some(earlier) = grants.grant_by_request_id(&caller.sid, id).await?
        {
            return if earlier.rule_id == rule.id {
                Ok(earlier)
            } else {
                Err(DomainError::invalid(
                    "client_request_id",
                    "was used for a request of another role",
                ))
            };
        }
        // the caller's right and the ask are decided before anything else is read: a refusal
        // costs no directory or database work
        let now = shared.now();
        let allowed = match authorize_request(caller, &rule.id, &rule.spec.acl) {
            // only someone who may request the role reads why it is frozen
            Ok(right) => {
                match freeze::check_unfrozen(&shared.live_freezes().await?, &rule, Asking::Request)
                {
                    // the group may have become privileged since the rule was saved
                    Ok(()) => shared
                        .targets
                        .verdict(&shared.ports, &rule.target)
                        .await?
                        .map(|()| right),
                    Err(why) => Err(why),
                }
            }
            Err(why) => Err(why),
        };
        let timing = ask.timing.clone();
        let opened = match allowed {
            Ok(right) => {
                let mechanism = shared.mechanism().await?;
                grant::open(
                    right,
                    &rule,
                    subject_of(caller),
                    &caller.account_name,
                    ask,
                    mechanism,
                    uuid::Uuid::new_v4().to_string(),
                    now,
                )
            }
            Err(why) => Err(why),
        };
        let fresh = match opened {
            Ok(fresh) => fresh,
            Err(why) => return Err(self.refuse(&rule, caller, why).await),
        };
        // under an approval policy, or with a start time, the request waits
        let asked = (fresh.expires_at - now).to_std().unwrap_or_default();
        let fresh = approval::waiting(fresh, approval::opening(&rule, &timing, asked, now)?);
        if matches!(fresh.state, GrantState::Pending | GrantState::Scheduled) {
            return self.wait(caller, &rule, fresh).await;
        }
        let membership = shared
            .hold_membership(&rule.target.sid, &caller.sid)
            .await?;
        let (live, covering, member) = tokio::join!(
            grants.open_grant(&rule.id, &caller.sid),
            grants.covering(&rule.target.sid, &caller.sid),
            shared.listed_in(caller, &rule.target, fresh.mechanism),
        );
        let (live, covering) = (live?, covering?);
        let admitted = match grant::admit(RequestCase {
            fresh,
            live: live.as_ref(),
            covering: &covering,
            member: member?,
            now,
        }) {
            Ok(admitted) => admitted,
            Err(why @ DomainError::AlreadyExists(_)) => return Err(why),
            Err(why) => return Err(self.refuse(&rule, caller, why).await),
        };
        let fresh = admitted.grant;

        // write-ahead: the grant exists before the directory changes (and nothing is
        // written once the caller's time is up)
        deadline::check()?;
        let glass = fresh.deferred.as_ref().and_then(|d| d.break_glass.as_ref());
        let (action, detail) = match glass {
            Some(glass) => (
                AuditAction::BreakGlassUsed,
                format!(
                    "{} until {} without approval: {}",
                    rule.spec.name, fresh.expires_at, glass.reason
                ),
            ),
            None => (
                AuditAction::Requested,
                format!(
                    "{} until {}: {}",
                    rule.spec.name, fresh.expires_at, fresh.justification
                ),
            ),
        };
        grants
            .insert_grant(
                &fresh,
                audit(action, &caller.account_name, &fresh, detail, now),
            )
            .await?;
        confirm(
            shared.clone(),
            fresh,
            admitted.ttl,
            !covering.is_empty(),
            membership,
        )
        .await
    }

    /// Records a request that waits (for approvals, or for its start): no directory work
    /// until it activates, when everything is checked again.
    async fn wait(
        &self,
        caller: &Caller,
        rule: &RoleRule,
        waiting: Grant,
    ) -> Result<Grant, DomainError> {
        let shared = &self.0;
        if let Some(open) = shared
            .ports
            .grants
            .open_grant(&rule.id, &caller.sid)
            .await?
        {
            // the same refusal as for a request that would be granted at once
            return grant::admit(RequestCase {
                fresh: waiting,
                live: Some(&open),
                covering: &[],
                member: false,
                now: shared.now(),
            })
            .map(|a| a.grant);
        }
        let deferred = waiting.deferred.as_ref();
        let duration = deferred
            .map(|d| grant::human(d.duration))
            .unwrap_or_default();
        let start = deferred
            .and_then(|d| d.starts_at)
            .map(|at| format!(" from {at}"))
            .unwrap_or_default();
        let (action, detail) = if waiting.state == GrantState::Pending {
            let required = deferred.map_or(1, |d| d.required);
            let lapses = deferred
                .and_then(|d| d.lapses_at)
                .map(|at| format!(", by {at}"))
                .unwrap_or_default();
            (
                AuditAction::ApprovalRequested,
                format!(
                    "{} for {duration}{start}; needs {required} approval(s){lapses}: {}",
                    rule.spec.name, waiting.justification
                ),
            )
        } else {
            (
                AuditAction::Scheduled,
                format!(
                    "{} for {duration}{start}: {}",
                    rule.spec.name, waiting.justification
                ),
            )
        };
        deadline::check()?;
        shared
            .ports
            .grants
            .insert_grant(
                &waiting,
                audit(action, &caller.account_name, &waiting, detail, shared.now()),
            )
            .await?;
        shared.wake.notify_one();
        Ok(waiting)
    }

    /// Moves the caller's grant `id` to a later expiry (`duration` from now, default the
    /// rule's), as the rule's caps allow.
    pub async fn extend(
        &self,
        caller: &Caller,
        id: &str,
        duration: Option<Duration>,
    ) -> Result<Grant, DomainError> {
        let (this, caller, id) = (Self(self.0.clone()), caller.clone(), id.to_owned());
        deadline::detached(async move { this.extend_now(&caller, &id, duration).await }).await
    }

    async fn extend_now(
        &self,
        caller: &Caller,
        id: &str,
        duration: Option<Duration>,
    ) -> Result<Grant, DomainError> {
        let shared = &self.0;
        let g = shared.grant(id).await?;
        grant::check_own(&g, &caller.sid)?;
        let rule = match shared.requested_rule(&g.rule_id).await {
            Err(DomainError::NotFound { .. }) => Err(DomainError::FailedPrecondition(
                "the role of this grant was deleted".into(),
            )),
            found => found,
        }?;
        // the ACL may have changed since the request, and the group may have become privileged
        authorize_request(caller, &rule.id, &rule.spec.acl)?;
        freeze::check_unfrozen(&shared.live_freezes().await?, &rule, Asking::Extension)?;
        let now = shared.now();
        rule.check_open(now)?;
        shared
            .targets
            .verdict(&shared.ports, &rule.target)
            .await??;
        let longer = grant::extend(&g, &rule, duration, now)?;
        let _membership = shared.hold_membership(&g.group.sid, &g.subject.sid).await?;
        if g.mechanism == Mechanism::Ttl {
            // AD first: if storing fails afterwards, AD keeps the member longer than recorded,
            // and expiry removes it explicitly; never the other way round
            let covering = shared
                .ports
                .grants
                .covering(&g.group.sid, &g.subject.sid)
                .await?;
            let mut all: Vec<&Grant> = covering.iter().filter(|c| c.id != g.id).collect();
            all.push(&longer);
            let change = shared
                .ports
                .directory
                .add_member(
                    &g.group.address(),
                    &g.subject.sid,
                    Some(grant::link_ttl(&all, now)),
                )
                .await?;
            // made a permanent member outside jitroles since: that membership is not ours to
            // extend (a covering grant of ours is, by definition, this one)
            grant::after_add(&g, change, true)?;
        }
        let stored = shared
            .ports
            .grants
            .update_grant(
                &g,
                &longer,
                Some(audit(
                    AuditAction::Extended,
                    &caller.account_name,
                    &longer,
                    format!("until {} (was {})", longer.expires_at, g.expires_at),
                    now,
                )),
            )
            .await?;
        shared.wake.notify_one();
        Ok(stored)
    }

    /// `why`, after telling the rule's failure channels when it is a refusal of the person
    /// made before any grant was recorded (a failure after that is announced with the grant's
    /// `failed`).
    async fn refuse(&self, rule: &RoleRule, caller: &Caller, why: DomainError) -> DomainError {
        if notify::announces_refusal(&why) {
            let store = &self.0.ports.notifications;
            let queued = async {
                let channels = store.channels().await?;
                let notes = notify::refusal(rule, caller, &why, &channels, self.0.now(), || {
                    uuid::Uuid::new_v4().to_string()
                });
                store.enqueue(&notes).await
            }
            .await;
            if let Err(e) = queued {
                tracing::warn!(error = %e, "the refusal could not be queued for notification");
            }
        }
        why
    }
}

fn subject_of(caller: &Caller) -> Subject {
    Subject {
        sid: caller.sid.clone(),
        dn: caller.dn.clone(),
        account: caller.account_name.clone(),
        display_name: caller.display_name.clone(),
    }
}
