//! Effective access of a rule whose ACL reaches 10,000 people through three levels of nesting,
//! against the Samba DC (`scripts/ad up`):
//!
//!     eval "$(scripts/ad up)" && cargo bench -p jitroles-server --bench access
//!
//! The forest, made under `OU=jitroles-bench-access` (as the domain administrator) and deleted
//! afterwards: 10,000 more users slow the shared test DC down enough to fail tests with short
//! directory timeouts (`ACCESS_BENCH_KEEP=1` keeps it for the next run, ~7 min saved):
//! `ea-top` ∋ 10 `ea-mid-*` ∋
//! 100 `ea-leaf-*` ∋ 100 users each (`ea00000` …). The users are added without a password
//! (`userAccountControl` 544: enabled, password not required), so no password is hashed: the
//! bench users never sign in, and they are neither in the test population nor in CI.
//!
//! Each sample is `effective::rule_reach` for the ACL "allow ea-top" through the product's
//! directory adapter as jit-svc over LDAPS (pool of 2 connections): the group walk (111
//! searches) and a token-groups read per person. The walk and the token-groups reads are also
//! timed alone, to say what dominates.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reads the clock

mod support;

use std::{collections::HashSet, time::Instant};

use jitroles_directory::ActiveDirectory;
use jitroles_domain::{
    access::{AclEntry, Effect, PrincipalKind},
    directory::{Directory, DirectoryObject, GroupRef, find_group},
    effective,
};

const SAMPLES: usize = 7;
const MIDS: usize = 10;
const LEAVES_PER_MID: usize = 10;
const USERS_PER_LEAF: usize = 100;
/// Adds in flight while the forest is made.
const ADDS_AT_ONCE: usize = 8;

fn ou() -> String {
    format!("OU=jitroles-bench-access,{}", support::env("AD_BASE_DN"))
}

fn group_dn(name: &str) -> String {
    format!("CN={name},{}", ou())
}

fn user_name(i: usize) -> String {
    format!("ea{i:05}")
}

async fn add(ldap: &mut ldap3::Ldap, dn: &str, attrs: Vec<(&str, HashSet<&str>)>) {
    let result = ldap.add(dn, attrs).await.unwrap();
    // 68: already there (an earlier run)
    assert!(result.rc == 0 || result.rc == 68, "adding {dn}: {result:?}");
}

