//! Effective access through its RPCs against the real Samba DC and the test population: a
//! rule's reach lists a person exactly when the ACL evaluator admits them (what a request would
//! be told), the person's own view says the same with the reasons, and paging returns everyone
//! once. Reads only: no membership is written, so no (person, group) pair is taken.

use jitroles_domain::{
    access::{AclEntry, Caller, Effect, PrincipalKind, authorize_request},
    directory::Directory,
};
use jitroles_proto::v1 as pb;
use tonic::Code;

use crate::{
    grants::{Stack, stack},
    stack::{group_sid, save_spec},
};

const POPULATION: [&str; 8] = [
    "alice", "bob", "carol", "dave", "erin", "svc-ci", "frank", "grace",
];

fn entry(sid: String, kind: pb::PrincipalKind, effect: pb::Effect) -> pb::AclEntry {
    pb::AclEntry {
        principal_sid: sid,
        display_name: String::new(),
        kind: kind.into(),
        effect: effect.into(),
    }
}

/// A rule on jit-role-web with exactly `acl`, as alice saves it.
async fn rule_with(s: &Stack, name: &str, acl: Vec<pb::AclEntry>) -> pb::Rule {
    let rule = s.rule(name, "jit-role-web", 600).await;
    let mut spec = rule.spec.clone().unwrap();
    spec.acl = acl;
    save_spec(s.channel().await, s.op(), &rule, spec).await
}

async fn group(s: &Stack, name: &str) -> String {
    group_sid(s.channel().await, s.op(), name).await
}

/// The evaluator's answer for `account`, on the token groups the DC gives.
async fn admitted(s: &Stack, account: &str, rule: &pb::Rule) -> bool {
    let user = s.user(account).await;
    let groups = s.directory().token_groups(&user.dn).await.unwrap();
    let acl: Vec<AclEntry> = rule
        .spec
        .as_ref()
        .unwrap()
        .acl
        .iter()
        .map(|e| AclEntry {
            principal: e.principal_sid.parse().unwrap(),
            display_name: e.display_name.clone(),
            kind: match e.kind() {
                pb::PrincipalKind::User => PrincipalKind::User,
                _ => PrincipalKind::Group,
            },
            effect: match e.effect() {
                pb::Effect::Deny => Effect::Deny,
                _ => Effect::Allow,
            },
        })
        .collect();
    authorize_request(&Caller::new(user, groups), &rule.id, &acl).is_ok()
}

