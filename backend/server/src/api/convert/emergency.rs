//! The emergency controls (freezes, bulk revokes), between the wire and the domain.

use std::time::Duration;

use jitroles_domain::{
    DomainError,
    freeze::{Freeze, FreezeScope},
    grant::Revocations,
};
use jitroles_proto::v1 as pb;

use super::{grant, timestamp};

/// A freeze for the wire; `rule_name` is empty for every role.
pub fn freeze(f: Freeze, rule_name: String) -> pb::Freeze {
    pb::Freeze {
        rule_id: match f.scope {
            FreezeScope::All => String::new(),
            FreezeScope::Rule(id) => id,
        },
        rule_name,
        reason: f.reason,
        frozen_by: f.frozen_by,
        frozen_at: Some(timestamp(f.frozen_at)),
    }
}

/// The scope of a freeze or unfreeze: `all` (true) or a rule id; anything else names the
/// `scope` field.
pub fn freeze_scope(
    all: Option<&pb::freeze_requests_request::Scope>,
) -> Result<FreezeScope, DomainError> {
    use pb::freeze_requests_request::Scope;
    match all {
        Some(Scope::All(true)) => Ok(FreezeScope::All),
        Some(Scope::RuleId(id)) if !id.trim().is_empty() && id.len() <= 36 => {
            Ok(FreezeScope::Rule(id.trim().to_owned()))
        }
        Some(Scope::RuleId(_)) => Err(DomainError::invalid(
            "rule_id",
            "a rule id (at most 36 characters)",
        )),
        _ => Err(no_scope()),
    }
}

pub fn unfreeze_scope(
    all: Option<&pb::unfreeze_requests_request::Scope>,
) -> Result<FreezeScope, DomainError> {
    use pb::{freeze_requests_request::Scope as F, unfreeze_requests_request::Scope as U};
    let same = match all {
        Some(U::All(a)) => Some(F::All(*a)),
        Some(U::RuleId(id)) => Some(F::RuleId(id.clone())),
        None => None,
    };
    freeze_scope(same.as_ref())
}

fn no_scope() -> DomainError {
    DomainError::invalid("scope", "say which requests: all (true) or a rule_id")
}

pub fn revocations(done: Revocations, max_ticket_lifetime: Duration) -> pb::RevokeGrantsResponse {
    pb::RevokeGrantsResponse {
        revoked: done
            .revoked
            .into_iter()
            .map(|g| grant(g, max_ticket_lifetime))
            .collect(),
        failed: done
            .failed
            .into_iter()
            .map(|(g, error)| pb::GrantNotRevoked {
                grant: Some(grant(g, max_ticket_lifetime)),
                error,
            })
            .collect(),
    }
}
