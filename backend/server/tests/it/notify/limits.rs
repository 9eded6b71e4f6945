//! What a channel cannot do to the server: a template that would take all its memory fails
//! alone, in its render child; a webhook reaches neither the server's own host nor cloud
//! metadata, reads no more of a reply than it shows, and a bound secret goes only to its hosts.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use jitroles_domain::{Clock, ManualClock};
use jitroles_proto::v1::{self as pb, admin_service_client::AdminServiceClient};
use jitroles_server::clock::SystemClock;
use tonic::Code;

use super::{
    Receiver, connect, create_channel, eventually, outbox, request, rule, stack, stack_configured,
    stack_on, webhook,
};
use crate::{oidc::Provider, stack::as_};

/// Forty doublings of a 16-byte string: 16 TiB, in forty template instructions (fuel bounds
/// instructions, not memory).
fn doubling() -> String {
    let mut t = "{% set s = \"0123456789abcdef\" %}".to_owned();
    for _ in 0..40 {
        t.push_str("{% set s = s ~ s %}");
    }
    t
}

/// The resident memory of this process (the server runs in it), in MiB.
fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024
}

fn hook_with(name: &str, url: String, template: String) -> pb::ChannelSpec {
    let mut spec = webhook(name, url, pb::WebhookPreset::Generic);
    if let Some(pb::channel_spec::Kind::Webhook(w)) = &mut spec.kind {
        w.template = template;
    }
    spec
}

#[tokio::test]
async fn a_template_that_would_exhaust_memory_is_refused_on_save_or_fails_alone_at_delivery() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let Some(s) = stack_on("jit-notify-bomb", Some(clock.clone())).await else {
        return;
    };
    let url = format!("http://{}", s.running.addr());
    let (hooks, base) = Receiver::start(0, 0).await;
    let body = "{\"rule\": {{ rule }}, \"justification\": {{ justification }}}";

    // always: the sample render on save runs out of the render child's memory
    let refused = create_channel(
        connect(url.clone()).await,
        &s.op,
        hook_with(
            "Bomb",
            format!("{base}/bomb"),
            format!("{}{body}", doubling()),
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(
        refused.message().contains("webhook.template")
            && refused.message().contains("needs more than 256 MB"),
        "{}",
        refused.message()
    );

    // only for a justification the sample does not have: saved, and fails at delivery
    let delayed = format!(
        "{{% if justification == \"boom\" %}}{}{{% endif %}}{body}",
        doubling()
    );
    let channel = create_channel(
        connect(url.clone()).await,
        &s.op,
        hook_with("Delayed bomb", format!("{base}/delayed"), delayed),
    )
    .await
    .unwrap();
    let rule_id = rule(
        connect(url.clone()).await,
        &s.op,
        &s.group.name,
        vec![channel.id],
        vec![],
    )
    .await;
    let dave = s.samba.dn_of("dave").to_lowercase();
    let before = rss_mib();
    let boom = request(
        connect(url.clone()).await,
        &s.op,
        "dave",
        &rule_id,
        2,
        "boom",
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let failed = loop {
        let notes = outbox(connect(url.clone()).await, &s.op).await;
        if let Some(n) = notes.iter().find(|n| n.grant_id == boom.id)
            && n.state() == pb::DeliveryState::Failed
        {
            break n.clone();
        }
        assert!(
            Instant::now() < deadline,
            "not failed within 15 s: {notes:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        failed.attempts, 1,
        "no retry of a message that cannot be rendered"
    );
    assert!(
        failed.last_error.contains("cannot be rendered")
            && failed.last_error.contains("needs more than 256 MB"),
        "{}",
        failed.last_error
    );
    let grown = rss_mib().saturating_sub(before);
    assert!(grown < 64, "the server's memory grew by {grown} MiB");

    // grants keep expiring, and the channel keeps delivering other messages
    clock.advance(chrono::TimeDelta::seconds(3));
    s.running.wake();
    eventually(10, "dave's boom grant expires", || {
        !s.samba.members(&s.group).contains(&dave)
    })
    .await;
    let fine = request(
        connect(url.clone()).await,
        &s.op,
        "dave",
        &rule_id,
        60,
        "fine",
    )
    .await
    .unwrap();
    eventually(10, "the next notification is delivered", || {
        hooks.at("/delayed").len() == 1
    })
    .await;
    let got = &hooks.at("/delayed")[0];
    assert!(got.body.contains("\"fine\""), "{}", got.body);
    assert_eq!(fine.state(), pb::GrantState::Active);
}

/// TestChannel of `spec` as alice.
async fn test_channel(url: &str, op: &Provider, spec: pb::ChannelSpec) -> pb::TestChannelResponse {
    AdminServiceClient::new(connect(url.to_owned()).await)
        .test_channel(as_(
            op,
            "alice",
            pb::TestChannelRequest {
                target: Some(pb::test_channel_request::Target::Spec(spec)),
            },
        ))
        .await
        .unwrap()
        .into_inner()
}

/// Answers every request with 500 and a body that never ends.
async fn endless_receiver() -> (Arc<AtomicUsize>, String) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async {
            let chunks = futures_util::stream::repeat_with(|| {
                Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b'x'; 64 * 1024]))
            });
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                axum::body::Body::from_stream(chunks),
            )
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (hits, base)
}

