//! What the code of every table shares: store errors turned into domain errors at this edge,
//! the audit insert every change commits with, and the live grant states.

use jitroles_domain::{DomainError, audit::NewAudit, grant::GrantState};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set, SqlErr};

use crate::{entity::audit_event, store::db_error};

pub(crate) fn live_states() -> Vec<&'static str> {
    GrantState::LIVE.iter().map(|s| s.as_str()).collect()
}

/// A live grant or a request that waits: what "one per (rule, person)" counts.
pub(crate) fn open_states() -> Vec<&'static str> {
    GrantState::OPEN.iter().map(|s| s.as_str()).collect()
}

pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> DomainError {
    DomainError::Internal(format!("stored {what} cannot be read: {detail}"))
}

pub(crate) async fn insert_audit(
    db: &impl ConnectionTrait,
    a: NewAudit,
) -> Result<(), DomainError> {
    let row = audit_event::ActiveModel {
        at: Set(a.at),
        action: Set(a.action.as_str().to_owned()),
        actor: Set(a.actor),
        rule_id: Set(a.rule_id),
        grant_id: Set(a.grant_id),
        subject_account: Set(a.subject_account),
        detail: Set(a.detail),
        source: Set(a.source),
        ..Default::default()
    };
    audit_event::Entity::insert(row)
        .exec_without_returning(db)
        .await
        .map_err(db_error)?;
    Ok(())
}

fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// `e` as a domain error: `taken()` when a unique index refused the write.
pub(crate) fn unique_or(e: DbErr, taken: impl FnOnce() -> DomainError) -> DomainError {
    if is_unique_violation(&e) {
        taken()
    } else {
        db_error(e)
    }
}

/// A versioned change refused: the stored `what` is at version `now`, the change was based on
/// version `read`.
pub(crate) fn stale(what: &str, now: i64, read: i64) -> DomainError {
    DomainError::Conflict(format!(
        "the {what} was changed by someone else (now version {now}, you read version {read}); reload it and apply your change again"
    ))
}
