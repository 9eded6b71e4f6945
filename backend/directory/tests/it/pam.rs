//! Enabling the PAM feature and the TTL probe, against `jitroles-ad-fixture` (no installable
//! directory implements the feature; see the fixture's docs).

use std::time::Duration;

use jitroles_ad_fixture::{
    ADMIN_DN, ADMIN_PASSWORD, Fixture, Options, ReAdd, SVC_DN, SVC_PASSWORD,
};
use jitroles_directory::{ActiveDirectory, DirectoryConfig, DirectoryError, Link};
use jitroles_domain::directory::{Directory, Mechanism};
use ldap3::{LdapConnAsync, Mod};

use crate::ttl::{adapter, role, user};

fn as_admin(url: &str) -> ActiveDirectory {
    let mut config = DirectoryConfig::new(url, ADMIN_DN, ADMIN_PASSWORD);
    config.allow_plain = true;
    ActiveDirectory::new(config).unwrap()
}

fn pam_off() -> Options {
    Options {
        pam_enabled: false,
        ..Options::default()
    }
}

#[tokio::test]
async fn enable_pam_turns_the_feature_on_in_a_2016_forest() {
    let fixture = Fixture::start(pam_off()).await.unwrap();
    let dir = as_admin(&fixture.url());
    assert!(!dir.capabilities().await.unwrap().pam_enabled);

    let enabled = dir.enable_pam().await.unwrap();

    assert!(!enabled.already);
    assert_eq!(enabled.dc, fixture.url(), "this DC is the naming master");
    let caps = dir.capabilities().await.unwrap();
    assert!(caps.pam_enabled);
    assert_eq!(caps.mechanism, Mechanism::Ttl);
}

#[tokio::test]
async fn enable_pam_goes_to_the_domain_naming_master() {
    let fixture = Fixture::start(Options {
        naming_master_elsewhere: true,
        ..pam_off()
    })
    .await
    .unwrap();
    let dir = as_admin(&fixture.url());
    let master = dir.naming_master().await.unwrap();
    assert_ne!(master, fixture.url());
    assert!(master.starts_with("ldap://127.0.0.2:"), "{master}");

    let enabled = dir.enable_pam().await.unwrap();

    assert_eq!(enabled.dc, master);
    assert_eq!(
        fixture.feature_requests(),
        vec![1],
        "sent to the second DC only"
    );
    assert!(dir.capabilities().await.unwrap().pam_enabled);
}

#[tokio::test]
async fn the_fixture_refuses_to_enable_the_feature_on_a_dc_that_is_not_the_master() {
    let fixture = Fixture::start(Options {
        naming_master_elsewhere: true,
        ..pam_off()
    })
    .await
    .unwrap();
    let (conn, mut ldap) = LdapConnAsync::new(&fixture.url()).await.unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(ADMIN_DN, ADMIN_PASSWORD).await.unwrap();
    let value = format!(
        "CN=Partitions,{}:ec43e873-cce8-4640-b4ab-07ffe4ab5bcd",
        jitroles_ad_fixture::CONFIG_DN
    );

    let result = ldap
        .modify(
            "",
            vec![Mod::Add(
                "enableOptionalFeature".to_owned(),
                std::collections::HashSet::from([value]),
            )],
        )
        .await
        .unwrap();

    assert_eq!(result.rc, 53, "unwillingToPerform: {}", result.text);
}

#[tokio::test]
async fn enable_pam_when_it_is_on_already_succeeds_and_says_so() {
    let fixture = Fixture::start(Options::default()).await.unwrap();

    let enabled = as_admin(&fixture.url()).enable_pam().await.unwrap();

    assert!(enabled.already, "attributeOrValueExists is success");
}

#[tokio::test]
async fn enable_pam_without_the_right_names_the_right() {
    let fixture = Fixture::start(pam_off()).await.unwrap();
    let mut config = DirectoryConfig::new(fixture.url(), SVC_DN, SVC_PASSWORD);
    config.allow_plain = true;

    let refused = ActiveDirectory::new(config)
        .unwrap()
        .enable_pam()
        .await
        .unwrap_err();

    assert!(
        matches!(&refused, DirectoryError::InsufficientRights { detail } if detail.contains("Manage-Optional-Features")),
        "{refused}"
    );
}

#[tokio::test]
async fn the_probe_reports_what_the_dc_does_in_each_re_add_mode() {
    for readd in ReAdd::ALL {
        let fixture = Fixture::start(Options {
            readd,
            ..Options::default()
        })
        .await
        .unwrap();
        let dir = adapter(&fixture, false);
        let bob = user(&dir, "bob").await;

        let report = dir
            .probe_ttl(&role("jit-role-web"), &bob.sid)
            .await
            .unwrap();

        let expected = if readd == ReAdd::ReplaceTtl {
            jitroles_directory::ReAdd::SetsTtl
        } else {
            jitroles_directory::ReAdd::NeedsRewrite
        };
        assert!(report.ttl_links_work, "{readd:?}: {report:?}");
        assert_eq!(report.readd, expected, "{readd:?}");
        assert_eq!(
            dir.observed_readd(),
            expected,
            "the adapter uses what it saw"
        );
        assert_eq!(report.over_permanent, Link::Permanent, "{readd:?}");
        assert!(report.cleaned_up && report.assumptions_hold(), "{readd:?}");
        let again = &report.steps[1];
        match readd {
            ReAdd::EntryExists => assert_eq!(again.answer, "entryAlreadyExists (68)"),
            ReAdd::KeepOldTtl => {
                assert_eq!(again.answer, "success");
                assert_eq!(again.link, Link::Ttl(Duration::from_secs(120)));
            }
            ReAdd::ReplaceTtl => assert_eq!(again.link, Link::Ttl(Duration::from_secs(300))),
        }
        assert!(fixture.links("jit-role-web").is_empty(), "{readd:?}");
    }
}

#[tokio::test]
async fn the_probe_finds_a_dc_that_does_not_keep_ttls() {
    let fixture = Fixture::start(Options {
        max_ttl: Some(60),
        ..Options::default()
    })
    .await
    .unwrap();
    let dir = adapter(&fixture, false);
    let bob = user(&dir, "bob").await;

    let report = dir
        .probe_ttl(&role("jit-role-web"), &bob.sid)
        .await
        .unwrap();

    assert!(!report.ttl_links_work);
    assert_eq!(report.readd, jitroles_directory::ReAdd::Unknown);
    assert!(!report.assumptions_hold());
    assert!(report.cleaned_up);
}

#[tokio::test]
async fn the_probe_needs_an_account_outside_the_group_and_the_feature() {
    let fixture = Fixture::start(Options::default()).await.unwrap();
    let dir = adapter(&fixture, false);
    let carol = user(&dir, "carol").await; // a permanent member of jit-role-dba

    let refused = dir
        .probe_ttl(&role("jit-role-dba"), &carol.sid)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("already"), "{refused}");
    assert_eq!(
        fixture.links("jit-role-dba"),
        vec![(carol.dn.clone(), None)]
    );

    let off = Fixture::start(pam_off()).await.unwrap();
    let dir = adapter(&off, false);
    let bob = user(&dir, "bob").await;
    let refused = dir
        .probe_ttl(&role("jit-role-web"), &bob.sid)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("PAM feature is not on"),
        "{refused}"
    );
}
