//! What a channel cannot do to the server: a template that would take all its memory fails
//! alone, in its render child.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use jitroles_domain::{Clock, ManualClock};
use jitroles_proto::v1 as pb;
use jitroles_server::clock::SystemClock;
use tonic::Code;

use super::{
    Receiver, connect, create_channel, eventually, outbox, request, rule, stack_on, webhook,
};

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
