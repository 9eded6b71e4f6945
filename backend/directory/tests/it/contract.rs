//! The Directory port's contract (`jitroles_domain::testing::contract`) on the real adapter
//! against Samba, and on the in-memory fake the engine's unit tests use: both must answer
//! alike, or the engine's unit tests prove nothing.

use std::sync::Arc;

use jitroles_domain::{
    ManualClock,
    directory::{Directory, DirectoryGroup, DirectoryUser, GroupRef, Sid},
    testing::{FakeDirectory, contract},
};

use crate::support::ad;

#[tokio::test]
async fn samba_keeps_the_membership_contract() {
    let Some(ad) = ad() else { return };
    let scratch = ad.scratch_group("contract").await;
    let (bob, dave) = (ad.user("bob").await, ad.user("dave").await);
    contract::membership(
        &ad.directory(),
        &scratch.group.dn,
        &bob.sid,
        &bob.dn,
        &dave.sid,
    )
    .await;
    scratch.delete().await;
}

#[tokio::test]
async fn samba_refuses_writes_it_does_not_allow_and_finds_groups_by_guid() {
    let Some(ad) = ad() else { return };
    let scratch = ad.scratch_group("guid").await;
    let bob = ad.user("bob").await;
    contract::by_guid(&ad.directory(), &scratch.group, &bob.sid, &bob.dn).await;
    // dba-oncall is outside OU=JIT Roles, where the service account may not write
    let unwritable = ad.group_dn("dba-oncall").await;
    let missing = format!(
        "CN=no-such-group,{}",
        scratch.group.dn.split_once(',').unwrap().1
    );
    contract::refusals(&ad.directory(), &unwritable, &missing, &bob.sid).await;
    scratch.delete().await;
}

#[tokio::test]
async fn samba_cut_off_is_unavailable_for_reads_and_writes() {
    let Some(ad) = ad() else { return };
    let (dir, proxy) = ad.behind_proxy().await;
    let group = ad.group_dn("jit-role-dba").await;
    let bob = ad.user("bob").await;
    proxy.cut().await;
    contract::unavailable(&dir, &group, &bob.sid).await;
}

fn fake() -> (Arc<FakeDirectory>, String, [(Sid, String); 2]) {
    let clock = Arc::new(ManualClock::new(chrono::DateTime::UNIX_EPOCH));
    let dir = FakeDirectory::new(clock);
    let group = DirectoryGroup {
        sid: "S-1-5-21-1-2-3-2000".parse().unwrap(),
        guid: "g".into(),
        dn: "CN=contract,OU=JIT Roles,DC=example,DC=test".into(),
        name: "contract".into(),
        description: None,
        protected: false,
    };
    dir.add_group(group.clone(), true);
    let people = [1105, 1106].map(|rid| {
        let user = DirectoryUser {
            sid: format!("S-1-5-21-1-2-3-{rid}").parse().unwrap(),
            guid: format!("u{rid}"),
            dn: format!("CN=u{rid},CN=Users,DC=example,DC=test"),
            account_name: format!("u{rid}"),
            display_name: format!("U {rid}"),
            upn: None,
            mail: None,
            disabled: false,
        };
        dir.add_user(user.clone(), Vec::new());
        (user.sid, user.dn)
    });
    (dir, group.dn, people)
}

#[tokio::test]
async fn the_fake_keeps_the_membership_contract() {
    let (dir, group, [(a, a_dn), (b, _)]) = fake();
    contract::membership(dir.as_ref(), &group, &a, &a_dn, &b).await;
}

#[tokio::test]
async fn the_fake_refuses_writes_it_does_not_allow_and_finds_groups_by_guid() {
    let (dir, group, [(a, a_dn), _]) = fake();
    let written = dir
        .group(&GroupRef::Dn(group.clone()))
        .await
        .unwrap()
        .unwrap();
    contract::by_guid(dir.as_ref(), &written, &a, &a_dn).await;
    let locked = DirectoryGroup {
        sid: "S-1-5-21-1-2-3-2001".parse().unwrap(),
        guid: "locked".into(),
        dn: "CN=locked,OU=Groups,DC=example,DC=test".into(),
        name: "locked".into(),
        description: None,
        protected: false,
    };
    dir.add_group(locked.clone(), false);
    let missing = "CN=no-such-group,OU=JIT Roles,DC=example,DC=test";
    contract::refusals(dir.as_ref(), &locked.dn, missing, &a).await;
}

#[tokio::test]
async fn the_fake_cut_off_is_unavailable_for_reads_and_writes() {
    let (dir, group, [(a, _), _]) = fake();
    dir.set_unavailable(true);
    contract::unavailable(dir.as_ref(), &group, &a).await;
}
