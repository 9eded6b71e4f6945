//! The directory as the domain sees it: people, groups and group membership in Active
//! Directory, identified by SID and GUID so renames and moves do not break anything.
//!
//! The [`Directory`] port is implemented over LDAP by the `jitroles-directory` crate.

use std::{fmt, str::FromStr, time::Duration};

use async_trait::async_trait;

use crate::DomainError;

/// A security identifier in string form, `S-1-5-21-…`. Validated on construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid(String);

impl Sid {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Sid {
    type Err = DomainError;

    /// `S-1-<authority>-<sub>…`: revision 1, a numeric authority, 0 to 15 numeric
    /// sub-authorities of at most 32 bits each.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| DomainError::invalid("sid", reason);
        let mut parts = s.split('-');
        if parts.next() != Some("S") || parts.next() != Some("1") {
            return Err(invalid("a SID starts with S-1-"));
        }
        // digits only (`parse` would take a leading `+`), and written back without leading
        // zeros: `…-0512` and `…-512` are one principal, so a deny entry always matches
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        let authority = parts
            .next()
            .filter(|a| digits(a))
            .and_then(|a| a.parse::<u64>().ok())
            .filter(|a| *a < 1 << 48)
            .ok_or_else(|| invalid("the identifier authority must be a number below 2^48"))?;
        let subs = parts
            .map(|p| Some(p).filter(|p| digits(p))?.parse::<u32>().ok())
            .collect::<Option<Vec<u32>>>()
            .ok_or_else(|| invalid("sub-authorities must be 32-bit numbers"))?;
        if subs.len() > 15 {
            return Err(invalid("a SID has at most 15 sub-authorities"));
        }
        let mut canonical = format!("S-1-{authority}");
        for sub in subs {
            canonical.push_str(&format!("-{sub}"));
        }
        Ok(Self(canonical))
    }
}

/// How to find a person in the directory (the claim → attribute mapping picks one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserLookup {
    SamAccountName(String),
    UserPrincipalName(String),
    Mail(String),
    Sid(Sid),
}

/// A user account as jitroles needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub sid: Sid,
    /// objectGUID in its canonical string form.
    pub guid: String,
    pub dn: String,
    pub account_name: String,
    pub display_name: String,
    pub upn: Option<String>,
    pub mail: Option<String>,
    /// ACCOUNTDISABLE is set in userAccountControl.
    pub disabled: bool,
}

/// How to find a group: by SID or GUID (stable across renames and moves) or by DN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    Sid(Sid),
    Guid(String),
    Dn(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryGroup {
    pub sid: Sid,
    pub guid: String,
    pub dn: String,
    pub name: String,
    pub description: Option<String>,
    /// adminCount = 1: AdminSDHolder guards it, and manual ACL changes are reverted.
    pub protected: bool,
}

/// One value of a group's `member` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub dn: String,
    /// Time left on a time-to-live link; `None` for a permanent member (or when TTLs
    /// cannot be read because the PAM feature is off).
    pub ttl: Option<Duration>,
}

/// What an idempotent add or remove found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    /// The directory changed.
    Changed,
    /// It already was as asked (already a member / not a member): nothing to do.
    AlreadySo,
    /// A time-to-live add found the person a permanent member (a link without a TTL): that
    /// link is left exactly as it is, never turned into one that expires.
    KeptPermanent,
}

/// Who removes a member when the time is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// AD removes time-to-live links itself (Privileged Access Management feature on).
    Ttl,
    /// jitroles' own durable scheduler removes the member.
    Scheduled,
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ttl => "ttl",
            Self::Scheduled => "scheduled",
        })
    }
}

/// What the forest offers, and the mechanism chosen from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// rootDSE forestFunctionality: 7 is Windows Server 2016, the first with PAM.
    pub forest_functional_level: u32,
    pub pam_enabled: bool,
    pub mechanism: Mechanism,
}

/// One domain controller the directory is reached through, as the adapter last found it: for
/// `directory check`, health and metrics. Several are configured for failover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    pub url: String,
    /// It answered the last operation sent to it (or none was sent yet).
    pub up: bool,
    /// While it is skipped: how long until it is tried again.
    pub retry_in: Option<Duration>,
    /// The last failure that made it skipped (for operators: it names the DC).
    pub last_error: Option<String>,
    /// Times it was found not answering since the start.
    pub failures: u64,
}

/// Whether the service account may manage a group's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteAccess {
    pub can_write_members: bool,
    pub protected: bool,
}

/// Users, groups or both, for the admin pickers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchScope {
    Users,
    Groups,
    Both,
}

/// A search hit for the pickers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryObject {
    User(DirectoryUser),
    Group(DirectoryGroup),
}

/// One page of picker results; `more` says the directory holds further matches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchPage {
    pub objects: Vec<DirectoryObject>,
    pub more: bool,
}

/// Chooses the mechanism: TTL links only when the forest has PAM on and config does not
/// force the scheduler.
pub fn choose_mechanism(pam_enabled: bool, force_scheduler: bool) -> Mechanism {
    if pam_enabled && !force_scheduler {
        Mechanism::Ttl
    } else {
        Mechanism::Scheduled
    }
}

/// A group named by an operator: a DN (contains `=`), a SID, a GUID, or an exact account name.
pub async fn find_group(
    directory: &dyn Directory,
    name: &str,
) -> Result<Option<DirectoryGroup>, DomainError> {
    if name.contains('=') {
        return directory.group(&GroupRef::Dn(name.to_owned())).await;
    }
    if let Ok(sid) = name.parse::<Sid>() {
        return directory.group(&GroupRef::Sid(sid)).await;
    }
    let looks_like_guid = name.len() == 36 && name.chars().filter(|c| *c == '-').count() == 4;
    if looks_like_guid {
        return directory.group(&GroupRef::Guid(name.to_owned())).await;
    }
    let page = directory
        .search(name, SearchScope::Groups, MAX_NAME_MATCHES)
        .await?;
    Ok(page.objects.into_iter().find_map(|o| match o {
        DirectoryObject::Group(g) if g.name.eq_ignore_ascii_case(name) => Some(g),
        _ => None,
    }))
}

