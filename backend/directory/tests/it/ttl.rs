//! The PAM / TTL-link path against `jitroles-ad-fixture`, a protocol-level LDAP fixture that
//! follows MS-ADTS (no installable directory implements TTL links; see the fixture's docs).

use std::time::Duration;

use jitroles_ad_fixture::{Fixture, Options, ROLE_OU, ReAdd, SVC_DN, SVC_PASSWORD};
use jitroles_directory::{ActiveDirectory, DirectoryConfig};
use jitroles_domain::{
    DomainError,
    directory::{Directory, GroupRef, Mechanism, MembershipChange, UserLookup},
};

const LINK_TTL_CONTROL: &str = "1.2.840.113556.1.4.2309";

pub fn adapter(fixture: &Fixture, force_scheduler: bool) -> ActiveDirectory {
    let mut config = DirectoryConfig::new(fixture.url(), SVC_DN, SVC_PASSWORD);
    config.allow_plain = true; // the fixture speaks plain LDAP on loopback
    config.force_scheduler = force_scheduler;
    ActiveDirectory::new(config).unwrap()
}

pub async fn user(
    dir: &ActiveDirectory,
    account: &str,
) -> jitroles_domain::directory::DirectoryUser {
    dir.find_user(&UserLookup::SamAccountName(account.into()))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{account} is in the fixture's population"))
}

pub fn role(name: &str) -> String {
    format!("CN={name},{ROLE_OU}")
}

#[tokio::test]
async fn pam_is_detected_and_ttl_links_become_the_mechanism() {
    let fixture = Fixture::start(Options::default()).await.unwrap();
    let caps = adapter(&fixture, false).capabilities().await.unwrap();
    assert_eq!(caps.forest_functional_level, 7);
    assert!(caps.pam_enabled);
    assert_eq!(caps.mechanism, Mechanism::Ttl);

    let forced = adapter(&fixture, true).capabilities().await.unwrap();
    assert!(forced.pam_enabled);
    assert_eq!(
        forced.mechanism,
        Mechanism::Scheduled,
        "the config override wins"
    );
}

#[tokio::test]
async fn without_pam_the_link_ttl_control_is_never_sent() {
    let fixture = Fixture::start(Options {
        pam_enabled: false,
        ..Options::default()
    })
    .await
    .unwrap();
    let dir = adapter(&fixture, false);
    let caps = dir.capabilities().await.unwrap();
    assert!(!caps.pam_enabled);
    assert_eq!(caps.mechanism, Mechanism::Scheduled);

    let members = dir.members(&role("jit-role-dba")).await.unwrap();

    assert_eq!(members.len(), 1, "carol");
    assert!(
        !fixture
            .controls_seen()
            .iter()
            .any(|c| c == LINK_TTL_CONTROL)
    );
}

