//! The contract every [`Directory`] keeps, run against the real adapter (on Samba) and
//! against [`FakeDirectory`], so the fake cannot drift from what the engine meets in AD.
//! Each check panics with what broke it.

use super::*;

fn expect<T: PartialEq + std::fmt::Debug>(got: Result<T, DomainError>, want: T, what: &str) {
    match got {
        Ok(got) => assert_eq!(got, want, "{what}"),
        Err(e) => panic!("{what}: {e:?}"),
    }
}

async fn dns(dir: &dyn Directory, group_dn: &str) -> Vec<String> {
    let mut dns: Vec<String> = match dir.members(group_dn).await {
        Ok(m) => m.into_iter().map(|m| m.dn.to_lowercase()).collect(),
        Err(e) => panic!("members: {e:?}"),
    };
    dns.sort();
    dns
}

/// Membership writes are idempotent and say whether they changed anything: a duplicate
/// add is "already so" (AD's 68), a removal of a member already removed (53) or of a
/// never-member (16) too; a batch removal answers per member, in order. `group_dn` is an
/// empty group the service account may write; `a` and `b` are users (`a_dn` is `a`'s DN).
pub async fn membership(dir: &dyn Directory, group_dn: &str, a: &Sid, a_dn: &str, b: &Sid) {
    assert!(
        dns(dir, group_dn).await.is_empty(),
        "the group starts empty"
    );
    use MembershipChange::{AlreadySo, Changed};
    expect(
        dir.add_member(group_dn, a, None).await,
        Changed,
        "first add",
    );
    expect(
        dir.add_member(group_dn, a, None).await,
        AlreadySo,
        "second add (68)",
    );
    assert_eq!(
        dns(dir, group_dn).await,
        [a_dn.to_lowercase()],
        "members after the add"
    );
    expect(
        dir.remove_member(group_dn, a).await,
        Changed,
        "first removal",
    );
    expect(
        dir.remove_member(group_dn, a).await,
        AlreadySo,
        "second removal (53)",
    );
    expect(
        dir.remove_member(group_dn, b).await,
        AlreadySo,
        "never a member (16)",
    );
    assert!(
        dns(dir, group_dn).await.is_empty(),
        "empty after the removals"
    );
    for who in [a, b] {
        expect(
            dir.add_member(group_dn, who, None).await,
            Changed,
            "add for a batch",
        );
    }
    expect(
        dir.remove_members(group_dn, &[a.clone(), b.clone()]).await,
        vec![Changed, Changed],
        "a batch of two members",
    );
    expect(
        dir.add_member(group_dn, b, None).await,
        Changed,
        "add b again",
    );
    expect(
        dir.remove_members(group_dn, &[a.clone(), b.clone()]).await,
        vec![AlreadySo, Changed],
        "a batch with one already gone",
    );
    assert!(dns(dir, group_dn).await.is_empty(), "empty at the end");
}

/// A directory that does not answer says so as `Unavailable`, for reads and writes alike.
pub async fn unavailable(dir: &dyn Directory, group_dn: &str, member: &Sid) {
    let lookup = dir
        .find_user(&UserLookup::SamAccountName("dave".into()))
        .await;
    assert!(
        matches!(lookup, Err(DomainError::Unavailable(_))),
        "a lookup: {lookup:?}"
    );
    let add = dir.add_member(group_dn, member, None).await;
    assert!(
        matches!(add, Err(DomainError::Unavailable(_))),
        "an add: {add:?}"
    );
    let members = dir.members(group_dn).await;
    assert!(
        matches!(members, Err(DomainError::Unavailable(_))),
        "a member read: {members:?}"
    );
}

/// A write the directory refuses says why, and wrote nothing: on a group the service account
/// may not write (`unwritable_dn`) it is `FailedPrecondition` (AD's 50), on a group that is not
/// there (`missing_dn`) `NotFound` (32).
pub async fn refusals(dir: &dyn Directory, unwritable_dn: &str, missing_dn: &str, member: &Sid) {
    let before = dns(dir, unwritable_dn).await;
    let add = dir.add_member(unwritable_dn, member, None).await;
    assert!(
        matches!(add, Err(DomainError::FailedPrecondition(_))),
        "an add to a group the service account may not write: {add:?}"
    );
    assert_eq!(dns(dir, unwritable_dn).await, before, "nothing was written");
    let remove = dir.remove_member(unwritable_dn, member).await;
    assert!(
        matches!(remove, Err(DomainError::FailedPrecondition(_))),
        "a removal from it: {remove:?}"
    );
    let missing = dir.add_member(missing_dn, member, None).await;
    assert!(
        matches!(missing, Err(DomainError::NotFound { .. })),
        "an add to a group that is not there: {missing:?}"
    );
}

/// A group is read and written by its GUID (`<GUID=…>`) as by its DN, so a rename or move
/// changes nothing for jitroles. `group` is an empty group the service account may write.
pub async fn by_guid(dir: &dyn Directory, group: &DirectoryGroup, member: &Sid, member_dn: &str) {
    let address = format!("<GUID={}>", group.guid);
    expect(
        dir.add_member(&address, member, None).await,
        MembershipChange::Changed,
        "an add by GUID",
    );
    assert_eq!(
        dns(dir, &address).await,
        [member_dn.to_lowercase()],
        "the members read by GUID"
    );
    assert_eq!(
        dns(dir, &group.dn).await,
        [member_dn.to_lowercase()],
        "the same group by DN"
    );
    expect(
        dir.remove_member(&address, member).await,
        MembershipChange::Changed,
        "a removal by GUID",
    );
    assert!(dns(dir, &group.dn).await.is_empty(), "removed");
}
