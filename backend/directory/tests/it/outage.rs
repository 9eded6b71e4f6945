//! The DC cut off mid-test through an in-test TCP proxy (the shared DC keeps running for the
//! tests beside this one), then restored: operations fail cleanly, then recover by themselves.

use std::time::Duration;

use jitroles_domain::{
    DomainError,
    directory::{Directory, UserLookup},
};

use crate::support::ad;

#[tokio::test]
async fn operations_fail_cleanly_while_the_dc_is_cut_off_and_recover_after() {
    let Some(ad) = ad() else { return };
    let (dir, proxy) = ad.behind_proxy().await;
    let scratch = ad.scratch_group("outage").await;
    let bob = ad.user("bob").await;
    let dave = UserLookup::SamAccountName("dave".into());
    assert!(dir.find_user(&dave).await.unwrap().is_some());

    proxy.cut().await;
    let started = std::time::Instant::now();
    let lookup = dir.find_user(&dave).await;
    let add = dir.add_member(&scratch.group.dn, &bob.sid, None).await;

    assert!(
        matches!(lookup, Err(DomainError::Unavailable(_))),
        "{lookup:?}"
    );
    assert!(matches!(add, Err(DomainError::Unavailable(_))), "{add:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "failed promptly: {:?}",
        started.elapsed()
    );
    assert!(
        ad.members_seen_by_admin(&scratch.group.dn).await.is_empty(),
        "nothing written"
    );

    proxy.restore();
    assert!(
        dir.find_user(&dave).await.unwrap().is_some(),
        "recovered without a restart"
    );
    assert_eq!(
        dir.add_member(&scratch.group.dn, &bob.sid, None)
            .await
            .unwrap(),
        jitroles_domain::directory::MembershipChange::Changed
    );
    scratch.delete().await;
}
