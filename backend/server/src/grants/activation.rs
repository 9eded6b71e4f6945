//! Turning a request into access, shared by the request path (access now), approvals (the
//! last approval) and the scheduler (a scheduled start that is due):
//!
//! - [`prepare`]: what is checked again at the moment access starts, for a request that
//!   waited: the requester's right read afresh from the directory (token groups, a disabled
//!   account), the rule still there, open and unfrozen, its group still allowed, and the
//!   membership's case (covering grants, a permanent member). A refusal fails the request;
//!   a directory or database that does not answer leaves it as it was, to try again.
//! - [`confirm`]: once the grant is stored `activating` (write-ahead), the directory write
//!   and its confirmation, `active` or `failed` with nothing left behind.

use std::{sync::Arc, time::Duration};

use futures_util::{StreamExt, stream};
use jitroles_domain::{
    DomainError,
    access::{Caller, authorize_request},
    audit::{AuditAction, SYSTEM_ACTOR},
    directory::{MembershipChange, UserLookup},
    freeze::{self, Asking},
    grant::{self, Grant, GrantState, RequestCase},
    ports::GrantChange,
};

use super::{
    shared::{MembershipHold, Shared, audit},
    transitions::Undo,
};
use crate::{deadline, failpoint};

/// A request ready to become access: the grant to store `activating` and what its directory
/// write needs.
pub(super) struct Prepared {
    pub grant: Grant,
    pub ttl: Option<Duration>,
    pub covered_by_others: bool,
    pub membership: MembershipHold,
}

/// Why a request that waited cannot become access now: it fails for good (`Refused`), or
/// nothing could be decided (`Unanswered`: the directory or the database did not answer).
pub(super) enum NotNow {
    Refused(DomainError),
    Unanswered(DomainError),
}

impl From<DomainError> for NotNow {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Unavailable(_) | DomainError::Internal(_) | DomainError::Conflict(_) => {
                Self::Unanswered(e)
            }
            refusal => Self::Refused(refusal),
        }
    }
}

/// Checks again everything a request's access depends on, for `activating` (the request as
/// it becomes access now: see `approval::activation`), and holds its membership.
pub(super) async fn prepare(shared: &Arc<Shared>, activating: Grant) -> Result<Prepared, NotNow> {
    let now = shared.now();
    let rule = match shared.requested_rule(&activating.rule_id).await {
        Err(DomainError::NotFound { .. }) => Err(DomainError::FailedPrecondition(format!(
            "the role {} was deleted",
            activating.rule_name
        ))),
        found => found,
    }?;
    rule.check_open(now)?;
    if rule.target.sid != activating.group.sid {
        return Err(NotNow::Refused(DomainError::FailedPrecondition(format!(
            "the role {} now grants another group",
            rule.spec.name
        ))));
    }
    freeze::check_unfrozen(&shared.live_freezes().await?, &rule, Asking::Request)?;
    shared
        .targets
        .verdict(&shared.ports, &rule.target)
        .await??;
    let directory = &shared.ports.directory;
    let user = directory
        .find_user(&UserLookup::Sid(activating.subject.sid.clone()))
        .await?
        .ok_or_else(|| {
            DomainError::FailedPrecondition(format!(
                "{} is no longer in the directory",
                activating.subject.account
            ))
        })?;
    let groups = directory.token_groups(&user.dn).await?;
    let requester = Caller::new(user, groups);
    authorize_request(&requester, &rule.id, &rule.spec.acl)?;
    let mechanism = shared.mechanism().await?;
    let fresh = Grant {
        mechanism,
        subject: grant::Subject {
            dn: requester.dn.clone(),
            ..activating.subject.clone()
        },
        ..activating
    };
    let membership = shared
        .hold_membership(&rule.target.sid, &requester.sid)
        .await?;
    let covering = shared
        .ports
        .grants
        .covering(&rule.target.sid, &requester.sid)
        .await?;
    let member = shared
        .listed_in(&requester, &rule.target, mechanism)
        .await?;
    let admitted = grant::admit(RequestCase {
        fresh,
        live: None,
        covering: &covering,
        member,
        now,
    })?;
    Ok(Prepared {
        grant: admitted.grant,
        ttl: admitted.ttl,
        covered_by_others: !covering.is_empty(),
        membership,
    })
}

/// The request as it fails at activation: `failed`, with the reason.
pub(super) fn refused(
    waiting: &Grant,
    why: &DomainError,
    now: chrono::DateTime<chrono::Utc>,
) -> Grant {
    Grant {
        state: GrantState::Failed,
        ended_at: Some(now),
        last_error: Some(why.to_string()),
        ..waiting.clone()
    }
}

