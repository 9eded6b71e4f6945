//! Writing a time-to-live link so that it holds what was asked, whatever the DC does.
//!
//! MS-ADTS 3.1.1.3.4.1.36 says how a TTL link is added and read, not what a second add of a
//! link the group holds does: the DC may set the new TTL, answer entryAlreadyExists (68), or
//! succeed and keep the old expiry. Nor does it say what a TTL add does to a permanent link.
//! So every TTL write here is checked: the person's link is read before (a permanent link is
//! never touched), written, and read back with the link-TTL control; when it does not hold
//! the TTL asked, it is rewritten (one modify: delete the value, add it with the TTL) and read
//! again. What this DC did with a re-add is remembered, so the next extension goes straight to
//! the write that works. The whole sequence is pinned to one DC (`Pool::pinned`): the reads
//! before and after the write go to the DC that takes the write, since another DC may not
//! have received it yet.

use std::{
    collections::HashSet,
    sync::atomic::{AtomicU8, Ordering},
    time::Duration,
};

use jitroles_domain::{
    DomainError,
    directory::{Directory, MembershipChange, Sid},
};
use ldap3::Mod;

use super::{ActiveDirectory, common_name};
use crate::{DirectoryError, wire};

/// How far a TTL read back may be from the TTL written: the read comes a moment later, and AD
/// counts in whole seconds.
pub const TTL_TOLERANCE: Duration = Duration::from_secs(5);

/// A person's link in a group, as read with the link-TTL control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Absent,
    Permanent,
    Ttl(Duration),
}

impl Link {
    /// Whether the link carries `asked`, within [`TTL_TOLERANCE`].
    pub fn holds(self, asked: Duration) -> bool {
        matches!(self, Self::Ttl(held) if held.abs_diff(asked) <= TTL_TOLERANCE)
    }
}

impl std::fmt::Display for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Absent => f.write_str("no link"),
            Self::Permanent => f.write_str("a permanent link"),
            Self::Ttl(t) => write!(f, "a link with {} s left", t.as_secs()),
        }
    }
}

/// What this DC has been seen to do with a TTL add for a person who holds a TTL link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReAdd {
    /// Not seen yet: the next re-add is tried, then checked.
    Unknown,
    /// The add sets the new TTL.
    SetsTtl,
    /// The add does not (68, or the old expiry stays): the link is rewritten.
    NeedsRewrite,
}

/// [`ReAdd`] kept across calls.
#[derive(Debug, Default)]
pub(super) struct Learned(AtomicU8);

impl Learned {
    pub(super) fn get(&self) -> ReAdd {
        match self.0.load(Ordering::Relaxed) {
            1 => ReAdd::SetsTtl,
            2 => ReAdd::NeedsRewrite,
            _ => ReAdd::Unknown,
        }
    }

    pub(super) fn set(&self, seen: ReAdd) {
        let v = match seen {
            ReAdd::Unknown => 0,
            ReAdd::SetsTtl => 1,
            ReAdd::NeedsRewrite => 2,
        };
        self.0.store(v, Ordering::Relaxed);
    }
}

impl ActiveDirectory {
    /// What this DC has been seen to do with a TTL add over a TTL link (by this process).
    pub fn observed_readd(&self) -> ReAdd {
        self.readd.get()
    }

    /// The DN of the object with this SID.
    pub(super) async fn dn_of(&self, sid: &Sid) -> Result<String, DomainError> {
        self.read(&format!("<SID={sid}>"), "(objectClass=*)", &["1.1"])
            .await?
            .map(|e| e.dn)
            .ok_or_else(|| DomainError::NotFound {
                what: format!("the account {sid}"),
            })
    }

    /// The person's link in the group, read with the link-TTL control.
    pub async fn link(&self, group_dn: &str, member_dn: &str) -> Result<Link, DomainError> {
        let members = self.members(group_dn).await?;
        Ok(
            match members
                .iter()
                .find(|m| m.dn.eq_ignore_ascii_case(member_dn))
            {
                None => Link::Absent,
                Some(m) => m.ttl.map_or(Link::Permanent, Link::Ttl),
            },
        )
    }

