//! Effective access: what rules' ACLs do for real people now, and why.
//!
//! - For a rule, everyone its ACL admits: the walk built for approvers ([`reach::reach`]),
//!   bounded by [`MAX_RULE_REACH`], searched and paged by [`find_in`].
//! - For a person, [`person_access`]: every rule they may request and the entry (named, or the
//!   group path) that admits them, and every rule that lists them yet refuses them and why (a
//!   deny entry and its path, their disabled account, the rule disabled or expired).
//!
//! Both decide with the evaluator a request uses ([`authorize_request`]) on the
//! person's token groups, so neither view can disagree with what a request would be told.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};

use crate::{
    DomainError,
    access::{AclEntry, Caller, Effect, authorize_request},
    directory::{Directory, DirectoryUser, Sid},
    page::{Page, PageRequest},
    reach::{self, Reach, Reached},
    rule::RoleRule,
};

/// The most people a rule's effective access looks at (before denies and disabled accounts
/// are taken out); beyond it the answer says `truncated`. A person costs one token-groups read
/// and ~0.5 KB held: 20,000 is a few seconds of a DC's time and ~10 MB.
pub const MAX_RULE_REACH: usize = 20_000;

/// Everyone `acl` admits now, as a request would decide, at most [`MAX_RULE_REACH`] looked at.
pub async fn rule_reach(directory: &dyn Directory, acl: &[AclEntry]) -> Result<Reach, DomainError> {
    reach::reach(directory, acl, MAX_RULE_REACH).await
}

/// The people of `reach` whose account name, display name or path holds `query` (any case;
/// empty: everyone), one page of them, and how many match in all.
pub fn find_in<'r>(reach: &'r Reach, query: &str, page: PageRequest) -> (Page<&'r Reached>, usize) {
    let query = query.trim().to_lowercase();
    let matches = |r: &&Reached| {
        query.is_empty()
            || r.user.account_name.to_lowercase().contains(&query)
            || r.user.display_name.to_lowercase().contains(&query)
            || r.path.iter().any(|g| g.to_lowercase().contains(&query))
    };
    let found: Vec<&Reached> = reach.people.iter().filter(matches).collect();
    let total = found.len();
    let from = usize::try_from(page.offset)
        .unwrap_or(usize::MAX)
        .min(total);
    let upto = from.saturating_add(page.size as usize + 1).min(total);
    (page.page(found[from..upto].to_vec()), total)
}

/// Why `rule` grants nothing to anyone at `now` ("the role DBA is disabled", "… has
/// expired"); `None` while it is open.
pub fn closed(rule: &RoleRule, now: DateTime<Utc>) -> Option<String> {
    rule.check_open(now).err().map(|e| match e {
        DomainError::FailedPrecondition(why) => why,
        other => other.to_string(),
    })
}

/// How one ACL entry holds a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub entry: AclEntry,
    /// The groups from the one the person is directly in up to the entry's group (the entry's
    /// group last); empty when the entry names the person.
    pub path: Vec<String>,
}

impl Admission {
    /// "dave ← dba-team ← dba-oncall", or "dave" when the entry names them.
    pub fn path_text(&self, person: &str) -> String {
        std::iter::once(person)
            .chain(self.path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ← ")
    }
}

/// What one rule says about one person who is listed in its ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleStanding {
    pub rule_id: String,
    pub rule_name: String,
    /// A request now would be allowed (the same answer as [`authorize_request`] and the rule
    /// being open).
    pub may_request: bool,
    /// The allow entry that admits them (a user entry before a group; the shortest path).
    pub allowed_by: Option<Admission>,
    /// The deny entry that refuses them (deny wins over any allow).
    pub denied_by: Option<Admission>,
    /// The person's account is disabled: no rule admits them.
    pub account_disabled: bool,
    /// Why the rule grants nothing to anyone now (disabled, expired).
    pub closed: Option<String>,
}

impl RuleStanding {
    /// In words, for people: "allowed by dba-oncall: dave ← dba-team ← dba-oncall", or every
    /// reason it refuses them.
    pub fn why(&self, person: &str) -> String {
        let through = |a: &Admission| {
            if a.path.is_empty() {
                format!("the entry for {} names them", a.entry.display_name)
            } else {
                format!("{} ({})", a.entry.display_name, a.path_text(person))
            }
        };
        if self.may_request {
            return match &self.allowed_by {
                Some(a) => format!("allowed by {}", through(a)),
                None => "allowed".into(),
            };
        }
        let mut why = Vec::new();
        if let Some(d) = &self.denied_by {
            why.push(format!("denied by {}", through(d)));
        }
        if self.account_disabled {
            why.push(format!("the directory account {person} is disabled"));
        }
        if let Some(closed) = &self.closed {
            why.push(closed.clone());
        }
        if why.is_empty() {
            why.push(format!("{person} is not allowed to request this role"));
        }
        why.join("; ")
    }
}

