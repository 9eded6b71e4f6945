//! One step of a nesting either way: the users and groups directly in a group, as objects
//! (its `member` values, and the users whose primary group it is: `primaryGroupID`, which AD
//! lists in no `member` value), and the groups an object is directly in.

use std::collections::HashSet;

use jitroles_domain::{
    DomainError,
    directory::{Directory, DirectoryGroup, DirectoryObject, GroupRef, SearchPage, Sid},
};
use ldap3::Scope;

use super::{
    ActiveDirectory, GROUP_ATTRS, GROUP_FILTER, USER_ATTRS, USER_FILTER, binary, check_text,
    common_name, text, to_group, to_user,
};
use crate::wire;

/// Users fetched by DN in one search (each a `distinguishedName` clause of one filter).
const USERS_PER_SEARCH: usize = 200;

impl ActiveDirectory {
    /// What is directly in `group`, in searches a DC answers from its indexes: the groups
    /// (`objectClass=group` narrows `memberOf`, which Samba does not index, to the groups), the
    /// users whose primary group it is (`primaryGroupID` is indexed), and the users among the
    /// group's own `member` values (read in ranges), fetched by DN [`USERS_PER_SEARCH`] at a
    /// time. One filter for all of them made Samba test `memberOf` on every user: 0.3 s a
    /// group with 10,000 users in the domain (docs/benchmarks.md, "Effective access").
    pub(super) async fn members_of(
        &self,
        group: &DirectoryGroup,
        limit: usize,
    ) -> Result<SearchPage, DomainError> {
        let rid = group.sid.as_str().rsplit('-').next().unwrap_or_default();
        let base = self.base_dn().await?;
        let wanted = Some(limit.saturating_add(1));
        let groups_filter = format!(
            "(&{GROUP_FILTER}(memberOf={}))",
            ldap3::ldap_escape(&group.dn)
        );
        let (groups, more_groups) = self
            .search(
                &base,
                Scope::Subtree,
                &groups_filter,
                GROUP_ATTRS,
                wanted,
                false,
            )
            .await?;
        let primary_filter = format!(
            "(&{USER_FILTER}(primaryGroupID={}))",
            ldap3::ldap_escape(rid)
        );
        let (primary, more_primary) = self
            .search(
                &base,
                Scope::Subtree,
                &primary_filter,
                USER_ATTRS,
                wanted,
                false,
            )
            .await?;
        let mut objects = Vec::with_capacity(groups.len() + primary.len());
        for g in &groups {
            objects.push(DirectoryObject::Group(to_group(g)?));
        }
        for u in &primary {
            objects.push(DirectoryObject::User(to_user(u)?));
        }
        let mut more = more_groups || more_primary;
        let known: HashSet<String> = groups
            .iter()
            .chain(&primary)
            .map(|e| e.dn.to_lowercase())
            .collect();
        // the other member values: users, or objects that are neither (computers, contacts,
        // foreign principals), which the user filter leaves out
        let others: Vec<String> = self
            .members(&group.dn)
            .await?
            .into_iter()
            .map(|m| m.dn)
            .filter(|dn| !known.contains(&dn.to_lowercase()))
            .collect();
        for batch in others.chunks(USERS_PER_SEARCH) {
            if objects.len() > limit {
                more = true;
                break;
            }
            let by_dn: String = batch
                .iter()
                .map(|dn| format!("(distinguishedName={})", ldap3::ldap_escape(dn)))
                .collect();
            let (users, _) = self
                .search(
                    &base,
                    Scope::Subtree,
                    &format!("(&{USER_FILTER}(|{by_dn}))"),
                    USER_ATTRS,
                    None,
                    false,
                )
                .await?;
            for user in &users {
                objects.push(DirectoryObject::User(to_user(user)?));
            }
        }
        if objects.len() > limit {
            more = true;
            objects.truncate(limit);
        }
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