/// The directory write of a request committed `activating`, and its confirmation: `active`,
/// or `failed` with what it may have written undone ([`Shared::fail`]). Holds the membership
/// until done.
pub(super) async fn confirm(
    shared: Arc<Shared>,
    fresh: Grant,
    ttl: Option<Duration>,
    covered_by_others: bool,
    membership: MembershipHold,
) -> Result<Grant, DomainError> {
    let _membership = write_membership(&shared, &fresh, ttl, covered_by_others, membership).await?;
    if deadline::answered() {
        // the caller was told it failed: the membership must go
        let late = DomainError::Unavailable(
            "the caller was answered before the grant was confirmed".into(),
        );
        shared.fail(&fresh, &late, Undo::Remove).await;
        return Err(late);
    }
    let change = granted(&shared, &fresh);
    match shared
        .ports
        .grants
        .update_grant(&change.before, &change.after, change.audit)
        .await
    {
        Ok(stored) => {
            shared.wake.notify_one();
            Ok(stored)
        }
        Err(e) => {
            // not confirmed: the caller is told it failed, so the membership must go
            shared.fail(&fresh, &e, Undo::Remove).await;
            Err(e)
        }
    }
}

/// [`confirm`] for a batch of the scheduler's starts (each stored `activating`, with what its
/// write needs): the directory writes at most [`PARALLEL_WRITES`] at once, then every `active`
/// in one commit. Each grant ends as `confirm` would end it alone.
pub(super) async fn confirm_all(
    shared: &Arc<Shared>,
    batch: Vec<(Grant, Prepared)>,
) -> Vec<Result<Grant, DomainError>> {
    let written: Vec<(Grant, Result<MembershipHold, DomainError>)> = stream::iter(batch)
        .map(|(fresh, p)| async move {
            let held =
                write_membership(shared, &fresh, p.ttl, p.covered_by_others, p.membership).await;
            (fresh, held)
        })
        .buffer_unordered(PARALLEL_WRITES)
        .collect()
        .await;
    let mut outcomes = Vec::with_capacity(written.len());
    let mut ok: Vec<(Grant, MembershipHold)> = Vec::new();
    for (fresh, held) in written {
        match held {
            Ok(hold) => ok.push((fresh, hold)),
            Err(e) => outcomes.push(Err(e)),
        }
    }
    let changes = ok.iter().map(|(fresh, _)| granted(shared, fresh)).collect();
    match shared.ports.grants.update_grants(changes).await {
        Ok(stored) => {
            for ((fresh, _hold), result) in ok.iter().zip(stored) {
                if let Err(e) = &result {
                    shared.fail(fresh, e, Undo::Remove).await;
                }
                outcomes.push(result);
            }
        }
        Err(e) => {
            for (fresh, _hold) in &ok {
                shared.fail(fresh, &e, Undo::Remove).await;
                outcomes.push(Err(e.clone()));
            }
        }
    }
    shared.wake.notify_one();
    outcomes
}

/// Directory writes of a batch of starts made at once.
const PARALLEL_WRITES: usize = 16;

/// `fresh` (stored `activating`) as it is recorded once its membership is written.
fn granted(shared: &Shared, fresh: &Grant) -> GrantChange {
    let active = Grant {
        state: GrantState::Active,
        ..fresh.clone()
    };
    let detail = format!(
        "member of {} until {} ({})",
        fresh.group.name, fresh.expires_at, fresh.mechanism
    );
    GrantChange {
        before: fresh.clone(),
        audit: Some(audit(
            AuditAction::Granted,
            SYSTEM_ACTOR,
            &active,
            detail,
            shared.now(),
        )),
        after: active,
    }
}

/// The directory write of `fresh` (stored `activating`): the membership hold back when the
/// person is a member now, else `failed` is under way with what it may have written undone.
async fn write_membership(
    shared: &Arc<Shared>,
    fresh: &Grant,
    ttl: Option<Duration>,
    covered_by_others: bool,
    membership: MembershipHold,
) -> Result<MembershipHold, DomainError> {
    failpoint::point(failpoint::AFTER_ACTIVATING_COMMIT);
    let added = shared
        .ports
        .directory
        .add_member(&fresh.group.address(), &fresh.subject.sid, ttl)
        .await;
    match added {
        Ok(change) => {
            if change == MembershipChange::Changed {
                failpoint::point(failpoint::AFTER_DIRECTORY_ADD);
            }
            if let Err(refused) = grant::after_add(fresh, change, covered_by_others) {
                // a member already, and not through us: never touch that membership
                shared.fail(fresh, &refused, Undo::Keep).await;
                return Err(refused);
            }
            Ok(membership)
        }
        Err(e @ DomainError::Unavailable(_)) => {
            // no answer (a hung DC, a cut connection): the add may still land, so it is undone
            // now and once more after a grace period before the grant is recorded failed; the
            // caller need not wait for that (the undo keeps the membership's lock)
            let (shared, fresh, why) = (shared.clone(), fresh.clone(), e.clone());
            tokio::spawn(async move {
                shared.fail(&fresh, &why, Undo::RemoveUnsure).await;
                drop(membership);
            });
            Err(e)
        }
        Err(e) => {
            // a refused add wrote nothing; anything else may have
            let undo = if grant::add_may_have_happened(&e) {
                Undo::Remove
            } else {
                Undo::Nothing
            };
            shared.fail(fresh, &e, undo).await;
            Err(e)
        }
    }
}
