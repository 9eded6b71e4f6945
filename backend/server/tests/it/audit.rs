//! `jitroles audit verify | export | checkpoint` with the real binary, on a SQLite database the
//! test fills through the store (and, for the export, a running `jitroles serve` chaining).

use std::{
    path::{Path, PathBuf},
    process::{Output, Stdio},
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use chrono::{TimeDelta, TimeZone, Utc};
use jitroles_domain::{
    audit::{AuditAction, NewAudit},
    ports::GrantStore,
};
use jitroles_server::audit_cli::public_key_pem;
use jitroles_store::Database;
use ring::{rand::SystemRandom, signature::Ed25519KeyPair};
use sea_orm::ConnectionTrait;

use crate::cli::jitroles;

struct Setup {
    dir: tempfile::TempDir,
    url: String,
}

impl Setup {
    async fn new() -> (Self, Database) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("audit.db").display());
        let store = Database::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        (Self { dir, url }, store)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn audit(&self, args: &[&str]) -> Output {
        jitroles(self.dir.path())
            .env("JITROLES_DATABASE_URL", &self.url)
            .arg("audit")
            .args(args)
            .output()
            .unwrap()
    }

    async fn raw(&self, sql: &str) {
        let raw = sea_orm::Database::connect(&self.url).await.unwrap();
        raw.execute_unprepared(sql).await.unwrap();
        raw.close().await.unwrap();
    }

    /// A fresh Ed25519 key: the private half as PKCS#8 PEM, the public half as SPKI PEM.
    fn key(&self, name: &str) -> (PathBuf, PathBuf) {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let (private, public) = (
            self.path(&format!("{name}.pem")),
            self.path(&format!("{name}.pub")),
        );
        std::fs::write(
            &private,
            format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                BASE64.encode(pkcs8.as_ref())
            ),
        )
        .unwrap();
        std::fs::write(&public, public_key_pem(&pair)).unwrap();
        (private, public)
    }
}

fn event(n: i64) -> NewAudit {
    NewAudit {
        at: Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).unwrap() + TimeDelta::seconds(n),
        action: AuditAction::Revoked,
        actor: "alice".into(),
        rule_id: Some("r1".into()),
        grant_id: Some(format!("g{n}")),
        subject_account: Some("dave".into()),
        detail: format!("revoked {n}"),
        source: None,
    }
}

