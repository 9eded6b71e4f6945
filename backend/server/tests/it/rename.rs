//! A role group renamed and moved in AD by an admin, with a live grant: requests, extensions,
//! expiry and reconciliation go on (the group is addressed by its GUID), and the rule takes
//! the new name. Against the Samba DC, on a manual clock.

use std::{sync::Arc, time::Duration};

use jitroles_domain::{Clock, ManualClock};
use jitroles_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, role_service_client::RoleServiceClient,
};
use jitroles_server::{Dependencies, clock::SystemClock};
use tonic::transport::Channel;

use crate::{
    samba::{Samba, env},
    stack::{as_, directory_and_provider, oncall_rule, secs},
};

#[tokio::test]
async fn a_role_group_renamed_and_moved_in_ad_keeps_granting_and_the_rule_shows_its_new_name() {
    let Some(samba) = Samba::up() else { return };
    let dir = tempfile::tempdir().unwrap();
    let Some((mut config, op)) = directory_and_provider(dir.path()) else {
        return;
    };
    config.scheduler.reconcile_seconds = 1;
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let mut dependencies = Dependencies::from_config(&config).unwrap();
    dependencies.clock = clock.clone();
    let running = jitroles_server::start_with(&config, dependencies)
        .await
        .unwrap();
    let url = format!("http://{}", running.addr());
    let channel = || async {
        Channel::from_shared(url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    };

    let group = samba.role_group("jit-rename-before");
    let rule = oncall_rule(
        channel().await,
        &op,
        ("Renamed", &group.name),
        60,
        pb::JustificationPolicy::Optional,
    )
    .await;
    let mut roles = RoleServiceClient::new(channel().await);
    let ask = |who: &str| {
        as_(
            &op,
            who,
            pb::RequestRoleRequest {
                rule_id: rule.id.clone(),
                duration: Some(secs(60)),
                ..Default::default()
            },
        )
    };
    let dave = roles.request_role(ask("dave")).await.unwrap().into_inner();

    // an AD admin renames the group and moves it into an OU of its own
    let ou = format!("OU=Moved {},{}", &rule.id[..8], env("AD_ROLE_OU"));
    assert!(samba.modify(&format!(
        "dn: {ou}\nchangetype: add\nobjectClass: organizationalUnit\n"
    )));
    assert!(samba.modify(&format!(
        "dn: {}\nchangetype: modrdn\nnewrdn: CN=jit-rename-after\ndeleteoldrdn: 1\nnewsuperior: {ou}\n",
        group.dn
    )));
    let moved = format!("CN=jit-rename-after,{ou}");
    assert!(samba.modify(&format!(
        "dn: {moved}\nchangetype: modify\nreplace: sAMAccountName\nsAMAccountName: jit-rename-after\n"
    )));
    let members = |dn: &str| -> Vec<String> {
        samba
            .search(dn, "base", "(objectClass=*)", "member")
            .into_iter()
            .map(|m| m.to_lowercase())
            .collect()
    };
    let dave_dn = samba.dn_of("dave").to_lowercase();
    let svc_dn = samba.dn_of("svc-ci").to_lowercase();

    // requests and extensions go on in the moved group
    let svc = roles
        .request_role(ask("svc-ci"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(svc.state(), pb::GrantState::Active);
    assert!(members(&moved).contains(&svc_dn));
    roles
        .extend_grant(as_(
            &op,
            "dave",
            pb::ExtendGrantRequest {
                grant_id: dave.id.clone(),
                duration: Some(secs(120)),
            },
        ))
        .await
        .unwrap();

    // reconciliation follows the rename into the rule
    let mut admin = AdminServiceClient::new(channel().await);
    let mut shown = String::new();
    for _ in 0..50 {
        let now = admin
            .get_rule(as_(
                &op,
                "alice",
                pb::GetRuleRequest {
                    rule_id: rule.id.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        shown = now.target.map(|t| t.name).unwrap_or_default();
        if shown == "jit-rename-after" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shown, "jit-rename-after", "the rule shows the new name");

    // expiry removes svc-ci (60 s) from the moved group; dave (extended) stays
    clock.advance(chrono::TimeDelta::seconds(61));
    running.wake();
    let mut now = members(&moved);
    for _ in 0..50 {
        if !now.contains(&svc_dn) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        now = members(&moved);
    }
    assert!(!now.contains(&svc_dn), "svc-ci's grant expired: {now:?}");
    assert!(
        now.contains(&dave_dn),
        "dave's extended grant holds: {now:?}"
    );

    running.shutdown().await.unwrap();
    samba.modify(&format!("dn: {moved}\nchangetype: delete\n"));
    samba.modify(&format!("dn: {ou}\nchangetype: delete\n"));
}