/// Every page of the rule's reach, `size` at a time.
async fn all_pages(s: &Stack, rule: &pb::Rule, size: u32) -> Vec<pb::ReachedPerson> {
    let mut admin = s.admin().await;
    let (mut people, mut token) = (Vec::new(), String::new());
    for _ in 0..100 {
        let page = admin
            .get_rule_access(s.as_(
                "alice",
                pb::GetRuleAccessRequest {
                    rule_id: rule.id.clone(),
                    page_size: size,
                    page_token: token.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        people.extend(page.people);
        if page.next_page_token.is_empty() {
            return people;
        }
        token = page.next_page_token;
    }
    panic!("paging never ended");
}

async fn person(s: &Stack, account: &str) -> pb::GetPersonAccessResponse {
    s.admin()
        .await
        .get_person_access(s.as_(
            "alice",
            pb::GetPersonAccessRequest {
                person: account.into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn a_rules_reach_lists_exactly_the_people_a_request_would_admit_and_their_view_agrees() {
    let Some(s) = stack().await else { return };
    let (oncall, team, approvers) = (
        group(&s, "dba-oncall").await,
        group(&s, "dba-team").await,
        group(&s, "dba-approvers").await,
    );
    let grace = s.user("grace").await.sid.to_string();
    use pb::{Effect::*, PrincipalKind::*};
    // nested groups (dave through dba-team ⊂ dba-oncall), a second group, a user deny
    let nested = rule_with(
        &s,
        "Effective nested",
        vec![
            entry(oncall.clone(), Group, Allow),
            entry(approvers, Group, Allow),
            entry(grace, User, Deny),
        ],
    )
    .await;
    // a deny on the nested group takes dave (and erin) out
    let denied = rule_with(
        &s,
        "Effective deny",
        vec![entry(oncall, Group, Allow), entry(team, Group, Deny)],
    )
    .await;

    for rule in [&nested, &denied] {
        let listed = all_pages(&s, rule, 200).await;
        let names: Vec<&str> = listed.iter().map(|p| p.account_name.as_str()).collect();
        for account in POPULATION {
            let allowed = admitted(&s, account, rule).await;
            assert_eq!(
                names.contains(&account),
                allowed,
                "{account} in the reach of {}: {names:?}",
                rule.spec.as_ref().unwrap().name
            );
            let own = person(&s, account).await;
            assert_eq!(
                own.allowed.iter().any(|r| r.rule_id == rule.id),
                allowed,
                "{account}'s own view of {}: {own:?}",
                rule.spec.as_ref().unwrap().name
            );
            if !allowed {
                assert!(
                    !own.denied
                        .iter()
                        .any(|r| r.rule_id == rule.id && r.may_request),
                    "{own:?}"
                );
            }
        }
        // each person once, however it is paged
        let mut paged: Vec<String> = all_pages(&s, rule, 1)
            .await
            .into_iter()
            .map(|p| p.account_name)
            .collect();
        let whole: Vec<String> = listed.iter().map(|p| p.account_name.clone()).collect();
        assert_eq!(paged, whole, "pages of one in the same order");
        paged.dedup();
        assert_eq!(paged.len(), whole.len(), "nobody twice");
    }

    let reach = all_pages(&s, &nested, 200).await;
    let path = |who: &str| {
        reach
            .iter()
            .find(|p| p.account_name == who)
            .map(|p| p.path_text.clone())
            .unwrap_or_default()
    };
    assert_eq!(path("dave"), "dave ← dba-team ← dba-oncall");
    assert_eq!(path("svc-ci"), "svc-ci ← dba-oncall");
    assert_eq!(path("frank"), "frank ← dba-approvers");

    let first = s
        .admin()
        .await
        .get_rule_access(s.as_(
            "alice",
            pb::GetRuleAccessRequest {
                rule_id: nested.id.clone(),
                query: "DBA-TEAM".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        first
            .people
            .iter()
            .map(|p| p.account_name.as_str())
            .collect::<Vec<_>>(),
        ["dave"],
        "searched by a group on the path"
    );
    assert_eq!(first.admitted, u32::try_from(reach.len()).unwrap());
    assert_eq!(first.matching, 1);
    assert!(first.left_out_disabled >= 1, "erin: {first:?}");
    assert!(first.left_out_denied >= 1, "grace: {first:?}");
    assert!(!first.truncated && first.closed.is_empty());

    // why, in the person's own view
    let dave = person(&s, "dave").await;
    let standing = |view: &pb::GetPersonAccessResponse, rule: &pb::Rule| {
        view.allowed
            .iter()
            .chain(&view.denied)
            .find(|r| r.rule_id == rule.id)
            .cloned()
            .unwrap()
    };
    let on_nested = standing(&dave, &nested);
    assert_eq!(
        on_nested.allowed_by.as_ref().unwrap().path_text,
        "dave ← dba-team ← dba-oncall"
    );
    let on_denied = standing(&dave, &denied);
    assert!(!on_denied.may_request);
    assert_eq!(
        on_denied.denied_by.as_ref().unwrap().path_text,
        "dave ← dba-team"
    );
    assert_eq!(on_denied.why, "denied by dba-team (dave ← dba-team)");
    let erin = standing(&person(&s, "erin").await, &nested);
    assert!(erin.account_disabled && !erin.may_request, "{erin:?}");
    let grace_sid = s.user("grace").await.sid.to_string();
    let grace = standing(&person(&s, "grace").await, &nested);
    let deny = grace.denied_by.as_ref().unwrap();
    assert_eq!(deny.entry.as_ref().unwrap().principal_sid, grace_sid);
    assert!(deny.path.is_empty(), "the entry names her: {deny:?}");
    let bob = person(&s, "bob").await;
    assert!(bob.allowed.is_empty() && bob.denied.is_empty());
    assert_eq!(bob.not_listed, 2);
}

#[tokio::test]
async fn effective_access_is_for_admins_and_refuses_bad_input_with_the_field() {
    let Some(s) = stack().await else { return };
    let rule = s.rule("Effective refusals", "jit-role-web", 600).await;
    let mut admin = s.admin().await;
    let rule_access = |account: &str, ask: pb::GetRuleAccessRequest| s.as_(account, ask);
    let code = |r: Result<tonic::Response<pb::GetRuleAccessResponse>, tonic::Status>| {
        r.map(|_| ()).unwrap_err().code()
    };
    let ask = |id: &str| pb::GetRuleAccessRequest {
        rule_id: id.into(),
        ..Default::default()
    };
    assert_eq!(
        code(
            admin
                .get_rule_access(rule_access("dave", ask(&rule.id)))
                .await
        ),
        Code::PermissionDenied
    );
    assert_eq!(
        code(
            admin
                .get_rule_access(rule_access("alice", ask("no-such-rule")))
                .await
        ),
        Code::NotFound
    );
    assert_eq!(
        code(admin.get_rule_access(rule_access("alice", ask(" "))).await),
        Code::InvalidArgument
    );
    let oversized = pb::GetRuleAccessRequest {
        page_size: 5000,
        ..ask(&rule.id)
    };
    assert_eq!(
        code(admin.get_rule_access(rule_access("alice", oversized)).await),
        Code::InvalidArgument
    );
    let person = |who: &str| s.as_("alice", pb::GetPersonAccessRequest { person: who.into() });
    let refused = admin.get_person_access(person("")).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let unknown = admin
        .get_person_access(person("nobody-here"))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    let dave_sid = s.user("dave").await.sid.to_string();
    let by_sid = admin.get_person_access(person(&dave_sid)).await.unwrap();
    assert_eq!(by_sid.into_inner().person.unwrap().account_name, "dave");
    let not_admin = admin
        .get_person_access(s.as_(
            "bob",
            pb::GetPersonAccessRequest {
                person: "dave".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(not_admin.code(), Code::PermissionDenied);
}
