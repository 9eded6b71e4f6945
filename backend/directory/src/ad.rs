//! The Directory port against Active Directory (and Samba AD).

use std::{collections::HashSet, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use jitroles_domain::{
    DomainError,
    directory::{
        Capabilities, Controller, Directory, DirectoryGroup, DirectoryObject, DirectoryUser,
        GroupRef, Member, MembershipChange, SearchPage, SearchScope, Sid, UserLookup, WriteAccess,
        choose_mechanism,
    },
};
use ldap3::{Mod, Scope, SearchEntry, SearchOptions, controls::RawControl};
use tokio::sync::{OnceCell, RwLock};

use crate::{DirectoryConfig, DirectoryError, pool::Pool, wire};
use entries::{binary, common_name, text, to_group, to_object, to_user, values};

/// The PAM optional feature (MS-ADTS 3.1.1.9.2) by its GUID, as an escaped binary filter value.
const PAM_FEATURE_GUID: &str = "ec43e873-cce8-4640-b4ab-07ffe4ab5bcd";
const PAM_FEATURE_FILTER: &str =
    "(msDS-OptionalFeatureGUID=\\73\\e8\\43\\ec\\e8\\cc\\40\\46\\b4\\ab\\07\\ff\\e4\\ab\\5b\\cd)";
/// LDAP_SERVER_LINK_TTL_OID: link values come back as `<TTL=n>,DN`. Sent only once PAM is
/// known to be on: a DC that does not know a control may drop the connection.
const LINK_TTL_CONTROL: &str = "1.2.840.113556.1.4.2309";
/// Windows Server 2016: the first forest functional level with PAM.
const PAM_FOREST_LEVEL: u32 = 7;
const USER_FILTER: &str = "(&(objectCategory=person)(objectClass=user))";
const GROUP_FILTER: &str = "(objectClass=group)";
const USER_ATTRS: &[&str] = &[
    "objectSid",
    "objectGUID",
    "sAMAccountName",
    "displayName",
    "cn",
    "userPrincipalName",
    "mail",
    "userAccountControl",
];
const GROUP_ATTRS: &[&str] = &[
    "objectSid",
    "objectGUID",
    "cn",
    "sAMAccountName",
    "description",
    "adminCount",
];
/// userAccountControl ACCOUNTDISABLE.
const ACCOUNT_DISABLED: u32 = 0x2;
/// Longest text accepted for lookups and searches; AD's own limits are far below.
const MAX_TEXT: usize = 256;
/// Most picker results one search returns.
pub const MAX_SEARCH_LIMIT: usize = 100;

#[derive(Debug, Clone)]
struct RootDse {
    default_nc: String,
    config_nc: String,
    forest_level: u32,
}

pub struct ActiveDirectory {
    pool: Pool,
    root: OnceCell<RootDse>,
    pam: RwLock<Option<bool>>,
    /// What this DC does with a TTL add over a TTL link, once seen.
    readd: ttl::Learned,
}

impl ActiveDirectory {
    /// Checks the configuration; connects on first use.
    pub fn new(config: DirectoryConfig) -> Result<Self, DirectoryError> {
        Ok(Self {
            pool: Pool::new(config)?,
            root: OnceCell::new(),
            pam: RwLock::new(None),
            readd: ttl::Learned::default(),
        })
    }

    /// The naming context users and groups are searched in.
    pub async fn base_dn(&self) -> Result<String, DirectoryError> {
        Ok(self.root().await?.default_nc.clone())
    }

    async fn root(&self) -> Result<&RootDse, DirectoryError> {
        self.root
            .get_or_try_init(|| async {
                let entries = self
                    .search(
                        "",
                        Scope::Base,
                        "(objectClass=*)",
                        &[
                            "defaultNamingContext",
                            "configurationNamingContext",
                            "forestFunctionality",
                        ],
                        None,
                        false,
                    )
                    .await?
                    .0;
                let e = entries
                    .first()
                    .ok_or_else(|| DirectoryError::Invalid("the rootDSE is empty".into()))?;
                Ok(RootDse {
                    default_nc: text(e, "defaultNamingContext")
                        .ok_or_else(|| DirectoryError::Invalid("no defaultNamingContext".into()))?,
                    config_nc: text(e, "configurationNamingContext").ok_or_else(|| {
                        DirectoryError::Invalid("no configurationNamingContext".into())
                    })?,
                    forest_level: text(e, "forestFunctionality")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                })
            })
            .await
    }

    async fn pam_enabled(&self) -> Result<bool, DirectoryError> {
        if let Some(known) = *self.pam.read().await {
            return Ok(known);
        }
        let root = self.root().await?.clone();
        let enabled = if root.forest_level < PAM_FOREST_LEVEL {
            false
        } else {
            let (features, _) = self
                .search(
                    &root.config_nc,
                    Scope::Subtree,
                    PAM_FEATURE_FILTER,
                    &["msDS-EnabledFeatureBL"],
                    None,
                    false,
                )
                .await?;
            features
                .iter()
                .any(|f| !values(f, "msDS-EnabledFeatureBL").is_empty())
        };
        *self.pam.write().await = Some(enabled);
        Ok(enabled)
    }

    /// One search; `(entries, truncated by the size limit)`. A missing base is an error
    /// (`NoSuchObject`), so base reads can tell "not there" apart.
    async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        size_limit: Option<usize>,
        link_ttls: bool,
    ) -> Result<(Vec<SearchEntry>, bool), DirectoryError> {
        let attrs: Vec<String> = attrs.iter().map(|a| (*a).to_owned()).collect();
        let result = self
            .pool
            .run(|mut ldap| {
                let (base, filter, attrs) = (base.to_owned(), filter.to_owned(), attrs.clone());
                async move {
                    if let Some(limit) = size_limit {
                        ldap.with_search_options(
                            SearchOptions::new().sizelimit(limit.try_into().unwrap_or(i32::MAX)),
                        );
                    }
                    if link_ttls {
                        ldap.with_controls(RawControl {
                            ctype: LINK_TTL_CONTROL.into(),
                            crit: false,
                            val: None,
                        });
                    }
                    let ldap3::SearchResult(entries, result) =
                        ldap.search(&base, scope, &filter, attrs).await?;
                    Ok((entries, result))
                }
            })
            .await?;
        let (entries, result) = result;
        let truncated = match result.rc {
            0 => false,
            4 => true, // sizeLimitExceeded: the entries so far are valid
            rc => {
                return Err(DirectoryError::from_code(
                    rc,
                    &result.text,
                    &self.pool.config().bind_dn,
                ));
            }
        };
        Ok((
            entries.into_iter().map(SearchEntry::construct).collect(),
            truncated,
        ))
    }

    /// A base read that answers `None` when the object does not exist.
    async fn read(
        &self,
        base: &str,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Option<SearchEntry>, DirectoryError> {
        match self
            .search(base, Scope::Base, filter, attrs, None, false)
            .await
        {
            Ok((mut entries, _)) => Ok(entries.pop()),
            Err(DirectoryError::NoSuchObject(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Directory for ActiveDirectory {
    async fn find_user(&self, by: &UserLookup) -> Result<Option<DirectoryUser>, DomainError> {
        let (base, filter) = match by {
            UserLookup::Sid(sid) => (format!("<SID={sid}>"), USER_FILTER.to_owned()),
            UserLookup::SamAccountName(v) => {
                (self.base_dn().await?, user_filter("sAMAccountName", v)?)
            }
            UserLookup::UserPrincipalName(v) => {
                (self.base_dn().await?, user_filter("userPrincipalName", v)?)
            }
            UserLookup::Mail(v) => (self.base_dn().await?, user_filter("mail", v)?),
        };
        let scope = if matches!(by, UserLookup::Sid(_)) {
            Scope::Base
        } else {
            Scope::Subtree
        };
        let entries = match self
            .search(&base, scope, &filter, USER_ATTRS, Some(2), false)
            .await
        {
            Ok((entries, _)) => entries,
            Err(DirectoryError::NoSuchObject(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match entries.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(to_user(one)?)),
            _ => Err(DomainError::FailedPrecondition(format!(
                "more than one directory account matches {by:?}"
            ))),
        }
    }

    async fn token_groups(&self, user_dn: &str) -> Result<Vec<Sid>, DomainError> {
        let entry = self
            .read(user_dn, "(objectClass=*)", &["tokenGroups"])
            .await?
            .ok_or_else(|| DomainError::NotFound {
                what: format!("the user {}", common_name(user_dn)),
            })?;
        Ok(binary(&entry, "tokenGroups")
            .iter()
            .filter_map(|b| wire::sid_from_bytes(b))
            .collect())
    }

    async fn search(
        &self,
        text: &str,
        scope: SearchScope,
        limit: usize,
    ) -> Result<SearchPage, DomainError> {
        check_text("search text", text)?;
        let limit = limit.clamp(1, MAX_SEARCH_LIMIT);
        let class = match scope {
            SearchScope::Users => USER_FILTER.to_owned(),
            SearchScope::Groups => GROUP_FILTER.to_owned(),
            SearchScope::Both => format!("(|{USER_FILTER}{GROUP_FILTER})"),
        };
        let mut attrs: Vec<&str> = USER_ATTRS.iter().chain(GROUP_ATTRS).copied().collect();
        attrs.push("objectClass");
        attrs.sort_unstable();
        attrs.dedup();
        let base = self.base_dn().await?;
        let (entries, truncated) = self
            .search(
                &base,
                Scope::Subtree,
                &wire::prefix_filter(&class, text),
                &attrs,
                Some(limit + 1),
                false,
            )
            .await?;
        let more = truncated || entries.len() > limit;
        let mut objects = entries
            .iter()
            .take(limit)
            .map(to_object)
            .collect::<Result<Vec<_>, DomainError>>()?;
        objects.sort_by_key(|o| match o {
            DirectoryObject::User(u) => u.display_name.to_lowercase(),
            DirectoryObject::Group(g) => g.name.to_lowercase(),
        });
        Ok(SearchPage { objects, more })
    }

    async fn group(&self, by: &GroupRef) -> Result<Option<DirectoryGroup>, DomainError> {
        let base = match by {
            GroupRef::Sid(sid) => format!("<SID={sid}>"),
            GroupRef::Guid(g) => {
                let guid = wire::parse_guid(g)
                    .ok_or_else(|| DomainError::invalid("group", format!("{g:?} is not a GUID")))?;
                format!("<GUID={guid}>")
            }
            GroupRef::Dn(dn) => {
                check_text("group DN", dn)?;
                dn.clone()
            }
        };
        match self.read(&base, GROUP_FILTER, GROUP_ATTRS).await? {
            Some(entry) => Ok(Some(to_group(&entry)?)),
            None => Ok(None),
        }
    }

    async fn groups_containing(&self, group_dn: &str) -> Result<Vec<DirectoryGroup>, DomainError> {
        check_text("group DN", group_dn)?;
        let base = self.base_dn().await?;
        let (entries, _) = self
            .search(
                &base,
                Scope::Subtree,
                &wire::containing_groups_filter(group_dn),
                GROUP_ATTRS,
                None,
                false,
            )
            .await?;
        entries.iter().map(to_group).collect()
    }

    async fn groups_of(&self, dn: &str) -> Result<Vec<DirectoryGroup>, DomainError> {
        self.containers_of(dn).await
    }

    async fn direct_members(
        &self,
        group: &DirectoryGroup,
        limit: usize,
    ) -> Result<SearchPage, DomainError> {
        self.members_of(group, limit).await
    }

    async fn add_member(
        &self,
        group_dn: &str,
        member: &Sid,
        ttl: Option<Duration>,
    ) -> Result<MembershipChange, DomainError> {
        if let Some(ttl) = ttl {
            return self.add_ttl_link(group_dn, member, ttl).await;
        }
        let value = wire::member_value(member, None);
        let rc = self
            .modify_members(
                group_dn,
                vec![Mod::Add("member".into(), HashSet::from([value]))],
            )
            .await?;
        match rc {
            0 => Ok(MembershipChange::Changed),
            68 => Ok(MembershipChange::AlreadySo), // entryAlreadyExists: already a member
            rc => Err(self.refused(rc, group_dn).into()),
        }
    }

    async fn remove_member(
        &self,
        group_dn: &str,
        member: &Sid,
    ) -> Result<MembershipChange, DomainError> {
        let value = wire::member_value(member, None);
        let rc = self
            .modify_members(
                group_dn,
                vec![Mod::Delete("member".into(), HashSet::from([value]))],
            )
            .await?;
        match rc {
            0 => Ok(MembershipChange::Changed),
            // noSuchAttribute (AD), unwillingToPerform (Samba: never a member / already removed)
            16 | 53 => Ok(MembershipChange::AlreadySo),
            rc => Err(self.refused(rc, group_dn).into()),
        }
    }

    /// One modify deletes them all (AD and Samba apply it in one transaction, far cheaper than
    /// one modify each on a large group); if the directory refuses the batch because some were
    /// no longer members, they are removed one by one, on the DC that answered the batch.
    async fn remove_members(
        &self,
        group_dn: &str,
        members: &[Sid],
    ) -> Result<Vec<MembershipChange>, DomainError> {
        self.pool
            .pinned(self.remove_members_on_one_dc(group_dn, members))
            .await
    }

    async fn members(&self, group_dn: &str) -> Result<Vec<Member>, DomainError> {
        // every range from one DC: ranges of different DCs need not line up
        self.pool.pinned(self.members_on_one_dc(group_dn)).await
    }

    async fn capabilities(&self) -> Result<Capabilities, DomainError> {
        *self.pam.write().await = None; // re-read: an admin may have enabled it since
        let pam_enabled = self.pam_enabled().await?;
        Ok(Capabilities {
            forest_functional_level: self.root().await?.forest_level,
            pam_enabled,
            mechanism: choose_mechanism(pam_enabled, self.pool.config().force_scheduler),
        })
    }

    async fn write_access(&self, group_dn: &str) -> Result<WriteAccess, DomainError> {
        let entry = self
            .read(
                group_dn,
                "(objectClass=*)",
                &["allowedAttributesEffective", "adminCount"],
            )
            .await?
            .ok_or_else(|| DomainError::NotFound {
                what: format!("the group {}", common_name(group_dn)),
            })?;
        Ok(WriteAccess {
            can_write_members: values(&entry, "allowedAttributesEffective")
                .iter()
                .any(|a| a.eq_ignore_ascii_case("member")),
            protected: text(&entry, "adminCount").as_deref() == Some("1"),
        })
    }

    async fn member_added_times(
        &self,
        group_dn: &str,
    ) -> Result<Option<Vec<(String, DateTime<Utc>)>>, DomainError> {
        let values = self
            .pool
            .pinned(self.ranged_values(group_dn, replication::VALUE_METADATA, false))
            .await?;
        Ok(replication::member_added_times(&values))
    }

    fn controllers(&self) -> Vec<Controller> {
        self.pool.controllers()
    }
}

impl ActiveDirectory {
    async fn remove_members_on_one_dc(
        &self,
        group_dn: &str,
        members: &[Sid],
    ) -> Result<Vec<MembershipChange>, DomainError> {
        if members.len() > 1 {
            let values: HashSet<String> = members
                .iter()
                .map(|m| wire::member_value(m, None))
                .collect();
            let rc = self
                .modify_members(group_dn, vec![Mod::Delete("member".into(), values)])
                .await?;
            match rc {
                0 => return Ok(vec![MembershipChange::Changed; members.len()]),
                16 | 53 => {} // some were gone already: one by one below
                rc => return Err(self.refused(rc, group_dn).into()),
            }
        }
        let mut changes = Vec::with_capacity(members.len());
        for member in members {
            changes.push(self.remove_member(group_dn, member).await?);
        }
        Ok(changes)
    }

    async fn members_on_one_dc(&self, group_dn: &str) -> Result<Vec<Member>, DomainError> {
        let link_ttls = self.pam_enabled().await?;
        Ok(self
            .ranged_values(group_dn, "member", link_ttls)
            .await?
            .iter()
            .map(|v| {
                let (dn, ttl) = wire::parse_member(v);
                Member { dn, ttl }
            })
            .collect())
    }

    /// Every value of a multi-valued attribute of the group, read in the ranges the DC names
    /// (`member;range=0-1499`, then on), on one DC.
    async fn ranged_values(
        &self,
        group_dn: &str,
        attribute: &str,
        link_ttls: bool,
    ) -> Result<Vec<String>, DomainError> {
        let mut values = Vec::new();
        let mut start = 0;
        loop {
            let attr = format!("{attribute};range={start}-*");
            let entry = self
                .search(
                    group_dn,
                    Scope::Base,
                    GROUP_FILTER,
                    &[attr.as_str()],
                    None,
                    link_ttls,
                )
                .await?
                .0
                .pop()
                .ok_or_else(|| DomainError::NotFound {
                    what: format!("the group {}", common_name(group_dn)),
                })?;
            // the server names the range it returned: member;range=0-1499, or plain member
            let wanted = attribute.to_ascii_lowercase();
            let Some((name, vals)) = entry
                .attrs
                .iter()
                .find(|(k, _)| {
                    let k = k.to_ascii_lowercase();
                    k == wanted || k.starts_with(&format!("{wanted};"))
                })
                .map(|(k, v)| (k.clone(), v.clone()))
            else {
                break;
            };
            values.extend(vals);
            match wire::next_range_start(&name) {
                Some(next) if next > start => start = next,
                _ => break,
            }
        }
        Ok(values)
    }
}

impl ActiveDirectory {
    fn refused(&self, rc: u32, group_dn: &str) -> DirectoryError {
        match DirectoryError::from_code(rc, "", &self.pool.config().bind_dn) {
            DirectoryError::InsufficientRights { .. } => DirectoryError::InsufficientRights {
                detail: format!("the service account may not change the members of {group_dn}"),
            },
            other => other,
        }
    }
}

fn check_text(field: &str, value: &str) -> Result<(), DomainError> {
    if value.chars().count() > MAX_TEXT {
        return Err(DomainError::invalid(
            field,
            format!("at most {MAX_TEXT} characters"),
        ));
    }
    // Samba ends a filter value at an escaped NUL (`dba\00*` matches like `dba*`): no control
    // character belongs in a name, so none is accepted
    if value.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

fn user_filter(attribute: &str, value: &str) -> Result<String, DomainError> {
    check_text(attribute, value)?;
    if value.is_empty() {
        return Err(DomainError::invalid(attribute, "must not be empty"));
    }
    Ok(format!(
        "(&{USER_FILTER}({attribute}={}))",
        ldap3::ldap_escape(value)
    ))
}

mod entries;
mod members;
mod pam;
mod probe;
#[cfg(test)]
mod properties;
mod replication;
mod ttl;

pub use pam::PamEnabled;
pub use probe::{ProbeReport, ProbeStep};
pub use ttl::{Link, ReAdd, TTL_TOLERANCE};
