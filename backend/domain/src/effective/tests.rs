//! A small forest in a [`FakeDirectory`]: three levels of nesting under dba-oncall, a cycle of
//! groups, a primary group, a disabled account. Every person's token groups are computed from
//! the same links the walk reads, as AD computes them.

use std::{
    collections::{BTreeMap, BTreeSet},
    pin::pin,
    sync::Arc,
    task::{Context, Poll, Waker},
};

use super::*;
use crate::{
    ManualClock,
    access::{AclEntry, Effect, PrincipalKind, authorize_request},
    directory::{DirectoryGroup, DirectoryUser},
    grant::fixtures::{spec, t0},
    page::PageRequest,
    rule::{JustificationPolicy, RoleRule, TargetGroup},
    testing::FakeDirectory,
};

/// The fake never waits: polling once more always finishes.
fn run<F: std::future::Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn sid(rid: u32) -> Sid {
    format!("S-1-5-21-7-7-7-{rid}").parse().unwrap()
}

/// Groups by name, people by account name, and who is directly in what.
struct Forest {
    dir: Arc<FakeDirectory>,
    groups: BTreeMap<&'static str, u32>,
    people: BTreeMap<&'static str, u32>,
    /// (member rid, group rid); a user's primary group is one of them.
    links: Vec<(u32, u32)>,
}

impl Forest {
    fn new() -> Self {
        Self {
            dir: FakeDirectory::new(Arc::new(ManualClock::new(t0()))),
            groups: BTreeMap::new(),
            people: BTreeMap::new(),
            links: Vec::new(),
        }
    }

    fn group(&mut self, name: &'static str) -> u32 {
        let rid = 2000 + u32::try_from(self.groups.len()).unwrap();
        self.groups.insert(name, rid);
        self.dir.add_group(
            DirectoryGroup {
                sid: sid(rid),
                guid: format!("g{rid}"),
                dn: format!("CN={name},DC=t"),
                name: name.into(),
                description: None,
                protected: false,
            },
            true,
        );
        rid
    }

    /// `member` (a group or person rid) directly in `group`.
    fn put(&mut self, member: u32, group: &str) {
        let g = self.groups[group];
        self.dir.set_member(&sid(g), &sid(member), true);
        self.links.push((member, g));
    }

    fn user(&self, rid: u32, name: &str, disabled: bool) -> DirectoryUser {
        DirectoryUser {
            sid: sid(rid),
            guid: format!("u{rid}"),
            dn: format!("CN={name},DC=t"),
            account_name: name.into(),
            display_name: name.to_uppercase(),
            upn: None,
            mail: None,
            disabled,
        }
    }

    /// A person (after every group link is made): their token groups are the closure.
    fn person(&mut self, name: &'static str, rid: u32, disabled: bool) {
        self.people.insert(name, rid);
        let mut token = BTreeSet::new();
        let mut next = vec![rid];
        while let Some(at) = next.pop() {
            for &(m, g) in &self.links {
                if m == at && token.insert(g) {
                    next.push(g);
                }
            }
        }
        self.dir.add_user(
            self.user(rid, name, disabled),
            token.into_iter().map(sid).collect(),
        );
    }

    fn entry(&self, name: &str, effect: Effect) -> AclEntry {
        let (rid, kind) = match self.groups.get(name) {
            Some(&g) => (g, PrincipalKind::Group),
            None => (self.people[name], PrincipalKind::User),
        };
        AclEntry {
            principal: sid(rid),
            display_name: name.into(),
            kind,
            effect,
        }
    }

    fn rule(&self, id: &str, acl: Vec<AclEntry>) -> RoleRule {
        let mut spec = spec(JustificationPolicy::Optional);
        spec.name = id.to_uppercase();
        spec.acl = acl;
        RoleRule {
            id: id.into(),
            spec,
            target: TargetGroup {
                sid: sid(9999),
                guid: "target".into(),
                dn: "CN=jit-role,DC=t".into(),
                name: "jit-role".into(),
            },
            version: 1,
            created_at: t0(),
            updated_at: t0(),
        }
    }