/// Prefix matches looked through for an exact group name.
const MAX_NAME_MATCHES: usize = 50;

#[async_trait]
pub trait Directory: Send + Sync {
    /// The user the lookup names, if exactly one exists.
    async fn find_user(&self, by: &UserLookup) -> Result<Option<DirectoryUser>, DomainError>;

    /// Every security group the user is in, transitively, including the primary group.
    async fn token_groups(&self, user_dn: &str) -> Result<Vec<Sid>, DomainError>;

    /// Users and/or groups whose names, account names, display names or mail start with
    /// `text`; at most `limit`.
    async fn search(
        &self,
        text: &str,
        scope: SearchScope,
        limit: usize,
    ) -> Result<SearchPage, DomainError>;

    async fn group(&self, by: &GroupRef) -> Result<Option<DirectoryGroup>, DomainError>;

    /// Every group the group `group_dn` is nested in, directly or through other groups.
    async fn groups_containing(&self, group_dn: &str) -> Result<Vec<DirectoryGroup>, DomainError>;

    /// The groups `dn` (a user's or a group's DN) is directly in: those whose `member` holds
    /// it, and a user's primary group. One step up a nesting, to say why someone is admitted.
    async fn groups_of(&self, dn: &str) -> Result<Vec<DirectoryGroup>, DomainError>;

    /// The users and groups directly in `group` (its `member` values, and the users whose
    /// primary group it is), at most `limit`; `more` when there are others.
    async fn direct_members(
        &self,
        group: &DirectoryGroup,
        limit: usize,
    ) -> Result<SearchPage, DomainError>;

    /// Adds `member` to the group; with `ttl`, as a time-to-live link (PAM only) that holds
    /// exactly `ttl` once this returns, whether the person held a TTL link before or not
    /// (`Changed`). A permanent member is never given a TTL (`KeptPermanent`).
    async fn add_member(
        &self,
        group_dn: &str,
        member: &Sid,
        ttl: Option<Duration>,
    ) -> Result<MembershipChange, DomainError>;

    async fn remove_member(
        &self,
        group_dn: &str,
        member: &Sid,
    ) -> Result<MembershipChange, DomainError>;

    /// Removes several members of one group, in as few writes as the directory allows; one
    /// answer per member, in order. By default one removal after the other.
    async fn remove_members(
        &self,
        group_dn: &str,
        members: &[Sid],
    ) -> Result<Vec<MembershipChange>, DomainError> {
        let mut changes = Vec::with_capacity(members.len());
        for member in members {
            changes.push(self.remove_member(group_dn, member).await?);
        }
        Ok(changes)
    }

    /// Every member of the group (read in ranges, never truncated), with TTLs under PAM.
    async fn members(&self, group_dn: &str) -> Result<Vec<Member>, DomainError>;

    /// When each present `member` value of the group was added (DN, time), from the DC's
    /// per-value replication metadata (`msDS-ReplValueMetaData`, MS-ADTS 3.1.1.4.5); `None`
    /// when the DC does not give it (Samba). For the review after a restore.
    async fn member_added_times(
        &self,
        group_dn: &str,
    ) -> Result<Option<Vec<(String, chrono::DateTime<chrono::Utc>)>>, DomainError>;

    async fn capabilities(&self) -> Result<Capabilities, DomainError>;

    /// Whether the service account may write `member` on the group, and if it is protected.
    async fn write_access(&self, group_dn: &str) -> Result<WriteAccess, DomainError>;

    /// The domain controllers behind this directory and their state, without asking them;
    /// none for a directory that has no such thing.
    fn controllers(&self) -> Vec<Controller> {
        Vec::new()
    }
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_sids_parse() {
        for s in [
            "S-1-5-21-3623811015-3361044348-30300820-1013",
            "S-1-5-32-544",
            "S-1-1-0",
        ] {
            assert_eq!(s.parse::<Sid>().unwrap().as_str(), s);
        }
    }

    #[test]
    fn leading_zeros_name_the_same_principal() {
        let padded: Sid = "S-1-05-21-1-2-3-0512".parse().unwrap();
        let plain: Sid = "S-1-5-21-1-2-3-512".parse().unwrap();
        assert_eq!(padded, plain);
        assert_eq!(padded.as_str(), "S-1-5-21-1-2-3-512");
    }

    #[test]
    fn malformed_sids_are_refused() {
        for s in [
            "",
            "S-1",
            "S-2-5-21",
            "s-1-5-21",
            "S-1-5-21-x",
            "S-1-5--1",
            "S-1-5-21-4294967296",
            "S-1-+5-21",
            "S-1-5-21-+512",
            "S-1-5- 21",
            "*)(objectClass=*",
        ] {
            assert!(s.parse::<Sid>().is_err(), "{s:?} must not parse");
        }
    }

    #[test]
    fn ttl_links_only_with_pam_and_without_the_override() {
        assert_eq!(choose_mechanism(true, false), Mechanism::Ttl);
        assert_eq!(choose_mechanism(true, true), Mechanism::Scheduled);
        assert_eq!(choose_mechanism(false, false), Mechanism::Scheduled);
        assert_eq!(choose_mechanism(false, true), Mechanism::Scheduled);
    }
}
