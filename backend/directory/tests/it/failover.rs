//! Several domain controllers (`DirectoryConfig::urls`): two proxies in front of the one test
//! DC (Samba over LDAPS through TCP proxies; the TTL fixture through LDAP fault proxies) stand
//! for two DCs. Cutting or hanging one proves failover, the skip and retry of a DC, and
//! reconnection; it does not prove anything about replication between real DCs (both proxies
//! reach the same directory, so a write made through one is at once visible through the other).

use std::time::{Duration, Instant};

use jitroles_ad_fixture::{
    Fixture, Options, SVC_DN, SVC_PASSWORD,
    fault_proxy::{AfterDrop, LdapFaultProxy, Matcher},
    proxy::Proxy,
};
use jitroles_directory::{ActiveDirectory, DirectoryConfig};
use jitroles_domain::{
    DomainError,
    directory::{Directory, MembershipChange, UserLookup},
};

use crate::{
    support::{Ad, ad},
    ttl::{role, user},
};

/// Two TCP proxies in front of the test DC, and a configuration naming both, first first.
async fn two_proxied_dcs(ad: &Ad) -> (Proxy, Proxy, DirectoryConfig) {
    let upstream = ad.ldaps_url.trim_start_matches("ldaps://").parse().unwrap();
    let (first, second) = (
        Proxy::start(upstream).await.unwrap(),
        Proxy::start(upstream).await.unwrap(),
    );
    let mut config = ad.config();
    // the test CA's certificate names 127.0.0.1, which both proxies listen on
    config.urls = [&first, &second]
        .iter()
        .map(|p| format!("ldaps://{}", p.addr()))
        .collect();
    (first, second, config)
}

fn dave() -> UserLookup {
    UserLookup::SamAccountName("dave".into())
}

#[tokio::test]
async fn reads_and_writes_go_on_through_the_second_dc_and_the_first_is_used_again_after_its_skip() {
    let Some(ad) = ad() else { return };
    let (first, second, mut config) = two_proxied_dcs(&ad).await;
    config.timeout = Duration::from_secs(2);
    config.retries = 1;
    config.skip_for = Duration::from_millis(500);
    let dir = ActiveDirectory::new(config).unwrap();
    let scratch = ad.scratch_group("failover").await;
    let bob = ad.user("bob").await;
    assert!(dir.find_user(&dave()).await.unwrap().is_some());
    assert_eq!(second.accepted(), 0, "the first DC is preferred");

    first.cut().await;
    let started = Instant::now();
    assert!(dir.find_user(&dave()).await.unwrap().is_some(), "a read");
    assert_eq!(
        dir.add_member(&scratch.group.dn, &bob.sid, None)
            .await
            .unwrap(),
        MembershipChange::Changed,
        "a write"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "failed over at once (the cut DC refuses): {:?}",
        started.elapsed()
    );
    assert_eq!(
        ad.members_seen_by_admin(&scratch.group.dn).await,
        vec![bob.dn.clone()]
    );
    let states = dir.controllers();
    assert!(!states[0].up && states[1].up, "{states:?}");
    assert!(states[0].last_error.is_some() && states[0].retry_in.is_some());

    // skipped while it is down: nothing more is sent its way until its retry time
    let tried = first.accepted();
    for _ in 0..3 {
        dir.find_user(&dave()).await.unwrap();
    }
    assert_eq!(first.accepted(), tried, "the cut DC was skipped");

    first.restore();
    tokio::time::sleep(Duration::from_millis(600)).await; // its skip (500 ms) is over
    assert_eq!(
        dir.remove_member(&scratch.group.dn, &bob.sid)
            .await
            .unwrap(),
        MembershipChange::Changed
    );
    assert!(first.accepted() > tried, "the first DC was tried again");
    assert!(
        dir.controllers().iter().all(|c| c.up),
        "{:?}",
        dir.controllers()
    );
    scratch.delete().await;
}

#[tokio::test]
async fn with_every_dc_cut_operations_fail_as_unavailable_and_recover_when_one_returns() {
    let Some(ad) = ad() else { return };
    let (first, second, mut config) = two_proxied_dcs(&ad).await;
    config.timeout = Duration::from_secs(2);
    let dir = ActiveDirectory::new(config).unwrap();
    first.cut().await;
    second.cut().await;
    let lookup = dir.find_user(&dave()).await;
    assert!(
        matches!(lookup, Err(DomainError::Unavailable(_))),
        "{lookup:?}"
    );
    assert!(dir.controllers().iter().all(|c| !c.up));
    // both are skipped, but with none answering they are asked all the same
    second.restore();
    assert!(dir.find_user(&dave()).await.unwrap().is_some());
    assert!(dir.controllers()[1].up);
}

