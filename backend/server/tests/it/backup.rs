//! `jitroles backup` while the server works, and a restore from it, with the real binary, the
//! test DC and the provider: the snapshot holds every grant it should, the restored server
//! does the removals that fell due meanwhile at start-up, and the members a restore cannot
//! explain are listed for review until an admin says they were reviewed.

use std::{
    collections::BTreeSet,
    process::Output,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use jitroles_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, role_service_client::RoleServiceClient,
};
use tonic::transport::Channel;

use crate::{
    crash::{Server, configured, start},
    oidc::provider,
    samba::Samba,
    stack::{as_, group_sid, oncall_rule, save_spec, secs},
};

fn jitroles(dir: &std::path::Path, op: &crate::oidc::Provider, args: &[&str]) -> Output {
    configured(dir, 0, op).args(args).output().unwrap()
}

async fn request(channel: Channel, op: &crate::oidc::Provider, who: &str, rule: &str, s: i64) {
    RoleServiceClient::new(channel)
        .request_role(as_(
            op,
            who,
            pb::RequestRoleRequest {
                rule_id: rule.into(),
                duration: Some(secs(s)),
                justification: "backup test".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("{who}'s request: {e}"));
}

/// Every grant, as (id, rule, person, state), as alice lists them.
async fn all_grants(channel: Channel, op: &crate::oidc::Provider) -> BTreeSet<(String, String)> {
    let mut admin = AdminServiceClient::new(channel);
    let (mut all, mut token) = (BTreeSet::new(), String::new());
    loop {
        let page = admin
            .list_grants(as_(
                op,
                "alice",
                pb::ListGrantsRequest {
                    include_ended: true,
                    page_size: 200,
                    page_token: token,
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        all.extend(
            page.grants
                .into_iter()
                .map(|g| (g.id.clone(), g.subject_account.clone())),
        );
        if page.next_page_token.is_empty() {
            return all;
        }
        token = page.next_page_token;
    }
}

async fn directory_status(channel: Channel, op: &crate::oidc::Provider) -> pb::DirectoryStatus {
    AdminServiceClient::new(channel)
        .get_directory_status(as_(op, "alice", pb::GetDirectoryStatusRequest {}))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn a_backup_taken_while_grants_change_restores_every_grant_and_lists_what_it_forgot() {
    let (Some(op), Some(samba)) = (provider(), Samba::up()) else {
        return;
    };
    let group = samba.role_group("jit-role-backup");
    let live_dir = tempfile::tempdir().unwrap();
    let server = start(live_dir.path(), &op, "").await;
    let channel = server.channel().await;
    // dave (through dba-oncall) and frank (dba-approvers) may request it
    let rule = oncall_rule(
        channel.clone(),
        &op,
        ("Backup check", &group.name),
        3600,
        pb::JustificationPolicy::Optional,
    )
    .await;
    let approvers = group_sid(channel.clone(), &op, "dba-approvers").await;
    let mut spec = rule.spec.clone().unwrap();
    spec.acl.push(pb::AclEntry {
        principal_sid: approvers,
        display_name: String::new(),
        kind: pb::PrincipalKind::Group.into(),
        effect: pb::Effect::Allow.into(),
    });
    save_spec(channel.clone(), &op, &rule, spec).await;

    // backups while dave's one-second grants are requested and expire, one after another
    let churning = Arc::new(AtomicBool::new(true));
    let churn = tokio::spawn({
        let (channel, op, rule, churning) = (
            channel.clone(),
            provider().unwrap(),
            rule.id.clone(),
            churning.clone(),
        );
        async move {
            let mut granted = 0;
            while churning.load(Ordering::SeqCst) {
                let asked = RoleServiceClient::new(channel.clone())
                    .request_role(as_(
                        &op,
                        "dave",
                        pb::RequestRoleRequest {
                            rule_id: rule.clone(),
                            duration: Some(secs(1)),
                            justification: "churn".into(),
                            ..Default::default()
                        },
                    ))
                    .await;
                granted += usize::from(asked.is_ok());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            granted
        }
    });
    let backups = tempfile::tempdir().unwrap();
    for i in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let to = backups.path().join(format!("during-{i}.db"));
        let out = jitroles(
            live_dir.path(),
            &op,
            &["backup", "--to", to.to_str().unwrap()],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let copy = jitroles_store::Database::connect(&format!("sqlite://{}", to.display()))
            .await
            .unwrap();
        assert!(copy.snapshot_taken_at().await.unwrap().is_some());
        assert_eq!(copy.pending_migrations().await.unwrap(), 0);
        copy.close().await;
    }
    churning.store(false, Ordering::SeqCst);
    assert!(
        churn.await.unwrap() >= 2,
        "grants were made during the backups"
    );
    let dave = samba.dn_of("dave").to_lowercase();
    let settled = Instant::now() + Duration::from_secs(15);
    while samba.members(&group).contains(&dave) {
        assert!(
            Instant::now() < settled,
            "dave's last churn grant did not end"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // the snapshot: dave's 4-second grant is in it; frank's, made after it, is not
    request(channel.clone(), &op, "dave", &rule.id, 4).await;
    let due = Instant::now() + Duration::from_secs(4);
    let in_snapshot = all_grants(channel.clone(), &op).await;
    let snapshot = backups.path().join("snapshot.db");
    let out = jitroles(
        live_dir.path(),
        &op,
        &["backup", "--to", snapshot.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("backed up to"),
        "{out:?}"
    );
    request(channel.clone(), &op, "frank", &rule.id, 3600).await;
    let frank = samba.dn_of("frank").to_lowercase();
    assert!(samba.members(&group).contains(&frank));
    // the machine is lost before dave's grant ends
    drop(server);
    assert!(samba.members(&group).contains(&dave));
    tokio::time::sleep(due.saturating_duration_since(Instant::now())).await;

    // restored into a new data directory
    let restored_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(restored_dir.path().join("data")).unwrap();
    std::fs::copy(&snapshot, restored_dir.path().join("data/jitroles.db")).unwrap();
    let restored: Server = start(restored_dir.path(), &op, "").await;
    let channel = restored.channel().await;

    assert_eq!(all_grants(channel.clone(), &op).await, in_snapshot);
    let removed = Instant::now() + Duration::from_secs(10);
    while samba.members(&group).contains(&dave) {
        assert!(
            Instant::now() < removed,
            "the overdue removal was not done at start-up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // frank is in the group with no grant the restored database knows: listed for review
    let status = directory_status(channel.clone(), &op).await;
    assert!(status.restored_snapshot_taken_at.is_some());
    let listed: Vec<String> = status
        .groups
        .iter()
        .flat_map(|g| g.added_since_snapshot.iter().map(|m| m.dn.to_lowercase()))
        .collect();
    assert!(listed.contains(&frank), "{listed:?}");
    assert!(!listed.contains(&dave), "{listed:?}");
    let doctor = jitroles(restored_dir.path(), &op, &["doctor"]);
    let said = String::from_utf8_lossy(&doctor.stdout);
    assert_eq!(doctor.status.code(), Some(1), "{said}");
    assert!(
        said.lines()
            .any(|l| l.starts_with("FAIL restore review") && l.to_lowercase().contains(&frank)),
        "{said}"
    );
    assert!(said.contains("jitroles backup --reviewed"), "{said}");

    let out = jitroles(restored_dir.path(), &op, &["backup", "--reviewed"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = directory_status(channel.clone(), &op).await;
    assert!(status.restored_snapshot_taken_at.is_none());
    assert!(
        status
            .groups
            .iter()
            .all(|g| g.added_since_snapshot.is_empty())
    );
    let doctor = jitroles(restored_dir.path(), &op, &["doctor"]);
    assert!(!String::from_utf8_lossy(&doctor.stdout).contains("restore review"));
}

#[test]
fn a_backup_refuses_to_overwrite_a_file_and_names_a_missing_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::cli::jitroles(dir.path())
        .args(["backup", "--to", dir.path().join("b.db").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no database at"),
        "{out:?}"
    );

    let migrated = crate::cli::jitroles(dir.path())
        .arg("migrate")
        .output()
        .unwrap();
    assert!(migrated.status.success());
    let taken = dir.path().join("taken.db");
    std::fs::write(&taken, "someone's file").unwrap();
    let out = crate::cli::jitroles(dir.path())
        .args(["backup", "--to", taken.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already exists"),
        "{out:?}"
    );
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "someone's file");
}
