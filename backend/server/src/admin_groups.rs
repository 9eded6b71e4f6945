//! jitroles' admin groups (`access.admin_groups`: names, DNs or SIDs) as SIDs, resolved in the
//! directory once and shared: authorization asks who is an admin, the target check refuses
//! rules on them. A failed resolution is retried at the next ask.

use std::sync::Arc;

use jitroles_domain::{
    DomainError,
    directory::{Directory, Sid, find_group},
};
use tokio::sync::OnceCell;

pub struct AdminGroups {
    names: Vec<String>,
    directory: Arc<dyn Directory>,
    sids: OnceCell<Vec<Sid>>,
}

impl AdminGroups {
    pub fn new(names: Vec<String>, directory: Arc<dyn Directory>) -> Self {
        Self {
            names,
            directory,
            sids: OnceCell::new(),
        }
    }

    /// The groups' SIDs; a configured group the directory does not have is left out (and
    /// logged), so a typo cannot make everyone an admin.
    pub async fn sids(&self) -> Result<&[Sid], DomainError> {
        let sids = self
            .sids
            .get_or_try_init(|| async {
                let mut sids = Vec::new();
                for name in &self.names {
                    match find_group(self.directory.as_ref(), name).await? {
                        Some(group) => sids.push(group.sid),
                        None => {
                            tracing::warn!(group = %name, "admin group not found in the directory")
                        }
                    }
                }
                Ok::<_, DomainError>(sids)
            })
            .await?;
        Ok(sids)
    }
}