#[tokio::test]
async fn webhooks_reach_neither_this_host_nor_metadata_and_bound_secrets_stay_on_their_hosts() {
    let Some(s) = stack_configured("jit-notify-outbound", None, |config| {
        // the defaults: nothing to loopback
        config.notifications.allowed_networks = vec![];
        config.notifications.secret_hosts = [(
            "env:JITROLES_NOTIFY_SLACK".into(),
            vec!["hooks.slack.com".into()],
        )]
        .into();
    })
    .await
    else {
        return;
    };
    let url = format!("http://{}", s.running.addr());
    let (hooks, base) = Receiver::start(0, 0).await;
    let port = base.rsplit(':').next().unwrap();

    // a literal address is refused on save, in any spelling
    for target in [
        format!("{base}/x"),
        format!("http://2130706433:{port}/x"),
        format!("http://[::ffff:127.0.0.1]:{port}/x"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
    ] {
        let refused = create_channel(
            connect(url.clone()).await,
            &s.op,
            webhook("Inward", target.clone(), pb::WebhookPreset::Generic),
        )
        .await
        .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{target}");
        assert!(
            refused.message().contains("webhook.url")
                && refused.message().contains("where jitroles sends nothing"),
            "{target}: {}",
            refused.message()
        );
    }
    // a name that resolves to loopback is refused when sending, after resolution
    let by_name = test_channel(
        &url,
        &s.op,
        webhook(
            "By name",
            format!("http://localhost:{port}/x"),
            pb::WebhookPreset::Generic,
        ),
    )
    .await;
    assert!(!by_name.delivered);
    assert!(
        by_name.error.contains("where jitroles sends nothing"),
        "{}",
        by_name.error
    );
    assert!(hooks.at("/x").is_empty(), "nothing reached the receiver");

    // a secret bound to hooks.slack.com is refused for any other host
    let mut stolen = webhook(
        "Stolen",
        "https://attacker.example/x".into(),
        pb::WebhookPreset::Generic,
    );
    if let Some(pb::channel_spec::Kind::Webhook(w)) = &mut stolen.kind {
        w.signing_secret = Some(pb::SecretSource {
            source: Some(pb::secret_source::Source::Env(
                "JITROLES_NOTIFY_SLACK".into(),
            )),
        });
    }
    let refused = create_channel(connect(url.clone()).await, &s.op, stolen)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("webhook.signing_secret")
            && refused
                .message()
                .contains("may only be sent to hooks.slack.com"),
        "{}",
        refused.message()
    );
}

#[tokio::test]
async fn a_reply_without_end_is_read_only_as_far_as_its_excerpt() {
    let Some(s) = stack("jit-notify-endless").await else {
        return;
    };
    let url = format!("http://{}", s.running.addr());
    let (hits, base) = endless_receiver().await;
    let started = Instant::now();
    let outcome = test_channel(
        &url,
        &s.op,
        webhook("Endless", format!("{base}/x"), pb::WebhookPreset::Generic),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert!(!outcome.delivered);
    assert!(outcome.error.contains("HTTP 500"), "{}", outcome.error);
    assert!(
        outcome.error.ends_with(&"x".repeat(200)),
        "{}",
        outcome.error
    );
    assert!(
        outcome.error.len() < 300,
        "an excerpt: {} bytes",
        outcome.error.len()
    );
    // the whole reply would take the 10 s send timeout
    assert!(took < Duration::from_secs(3), "took {took:?}");
}