#[tokio::test]
async fn a_ttl_member_is_listed_with_its_remaining_time_and_vanishes_when_due() {
    let fixture = Fixture::start(Options::default()).await.unwrap();
    let dir = adapter(&fixture, false);
    let dave = user(&dir, "dave").await;
    let group = role("jit-role-dba");

    let added = dir
        .add_member(&group, &dave.sid, Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(added, MembershipChange::Changed);
    fixture.advance(600);

    let members = dir.members(&group).await.unwrap();
    let dave_link = members
        .iter()
        .find(|m| m.dn == dave.dn)
        .expect("dave is a member");
    assert_eq!(dave_link.ttl, Some(Duration::from_secs(3000)));
    let carol = members
        .iter()
        .find(|m| m.dn.starts_with("CN=Carol"))
        .expect("carol stays");
    assert_eq!(carol.ttl, None, "a permanent member is a plain DN");
    assert!(
        fixture
            .controls_seen()
            .iter()
            .any(|c| c == LINK_TTL_CONTROL)
    );

    fixture.advance(3000);
    let members = dir.members(&group).await.unwrap();
    assert!(
        members.iter().all(|m| m.dn != dave.dn),
        "expired links are gone: {members:?}"
    );
    assert_eq!(members.len(), 1);
}

#[tokio::test]
async fn an_extension_holds_the_new_ttl_whatever_the_dc_does_with_a_re_add() {
    for readd in ReAdd::ALL {
        let fixture = Fixture::start(Options {
            readd,
            ..Options::default()
        })
        .await
        .unwrap();
        let dir = adapter(&fixture, false);
        let bob = user(&dir, "bob").await;
        let group = role("jit-role-web");

        dir.add_member(&group, &bob.sid, Some(Duration::from_secs(60)))
            .await
            .unwrap();
        let extended = dir
            .add_member(&group, &bob.sid, Some(Duration::from_secs(7200)))
            .await
            .unwrap();
        assert_eq!(extended, MembershipChange::Changed, "{readd:?}");
        let learned = if readd == ReAdd::ReplaceTtl {
            jitroles_directory::ReAdd::SetsTtl
        } else {
            jitroles_directory::ReAdd::NeedsRewrite
        };
        assert_eq!(dir.observed_readd(), learned, "{readd:?}");
        // the next extension goes straight to the write that works, and holds too
        dir.add_member(&group, &bob.sid, Some(Duration::from_secs(9000)))
            .await
            .unwrap();
        fixture.advance(120);

        let links = fixture.links("jit-role-web");
        assert_eq!(links.len(), 1, "one link, not two ({readd:?})");
        assert_eq!(links[0].1, Some(8880), "{readd:?}");
    }
}

#[tokio::test]
async fn a_permanent_member_is_never_given_a_ttl() {
    for readd in ReAdd::ALL {
        let fixture = Fixture::start(Options {
            readd,
            ..Options::default()
        })
        .await
        .unwrap();
        let dir = adapter(&fixture, false);
        let bob = user(&dir, "bob").await;
        fixture.add_permanent_member("jit-role-web", "bob");

        let added = dir
            .add_member(
                &role("jit-role-web"),
                &bob.sid,
                Some(Duration::from_secs(60)),
            )
            .await
            .unwrap();

        assert_eq!(added, MembershipChange::KeptPermanent, "{readd:?}");
        assert_eq!(
            fixture.links("jit-role-web"),
            vec![(bob.dn.clone(), None)],
            "still permanent ({readd:?})"
        );
    }
}

#[tokio::test]
async fn a_ttl_the_dc_does_not_keep_fails_the_add_and_leaves_no_link() {
    let fixture = Fixture::start(Options {
        max_ttl: Some(600),
        ..Options::default()
    })
    .await
    .unwrap();
    let dir = adapter(&fixture, false);
    let bob = user(&dir, "bob").await;

    let refused = dir
        .add_member(
            &role("jit-role-web"),
            &bob.sid,
            Some(Duration::from_secs(3600)),
        )
        .await
        .unwrap_err();

    let text = refused.to_string();
    assert!(
        matches!(refused, DomainError::FailedPrecondition(_))
            && text.contains("did not keep the 3600 s time-to-live")
            && text.contains("--probe-ttl"),
        "{text}"
    );
    assert!(
        fixture.links("jit-role-web").is_empty(),
        "the link this add made went again"
    );
}

#[tokio::test]
async fn a_ttl_member_can_be_removed_before_it_is_due() {
    let fixture = Fixture::start(Options::default()).await.unwrap();
    let dir = adapter(&fixture, false);
    let bob = user(&dir, "bob").await;
    let group = role("jit-role-web");
    dir.add_member(&group, &bob.sid, Some(Duration::from_secs(3600)))
        .await
        .unwrap();

    assert_eq!(
        dir.remove_member(&group, &bob.sid).await.unwrap(),
        MembershipChange::Changed
    );
    assert_eq!(
        dir.remove_member(&group, &bob.sid).await.unwrap(),
        MembershipChange::AlreadySo,
        "AD says 16"
    );
    assert!(fixture.member_dns("jit-role-web").is_empty());
}

#[tokio::test]
async fn ranged_retrieval_reads_every_member_with_ttls() {
    let fixture = Fixture::start(Options::default()).await.unwrap();
    let dir = adapter(&fixture, false);
    fixture.add_contacts_to("jit-role-web", 3200);
    let dave = user(&dir, "dave").await;
    dir.add_member(
        &role("jit-role-web"),
        &dave.sid,
        Some(Duration::from_secs(90)),
    )
    .await
    .unwrap();

    let members = dir.members(&role("jit-role-web")).await.unwrap();

    assert_eq!(
        members.len(),
        3201,
        "three ranges: 0-1499, 1500-2999, 3000-*"
    );
    assert_eq!(members.iter().filter(|m| m.ttl.is_some()).count(), 1);
    assert_eq!(members.last().unwrap().dn, dave.dn);
}

#[tokio::test]
async fn users_groups_and_token_groups_read_as_the_grant_engine_needs() {
    let fixture = Fixture::start(Options::default()).await.unwrap();
    let dir = adapter(&fixture, false);
    let dave = user(&dir, "dave").await;
    let erin = user(&dir, "erin").await;
    assert!(erin.disabled && !dave.disabled);
    assert_eq!(
        dir.find_user(&UserLookup::Sid(dave.sid.clone()))
            .await
            .unwrap()
            .unwrap(),
        dave
    );

    let team = dir
        .group(&GroupRef::Dn(format!(
            "CN=dba-team,CN=Users,{}",
            jitroles_ad_fixture::BASE_DN
        )))
        .await
        .unwrap()
        .unwrap();
    let oncall = dir
        .group(&GroupRef::Dn(format!(
            "CN=dba-oncall,CN=Users,{}",
            jitroles_ad_fixture::BASE_DN
        )))
        .await
        .unwrap()
        .unwrap();
    let tokens = dir.token_groups(&dave.dn).await.unwrap();
    assert!(tokens.contains(&team.sid) && tokens.contains(&oncall.sid));

    let by_guid = dir
        .group(&GroupRef::Guid(team.guid.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_guid, team);
    let access = dir.write_access(&role("jit-role-dba")).await.unwrap();
    assert!(access.can_write_members);
    let admins = format!("CN=Domain Admins,CN=Users,{}", jitroles_ad_fixture::BASE_DN);
    let on_admins = dir.write_access(&admins).await.unwrap();
    assert!(!on_admins.can_write_members && on_admins.protected);
}

#[tokio::test]
async fn the_fixture_answers_direct_member_searches_as_ad_does() {
    let fixture = Fixture::start(Options::default()).await.unwrap();
    let dir = adapter(&fixture, false);
    let oncall = dir
        .group(&GroupRef::Dn(format!(
            "CN=dba-oncall,CN=Users,{}",
            jitroles_ad_fixture::BASE_DN
        )))
        .await
        .unwrap()
        .unwrap();
    let acl = [jitroles_domain::access::AclEntry {
        principal: oncall.sid.clone(),
        display_name: "dba-oncall".into(),
        kind: jitroles_domain::access::PrincipalKind::Group,
        effect: jitroles_domain::access::Effect::Allow,
    }];

    let reached = jitroles_domain::reach::reach(&dir, &acl, 100)
        .await
        .unwrap();

    let paths: Vec<String> = reached.people.iter().map(|r| r.path_text()).collect();
    assert_eq!(
        paths,
        ["dave ← dba-team ← dba-oncall", "svc-ci ← dba-oncall"],
        "erin is disabled"
    );
}