/// Two DCs in front of the TTL fixture, each behind an LDAP fault proxy that records what it
/// forwarded; a short timeout, so a hung DC shows quickly.
async fn two_dcs(fixture: &Fixture) -> (ActiveDirectory, LdapFaultProxy, LdapFaultProxy) {
    let upstream = fixture.url().trim_start_matches("ldap://").parse().unwrap();
    let first = LdapFaultProxy::start(upstream).await.unwrap();
    let second = LdapFaultProxy::start(upstream).await.unwrap();
    let mut config = DirectoryConfig::new(first.url(), SVC_DN, SVC_PASSWORD);
    config.urls.push(second.url());
    config.allow_plain = true;
    config.timeout = Duration::from_secs(2);
    config.retries = 1;
    (ActiveDirectory::new(config).unwrap(), first, second)
}

#[tokio::test]
async fn a_hung_dc_costs_an_operation_its_share_of_the_timeout_and_the_next_dc_answers() {
    let fixture = Fixture::start(Options::default()).await.unwrap();
    let (dir, first, second) = two_dcs(&fixture).await;
    first.hang();
    let started = Instant::now();
    assert!(user(&dir, "dave").await.dn.starts_with("CN=Dave"));
    let took = started.elapsed();
    // 2 s for the whole operation, shared by two DCs: the hung one gets about 1 s
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(!second.forwarded(&Matcher::Search).is_empty());
    first.release();
}

#[tokio::test]
async fn a_ttl_write_and_the_reads_that_confirm_it_go_to_the_dc_of_the_first_answer() {
    let fixture = Fixture::start(Options::default()).await.unwrap();
    let (dir, first, second) = two_dcs(&fixture).await;
    let dave = user(&dir, "dave").await; // the rootDSE and the PAM check are cached now
    let group = role("jit-role-dba");
    let forwarded_before = first.forwarded(&Matcher::Any).len();

    // the sequence's first read loses its answer on the first DC: it fails over, and from
    // then on every read and write of the sequence goes to the second
    first.drop_reply_once(Matcher::Search, AfterDrop::Close);
    let change = dir
        .add_member(&group, &dave.sid, Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(change, MembershipChange::Changed);
    let on_first: Vec<_> = first.forwarded(&Matcher::Any)[forwarded_before..].to_vec();
    assert!(
        on_first
            .iter()
            .all(|r| r.kind != jitroles_ad_fixture::fault_proxy::Kind::Modify),
        "{on_first:?}"
    );
    let modifies = second.forwarded(&Matcher::Modify);
    assert_eq!(modifies.len(), 1, "{modifies:?}");
    // read before (the person, their link) and read back after, all on the second DC
    let searches = second.forwarded(&Matcher::Search);
    assert!(searches.len() >= 3, "{searches:?}");
    let links = fixture.links("jit-role-dba");
    assert!(
        links
            .iter()
            .any(|(dn, ttl)| dn.eq_ignore_ascii_case(&dave.dn) && ttl.is_some_and(|t| t > 3500)),
        "{links:?}"
    );
}

#[tokio::test]
async fn a_write_that_got_no_answer_is_not_sent_again_and_its_undo_goes_to_the_same_dc() {
    let fixture = Fixture::start(Options {
        pam_enabled: false,
        ..Options::default()
    })
    .await
    .unwrap();
    let (dir, first, second) = two_dcs(&fixture).await;
    let dave = user(&dir, "dave").await;
    let group = role("jit-role-dba");

    first.drop_reply_once(Matcher::Modify, AfterDrop::Close);
    let lost = dir.add_member(&group, &dave.sid, None).await;
    assert!(matches!(lost, Err(DomainError::Unavailable(_))), "{lost:?}");
    assert!(
        second.forwarded(&Matcher::Modify).is_empty(),
        "sent at most once"
    );
    assert!(!dir.controllers()[0].up, "the first DC is skipped now");
    // reads go to the second DC; the undo of the lost write goes where the write went
    user(&dir, "carol").await;
    assert!(!second.forwarded(&Matcher::Search).is_empty());
    assert_eq!(
        dir.remove_member(&group, &dave.sid).await.unwrap(),
        MembershipChange::Changed,
        "the lost add had landed; the undo found it"
    );
    assert_eq!(first.forwarded(&Matcher::Modify).len(), 2);
    assert!(second.forwarded(&Matcher::Modify).is_empty());
}
