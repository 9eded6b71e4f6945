//! The usage report through its RPC, against the real Samba DC: requests, grants and a
//! refusal made through the engine on a manual clock, then the report's figures to the
//! second, the eligible-but-unused list from the ACL's nested groups, the CSV, and the
//! period's checks. The test owns its role group (`jit-role-usage`), so it writes no
//! membership another test looks at.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use jitroles_domain::{Clock, ManualClock};
use jitroles_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, role_service_client::RoleServiceClient,
};
use jitroles_server::{Dependencies, clock::SystemClock};
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt;

use crate::{
    samba::Samba,
    stack::{as_, directory_and_provider, oncall_rule, secs},
};

fn ts(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    }
}

fn field(e: &tonic::Status) -> Option<String> {
    e.get_details_bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
}

#[tokio::test]
async fn the_usage_report_counts_real_requests_grants_and_refusals_and_lists_who_never_asked() {
    let Some(samba) = Samba::up() else { return };
    let dir = tempfile::tempdir().unwrap();
    let Some((config, op)) = directory_and_provider(dir.path()) else {
        return;
    };
    let group = samba.role_group("jit-role-usage");
    // whole seconds, so the figures compare exactly; four hours back, so the provider's
    // tokens (valid for ten minutes from the real time) hold all along the story
    let start =
        DateTime::from_timestamp(SystemClock.now().timestamp(), 0).unwrap() - TimeDelta::hours(4);
    let clock = Arc::new(ManualClock::new(start));
    let mut deps = Dependencies::from_config(&config).unwrap();
    deps.clock = clock.clone();
    let running = jitroles_server::start_with(&config, deps).await.unwrap();
    let channel = Channel::from_shared(format!("http://{}", running.addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut roles = RoleServiceClient::new(channel.clone());
    let mut admin = AdminServiceClient::new(channel.clone());
    // dba-oncall reaches dave (through dba-team), svc-ci, and erin (disabled)
    let rule = oncall_rule(
        channel.clone(),
        &op,
        ("Usage report", &group.name),
        3600,
        pb::JustificationPolicy::Optional,
    )
    .await;
    let ask = |who: &str, seconds: i64| {
        as_(
            &op,
            who,
            pb::RequestRoleRequest {
                rule_id: rule.id.clone(),
                duration: Some(secs(seconds)),
                justification: "usage test".into(),
                ..Default::default()
            },
        )
    };
    let release = |who: &str, id: &str| {
        as_(
            &op,
            who,
            pb::ReleaseGrantRequest {
                grant_id: id.into(),
            },
        )
    };
    let at = |minutes: i64| start + TimeDelta::minutes(minutes);

    // +60: dave gets an hour and gives it back after 30 minutes
    clock.set(at(60));
    let first = roles
        .request_role(ask("dave", 3600))
        .await
        .unwrap()
        .into_inner();
    clock.set(at(90));
    roles
        .release_grant(release("dave", &first.id))
        .await
        .unwrap();
    // +100: bob is not in the ACL: refused at the door
    clock.set(at(100));
    let refused = roles.request_role(ask("bob", 600)).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    // +180: dave again, still holding it when the report is read at +210
    clock.set(at(180));
    let second = roles
        .request_role(ask("dave", 3600))
        .await
        .unwrap()
        .into_inner();
    clock.set(at(210));

    let report = |from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>, days: u32| {
        as_(
            &op,
            "alice",
            pb::GetUsageReportRequest {
                from: from.map(ts),
                to: to.map(ts),
                unused_days: days,
                rule_id: rule.id.clone(),
                include_csv: true,
            },
        )
    };
    let got = admin
        .get_usage_report(report(Some(start), Some(at(24 * 60)), 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.unused_days, 90, "the default");
    assert_eq!(got.rules.len(), 1);
    let u = &got.rules[0];
    assert_eq!(u.rule_name, "Usage report");
    assert_eq!((u.requests, u.grants, u.refusals, u.people), (2, 2, 1, 1));
    assert_eq!(
        u.held,
        Some(secs(30 * 60 + 30 * 60)),
        "30 min + 30 min so far"
    );
    assert_eq!(
        u.median_duration,
        Some(secs(30 * 60)),
        "only the ended grant has a duration"
    );
    assert_eq!(u.last_use, Some(ts(at(180))));
    let unused: Vec<&str> = u
        .eligible_unused
        .iter()
        .map(|p| p.account_name.as_str())
        .collect();
    assert_eq!(
        unused,
        ["svc-ci"],
        "reached and never asked; dave asked, erin is disabled, bob is not reached"
    );
    assert_eq!(u.eligible_unused[0].path, "svc-ci ← dba-oncall");
    assert!(!u.eligible_unused_truncated && !u.deleted);
    let lines: Vec<&str> = got.csv.split("\r\n").collect();
    assert!(lines[0].starts_with("rule,rule_id,from,to,requests,grants,refusals,hours_held"));
    assert!(
        lines[1].starts_with(&format!("Usage report,{},", rule.id))
            && lines[1].contains(",2,2,1,1.00,1,0.50,")
            && lines[1].ends_with(",90,1,false,svc-ci"),
        "{}",
        lines[1]
    );

    // a period that only holds the second grant's first ten minutes
    let narrow = admin
        .get_usage_report(report(Some(at(170)), Some(at(190)), 0))
        .await
        .unwrap()
        .into_inner();
    let n = &narrow.rules[0];
    assert_eq!((n.requests, n.grants, n.refusals, n.people), (1, 1, 0, 1));
    assert_eq!(n.held, Some(secs(10 * 60)));
    assert_eq!(n.median_duration, None);

    // the checks, each naming its field; and only admins
    for (from, to, days, want) in [
        (None, Some(at(60)), 0, "from"),
        (Some(at(60)), None, 0, "to"),
        (Some(at(60)), Some(at(60)), 0, "to"),
        (
            Some(at(60)),
            Some(at(60) + TimeDelta::days(3661)),
            0,
            "from",
        ),
        (Some(at(0)), Some(at(60)), 3651, "unused_days"),
    ] {
        let e = admin
            .get_usage_report(report(from, to, days))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{want}: {e:?}");
        assert_eq!(field(&e).as_deref(), Some(want), "{}", e.message());
    }
    let not_admin = admin
        .get_usage_report(as_(
            &op,
            "dave",
            pb::GetUsageReportRequest {
                from: Some(ts(start)),
                to: Some(ts(at(60))),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(not_admin.code(), Code::PermissionDenied);

    roles
        .release_grant(release("dave", &second.id))
        .await
        .unwrap();
    running.shutdown().await.unwrap();
}
