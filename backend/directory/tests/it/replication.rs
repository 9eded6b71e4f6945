//! When members were added, for the review after a restore: from `msDS-ReplValueMetaData`
//! where the DC constructs it (the fixture, following MS-ADTS), and `None` from Samba, which
//! does not.

use chrono::{DateTime, Utc};
use jitroles_ad_fixture::{Fixture, METADATA_EPOCH, Options};
use jitroles_domain::directory::Directory;

use crate::{
    support::ad,
    ttl::{adapter, role, user},
};

#[tokio::test]
async fn each_member_comes_with_when_the_dc_wrote_it() {
    let fixture = Fixture::start(Options::default()).await.unwrap();
    let dir = adapter(&fixture, true);
    let group = role("jit-role-dba");
    let (dave, bob) = (user(&dir, "dave").await, user(&dir, "bob").await);
    dir.add_member(&group, &dave.sid, None).await.unwrap();
    fixture.advance(3_600);
    dir.add_member(&group, &bob.sid, None).await.unwrap();

    let times = dir.member_added_times(&group).await.unwrap().unwrap();

    let at = |second: u64| DateTime::<Utc>::from_timestamp((METADATA_EPOCH + second) as i64, 0);
    let of = |dn: &str| {
        times
            .iter()
            .find(|(d, _)| d.eq_ignore_ascii_case(dn))
            .map(|(_, t)| *t)
    };
    assert_eq!(of(&dave.dn), at(0), "{times:?}");
    assert_eq!(of(&bob.dn), at(3_600), "{times:?}");
    let members = dir.members(&group).await.unwrap();
    assert_eq!(times.len(), members.len(), "one time per present member");
}

#[tokio::test]
async fn samba_gives_no_member_times_and_says_so() {
    let Some(ad) = ad() else {
        return;
    };
    let group = ad.scratch_group("replmeta").await;
    let dir = ad.directory();
    let dave = ad.user("dave").await;
    dir.add_member(&group.group.dn, &dave.sid, None)
        .await
        .unwrap();

    assert_eq!(dir.member_added_times(&group.group.dn).await.unwrap(), None);
}
