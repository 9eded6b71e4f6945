//! Notifications: delivery throughput to a local webhook receiver, and the latency of a grant
//! whose rule has five channels against one with none, in the same run, on the Samba DC:
//!
//!     eval "$(scripts/ad up)" && eval "$(scripts/oidc up)" && cargo bench -p jitroles-server --bench notify
//!
//! Throughput: `QUEUED` notifications for one webhook channel are written straight into a
//! fresh SQLite outbox; the real server (in-process, the product's settings) starts and its
//! worker sends them to an HTTP receiver in this process (axum, answers 200 at once); timed
//! from the server's start until the receiver has every one.
//! Latency: two role groups made for the run, one rule on each: "five" lists five webhook
//! channels (to the same receiver) as its success channels, "none" lists none. One client
//! (svc-ci) alternates RequestRole on "five" and on "none", each followed by a ReleaseGrant
//! (not timed), `ROUNDS` times; every grant of "five" queues five deliveries that the worker
//! sends while the next requests run.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reads the clock

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Router, extract::State, routing::post};
use jitroles_domain::{
    audit::{AuditAction, NewAudit},
    notify::{Channel, ChannelSpec, Event, Facts, NewNotification, Preset, Transport, Webhook},
    ports::NotificationStore,
};
use jitroles_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, role_service_client::RoleServiceClient,
};
use support::authorized;
use tonic::transport::Channel as GrpcChannel;

const QUEUED: usize = 5_000;
const ROUNDS: usize = 200;

async fn count(State(n): State<Arc<AtomicUsize>>) -> &'static str {
    n.fetch_add(1, Ordering::SeqCst);
    "ok"
}

/// A receiver that counts requests; its URL.
async fn receiver(hits: Arc<AtomicUsize>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = Router::new().fallback(post(count)).with_state(hits);
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn hook(name: &str, url: &str) -> ChannelSpec {
    ChannelSpec {
        name: name.into(),
        transport: Transport::Webhook(Webhook {
            url: url.into(),
            headers: vec![],
            signing_secret: None,
            preset: Preset::Generic,
            template: String::new(),
        }),
        lifecycle: vec![],
        expiring_lead: None,
        enabled: true,
    }
}

async fn wait_for(hits: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while hits.load(Ordering::SeqCst) < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} delivered",
            hits.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::main]
async fn main() {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = receiver(hits.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = support::config(dir.path(), None);

    // the outbox, written before the server starts
    std::fs::create_dir_all(&config.data_dir).unwrap();
    let db = jitroles_store::Database::connect(&format!(
        "sqlite://{}",
        config.data_dir.join("jitroles.db").display()
    ))
    .await
    .unwrap();
    db.migrate().await.unwrap();
    let now = chrono::Utc::now();
    let channel = Channel {
        id: uuid::Uuid::new_v4().to_string(),
        spec: hook("bench", &url),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let audit = NewAudit {
        at: now,
        action: AuditAction::ChannelCreated,
        actor: "bench".into(),
        rule_id: None,
        grant_id: None,
        subject_account: None,
        detail: String::new(),
        source: None,
    };
    db.create_channel(&channel, audit).await.unwrap();
    let notes: Vec<NewNotification> = (0..QUEUED)
        .map(|i| NewNotification {
            id: uuid::Uuid::new_v4().to_string(),
            channel_id: channel.id.clone(),
            event: Event::Granted,
            grant_id: format!("g{i}"),
            facts: Facts {
                rule_name: "bench".into(),
                subject_account: format!("user{i}"),
                subject_display_name: format!("User {i}"),
                justification: "benchmark".into(),
                expires_at: Some(now),
                ..Facts::default()
            },
            dedupe_key: None,
            at: now,
            due: now,
        })
        .collect();
    for chunk in notes.chunks(500) {
        db.enqueue(chunk).await.unwrap();
    }
    db.close().await;

    let started = Instant::now();
    let running = jitroles_server::start(&config).await.unwrap();
    wait_for(&hits, QUEUED).await;
    let took = started.elapsed();
    println!(
        "delivery: {QUEUED} queued webhook notifications sent in {:.2} s: {:.0} per second",
        took.as_secs_f64(),
        QUEUED as f64 / took.as_secs_f64()
    );

    // grant latency, five channels vs none
    let grpc = GrpcChannel::from_shared(format!("http://{}", running.addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let token = support::ci_bot_token().await;
    let names = vec!["jit-bench-five".to_owned(), "jit-bench-none".to_owned()];
    support::make_groups(&names).await;
    let mut admin = AdminServiceClient::new(grpc.clone());
    let mut five = Vec::new();
    for i in 0..5 {
        let created = admin
            .create_channel(authorized(
                &token,
                pb::CreateChannelRequest {
                    spec: Some(pb::ChannelSpec {
                        name: format!("hook {i}"),
                        kind: Some(pb::channel_spec::Kind::Webhook(pb::WebhookChannel {
                            url: url.clone(),
                            preset: pb::WebhookPreset::Generic.into(),
                            ..Default::default()
                        })),
                        enabled: true,
                        ..Default::default()
                    }),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        five.push(created.id);
    }
    let with_five = support::oncall_rule(grpc.clone(), &token, "five", "jit-bench-five").await;
    let rule = admin
        .get_rule(authorized(
            &token,
            pb::GetRuleRequest {
                rule_id: with_five.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let mut spec = rule.spec.unwrap();
    spec.success_channels = five;
    admin
        .update_rule(authorized(
            &token,
            pb::UpdateRuleRequest {
                rule_id: with_five.clone(),
                spec: Some(spec),
                version: rule.version,
            },
        ))
        .await
        .unwrap();
    let with_none = support::oncall_rule(grpc.clone(), &token, "none", "jit-bench-none").await;

    let mut roles = RoleServiceClient::new(grpc);
    let mut once = async |rule_id: &str| {
        let t = Instant::now();
        let grant = roles
            .request_role(authorized(
                &token,
                pb::RequestRoleRequest {
                    rule_id: rule_id.to_owned(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        let micros = t.elapsed().as_secs_f64() * 1e6;
        roles
            .release_grant(authorized(
                &token,
                pb::ReleaseGrantRequest { grant_id: grant.id },
            ))
            .await
            .unwrap();
        micros
    };
    for _ in 0..5 {
        once(&with_five).await;
        once(&with_none).await;
    }
    let (mut five_ms, mut none_ms) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        five_ms.push(once(&with_five).await);
        none_ms.push(once(&with_none).await);
    }
    for (what, values) in [
        ("five channels", &mut five_ms),
        ("no channel", &mut none_ms),
    ] {
        let (p50, p99, _) = support::percentiles(values);
        println!(
            "RequestRole with {what} ({ROUNDS} samples): p50 {:.2} ms, p99 {:.2} ms",
            p50 / 1000.0,
            p99 / 1000.0
        );
    }
    wait_for(&hits, QUEUED + 5 * (ROUNDS + 5)).await;
    println!("every grant notification delivered");
    running.shutdown().await.unwrap();
    support::drop_groups(&names).await;
}