/// Every rule that lists a person, in rule order: those they may request and those that
/// refuse them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonAccess {
    pub person: DirectoryUser,
    pub allowed: Vec<RuleStanding>,
    pub denied: Vec<RuleStanding>,
    /// Rules whose ACL does not hold them at all.
    pub not_listed: usize,
}

/// What each of `rules` says about `person` at `now`, decided on their token groups exactly as
/// a request would be. One token-groups read, and one read per group they are in (the group
/// paths, only when a group entry holds them).
pub async fn person_access(
    directory: &dyn Directory,
    person: DirectoryUser,
    rules: &[RoleRule],
    now: DateTime<Utc>,
) -> Result<PersonAccess, DomainError> {
    let groups = directory.token_groups(&person.dn).await?;
    let caller = Caller::new(person.clone(), groups);
    let mut ancestry: Option<Ancestry> = None;
    let mut access = PersonAccess {
        person,
        allowed: Vec::new(),
        denied: Vec::new(),
        not_listed: 0,
    };
    for rule in rules {
        let acl = &rule.spec.acl;
        let holding = |effect: Effect| -> Vec<&AclEntry> {
            acl.iter()
                .filter(|e| e.effect == effect && caller.holds(&e.principal))
                .collect()
        };
        let (allows, denies) = (holding(Effect::Allow), holding(Effect::Deny));
        if allows.is_empty() && denies.is_empty() {
            access.not_listed += 1;
            continue;
        }
        if ancestry.is_none()
            && allows
                .iter()
                .chain(&denies)
                .any(|e| e.principal != caller.sid)
        {
            ancestry = Some(Ancestry::walk(directory, &caller).await?);
        }
        let admit = |entries: &[&AclEntry]| {
            entries
                .iter()
                .map(|e| Admission {
                    entry: (*e).clone(),
                    path: ancestry
                        .as_ref()
                        .map(|a| a.path(&caller.sid, e))
                        .unwrap_or_default(),
                })
                .min_by_key(|a| (a.entry.principal != caller.sid, a.path.len()))
        };
        let closed = closed(rule, now);
        // the evaluator decides; the entries above only say which entry and through what
        let may_request = closed.is_none() && authorize_request(&caller, &rule.id, acl).is_ok();
        let standing = RuleStanding {
            rule_id: rule.id.clone(),
            rule_name: rule.spec.name.clone(),
            may_request,
            allowed_by: admit(&allows),
            denied_by: admit(&denies),
            account_disabled: caller.disabled,
            closed,
        };
        if may_request {
            access.allowed.push(standing);
        } else {
            access.denied.push(standing);
        }
    }
    Ok(access)
}

/// The groups a person is in, each with the group it was first reached from (breadth first
/// from the person: shortest paths), walked only through their token groups.
struct Ancestry {
    parents: HashMap<Sid, (String, Option<Sid>)>,
}

impl Ancestry {
    async fn walk(directory: &dyn Directory, caller: &Caller) -> Result<Self, DomainError> {
        let holds: HashSet<&Sid> = caller.groups.iter().collect();
        let mut parents: HashMap<Sid, (String, Option<Sid>)> = HashMap::new();
        let mut queue: VecDeque<(String, Option<Sid>)> =
            VecDeque::from([(caller.dn.clone(), None)]);
        while let Some((dn, from)) = queue.pop_front() {
            for group in directory.groups_of(&dn).await? {
                // each group once (nesting may loop), and only groups the token holds: a
                // group that does not count for requests explains nothing
                if !holds.contains(&group.sid) || parents.contains_key(&group.sid) {
                    continue;
                }
                parents.insert(group.sid.clone(), (group.name.clone(), from.clone()));
                queue.push_back((group.dn, Some(group.sid)));
            }
        }
        Ok(Self { parents })
    }

    /// The groups from the person up to the entry's group; the entry's name alone when the walk
    /// did not find it (a well-known group such as Authenticated Users), none for the person.
    fn path(&self, person: &Sid, entry: &AclEntry) -> Vec<String> {
        if &entry.principal == person {
            return Vec::new();
        }
        let mut path = Vec::new();
        let mut at = Some(&entry.principal);
        while let Some(sid) = at {
            let Some((name, from)) = self.parents.get(sid) else {
                break;
            };
            path.push(name.clone());
            at = from.as_ref();
            if path.len() > self.parents.len() {
                break; // a parent chain cannot loop, but never spin if it did
            }
        }
        if path.is_empty() {
            path.push(entry.display_name.clone());
        }
        path.reverse();
        path
    }
}

#[cfg(test)]
mod tests;