async fn record(store: &Database, range: std::ops::Range<i64>) {
    for n in range {
        store.record_audit(event(n)).await.unwrap();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn succeeds(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn fails(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stderr)
}

#[tokio::test]
async fn verify_names_the_event_edited_by_hand() {
    let (setup, store) = Setup::new().await;
    record(&store, 0..10).await;
    store.chain_audit().await.unwrap();
    let out = succeeds(&setup.audit(&["verify"]));
    assert!(
        out.contains("verified 10 events up to chain_seq 10"),
        "{out}"
    );

    let seventh = store.chained_events(6, 7, 1).await.unwrap().remove(0);
    setup
        .raw(&format!(
            "UPDATE audit_events SET detail = 'nothing to see' WHERE id = {}",
            seventh.content.id
        ))
        .await;
    let err = fails(&setup.audit(&["verify"]));
    assert!(
        err.contains(&format!(
            "event id {} (chain_seq 7, at 2026-12-04T09:00:06Z, action revoked) does not match its hash",
            seventh.content.id
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_checkpoint_finds_a_rewritten_tail_and_a_truncated_one() {
    let (setup, store) = Setup::new().await;
    record(&store, 0..8).await;
    store.chain_audit().await.unwrap();
    let (key, public) = setup.key("audit");
    let checkpoints = setup.path("checkpoints.jsonl");
    let (key, public, checkpoints) = (
        key.to_str().unwrap(),
        public.to_str().unwrap(),
        checkpoints.to_str().unwrap(),
    );
    let line = succeeds(&setup.audit(&["checkpoint", "--key", key, "--to", checkpoints]));
    assert!(line.contains("\"seq\":8"), "{line}");
    let verify = [
        "verify",
        "--checkpoint",
        checkpoints,
        "--public-key",
        public,
    ];
    succeeds(&setup.audit(&verify));

    // another key's checkpoint is not believed
    let (other, _) = setup.key("other");
    succeeds(&setup.audit(&[
        "checkpoint",
        "--key",
        other.to_str().unwrap(),
        "--to",
        checkpoints,
    ]));
    let err = fails(&setup.audit(&verify));
    assert!(err.contains("signature does not verify"), "{err}");
    succeeds(&setup.audit(&["checkpoint", "--key", key, "--to", checkpoints]));

    // rewritten from the fifth event on, every hash and the head recomputed by the chainer
    let fourth = store.chained_events(3, 4, 1).await.unwrap().remove(0);
    setup
        .raw(&format!(
            "UPDATE audit_events SET detail = 'never revoked' WHERE chain_seq = 5; \
             UPDATE audit_events SET chain_seq = NULL, chain_hash = NULL WHERE chain_seq > 4; \
             UPDATE audit_chain SET seq = 4, hash = '{}'",
            fourth.hash
        ))
        .await;
    store.chain_audit().await.unwrap();
    succeeds(&setup.audit(&["verify"]));
    let err = fails(&setup.audit(&verify));
    assert!(
        err.contains("(chain_seq 8,") && err.contains("the chain up to it was rewritten"),
        "{err}"
    );

    // truncated: the last three deleted, the head set back to match
    let fifth = store.chained_events(4, 5, 1).await.unwrap().remove(0);
    setup
        .raw(&format!(
            "DELETE FROM audit_events WHERE chain_seq > 5; \
             UPDATE audit_chain SET seq = 5, hash = '{}'",
            fifth.hash
        ))
        .await;
    succeeds(&setup.audit(&["verify"]));
    let err = fails(&setup.audit(&verify));
    assert!(
        err.contains(
            "records chain_seq 8, but the chain ends at chain_seq 5: its tail was cut off"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_checkpoint_sent_to_syslog_is_one_rfc5424_message_verify_reads() {
    let (setup, store) = Setup::new().await;
    record(&store, 0..3).await;
    store.chain_audit().await.unwrap();
    let (key, public) = setup.key("audit");
    let socket_path = setup.path("log.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    succeeds(&setup.audit(&[
        "checkpoint",
        "--key",
        key.to_str().unwrap(),
        "--syslog",
        socket_path.to_str().unwrap(),
    ]));
    let mut buf = vec![0; 4096];
    let n = socket.recv(&mut buf).unwrap();
    let message = text(&buf[..n]);
    assert!(message.starts_with("<37>1 "), "{message}");
    assert!(
        message.contains(" jitroles ") && message.contains(" audit-checkpoint - {"),
        "{message}"
    );

    // what the syslog daemon writes to its file, read by verify
    let log = setup.path("auth.log");
    std::fs::write(&log, format!("Dec  4 10:00:00 host {message}\n")).unwrap();
    let out = succeeds(&setup.audit(&[
        "verify",
        "--checkpoint",
        log.to_str().unwrap(),
        "--public-key",
        public.to_str().unwrap(),
    ]));
    assert!(out.contains("checkpoint: chain_seq 3"), "{out}");
}

fn serve(dir: &Path, url: &str) -> std::process::Child {
    let mut child = jitroles(dir)
        .env("JITROLES_DATABASE_URL", url)
        .arg("serve")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = crate::cli::wait_ready(&mut child);
    // drained, so the server never blocks on a full pipe
    std::thread::spawn(move || lines.for_each(drop));
    child
}

/// A SIEM's feed: exports resumed from the cursor file while events keep being written (and
/// chained by the running server) hold every event exactly once, in chain order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_resumed_from_the_cursor_lose_and_repeat_nothing_while_events_arrive() {
    const EVENTS: i64 = 300;
    let (setup, store) = Setup::new().await;
    let mut server = serve(setup.dir.path(), &setup.url);
    let writer = tokio::spawn(async move {
        for n in 0..EVENTS {
            store.record_audit(event(n)).await.unwrap();
            // over about five seconds: several of the server's chaining rounds
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
        store
    });
    let feed = setup.path("feed.ndjson");
    let cursor = setup.path("feed.cursor");
    let export = {
        let args = [
            "export",
            "--cursor-file",
            cursor.to_str().unwrap(),
            "--to",
            feed.to_str().unwrap(),
        ]
        .map(String::from);
        let dir = setup.dir.path().to_owned();
        let url = setup.url.clone();
        move || {
            let out = jitroles(&dir)
                .env("JITROLES_DATABASE_URL", &url)
                .arg("audit")
                .args(&args)
                .output()
                .unwrap();
            succeeds(&out);
            text(&out.stderr)
        }
    };
    let mut exports_with_events = 0;
    while !writer.is_finished() {
        let said = tokio::task::spawn_blocking(export.clone()).await.unwrap();
        if !said.contains("exported 0 events") {
            exports_with_events += 1;
        }
    }
    let store = writer.await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.unchained_audit_events().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "the server does not chain");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::task::spawn_blocking(export).await.unwrap();
    server.kill().unwrap();
    server.wait().unwrap();

    assert!(
        exports_with_events >= 2,
        "the feed was read while it grew ({exports_with_events} exports)"
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&feed)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seqs: Vec<i64> = lines
        .iter()
        .map(|l| l["chain_seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=EVENTS).collect::<Vec<_>>(),
        "in order, once each"
    );
    let mut grants: Vec<&str> = lines
        .iter()
        .map(|l| l["grant_id"].as_str().unwrap())
        .collect();
    grants.sort_unstable();
    grants.dedup();
    assert_eq!(grants.len(), EVENTS as usize, "every event");
    assert_eq!(
        std::fs::read_to_string(&cursor).unwrap().trim(),
        EVENTS.to_string()
    );
    assert!(lines[0]["hash"].as_str().unwrap().len() == 64);
}
