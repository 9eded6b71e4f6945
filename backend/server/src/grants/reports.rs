//! What people read: their grants, everyone's grants and the audit log (admins), and the
//! directory report (may jitroles write each role group, and who is in it without a grant).

use std::{collections::HashSet, sync::Arc};

use jitroles_domain::{
    DomainError,
    access::{AdminRight, Caller},
    audit::{AuditEvent, AuditFilter},
    directory::{Capabilities, WriteAccess},
    grant::{self, Grant},
    grant_filter::GrantFilter,
    page::{Page, PageRequest},
    rule::{RoleRule, TargetGroup},
};

use super::{reconcile::LIVE_PAGE, shared::Shared};

pub struct Reports(Arc<Shared>);

/// Per rule: may jitroles write its group, and who is in it without a grant?
pub struct GroupStatus {
    pub rule: RoleRule,
    pub access: Result<WriteAccess, DomainError>,
    pub unexplained: Result<Vec<String>, DomainError>,
}

pub struct DirectoryReport {
    pub capabilities: Capabilities,
    pub groups: Vec<GroupStatus>,
}

impl Reports {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self(shared)
    }

    pub async fn my_grants(
        &self,
        caller: &Caller,
        page: PageRequest,
    ) -> Result<Page<Grant>, DomainError> {
        self.0.ports.grants.grants_of(&caller.sid, page).await
    }

    pub async fn grants(
        &self,
        _: &AdminRight,
        filter: &GrantFilter,
        page: PageRequest,
    ) -> Result<Page<Grant>, DomainError> {
        self.0.ports.grants.grants(filter, page).await
    }

    pub async fn audit_events(
        &self,
        _: &AdminRight,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, DomainError> {
        self.0.ports.grants.audit_events(filter, page).await
    }

    pub async fn directory(&self, _: &AdminRight) -> Result<DirectoryReport, DomainError> {
        let directory = &self.0.ports.directory;
        let capabilities = directory.capabilities().await?;
        let mut groups = Vec::new();
        for rule in self.0.ports.rules.rules().await? {
            let access = directory.write_access(&rule.target.address()).await;
            let unexplained = self.unexplained(&rule.target).await;
            groups.push(GroupStatus {
                rule,
                access,
                unexplained,
            });
        }
        Ok(DirectoryReport {
            capabilities,
            groups,
        })
    }

    /// Members of `group` that no live grant explains.
    async fn unexplained(&self, group: &TargetGroup) -> Result<Vec<String>, DomainError> {
        let mut explained: HashSet<String> = HashSet::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .0
                .ports
                .grants
                .live_on_group(&group.sid, after.as_deref(), LIVE_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            explained.extend(page.into_iter().map(|g| g.subject.dn.to_lowercase()));
        }
        let members = self.0.ports.directory.members(&group.address()).await?;
        Ok(grant::unexplained(
            members.into_iter().map(|m| m.dn).collect(),
            &explained,
        ))
    }
}