    /// One modify of the group's `member`; the LDAP result code.
    pub(super) async fn modify_members(
        &self,
        group_dn: &str,
        changes: Vec<Mod<String>>,
    ) -> Result<u32, DirectoryError> {
        let result = self
            .pool
            .write(group_dn, |mut ldap| {
                let (dn, changes) = (group_dn.to_owned(), changes.clone());
                async move { ldap.modify(&dn, changes).await }
            })
            .await?;
        Ok(result.rc)
    }

    /// Adds the link with a TTL, deleting the person's present link in the same modify.
    pub(super) async fn rewrite(
        &self,
        group_dn: &str,
        member: &Sid,
        ttl: Duration,
        present: bool,
    ) -> Result<(), DomainError> {
        let value = |ttl| HashSet::from([wire::member_value(member, ttl)]);
        let mut changes = Vec::with_capacity(2);
        if present {
            changes.push(Mod::Delete("member".to_owned(), value(None)));
        }
        changes.push(Mod::Add("member".to_owned(), value(Some(ttl))));
        match self.modify_members(group_dn, changes).await? {
            0 => Ok(()),
            rc => Err(self.refused(rc, group_dn).into()),
        }
    }

    /// The TTL write of [`Directory::add_member`]: see the module's documentation.
    pub(super) async fn add_ttl_link(
        &self,
        group_dn: &str,
        member: &Sid,
        ttl: Duration,
    ) -> Result<MembershipChange, DomainError> {
        self.pool
            .pinned(self.add_ttl_link_on_one_dc(group_dn, member, ttl))
            .await
    }

    async fn add_ttl_link_on_one_dc(
        &self,
        group_dn: &str,
        member: &Sid,
        ttl: Duration,
    ) -> Result<MembershipChange, DomainError> {
        let member_dn = self.dn_of(member).await?;
        let before = self.link(group_dn, &member_dn).await?;
        if before == Link::Permanent {
            return Ok(MembershipChange::KeptPermanent);
        }
        let readd = before != Link::Absent;
        let rewrite_first = readd && self.readd.get() == ReAdd::NeedsRewrite;
        if rewrite_first {
            self.rewrite(group_dn, member, ttl, true).await?;
        } else {
            let value = HashSet::from([wire::member_value(member, Some(ttl))]);
            match self
                .modify_members(group_dn, vec![Mod::Add("member".into(), value)])
                .await?
            {
                0 | 68 => {} // 68: held already (or added meanwhile); the read below decides
                rc => return Err(self.refused(rc, group_dn).into()),
            }
        }
        let mut after = self.link(group_dn, &member_dn).await?;
        if after == Link::Permanent {
            // made a permanent member meanwhile, outside jitroles: left as it is
            return Ok(MembershipChange::KeptPermanent);
        }
        if !after.holds(ttl) && !rewrite_first {
            self.rewrite(group_dn, member, ttl, after != Link::Absent)
                .await?;
            after = self.link(group_dn, &member_dn).await?;
            if readd && after.holds(ttl) {
                self.readd.set(ReAdd::NeedsRewrite);
            }
        } else if readd && !rewrite_first && after.holds(ttl) {
            self.readd.set(ReAdd::SetsTtl);
        }
        if after.holds(ttl) {
            return Ok(MembershipChange::Changed);
        }
        if before == Link::Absent && after != Link::Absent {
            // nothing of ours stays behind: the link this call made goes again
            self.remove_member(group_dn, member).await?;
        }
        Err(DirectoryError::TtlNotKept {
            group: common_name(group_dn).to_owned(),
            asked: ttl.as_secs(),
            held: after.to_string(),
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_holds_a_ttl_within_the_tolerance_only() {
        let asked = Duration::from_secs(3600);
        assert!(Link::Ttl(Duration::from_secs(3598)).holds(asked));
        assert!(Link::Ttl(Duration::from_secs(3605)).holds(asked));
        assert!(!Link::Ttl(Duration::from_secs(60)).holds(asked));
        assert!(!Link::Permanent.holds(asked));
        assert!(!Link::Absent.holds(asked));
    }

    #[test]
    fn what_was_learned_is_kept() {
        let learned = Learned::default();
        assert_eq!(learned.get(), ReAdd::Unknown);
        learned.set(ReAdd::NeedsRewrite);
        assert_eq!(learned.get(), ReAdd::NeedsRewrite);
    }
}