/// The bench forest, made once: groups, then users, then each group's members in one modify.
async fn make_forest() {
    let mut admin =
        support::ldaps(&support::env("AD_ADMIN_DN"), &support::env("AD_ADMIN_PASS")).await;
    let done = admin
        .search(
            &ou(),
            ldap3::Scope::Base,
            "(description=complete)",
            vec!["description"],
        )
        .await;
    if done.is_ok_and(|r| r.0.len() == 1) {
        println!("the bench forest is there from an earlier run");
        return;
    }
    let started = Instant::now();
    add(
        &mut admin,
        &ou(),
        vec![("objectClass", HashSet::from(["organizationalUnit"]))],
    )
    .await;
    let group = |name: String| async move {
        let mut admin =
            support::ldaps(&support::env("AD_ADMIN_DN"), &support::env("AD_ADMIN_PASS")).await;
        add(
            &mut admin,
            &group_dn(&name),
            vec![
                ("objectClass", HashSet::from(["group"])),
                ("sAMAccountName", HashSet::from([name.as_str()])),
                ("groupType", HashSet::from(["-2147483646"])),
            ],
        )
        .await;
    };
    group("ea-top".into()).await;
    for m in 0..MIDS {
        group(format!("ea-mid-{m}")).await;
        for l in 0..LEAVES_PER_MID {
            group(format!("ea-leaf-{m}-{l}")).await;
        }
    }
    let users = MIDS * LEAVES_PER_MID * USERS_PER_LEAF;
    let mut workers = Vec::new();
    for w in 0..ADDS_AT_ONCE {
        workers.push(tokio::spawn(async move {
            let mut admin =
                support::ldaps(&support::env("AD_ADMIN_DN"), &support::env("AD_ADMIN_PASS")).await;
            for i in (w..users).step_by(ADDS_AT_ONCE) {
                let name = user_name(i);
                add(
                    &mut admin,
                    &format!("CN={name},{}", ou()),
                    vec![
                        ("objectClass", HashSet::from(["user"])),
                        ("sAMAccountName", HashSet::from([name.as_str()])),
                        // enabled, no password required: nothing to hash
                        ("userAccountControl", HashSet::from(["544"])),
                    ],
                )
                .await;
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    println!(
        "{users} users added in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let link = |group: String, members: Vec<String>| {
        let mut admin = admin.clone();
        async move {
            let members: HashSet<&str> = members.iter().map(String::as_str).collect();
            let result = admin
                .modify(
                    &group_dn(&group),
                    vec![ldap3::Mod::Replace("member", members)],
                )
                .await
                .unwrap();
            assert_eq!(result.rc, 0, "members of {group}: {result:?}");
        }
    };
    let mut mids = Vec::new();
    for m in 0..MIDS {
        mids.push(group_dn(&format!("ea-mid-{m}")));
        let mut leaves = Vec::new();
        for l in 0..LEAVES_PER_MID {
            leaves.push(group_dn(&format!("ea-leaf-{m}-{l}")));
            let first = (m * LEAVES_PER_MID + l) * USERS_PER_LEAF;
            let people = (first..first + USERS_PER_LEAF)
                .map(|i| format!("CN={},{}", user_name(i), ou()))
                .collect();
            link(format!("ea-leaf-{m}-{l}"), people).await;
        }
        link(format!("ea-mid-{m}"), leaves).await;
    }
    link("ea-top".into(), mids).await;
    let result = admin
        .modify(
            &ou(),
            vec![ldap3::Mod::Replace(
                "description",
                HashSet::from(["complete"]),
            )],
        )
        .await
        .unwrap();
    assert_eq!(result.rc, 0);
    println!(
        "bench forest made in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Deletes the OU and everything in it (tree delete control).
async fn drop_forest() {
    let mut admin =
        support::ldaps(&support::env("AD_ADMIN_DN"), &support::env("AD_ADMIN_PASS")).await;
    let started = Instant::now();
    let result = admin
        .with_controls(ldap3::controls::RawControl {
            ctype: "1.2.840.113556.1.4.805".into(),
            crit: true,
            val: None,
        })
        .delete(&ou())
        .await
        .unwrap();
    println!(
        "bench forest dropped in {:.1} s: {result:?}",
        started.elapsed().as_secs_f64()
    );
}

fn report(what: &str, mut seconds: Vec<f64>) {
    let (p50, p99, max) = support::percentiles(&mut seconds);
    println!(
        "{what} ({} samples): p50 {:.3} s, p90/p99 {:.3} s, max {:.3} s",
        seconds.len(),
        p50,
        p99,
        max
    );
}

#[tokio::main]
async fn main() {
    make_forest().await;
    let dir = tempfile::tempdir().unwrap();
    let config = support::config(dir.path(), None);
    let ad = ActiveDirectory::new(config.directory.as_ref().unwrap().adapter_config()).unwrap();
    let top = find_group(&ad, "ea-top").await.unwrap().unwrap();
    let acl = [AclEntry {
        principal: top.sid.clone(),
        display_name: top.name.clone(),
        kind: PrincipalKind::Group,
        effect: Effect::Allow,
    }];

    // warm-up: connections, the rootDSE, the DC's caches
    let warm = effective::rule_reach(&ad, &acl).await.unwrap();
    assert_eq!(warm.people.len(), MIDS * LEAVES_PER_MID * USERS_PER_LEAF);
    assert!(!warm.truncated);
    let sample = &warm.people[0];
    println!("{} people, e.g. {}", warm.people.len(), sample.path_text());

    let mut whole = Vec::new();
    for _ in 0..SAMPLES {
        let t = Instant::now();
        let reach = effective::rule_reach(&ad, &acl).await.unwrap();
        whole.push(t.elapsed().as_secs_f64());
        assert_eq!(reach.people.len(), warm.people.len());
    }
    report("effective access, whole", whole);

    // the parts alone: the walk (a search per group), then the token-groups reads
    let mut walks = Vec::new();
    let mut reads = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let mut queue = vec![top.clone()];
        let mut users = Vec::new();
        while let Some(g) = queue.pop() {
            for o in ad
                .direct_members(&g, effective::MAX_RULE_REACH)
                .await
                .unwrap()
                .objects
            {
                match o {
                    DirectoryObject::User(u) => users.push(u),
                    DirectoryObject::Group(g) => queue.push(g),
                }
            }
        }
        walks.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for u in &users {
            ad.token_groups(&u.dn).await.unwrap();
        }
        reads.push(t.elapsed().as_secs_f64());
    }
    report("  the walk alone (111 searches)", walks);
    report("  10,000 token-groups reads one after another", reads);
    let _ = ad.group(&GroupRef::Sid(top.sid)).await;

    if !std::env::var("ACCESS_BENCH_KEEP").is_ok_and(|v| v == "1") {
        drop_forest().await;
    }
}
