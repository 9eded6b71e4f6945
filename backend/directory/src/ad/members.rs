//! One step of a nesting either way: the users and groups directly in a group, as objects, in
//! one search (those whose `memberOf` names it, and the users whose primary group it is:
//! `primaryGroupID`, which AD lists in no `member` value), and the groups an object is
//! directly in.

use jitroles_domain::{
    DomainError,
    directory::{Directory, DirectoryGroup, GroupRef, SearchPage, Sid},
};
use ldap3::Scope;

use super::{
    ActiveDirectory, GROUP_ATTRS, GROUP_FILTER, USER_ATTRS, USER_FILTER, binary, check_text,
    common_name, text, to_group, to_object,
};
use crate::wire;

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

    /// The groups `dn` is directly in: one search for the groups whose `member` holds it, and
    /// for a user its primary group (`primaryGroupID`, never a `member` value), by SID.
    pub(super) async fn containers_of(&self, dn: &str) -> Result<Vec<DirectoryGroup>, DomainError> {
        check_text("DN", dn)?;
        let entry = self
            .read(dn, "(objectClass=*)", &["objectSid", "primaryGroupID"])
            .await?
            .ok_or_else(|| DomainError::NotFound {
                what: format!("the directory object {}", common_name(dn)),
            })?;
        let base = self.base_dn().await?;
        let filter = format!("(&{GROUP_FILTER}(member={}))", ldap3::ldap_escape(dn));
        let (entries, _) = self
            .search(&base, Scope::Subtree, &filter, GROUP_ATTRS, None, false)
            .await?;
        let mut groups = entries
            .iter()
            .map(to_group)
            .collect::<Result<Vec<_>, DomainError>>()?;
        let primary = text(&entry, "primaryGroupID").and_then(|rid| {
            let own = binary(&entry, "objectSid")
                .first()
                .and_then(|b| wire::sid_from_bytes(b))?;
            let (domain, _) = own.as_str().rsplit_once('-')?;
            format!("{domain}-{rid}").parse::<Sid>().ok()
        });
        if let Some(sid) = primary
            && !groups.iter().any(|g| g.sid == sid)
            && let Some(group) = self.group(&GroupRef::Sid(sid)).await?
        {
            groups.push(group);
        }
        Ok(groups)
    }
}
