//! The LDAP-aware fault proxy (`jitroles_ad_fixture::fault_proxy`) in front of the test DC over
//! plain LDAP: what passes, what a held or dropped reply does to a write Samba applies, and
//! how the adapter treats a write whose reply never came.

use std::{collections::HashSet, time::Duration};

use jitroles_ad_fixture::fault_proxy::{AfterDrop, LdapFaultProxy, Matcher};
use jitroles_directory::{ActiveDirectory, DirectoryConfig};
use jitroles_domain::{
    DomainError,
    directory::{Directory, UserLookup},
};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Mod, Scope, SearchEntry};

use crate::support::{Ad, ad};

async fn proxy(ad: &Ad) -> LdapFaultProxy {
    let upstream = ad.url.trim_start_matches("ldap://").parse().unwrap();
    LdapFaultProxy::start(upstream).await.unwrap()
}

/// The administrator's connection through the proxy (`timeout` for connecting and binding;
/// ldap3's timeout holds for the next operation only).
async fn admin_through(ad: &Ad, proxy: &LdapFaultProxy, timeout: Duration) -> Ldap {
    let settings = LdapConnSettings::new().set_conn_timeout(timeout);
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &proxy.url())
        .await
        .unwrap();
    ldap3::drive!(conn);
    ldap.with_timeout(timeout);
    ldap.simple_bind(&ad.admin_dn, &ad.admin_pass)
        .await
        .unwrap()
        .success()
        .unwrap();
    ldap
}

/// Adds a member, waiting at most `timeout` for the answer.
async fn add_member(
    ldap: &mut Ldap,
    group_dn: &str,
    member_dn: &str,
    timeout: Duration,
) -> ldap3::result::Result<()> {
    ldap.with_timeout(timeout)
        .modify(
            group_dn,
            vec![Mod::Add("member", HashSet::from([member_dn]))],
        )
        .await?
        .success()
        .map(|_| ())
}

async fn is_member(ad: &Ad, group_dn: &str, member_dn: &str) -> bool {
    ad.members_seen_by_admin(group_dn)
        .await
        .iter()
        .any(|m| m.eq_ignore_ascii_case(member_dn))
}