    fn caller(&self, name: &str) -> crate::access::Caller {
        let user = run(self
            .dir
            .find_user(&crate::directory::UserLookup::SamAccountName(name.into())))
        .unwrap()
        .unwrap();
        let groups = run(self.dir.token_groups(&user.dn)).unwrap();
        crate::access::Caller::new(user, groups)
    }

    fn reach(&self, acl: &[AclEntry]) -> Reach {
        run(rule_reach(self.dir.as_ref(), acl)).unwrap()
    }

    fn standing(&self, name: &str, rules: &[RoleRule]) -> PersonAccess {
        let user = self.user(self.people[name], name, name == "erin");
        run(person_access(self.dir.as_ref(), user, rules, t0())).unwrap()
    }
}

/// dave ∈ dba-team ∈ dba-oncall; lea ∈ dba-leads ∈ dba-team (three levels); erin (disabled)
/// ∈ dba-team; carl ∈ loop-b, where loop-a ∈ loop-b ∈ loop-a ∈ dba-oncall; pat's primary group
/// is staff ∈ dba-oncall; bob is in nothing; tom ∈ dba-oncall directly.
fn forest() -> Forest {
    let mut f = Forest::new();
    for g in [
        "dba-oncall",
        "dba-team",
        "dba-leads",
        "loop-a",
        "loop-b",
        "staff",
    ] {
        f.group(g);
    }
    let g = f.groups.clone();
    f.put(g["dba-team"], "dba-oncall");
    f.put(g["dba-leads"], "dba-team");
    f.put(g["loop-a"], "dba-oncall");
    f.put(g["loop-b"], "loop-a");
    f.put(g["loop-a"], "loop-b");
    f.put(g["staff"], "dba-oncall");
    let people = [
        ("dave", 1101, "dba-team"),
        ("lea", 1102, "dba-leads"),
        ("erin", 1103, "dba-team"),
        ("carl", 1104, "loop-b"),
        ("tom", 1106, "dba-oncall"),
    ];
    for (_, rid, group) in people {
        f.put(rid, group);
    }
    // pat: in staff only as her primary group (no `member` value)
    f.links.push((1105, g["staff"]));
    for (name, rid, _) in people {
        f.person(name, rid, name == "erin");
    }
    f.person("pat", 1105, false);
    f.dir.set_primary_group(&sid(1105), &sid(g["staff"]));
    f.person("bob", 1107, false);
    f
}

const EVERYONE: [&str; 7] = ["bob", "carl", "dave", "erin", "lea", "pat", "tom"];

fn names(reach: &Reach) -> Vec<&str> {
    reach
        .people
        .iter()
        .map(|r| r.user.account_name.as_str())
        .collect()
}

fn path_of(reach: &Reach, name: &str) -> String {
    reach
        .people
        .iter()
        .find(|r| r.user.account_name == name)
        .map(Reached::path_text)
        .unwrap_or_else(|| panic!("{name} is not reached"))
}

#[test]
fn a_rule_reaches_people_through_every_level_of_nesting_with_their_paths() {
    let f = forest();
    let reach = f.reach(&[f.entry("dba-oncall", Effect::Allow)]);
    assert_eq!(names(&reach), ["carl", "dave", "lea", "pat", "tom"]);
    assert_eq!(path_of(&reach, "dave"), "dave ← dba-team ← dba-oncall");
    assert_eq!(
        path_of(&reach, "lea"),
        "lea ← dba-leads ← dba-team ← dba-oncall"
    );
    assert_eq!(path_of(&reach, "tom"), "tom ← dba-oncall");
    assert!(!reach.truncated);
    assert_eq!((reach.disabled, reach.denied), (1, 0), "erin is disabled");
}

