//! Who an ACL reaches: every enabled person it admits now, found by walking its allow entries'
//! groups down through nested groups (members and the users whose primary group it is), each
//! with the path that admits them ("dave ← dba-team ← dba-oncall"), and kept only when the
//! ACL evaluator admits them by their token groups (so a deny entry anywhere wins, exactly as
//! it does for a request). The approvers of a rule are found this way (their mail, the
//! approvals), and so is "who can request this rule".

use std::collections::{BTreeMap, HashSet, VecDeque};

use futures_util::{StreamExt, stream};

use crate::{
    DomainError,
    access::{AclDecision, AclEntry, Caller, Effect, PrincipalKind, evaluate},
    directory::{Directory, DirectoryObject, DirectoryUser, GroupRef, Sid, UserLookup},
};

/// Token-groups reads under way at once.
pub const TOKEN_READS_AT_ONCE: usize = 16;

/// One person an ACL reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    pub user: DirectoryUser,
    /// The groups that admit them, from the one they are in up to the ACL's entry; empty when
    /// the entry names them.
    pub path: Vec<String>,
}

impl Reached {
    /// "dave ← dba-team ← dba-oncall".
    pub fn path_text(&self) -> String {
        std::iter::once(self.user.account_name.as_str())
            .chain(self.path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ← ")
    }
}

/// Everyone an ACL reaches, by account name; `truncated` when the walk stopped at its limit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reach {
    pub people: Vec<Reached>,
    pub truncated: bool,
    /// People the walk found but left out: disabled accounts, and those a deny entry refuses.
    pub disabled: usize,
    pub denied: usize,
}

/// The people `acl` admits now, at most `limit` (people looked at, before the deny check).
/// Each candidate's token groups are read once, to evaluate the ACL as a request would.
pub async fn reach(
    directory: &dyn Directory,
    acl: &[AclEntry],
    limit: usize,
) -> Result<Reach, DomainError> {
    let mut candidates: BTreeMap<Sid, Reached> = BTreeMap::new();
    let mut queue: VecDeque<(crate::directory::DirectoryGroup, Vec<String>)> = VecDeque::new();
    let mut seen_groups: HashSet<Sid> = HashSet::new();
    let mut truncated = false;
    for entry in acl.iter().filter(|e| e.effect == Effect::Allow) {
        match entry.kind {
            PrincipalKind::User => {
                if let Some(user) = directory
                    .find_user(&UserLookup::Sid(entry.principal.clone()))
                    .await?
                {
                    candidates.entry(user.sid.clone()).or_insert(Reached {
                        user,
                        path: Vec::new(),
                    });
                }
            }
            PrincipalKind::Group => {
                if seen_groups.insert(entry.principal.clone())
                    && let Some(group) = directory
                        .group(&GroupRef::Sid(entry.principal.clone()))
                        .await?
                {
                    let path = vec![group.name.clone()];
                    queue.push_back((group, path));
                }
            }
        }
    }
    // breadth first: each person keeps the shortest path that admits them
    while let Some((group, path)) = queue.pop_front() {
        if candidates.len() >= limit {
            truncated = true;
            break;
        }
        let page = directory
            .direct_members(&group, limit - candidates.len())
            .await?;
        truncated |= page.more;
        for object in page.objects {
            match object {
                DirectoryObject::User(user) => {
                    candidates
                        .entry(user.sid.clone())
                        .or_insert_with(|| Reached {
                            user,
                            path: path.clone(),
                        });
                }
                DirectoryObject::Group(inner) => {
                    if seen_groups.insert(inner.sid.clone()) {
                        let mut deeper = vec![inner.name.clone()];
                        deeper.extend(path.iter().cloned());
                        queue.push_back((inner, deeper));
                    }
                }
            }
        }
    }
    let mut people = Vec::with_capacity(candidates.len());
    let (mut disabled, mut denied) = (0, 0);
    let enabled: Vec<Reached> = candidates
        .into_values()
        .filter(|r| {
            disabled += usize::from(r.user.disabled);
            !r.user.disabled
        })
        .collect();
    // the reads dominate a large reach; a few under way at once keep the DC's connections
    // busy (docs/benchmarks.md, "Effective access")
    let mut reads = stream::iter(enabled.into_iter().map(|reached| async move {
        let groups = directory.token_groups(&reached.user.dn).await?;
        Ok::<_, DomainError>((reached, groups))
    }))
    .buffered(TOKEN_READS_AT_ONCE);
    while let Some(read) = reads.next().await {
        let (reached, groups) = read?;
        let caller = Caller::new(reached.user.clone(), groups);
        match evaluate(acl, &caller) {
            AclDecision::Allowed => people.push(reached),
            AclDecision::Denied { .. } => denied += 1,
            // the walk saw them in an allowed group that their token does not hold (a
            // distribution group, or one nested through one): not admitted
            AclDecision::NotListed => {}
        }
    }
    people.sort_by(|a, b| a.user.account_name.cmp(&b.user.account_name));
    Ok(Reach {
        people,
        truncated,
        disabled,
        denied,
    })
}
