//! What people read: their grants, everyone's grants and the audit log (admins), and the
//! directory report (may jitroles write each role group, and who is in it without a grant).

use std::{collections::HashSet, sync::Arc};

use chrono::{DateTime, Utc};
use jitroles_domain::{
    DomainError,
    access::{AdminRight, Caller},
    audit::{AuditEvent, AuditFilter},
    directory::{Capabilities, Directory, WriteAccess},
    grant::{self, AddedSinceSnapshot, Grant},
    grant_filter::GrantFilter,
    page::{Page, PageRequest},
    ports::GrantStore,
    rule::{RoleRule, TargetGroup},
};

use super::{reconcile::LIVE_PAGE, shared::Shared};

pub struct Reports(pub(super) Arc<Shared>);

/// Per rule: may jitroles write its group, and who is in it without a grant?
pub struct GroupStatus {
    pub rule: RoleRule,
    pub access: Result<WriteAccess, DomainError>,
    pub unexplained: Result<Vec<String>, DomainError>,
    /// After a restore: the unexplained members to review (see [`added_since_snapshot`]).
    pub added_since_snapshot: Vec<AddedSinceSnapshot>,
}

pub struct DirectoryReport {
    pub capabilities: Capabilities,
    /// When the database is a restored snapshot not yet reviewed: when it was taken.
    pub restored_snapshot: Option<DateTime<Utc>>,
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
        let grants = self.0.ports.grants.as_ref();
        let capabilities = directory.capabilities().await?;
        let restored_snapshot = grants.restored_snapshot().await?;
        let mut groups = Vec::new();
        for rule in self.0.ports.rules.rules().await? {
            let access = directory.write_access(&rule.target.address()).await;
            let unexplained = unexplained(directory.as_ref(), grants, &rule.target).await;
            let added_since_snapshot = match (&unexplained, restored_snapshot) {
                (Ok(dns), Some(taken_at)) => {
                    added_since_snapshot(directory.as_ref(), &rule.target, dns, taken_at).await
                }
                _ => Vec::new(),
            };
            groups.push(GroupStatus {
                rule,
                access,
                unexplained,
                added_since_snapshot,
            });
        }
        Ok(DirectoryReport {
            capabilities,
            restored_snapshot,
            groups,
        })
    }
}

/// Members of `group` that no live grant explains.
pub async fn unexplained(
    directory: &dyn Directory,
    grants: &dyn GrantStore,
    group: &TargetGroup,
) -> Result<Vec<String>, DomainError> {
    let mut explained: HashSet<String> = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let page = grants
            .live_on_group(&group.sid, after.as_deref(), LIVE_PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        explained.extend(page.into_iter().map(|g| g.subject.dn.to_lowercase()));
    }
    let members = directory.members(&group.address()).await?;
    Ok(grant::unexplained(
        members.into_iter().map(|m| m.dn).collect(),
        &explained,
    ))
}

/// After a restore from a snapshot taken at `taken_at`: which of the group's `unexplained`
/// members the admin should review, by when the DC says each was added (every one when it
/// cannot say, or the metadata cannot be read).
pub async fn added_since_snapshot(
    directory: &dyn Directory,
    group: &TargetGroup,
    unexplained: &[String],
    taken_at: DateTime<Utc>,
) -> Vec<AddedSinceSnapshot> {
    let times = match directory.member_added_times(&group.address()).await {
        Ok(times) => times,
        Err(e) => {
            tracing::warn!(group = %group.name, error = %e, "reading when members were added");
            None
        }
    };
    grant::added_since_snapshot(unexplained.to_vec(), times.as_deref(), taken_at)
}