#[test]
fn a_cycle_of_groups_is_walked_once_and_ends() {
    let f = forest();
    let reach = f.reach(&[f.entry("loop-a", Effect::Allow)]);
    assert_eq!(names(&reach), ["carl"]);
    assert_eq!(path_of(&reach, "carl"), "carl ← loop-b ← loop-a");
    let standing = f.standing(
        "carl",
        &[f.rule("r", vec![f.entry("loop-a", Effect::Allow)])],
    );
    let by = standing.allowed[0].allowed_by.as_ref().unwrap();
    assert_eq!(by.path_text("carl"), "carl ← loop-b ← loop-a");
}

#[test]
fn a_deny_through_a_nested_group_takes_out_everyone_below_it() {
    let f = forest();
    let acl = vec![
        f.entry("dba-oncall", Effect::Allow),
        f.entry("dba-team", Effect::Deny),
    ];
    let reach = f.reach(&acl);
    assert_eq!(names(&reach), ["carl", "pat", "tom"]);
    assert_eq!(
        (reach.disabled, reach.denied),
        (1, 2),
        "dave and lea denied"
    );
    let lea = f.standing("lea", &[f.rule("r", acl)]);
    assert!(lea.allowed.is_empty());
    let refused = &lea.denied[0];
    assert!(!refused.may_request);
    let deny = refused.denied_by.as_ref().unwrap();
    assert_eq!(deny.entry.display_name, "dba-team");
    assert_eq!(deny.path_text("lea"), "lea ← dba-leads ← dba-team");
    assert_eq!(
        refused.why("lea"),
        "denied by dba-team (lea ← dba-leads ← dba-team)"
    );
    assert_eq!(
        refused.allowed_by.as_ref().unwrap().path_text("lea"),
        "lea ← dba-leads ← dba-team ← dba-oncall",
        "the allow that the deny beats is shown too"
    );
}

#[test]
fn a_disabled_account_is_left_out_and_told_why() {
    let f = forest();
    let acl = vec![f.entry("dba-team", Effect::Allow)];
    assert_eq!(names(&f.reach(&acl)), ["dave", "lea"]);
    let erin = f.standing("erin", &[f.rule("r", acl)]);
    assert!(erin.allowed.is_empty());
    assert!(erin.denied[0].account_disabled && erin.denied[0].denied_by.is_none());
    assert_eq!(
        erin.denied[0].why("erin"),
        "the directory account erin is disabled"
    );
    assert_eq!(
        erin.denied[0]
            .allowed_by
            .as_ref()
            .unwrap()
            .path_text("erin"),
        "erin ← dba-team"
    );
}

#[test]
fn a_primary_group_admits_its_people_although_member_does_not_list_them() {
    let f = forest();
    let reach = f.reach(&[f.entry("staff", Effect::Allow)]);
    assert_eq!(names(&reach), ["pat"]);
    assert_eq!(path_of(&reach, "pat"), "pat ← staff");
    let pat = f.standing(
        "pat",
        &[f.rule("r", vec![f.entry("dba-oncall", Effect::Allow)])],
    );
    assert_eq!(
        pat.allowed[0].allowed_by.as_ref().unwrap().path_text("pat"),
        "pat ← staff ← dba-oncall"
    );
}

#[test]
fn a_person_named_directly_is_admitted_by_their_own_entry_before_a_group() {
    let f = forest();
    let acl = vec![
        f.entry("dba-oncall", Effect::Allow),
        f.entry("dave", Effect::Allow),
    ];
    let dave = f.standing("dave", &[f.rule("r", acl.clone())]);
    let by = dave.allowed[0].allowed_by.as_ref().unwrap();
    assert_eq!((by.entry.display_name.as_str(), by.path.len()), ("dave", 0));
    assert_eq!(path_of(&f.reach(&acl), "dave"), "dave");
}

