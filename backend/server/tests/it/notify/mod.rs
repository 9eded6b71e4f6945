//! Notifications end to end: the real server on the Samba DC (each test with its own role
//! group), mail to the real SMTP sink (`scripts/smtp up`: aiosmtpd, plain and STARTTLS with
//! AUTH), webhooks to an HTTP receiver in the test. Every event reaches its channels, escaped
//! and signed; a receiver that fails twice gets one successful delivery; the outbox survives a
//! SIGKILL; bad settings are refused on save with the field at fault; a wrong SMTP password
//! and an unreachable host are reported by TestChannel.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Router, extract::State, http::HeaderMap, routing::post};
use jitroles_domain::{
    Clock, ManualClock,
    notify::{DeliveryState, attempt_failed},
    ports::NotificationStore,
};
use jitroles_proto::v1::{
    self as pb, admin_service_client::AdminServiceClient, role_service_client::RoleServiceClient,
};
use jitroles_server::{Dependencies, Running, clock::SystemClock};
use tonic::{Code, transport::Channel};

use crate::{
    crash,
    oidc::{Provider, provider, real_now},
    samba::{RoleGroup, Samba, env},
    stack::directory_and_provider,
    stack::{as_, secs},
};

mod approvers;
mod limits;

// ---- a webhook receiver ----

#[derive(Clone, Debug)]
struct Got {
    path: String,
    headers: HeaderMap,
    body: String,
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    /// Answers 500 to this many requests first.
    failures_left: Arc<AtomicUsize>,
}

impl Receiver {
    /// Listens on `port` (0: any); the base URL.
    async fn start(port: u16, failures: usize) -> (Self, String) {
        let receiver = Self::default();
        receiver.failures_left.store(failures, Ordering::SeqCst);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .fallback(post(record))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn at(&self, path: &str) -> Vec<Got> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|g| g.path == path)
            .cloned()
            .collect()
    }

    fn events(&self, path: &str) -> Vec<String> {
        self.at(path)
            .iter()
            .map(|g| header(g, "x-jitroles-event"))
            .collect()
    }
}

async fn record(
    State(r): State<Receiver>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> axum::http::StatusCode {
    r.got.lock().unwrap().push(Got {
        path: uri.path().to_owned(),
        headers,
        body,
    });
    let failing = r
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        axum::http::StatusCode::INTERNAL_SERVER_ERROR
    } else {
        axum::http::StatusCode::OK
    }
}

fn header(g: &Got, name: &str) -> String {
    g.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

// ---- the SMTP sink ----

/// Messages the sink received for `address`: (raw text with quoted-printable undone).
fn mails_to(address: &str) -> Vec<String> {
    let outbox = std::fs::read_to_string(env("SMTP_OUTBOX")).unwrap_or_default();
    outbox
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| {
            m["rcpt_tos"]
                .as_array()
                .is_some_and(|to| to.iter().any(|t| t.as_str() == Some(address)))
        })
        .map(|m| unquote(m["data"].as_str().unwrap_or_default()))
        .collect()
}

/// Undoes quoted-printable (soft line breaks, `=XX`).
fn unquote(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---- the stack ----

struct Stack {
    running: Running,
    op: Provider,
    samba: Samba,
    group: RoleGroup,
    dir: tempfile::TempDir,
}

/// The server in-process on the DC with its own role group `group`; `None` outside CI when
/// the DC, the provider or the SMTP sink is not up.
async fn stack(group: &str) -> Option<Stack> {
    stack_on(group, None).await
}

/// [`stack`] on `clock` (the system clock when `None`).
async fn stack_on(group: &str, clock: Option<Arc<ManualClock>>) -> Option<Stack> {
    stack_configured(group, clock, |_| {}).await
}

/// [`stack_on`] with `configure` applied to the settings last.
async fn stack_configured(
    group: &str,
    clock: Option<Arc<ManualClock>>,
    configure: impl FnOnce(&mut jitroles_server::config::Config),
) -> Option<Stack> {
    let samba = Samba::up()?;
    if !crate::service::SMTP.up() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut config, op) = directory_and_provider(dir.path())?;
    // the sink's STARTTLS listener has a self-signed certificate
    config.notifications.ca_file = Some(env("SMTP_CA_FILE").into());
    // channel secrets are files in the test's folder
    config.notifications.secrets_dir = Some(dir.path().to_owned());
    configure(&mut config);
    let group = samba.role_group(group);
    let mut dependencies = Dependencies::from_config(&config).unwrap();
    if let Some(clock) = clock {
        dependencies.clock = clock;
    }
    let running = jitroles_server::start_with(&config, dependencies)
        .await
        .unwrap();
    Some(Stack {
        running,
        op,
        samba,
        group,
        dir,
    })
}

