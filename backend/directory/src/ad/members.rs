//! The users and groups directly in a group, as objects, in one search: those whose
//! `memberOf` names it, and the users whose primary group it is (`primaryGroupID`; AD lists
//! them in no `member` value).

use jitroles_domain::{
    DomainError,
    directory::{DirectoryGroup, SearchPage},
};
use ldap3::Scope;

use super::{ActiveDirectory, GROUP_ATTRS, GROUP_FILTER, USER_ATTRS, USER_FILTER, to_object};

impl ActiveDirectory {
    pub(super) async fn members_of(
        &self,
        group: &DirectoryGroup,
        limit: usize,
    ) -> Result<SearchPage, DomainError> {
        let rid = group.sid.as_str().rsplit('-').next().unwrap_or_default();
        let filter = format!(
            "(&(|{USER_FILTER}{GROUP_FILTER})(|(memberOf={})(primaryGroupID={})))",
            ldap3::ldap_escape(&group.dn),
            ldap3::ldap_escape(rid),
        );
        let mut attrs: Vec<&str> = USER_ATTRS.iter().chain(GROUP_ATTRS).copied().collect();
        attrs.push("objectClass");
        attrs.sort_unstable();
        attrs.dedup();
        let base = self.base_dn().await?;
        let (entries, truncated) = self
            .search(
                &base,
                Scope::Subtree,
                &filter,
                &attrs,
                Some(limit.saturating_add(1)),
                false,
            )
            .await?;
        let more = truncated || entries.len() > limit;
        let objects = entries
            .iter()
            .take(limit)
            .map(to_object)
            .collect::<Result<Vec<_>, DomainError>>()?;
        Ok(SearchPage { objects, more })
    }
}