#[test]
fn a_closed_rule_is_listed_with_why_and_never_as_requestable() {
    let f = forest();
    let mut disabled = f.rule("off", vec![f.entry("dba-oncall", Effect::Allow)]);
    disabled.spec.enabled = false;
    let mut expired = f.rule("old", vec![f.entry("dba-oncall", Effect::Allow)]);
    expired.spec.expires_at = Some(t0() - chrono::TimeDelta::hours(1));
    let open = f.rule("on", vec![f.entry("dba-oncall", Effect::Allow)]);
    let elsewhere = f.rule("web", vec![f.entry("bob", Effect::Allow)]);
    let dave = f.standing("dave", &[disabled, expired, open, elsewhere]);
    assert_eq!(dave.allowed.len(), 1);
    assert_eq!(dave.allowed[0].rule_id, "on");
    assert_eq!(
        dave.allowed[0].why("dave"),
        "allowed by dba-oncall (dave ← dba-team ← dba-oncall)"
    );
    let closed: Vec<_> = dave
        .denied
        .iter()
        .map(|s| (s.rule_id.as_str(), s.closed.clone().unwrap()))
        .collect();
    assert_eq!(
        closed,
        [
            ("off", "the role OFF is disabled".to_owned()),
            ("old", "the role OLD has expired".to_owned())
        ]
    );
    assert_eq!(dave.not_listed, 1);
}

/// For several ACLs, every person is in the rule's reach exactly when a request by them would
/// be allowed, and their own view says the same.
#[test]
fn both_views_agree_with_the_request_evaluator_for_everyone() {
    let f = forest();
    let acls = [
        vec![f.entry("dba-oncall", Effect::Allow)],
        vec![
            f.entry("dba-oncall", Effect::Allow),
            f.entry("dba-team", Effect::Deny),
        ],
        vec![
            f.entry("loop-b", Effect::Allow),
            f.entry("bob", Effect::Allow),
            f.entry("erin", Effect::Allow),
        ],
        vec![
            f.entry("staff", Effect::Allow),
            f.entry("pat", Effect::Deny),
        ],
        vec![f.entry("dba-leads", Effect::Deny)],
    ];
    let rules: Vec<RoleRule> = acls
        .iter()
        .enumerate()
        .map(|(i, acl)| f.rule(&format!("r{i}"), acl.clone()))
        .collect();
    for rule in &rules {
        let reached = names(&f.reach(&rule.spec.acl))
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        for person in EVERYONE {
            let allowed = authorize_request(&f.caller(person), &rule.id, &rule.spec.acl).is_ok();
            assert_eq!(
                reached.iter().any(|n| n == person),
                allowed,
                "{person} and {}",
                rule.id
            );
            let own = f.standing(person, std::slice::from_ref(rule));
            assert_eq!(
                own.allowed.iter().any(|s| s.rule_id == rule.id),
                allowed,
                "{person}'s own view of {}",
                rule.id
            );
        }
    }
}

#[test]
fn the_reach_is_searched_and_paged_with_each_person_once() {
    let f = forest();
    let reach = f.reach(&[f.entry("dba-oncall", Effect::Allow)]);
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let (page, total) = find_in(&reach, "", PageRequest::parse(2, &token).unwrap());
        assert_eq!(total, 5);
        seen.extend(page.items.iter().map(|r| r.user.account_name.clone()));
        match page.next {
            Some(next) => token = next,
            None => break,
        }
    }
    assert_eq!(seen, ["carl", "dave", "lea", "pat", "tom"]);
    let (team, total) = find_in(&reach, "DBA-Team", PageRequest::parse(0, "").unwrap());
    assert_eq!(total, 2, "searched by a group on the path");
    assert_eq!(
        team.items
            .iter()
            .map(|r| r.user.account_name.as_str())
            .collect::<Vec<_>>(),
        ["dave", "lea"]
    );
    let (past, _) = find_in(&reach, "", PageRequest::parse(2, "o100").unwrap());
    assert!(past.items.is_empty() && past.next.is_none());
}

#[test]
fn a_reach_over_the_limit_says_truncated() {
    let f = forest();
    let reach = run(reach::reach(
        f.dir.as_ref(),
        &[f.entry("dba-oncall", Effect::Allow)],
        2,
    ))
    .unwrap();
    assert!(reach.truncated);
    assert!(reach.people.len() <= 2);
}