async fn connect(url: String) -> Channel {
    Channel::from_shared(url).unwrap().connect().await.unwrap()
}

fn webhook(name: &str, url: String, preset: pb::WebhookPreset) -> pb::ChannelSpec {
    pb::ChannelSpec {
        name: name.into(),
        kind: Some(pb::channel_spec::Kind::Webhook(pb::WebhookChannel {
            url,
            preset: preset.into(),
            ..Default::default()
        })),
        enabled: true,
        ..Default::default()
    }
}

pub(crate) fn email(name: &str, recipients: Vec<String>, to_requester: bool) -> pb::ChannelSpec {
    pb::ChannelSpec {
        name: name.into(),
        kind: Some(pb::channel_spec::Kind::Email(pb::EmailChannel {
            host: env("SMTP_HOST"),
            port: env("SMTP_PORT").parse().unwrap(),
            tls: pb::SmtpTls::None.into(),
            sender: "jitroles <jitroles@example.test>".into(),
            recipients,
            to_requester,
            ..Default::default()
        })),
        enabled: true,
        ..Default::default()
    }
}

fn lifecycle(mut spec: pb::ChannelSpec, lead_secs: i64) -> pb::ChannelSpec {
    spec.lifecycle_events = [
        pb::NotificationEvent::ExpiringSoon,
        pb::NotificationEvent::Expired,
        pb::NotificationEvent::Released,
        pb::NotificationEvent::Revoked,
    ]
    .map(Into::into)
    .to_vec();
    spec.expiring_lead = Some(secs(lead_secs));
    spec
}