#[tokio::test]
async fn binds_and_searches_pass_through_unchanged() {
    let Some(ad) = ad() else { return };
    let proxy = proxy(&ad).await;
    let mut ldap = admin_through(&ad, &proxy, Duration::from_secs(5)).await;
    let (entries, _) = ldap
        .search(
            &ad.base_dn,
            Scope::Subtree,
            "(sAMAccountName=dave)",
            vec!["sAMAccountName", "objectSid"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let dave = SearchEntry::construct(entries.into_iter().next().unwrap());
    assert_eq!(dave.attrs["sAMAccountName"], ["dave"]);
    assert_eq!(
        dave.bin_attrs["objectSid"][0].len(),
        28,
        "binary values intact"
    );
    assert_eq!(proxy.forwarded(&Matcher::Bind).len(), 1);
    let searches = proxy.forwarded(&Matcher::Search);
    assert_eq!(searches.len(), 1);
    assert!(searches[0].dn.eq_ignore_ascii_case(&ad.base_dn));
}

#[tokio::test]
async fn a_held_modify_is_applied_and_answered_only_on_release() {
    let Some(ad) = ad() else { return };
    let scratch = ad.scratch_group("held").await;
    let bob = ad.user("bob").await;
    let proxy = proxy(&ad).await;
    let mut ldap = admin_through(&ad, &proxy, Duration::from_secs(30)).await;
    let cn = scratch.group.name.clone();
    proxy.hold_replies(Matcher::ModifyOf(cn.clone()));

    let (group_dn, bob_dn) = (scratch.group.dn.clone(), bob.dn.clone());
    let mut writer = ldap.clone();
    let mut modify = tokio::spawn(async move {
        add_member(&mut writer, &group_dn, &bob_dn, Duration::from_secs(30)).await
    });
    let started = std::time::Instant::now();
    while !is_member(&ad, &scratch.group.dn, &bob.dn).await {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "Samba applied it"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // other operations on the same connection are answered meanwhile
    ldap.search(&ad.base_dn, Scope::Base, "(objectClass=*)", vec!["dn"])
        .await
        .unwrap()
        .success()
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut modify)
            .await
            .is_err(),
        "the reply is held"
    );
    assert_eq!(proxy.forwarded(&Matcher::ModifyOf(cn)).len(), 1);

    proxy.release();
    let answered = tokio::time::timeout(Duration::from_secs(5), modify).await;
    answered.unwrap().unwrap().unwrap();
    scratch.delete().await;
}

#[tokio::test]
async fn a_dropped_reply_leaves_the_change_applied_and_the_connection_as_chosen() {
    let Some(ad) = ad() else { return };
    let scratch = ad.scratch_group("dropped").await;
    let (bob, dave) = (ad.user("bob").await, ad.user("dave").await);
    let proxy = proxy(&ad).await;
    let timeout = Duration::from_secs(1);

    // closed: the client learns at once that the connection is gone, not whether it worked
    let mut ldap = admin_through(&ad, &proxy, timeout).await;
    proxy.drop_reply_once(Matcher::Modify, AfterDrop::Close);
    let lost = add_member(&mut ldap, &scratch.group.dn, &bob.dn, timeout).await;
    assert!(lost.is_err(), "{lost:?}");
    assert!(is_member(&ad, &scratch.group.dn, &bob.dn).await);

    // silent: the client waits for its timeout; nothing more comes on that connection
    let mut ldap = admin_through(&ad, &proxy, timeout).await;
    proxy.drop_reply_once(Matcher::Modify, AfterDrop::Silent);
    let lost = add_member(&mut ldap, &scratch.group.dn, &dave.dn, timeout).await;
    assert!(
        matches!(lost, Err(ldap3::LdapError::Timeout { .. })),
        "{lost:?}"
    );
    assert!(is_member(&ad, &scratch.group.dn, &dave.dn).await);
    let after = ldap
        .with_timeout(timeout)
        .search(&ad.base_dn, Scope::Base, "(objectClass=*)", vec!["dn"])
        .await;
    assert!(after.is_err(), "the connection stays silent: {after:?}");

    // continue: only that one reply is lost
    let mut ldap = admin_through(&ad, &proxy, timeout).await;
    proxy.drop_reply_once(Matcher::Search, AfterDrop::Continue);
    let lost = ldap
        .with_timeout(timeout)
        .search(&ad.base_dn, Scope::Base, "(objectClass=*)", vec!["dn"])
        .await;
    assert!(
        matches!(lost, Err(ldap3::LdapError::Timeout { .. })),
        "{lost:?}"
    );
    ldap.with_timeout(timeout)
        .search(&ad.base_dn, Scope::Base, "(objectClass=*)", vec!["dn"])
        .await
        .unwrap()
        .success()
        .unwrap();
    scratch.delete().await;
}

/// The adapter over plain LDAP through the proxy as the service account, `timeout` per call.
fn adapter_through(ad: &Ad, proxy: &LdapFaultProxy, timeout: Duration) -> ActiveDirectory {
    let mut config = DirectoryConfig::new(proxy.url(), &ad.svc_dn, &ad.svc_pass);
    config.allow_plain = true;
    config.timeout = timeout;
    config.retries = 2;
    ActiveDirectory::new(config).unwrap()
}

#[tokio::test]
async fn a_write_whose_reply_never_came_is_not_sent_again() {
    let Some(ad) = ad() else { return };
    let scratch = ad.scratch_group("no-retry").await;
    let bob = ad.user("bob").await;
    let proxy = proxy(&ad).await;
    let dir = adapter_through(&ad, &proxy, Duration::from_secs(1));
    let dave = UserLookup::SamAccountName("dave".into());
    assert!(dir.find_user(&dave).await.unwrap().is_some(), "bound");

    proxy.hold_replies(Matcher::Modify);
    let started = std::time::Instant::now();
    let add = dir.add_member(&scratch.group.dn, &bob.sid, None).await;
    assert!(matches!(add, Err(DomainError::Unavailable(_))), "{add:?}");
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "one timeout, no second attempt: {:?}",
        started.elapsed()
    );
    // a retry could find the first attempt applied and take the member for a permanent one
    assert_eq!(proxy.forwarded(&Matcher::Modify).len(), 1, "sent once");
    assert!(is_member(&ad, &scratch.group.dn, &bob.dn).await, "applied");

    // reads are still tried again on a fresh connection
    proxy.release();
    proxy.drop_reply_once(Matcher::Search, AfterDrop::Close);
    assert!(dir.find_user(&dave).await.unwrap().is_some(), "read again");
    scratch.delete().await;
}

#[tokio::test]
async fn a_hung_directory_answers_nothing_until_released() {
    let Some(ad) = ad() else { return };
    let proxy = proxy(&ad).await;
    let mut ldap = admin_through(&ad, &proxy, Duration::from_secs(30)).await;
    proxy.hang();
    let mut reader = ldap.clone();
    let base = ad.base_dn.clone();
    let mut search = tokio::spawn(async move {
        reader
            .search(&base, Scope::Base, "(objectClass=*)", vec!["dn"])
            .await
            .and_then(|r| r.success())
            .map(|(entries, _)| entries.len())
    });
    // a new connection is accepted, and its bind is not answered either
    let fresh = tokio::time::timeout(
        Duration::from_millis(700),
        admin_through(&ad, &proxy, Duration::from_secs(30)),
    )
    .await;
    assert!(fresh.is_err(), "the bind hangs");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut search)
            .await
            .is_err(),
        "nothing answered"
    );
    assert!(
        proxy.forwarded(&Matcher::Search).is_empty(),
        "the requests wait unread"
    );
    proxy.release();
    let found = tokio::time::timeout(Duration::from_secs(5), search).await;
    assert_eq!(found.unwrap().unwrap().unwrap(), 1);
    ldap.search(&ad.base_dn, Scope::Base, "(objectClass=*)", vec!["dn"])
        .await
        .unwrap()
        .success()
        .unwrap();
}
