//! Ending a grant before its time: the person releases it, or an admin revokes it (with a
//! reason, which the grant keeps). Both go through `ending` (see `transitions`).

use std::sync::Arc;

use jitroles_domain::{
    DomainError,
    access::{AdminRight, Caller},
    grant::{self, EndReason, Grant},
};

use super::shared::Shared;
use crate::deadline;

pub struct Endings(Arc<Shared>);

impl Endings {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self(shared)
    }

    /// The caller gives their own grant back.
    pub async fn release(&self, caller: &Caller, id: &str) -> Result<Grant, DomainError> {
        let (shared, caller, id) = (self.0.clone(), caller.clone(), id.to_owned());
        // to its end even if the caller is answered first (see `deadline`)
        deadline::detached(async move {
            let g = shared.grant(&id).await?;
            grant::check_own(&g, &caller.sid)?;
            shared
                .end(g, EndReason::Released, &caller.account_name, String::new())
                .await
        })
        .await
    }

    /// An admin ends anyone's grant, saying why.
    pub async fn revoke(
        &self,
        _: &AdminRight,
        actor: &Caller,
        id: &str,
        reason: &str,
    ) -> Result<Grant, DomainError> {
        let reason = grant::revoke_reason(reason)?;
        let (shared, actor, id) = (self.0.clone(), actor.clone(), id.to_owned());
        // to its end even if the caller is answered first (see `deadline`)
        deadline::detached(async move { shared.revoke(&actor, &id, &reason).await }).await
    }
}