pub(crate) async fn create_channel(
    channel: Channel,
    op: &Provider,
    spec: pb::ChannelSpec,
) -> Result<pb::Channel, tonic::Status> {
    AdminServiceClient::new(channel)
        .create_channel(as_(
            op,
            "alice",
            pb::CreateChannelRequest { spec: Some(spec) },
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// A rule on the stack's group that dba-oncall may request (justification optional, up to an
/// hour), with these channels.
async fn rule(
    channel: Channel,
    op: &Provider,
    group: &str,
    success: Vec<String>,
    failure: Vec<String>,
) -> String {
    let mut rule = crate::stack::oncall_rule(
        channel.clone(),
        op,
        ("Notified", group),
        60,
        pb::JustificationPolicy::Optional,
    )
    .await;
    let mut spec = rule.spec.take().unwrap();
    spec.success_channels = success;
    spec.failure_channels = failure;
    crate::stack::save_spec(channel, op, &rule, spec).await;
    rule.id
}

async fn request(
    channel: Channel,
    op: &Provider,
    who: &str,
    rule_id: &str,
    seconds: i64,
    justification: &str,
) -> Result<pb::Grant, tonic::Status> {
    RoleServiceClient::new(channel)
        .request_role(as_(
            op,
            who,
            pb::RequestRoleRequest {
                rule_id: rule_id.into(),
                duration: Some(secs(seconds)),
                justification: justification.into(),
                ..Default::default()
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn outbox(channel: Channel, op: &Provider) -> Vec<pb::Notification> {
    AdminServiceClient::new(channel)
        .list_notifications(as_(
            op,
            "alice",
            pb::ListNotificationsRequest {
                page_size: 200,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .notifications
}

/// Polls `done` every 200 ms for up to `seconds`; panics with `what` otherwise.
async fn eventually(seconds: u64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(Instant::now() < deadline, "not within {seconds} s: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A generic webhook channel `name` to `hook` as the only success channel of a rule on
/// `group`, and dave granted that rule: one `granted` notification for `hook`, queued.
async fn dave_granted_with_hook(url: &str, op: &Provider, group: &str, name: &str, hook: String) {
    let channel = create_channel(
        connect(url.to_owned()).await,
        op,
        webhook(name, hook, pb::WebhookPreset::Generic),
    )
    .await
    .unwrap();
    let rule_id = rule(
        connect(url.to_owned()).await,
        op,
        group,
        vec![channel.id],
        vec![],
    )
    .await;
    request(connect(url.to_owned()).await, op, "dave", &rule_id, 60, "")
        .await
        .unwrap();
}

const JUSTIFICATION: &str = "<b>\"urgent\"</b> & fix\nline two";

#[tokio::test]
async fn every_event_reaches_its_channels_escaped_and_signed() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let Some(s) = stack_on("jit-notify-events", Some(clock.clone())).await else {
        return;
    };
    let url = format!("http://{}", s.running.addr());
    let (hooks, base) = Receiver::start(0, 0).await;
    let secret_file = s.dir.path().join("hook-secret");
    std::fs::write(&secret_file, "s3cret\n").unwrap();
    let ops = format!("ops-{}@example.test", uuid::Uuid::new_v4().simple());

    let mut signed = webhook(
        "Success hook",
        format!("{base}/success"),
        pb::WebhookPreset::Generic,
    );
    if let Some(pb::channel_spec::Kind::Webhook(w)) = &mut signed.kind {
        w.headers = vec![pb::Header {
            name: "X-Team".into(),
            value: "dba".into(),
        }];
        w.signing_secret = Some(pb::SecretSource {
            source: Some(pb::secret_source::Source::File(
                secret_file.display().to_string(),
            )),
        });
    }
    let success_hook = create_channel(connect(url.clone()).await, &s.op, signed)
        .await
        .unwrap();
    let success_mail = create_channel(
        connect(url.clone()).await,
        &s.op,
        email("Ops mail", vec![ops.clone()], false),
    )
    .await
    .unwrap();
    let failure_hook = create_channel(
        connect(url.clone()).await,
        &s.op,
        webhook(
            "Failure hook",
            format!("{base}/failure"),
            pb::WebhookPreset::Slack,
        ),
    )
    .await
    .unwrap();
    create_channel(
        connect(url.clone()).await,
        &s.op,
        lifecycle(
            webhook(
                "Lifecycle hook",
                format!("{base}/life"),
                pb::WebhookPreset::Teams,
            ),
            60,
        ),
    )
    .await
    .unwrap();
    // the requester hears of expiring soon by mail, at their directory address
    create_channel(
        connect(url.clone()).await,
        &s.op,
        pb::ChannelSpec {
            lifecycle_events: vec![pb::NotificationEvent::ExpiringSoon.into()],
            expiring_lead: Some(secs(60)),
            ..email("Requester mail", vec![], true)
        },
    )
    .await
    .unwrap();
    let rule_id = rule(
        connect(url.clone()).await,
        &s.op,
        &s.group.name,
        vec![success_hook.id, success_mail.id],
        vec![failure_hook.id],
    )
    .await;

    // dave: granted (30 s, so expiring soon at once), extended, released
    let mut roles = RoleServiceClient::new(connect(url.clone()).await);
    let grant = request(
        connect(url.clone()).await,
        &s.op,
        "dave",
        &rule_id,
        30,
        JUSTIFICATION,
    )
    .await
    .unwrap();
    eventually(10, "expiring soon for dave", || {
        hooks.events("/life").contains(&"expiring_soon".to_owned())
    })
    .await;
    roles
        .extend_grant(as_(
            &s.op,
            "dave",
            pb::ExtendGrantRequest {
                grant_id: grant.id.clone(),
                duration: Some(secs(40)),
            },
        ))
        .await
        .unwrap();
    eventually(10, "a second expiring soon after the extension", || {
        hooks
            .events("/life")
            .iter()
            .filter(|e| *e == "expiring_soon")
            .count()
            == 2
    })
    .await;
    roles
        .release_grant(as_(
            &s.op,
            "dave",
            pb::ReleaseGrantRequest {
                grant_id: grant.id.clone(),
            },
        ))
        .await
        .unwrap();
    // svc-ci: a 2 s grant that expires (the test moves the clock past it); then one that
    // alice revokes
    request(connect(url.clone()).await, &s.op, "svc-ci", &rule_id, 2, "")
        .await
        .unwrap();
    clock.advance(chrono::TimeDelta::seconds(3));
    s.running.wake();
    eventually(5, "svc-ci's expiry", || {
        hooks.events("/life").contains(&"expired".to_owned())
    })
    .await;
    let revoked = request(
        connect(url.clone()).await,
        &s.op,
        "svc-ci",
        &rule_id,
        60,
        "",
    )
    .await
    .unwrap();
    AdminServiceClient::new(connect(url.clone()).await)
        .revoke_grant(as_(
            &s.op,
            "alice",
            pb::RevokeGrantRequest {
                grant_id: revoked.id,
                reason: "done".into(),
            },
        ))
        .await
        .unwrap();
    // bob may not: refused, to the failure channel
    let refused = request(connect(url.clone()).await, &s.op, "bob", &rule_id, 60, "")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    eventually(15, "every notification sent", || {
        hooks.events("/life").contains(&"revoked".to_owned()) && hooks.at("/failure").len() == 1
    })
    .await;
    // every one sent, or skipped (an expiring-soon notice whose grant ended or moved on before
    // it fell due); none failed
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let sent = outbox(connect(url.clone()).await, &s.op).await;
        let done = |n: &pb::Notification| {
            matches!(
                n.state(),
                pb::DeliveryState::Sent | pb::DeliveryState::Skipped
            )
        };
        if sent.iter().all(done) {
            break;
        }
        assert!(
            Instant::now() < deadline
                && !sent.iter().any(|n| n.state() == pb::DeliveryState::Failed),
            "{sent:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // success: granted and extended, JSON with the text intact, signed, with the extra header
    let success = hooks.at("/success");
    let of_dave: Vec<&Got> = success
        .iter()
        .filter(|g| g.body.contains("\"account\": \"dave\""))
        .collect();
    assert_eq!(
        of_dave
            .iter()
            .map(|g| header(g, "x-jitroles-event"))
            .collect::<Vec<_>>(),
        ["granted", "extended"]
    );
    assert_eq!(success.len(), 4, "and svc-ci's two grants");
    for g in &of_dave {
        let body: serde_json::Value = serde_json::from_str(&g.body).unwrap();
        assert_eq!(body["justification"], JUSTIFICATION, "{}", g.body);
        assert_eq!(header(g, "x-team"), "dba");
        let timestamp: i64 = header(g, "x-jitroles-timestamp").parse().unwrap();
        assert!(
            (timestamp - clock.now().timestamp()).abs() < 120,
            "the timestamp is the time of sending"
        );
        assert_eq!(
            header(g, "x-jitroles-signature"),
            jitroles_server::notify::send::signature(b"s3cret", timestamp, g.body.as_bytes()),
            "the signature of timestamp.body verifies"
        );
    }
    // lifecycle: every lifecycle event, as Teams cards; never a success or failure event
    let life = hooks.events("/life");
    for event in ["expiring_soon", "released", "expired", "revoked"] {
        assert!(life.contains(&event.to_owned()), "{event} in {life:?}");
    }
    let soon_for_dave = hooks
        .at("/life")
        .iter()
        .filter(|g| header(g, "x-jitroles-event") == "expiring_soon" && g.body.contains("(dave)"))
        .count();
    assert_eq!(
        soon_for_dave, 2,
        "one per expiry: the grant's and the extension's"
    );
    assert!(
        !life
            .iter()
            .any(|e| ["granted", "extended", "failed"].contains(&e.as_str()))
    );
    for g in hooks.at("/life") {
        let card: serde_json::Value = serde_json::from_str(&g.body).unwrap();
        assert_eq!(card["attachments"][0]["content"]["type"], "AdaptiveCard");
    }
    // failure: bob's refusal, as Slack text
    let failure = hooks.at("/failure");
    let text: serde_json::Value = serde_json::from_str(&failure[0].body).unwrap();
    assert!(
        text["text"].as_str().unwrap().contains("bob")
            && header(&failure[0], "x-jitroles-event") == "failed",
        "{text}"
    );
    // mail: every success event to ops, the justification escaped as HTML
    let mails = mails_to(&ops);
    assert_eq!(mails.len(), 4, "{mails:#?}");
    let granted = mails
        .iter()
        .find(|m| m.contains("Subject: [jitroles] Notified: Granted for Dave Dba"))
        .unwrap();
    let (text, html) = granted.split_once("Content-Type: text/html").unwrap();
    assert!(
        html.contains("&lt;b&gt;&quot;urgent&quot;&lt;&#x2f;b&gt; &amp; fix"),
        "{html}"
    );
    assert!(
        !html.contains("<b>"),
        "no markup from the justification: {html}"
    );
    assert!(
        text.contains("<b>\"urgent\"</b> & fix"),
        "the plain-text part says it as typed: {text}"
    );
    // expiring soon to dave's own address from the directory
    let dave_mail = s
        .samba
        .search(&env("AD_BASE_DN"), "sub", "(sAMAccountName=dave)", "mail")
        .remove(0);
    assert!(
        mails_to(&dave_mail)
            .iter()
            .any(|m| m.contains("Expiring soon for Dave Dba")),
        "expiring soon reached {dave_mail}"
    );
}

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_one_successful_delivery() {
    let Some(s) = stack("jit-notify-retry").await else {
        return;
    };
    let url = format!("http://{}", s.running.addr());
    let (hooks, base) = Receiver::start(0, 2).await;
    dave_granted_with_hook(
        &url,
        &s.op,
        &s.group.name,
        "Flaky hook",
        format!("{base}/flaky"),
    )
    .await;
    // attempts at once, after 2 s, after 8 more
    eventually(20, "three attempts", || hooks.at("/flaky").len() >= 3).await;
    let mut sent = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        sent = outbox(connect(url.clone()).await, &s.op).await;
        if sent.iter().all(|n| n.state() == pb::DeliveryState::Sent) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].state(), pb::DeliveryState::Sent);
    assert_eq!(sent[0].attempts, 3);
    assert!(
        sent[0].last_error.contains("HTTP 500"),
        "{}",
        sent[0].last_error
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        hooks.at("/flaky").len(),
        3,
        "no delivery after the successful one"
    );
}

#[tokio::test]
async fn undelivered_notifications_survive_a_kill_and_go_out_after_the_restart() {
    let Some(samba) = Samba::up() else { return };
    let Some(op) = provider() else { return };
    let group = samba.role_group("jit-notify-restart");
    let dir = tempfile::tempdir().unwrap();
    // the receiver's port, with nothing listening yet
    let port = crash::free_port();
    let mut server = crash::start(dir.path(), &op, "").await;
    let hook = format!("http://127.0.0.1:{port}/late");
    dave_granted_with_hook(&server.url, &op, &group.name, "Late hook", hook).await;
    // the first attempt fails (nothing listens) and is recorded; the next is 2 s away: kill now
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pending = outbox(server.channel().await, &op).await;
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].state(), pb::DeliveryState::Pending);
        if pending[0].attempts == 1 {
            assert!(
                pending[0].last_error.contains("cannot be reached"),
                "{pending:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{pending:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();

    let (hooks, _) = Receiver::start(port, 0).await;
    let server = crash::start(dir.path(), &op, "").await;
    eventually(15, "the delivery after the restart", || {
        hooks.at("/late").len() == 1
    })
    .await;
    assert_eq!(header(&hooks.at("/late")[0], "x-jitroles-event"), "granted");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(hooks.at("/late").len(), 1, "delivered once");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let after = outbox(server.channel().await, &op).await;
        if after[0].state() == pb::DeliveryState::Sent {
            break;
        }
        assert!(Instant::now() < deadline, "{after:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn bad_channel_settings_are_refused_on_save_and_test_channel_reports_what_happened() {
    let Some(s) = stack("jit-notify-bad").await else {
        return;
    };
    let url = format!("http://{}", s.running.addr());
    let field_of = |status: tonic::Status| {
        use tonic_types::StatusExt;
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        let details = status.get_error_details();
        let violation = details.bad_request().unwrap().field_violations[0].clone();
        (violation.field, violation.description)
    };
    let mut bad_port = email("Bad port", vec!["ops@example.test".into()], false);
    if let Some(pb::channel_spec::Kind::Email(e)) = &mut bad_port.kind {
        e.port = 70_000;
    }
    let mut bad_address = email("Bad address", vec!["ops at example".into()], false);
    bad_address.name = "Bad address".into();
    let mut bad_template = webhook(
        "Bad template",
        "https://hooks.example.test/x".into(),
        pb::WebhookPreset::Generic,
    );
    if let Some(pb::channel_spec::Kind::Webhook(w)) = &mut bad_template.kind {
        w.template = "{\n  \"rule\": {{ rule }\n}".into();
    }
    for (spec, field, says) in [
        (
            webhook(
                "Bad URL",
                "hooks.example.test/x".into(),
                pb::WebhookPreset::Generic,
            ),
            "webhook.url",
            "https://",
        ),
        (bad_port, "email.port", "65535"),
        (bad_address, "email.recipients", "not a mail address"),
        (bad_template, "webhook.template", "line 2, column"),
    ] {
        let refused = create_channel(connect(url.clone()).await, &s.op, spec)
            .await
            .unwrap_err();
        let (got, description) = field_of(refused);
        assert_eq!(got, field);
        assert!(description.contains(says), "{field}: {description}");
    }
    // nothing listens on this port: TestChannel says so, and nothing was saved
    let port = crash::free_port();
    let outcome = AdminServiceClient::new(connect(url.clone()).await)
        .test_channel(as_(
            &s.op,
            "alice",
            pb::TestChannelRequest {
                target: Some(pb::test_channel_request::Target::Spec(webhook(
                    "Nobody home",
                    format!("http://127.0.0.1:{port}/x"),
                    pb::WebhookPreset::Slack,
                ))),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!outcome.delivered);
    assert!(
        outcome.error.contains("cannot be reached"),
        "{}",
        outcome.error
    );
    assert!(outcome.sent.contains("\"text\""), "{}", outcome.sent);
    let listed = AdminServiceClient::new(connect(url.clone()).await)
        .list_channels(as_(&s.op, "alice", pb::ListChannelsRequest {}))
        .await
        .unwrap()
        .into_inner()
        .channels;
    assert!(listed.is_empty(), "{listed:?}");
    // a wrong password for the STARTTLS listener: refused, and said so
    let secret = s.dir.path().join("smtp-password");
    std::fs::write(&secret, "not-the-password\n").unwrap();
    let relay = |to: &str, port: &str, tls: pb::SmtpTls| {
        let mut spec = email("Relay", vec![to.to_owned()], false);
        if let Some(pb::channel_spec::Kind::Email(e)) = &mut spec.kind {
            e.port = env(port).parse().unwrap();
            e.tls = tls.into();
            e.username = env("SMTP_USER");
            e.password = Some(pb::SecretSource {
                source: Some(pb::secret_source::Source::File(
                    secret.display().to_string(),
                )),
            });
        }
        spec
    };
    let relayed = format!("relay-{}@example.test", uuid::Uuid::new_v4().simple());
    let test = |spec: pb::ChannelSpec| {
        let url = url.clone();
        let op = &s.op;
        async move {
            AdminServiceClient::new(connect(url).await)
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
    };
    let starttls = |to: &str| relay(to, "SMTP_STARTTLS_PORT", pb::SmtpTls::Starttls);
    let refused = test(starttls(&relayed)).await;
    assert!(!refused.delivered);
    assert!(refused.error.contains("535"), "{}", refused.error);
    // the right one, read from the file when sending: delivered over TLS, authenticated, with
    // STARTTLS and with implicit TLS
    std::fs::copy(env("SMTP_PASSWORD_FILE"), &secret).unwrap();
    let implicit = format!("smtps-{}@example.test", uuid::Uuid::new_v4().simple());
    for (to, spec, listener) in [
        (&relayed, starttls(&relayed), "starttls"),
        (
            &implicit,
            relay(&implicit, "SMTP_SMTPS_PORT", pb::SmtpTls::Implicit),
            "smtps",
        ),
    ] {
        let outcome = test(spec).await;
        assert!(outcome.delivered, "{listener}: {}", outcome.error);
        let outbox = std::fs::read_to_string(env("SMTP_OUTBOX")).unwrap();
        let mail = outbox
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|m| m["rcpt_tos"][0] == to.as_str())
            .unwrap();
        assert_eq!(mail["listener"], listener);
        assert_eq!(mail["tls"], true);
        assert_eq!(mail["auth"], env("SMTP_USER").as_str());
    }

    // and the SMTP sink takes a test mail
    let to = format!("test-{}@example.test", uuid::Uuid::new_v4().simple());
    let outcome = AdminServiceClient::new(connect(url).await)
        .test_channel(as_(
            &s.op,
            "alice",
            pb::TestChannelRequest {
                target: Some(pb::test_channel_request::Target::Spec(email(
                    "Test mail",
                    vec![to.clone()],
                    false,
                ))),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(outcome.delivered, "{}", outcome.error);
    assert_eq!(mails_to(&to).len(), 1);
}

#[tokio::test]
async fn a_failed_notification_is_sent_again_on_request() {
    let Some(s) = stack("jit-notify-again").await else {
        return;
    };
    let url = format!("http://{}", s.running.addr());
    // nothing listens on the receiver's port yet
    let port = crash::free_port();
    let hook = format!("http://127.0.0.1:{port}/again");
    dave_granted_with_hook(&url, &s.op, &s.group.name, "Mended hook", hook).await;
    let retry = |id: String| {
        let (url, op) = (url.clone(), &s.op);
        async move {
            AdminServiceClient::new(connect(url).await)
                .retry_notification(as_(
                    op,
                    "alice",
                    pb::RetryNotificationRequest {
                        notification_id: id,
                    },
                ))
                .await
        }
    };
    // the first attempt fails; the retries would take minutes, so the test gives up for the
    // worker, in the database, the way it would after the last attempt
    let store = jitroles_store::Database::connect(&format!(
        "sqlite://{}",
        s.dir.path().join("data/jitroles.db").display()
    ))
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let pending = loop {
        let found = outbox(connect(url.clone()).await, &s.op).await;
        if found[0].attempts == 1 {
            break found[0].clone();
        }
        assert!(Instant::now() < deadline, "{found:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let refused = retry(pending.id.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "only failed ones");
    let current = store.notification(&pending.id).await.unwrap().unwrap();
    let mut failed = current.clone();
    while failed.state == DeliveryState::Pending {
        failed = attempt_failed(&failed, "refused".into(), real_now());
    }
    store.record(&current, &failed).await.unwrap();

    // mended: the receiver is there now; sent again on request
    let (hooks, _) = Receiver::start(port, 0).await;
    let again = retry(pending.id.clone()).await.unwrap().into_inner();
    assert_eq!(again.state(), pb::DeliveryState::Pending);
    assert_eq!(again.attempts, 0);
    eventually(10, "the delivery after the retry", || {
        hooks.at("/again").len() == 1
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = outbox(connect(url.clone()).await, &s.op).await;
        if now[0].state() == pb::DeliveryState::Sent {
            assert_eq!(
                now[0].attempts, 1,
                "a fresh round: sent at its first attempt"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let unknown = retry("no-such-notification".into()).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}
