//! Accountability: sign-ins, sign-outs and refusals are in the audit log with the client's
//! address, and a flood of one refusal is one event plus a summary when its window closes.
//! On the directory fixture with the real provider; a manual clock closes the windows.

use std::{sync::Arc, time::Duration};

use jitroles_ad_fixture::{Fixture, Options};
use jitroles_domain::{Clock, ManualClock};
use jitroles_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, role_service_client::RoleServiceClient,
};
use jitroles_server::{Dependencies, Running, clock::SystemClock};
use reqwest::header;
use tonic::{Code, transport::Channel};

use crate::{
    oidc::{Provider, provider},
    sign_in::{SESSION_COOKIE, sign_in},
    stack::{as_, on_fixture, oncall_rule},
    support::no_redirects,
};

struct Stack {
    running: Running,
    op: Provider,
    clock: Arc<ManualClock>,
    url: String,
    _fixture: Fixture,
    _dir: tempfile::TempDir,
}

/// A server with browser sign-in on its own directory fixture, on a manual clock, trusting
/// `X-Forwarded-For` from loopback (as behind a proxy on the same host).
async fn stack() -> Option<Stack> {
    let op = provider()?;
    let fixture = Fixture::start(Options::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = on_fixture(dir.path(), fixture.url(), &op);
    let oidc = config.oidc.as_mut().unwrap();
    oidc.client_id = Some(std::env::var("OIDC_CLIENT_ID").unwrap());
    oidc.client_secret = Some(std::env::var("OIDC_CLIENT_SECRET").unwrap().into());
    config.session.insecure_localhost_cookie = true;
    config.server.trusted_proxies = vec!["127.0.0.1".into()];
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let mut dependencies = Dependencies::from_config(&config).unwrap();
    dependencies.clock = clock.clone();
    let running = jitroles_server::start_with(&config, dependencies)
        .await
        .unwrap();
    let url = format!("http://{}", running.addr());
    Some(Stack {
        running,
        op,
        clock,
        url,
        _fixture: fixture,
        _dir: dir,
    })
}

impl Stack {
    async fn channel(&self) -> Channel {
        Channel::from_shared(self.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// The audit events with `action`, newest first, as alice reads them.
    async fn audit(&self, action: pb::AuditAction) -> Vec<pb::AuditEvent> {
        AdminServiceClient::new(self.channel().await)
            .list_audit_events(as_(
                &self.op,
                "alice",
                pb::ListAuditEventsRequest {
                    action: action.into(),
                    page_size: 200,
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .events
    }

    /// Waits up to 5 s for `action` to have `n` events.
    async fn audited(&self, action: pb::AuditAction, n: usize) -> Vec<pb::AuditEvent> {
        for _ in 0..50 {
            let events = self.audit(action).await;
            if events.len() >= n {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "fewer than {n} {action:?} events: {:#?}",
            self.audit(action).await
        );
    }
}

#[tokio::test]
async fn sign_ins_sign_outs_and_refused_sign_ins_are_audited_with_the_client_address() {
    let Some(s) = stack().await else { return };
    let session = sign_in(&s.url, "dave").await;
    let http = no_redirects();
    let out = http
        .post(format!("{}/auth/logout", s.url))
        .header(header::COOKIE, format!("{SESSION_COOKIE}={session}"))
        .header(header::ORIGIN, s.url.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), reqwest::StatusCode::SEE_OTHER);
    // fifty callbacks that belong to no sign-in, through a proxy we trust
    for n in 0..50 {
        let refused = http
            .get(format!("{}/auth/callback?code=c{n}&state=s{n}", s.url))
            .header("x-forwarded-for", "198.51.100.1, 203.0.113.9")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), reqwest::StatusCode::BAD_REQUEST);
    }

    let signed_in = s.audited(pb::AuditAction::SignedIn, 1).await;
    assert_eq!(
        (signed_in[0].actor.as_str(), signed_in[0].source.as_str()),
        ("dave", "127.0.0.1")
    );
    let signed_out = s.audited(pb::AuditAction::SignedOut, 1).await;
    assert_eq!(signed_out[0].actor, "dave");
    let refused = s.audit(pb::AuditAction::SignInRefused).await;
    assert_eq!(
        refused.len(),
        1,
        "fifty repeats are one event: {refused:#?}"
    );
    assert_eq!(refused[0].actor, "unknown");
    assert_eq!(refused[0].source, "203.0.113.9", "the client the proxy saw");
    assert!(
        refused[0].detail.contains("expired_or_started_elsewhere"),
        "{}",
        refused[0].detail
    );

    // the window closes: one summary with the count; shutting down writes nothing more
    s.clock.advance(chrono::TimeDelta::minutes(11));
    let repeated = s.audited(pb::AuditAction::Repeated, 1).await;
    assert_eq!(repeated.len(), 1);
    assert!(
        repeated[0]
            .detail
            .starts_with("sign_in_refused repeated 49 more times"),
        "{}",
        repeated[0].detail
    );
    s.running.shutdown().await.unwrap();
}

#[tokio::test]
async fn repeated_refused_requests_and_admin_calls_are_one_event_each_and_a_summary() {
    let Some(s) = stack().await else { return };
    let rule = oncall_rule(
        s.channel().await,
        &s.op,
        ("Refusals", "jit-role-dba"),
        600,
        pb::JustificationPolicy::Optional,
    )
    .await;
    // bob is not in dba-oncall
    let mut roles = RoleServiceClient::new(s.channel().await);
    for _ in 0..20 {
        let refused = roles
            .request_role(as_(
                &s.op,
                "bob",
                pb::RequestRoleRequest {
                    rule_id: rule.id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    }
    // dave is no admin
    let mut admin = AdminServiceClient::new(s.channel().await);
    for _ in 0..5 {
        let refused = admin
            .list_rules(as_(&s.op, "dave", pb::ListRulesRequest::default()))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }

    let requests = s.audited(pb::AuditAction::RequestRefused, 1).await;
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let r = &requests[0];
    assert_eq!(
        (r.actor.as_str(), r.rule_id.as_str(), r.source.as_str()),
        ("bob", rule.id.as_str(), "127.0.0.1")
    );
    let calls = s.audited(pb::AuditAction::CallRefused, 1).await;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0].actor, "dave");

    s.clock.advance(chrono::TimeDelta::minutes(11));
    let repeated = s.audited(pb::AuditAction::Repeated, 2).await;
    let mut details: Vec<&str> = repeated.iter().map(|e| e.detail.as_str()).collect();
    details.sort_unstable();
    assert!(
        details[0].starts_with("call_refused repeated 4 more times")
            && details[1].starts_with("request_refused repeated 19 more times"),
        "{details:#?}"
    );
    // the next refusal after the window is written again
    roles
        .request_role(as_(
            &s.op,
            "bob",
            pb::RequestRoleRequest {
                rule_id: rule.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    s.audited(pb::AuditAction::RequestRefused, 2).await;
}
