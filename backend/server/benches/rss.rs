//! Server memory with 100,000 live grants: the grants are written straight into a fresh
//! SQLite database; the server (the release binary, as its own process) loads and schedules
//! them: it finds the next expiry and, at start-up, reconciles the role group (all 100,000
//! members, read in ranges) against the live grants.
//!
//!     cargo bench -p jitroles-server --bench rss
//!
//! The directory is `jitroles-ad-fixture` in this process (no installable DC holds 100,000
//! members quickly), with 100,000 contacts in jit-role-dba matching the grants. Reported:
//! VmRSS when the server answers, and VmRSS and VmHWM (peak) 30 s later, after the start-up
//! reconciliation.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reads the clock

mod support;

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use chrono::{TimeDelta, Utc};
use jitroles_ad_fixture::{BASE_DN, Fixture, Options, SVC_DN, SVC_PASSWORD};
use jitroles_directory::{ActiveDirectory, DirectoryConfig};
use jitroles_domain::directory::{Directory, GroupRef};

const GRANTS: usize = 100_000;

fn status(pid: u32, field: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with(field))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let fixture = Fixture::start(Options {
        pam_enabled: false,
        ..Options::default()
    })
    .await
    .unwrap();
    fixture.add_contacts_to("jit-role-dba", GRANTS);
    let mut dir_config = DirectoryConfig::new(fixture.url(), SVC_DN, SVC_PASSWORD);
    dir_config.allow_plain = true;
    let ad = ActiveDirectory::new(dir_config).unwrap();
    let group = ad
        .group(&GroupRef::Dn(format!(
            "CN=jit-role-dba,OU=JIT Roles,{BASE_DN}"
        )))
        .await
        .unwrap()
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let t = Instant::now();
    // due tomorrow, spread over an hour: nothing ends while this runs
    let tomorrow = Utc::now() + TimeDelta::days(1);
    let db = support::seed(
        &data,
        &group,
        (0..GRANTS).map(|i| {
            (
                format!("S-1-5-21-1-2-3-{}", 200_000 + i),
                format!("CN=contact-{i:05},CN=Users,{BASE_DN}"),
                tomorrow + TimeDelta::milliseconds(i as i64 * 36),
            )
        }),
    )
    .await;
    db.close().await;
    println!(
        "setup: {GRANTS} live grants written in {:.0} s",
        t.elapsed().as_secs_f64()
    );

    let web = dir.path().join("dist");
    std::fs::create_dir_all(&web).unwrap();
    std::fs::write(web.join("index.html"), "bench").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jitroles"))
        .arg("serve")
        .env("JITROLES_DATA_DIR", &data)
        .env("JITROLES_SERVER_LISTEN", format!("127.0.0.1:{port}"))
        .env("JITROLES_SERVER_WEB_ROOT", &web)
        .env("JITROLES_DIRECTORY_URL", fixture.url())
        .env("JITROLES_DIRECTORY_BIND_DN", SVC_DN)
        .env("JITROLES_DIRECTORY_BIND_PASSWORD", SVC_PASSWORD)
        .env("JITROLES_DIRECTORY_ALLOW_PLAIN_LDAP", "true")
        .env("JITROLES_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let pid = child.id();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "server answers after {:.2} s: VmRSS {}",
        started.elapsed().as_secs_f64(),
        status(pid, "VmRSS")
    );
    tokio::time::sleep(Duration::from_secs(30)).await;
    println!(
        "30 s later (start-up reconciliation of {GRANTS} grants and members done): VmRSS {}, peak VmHWM {} (target ≤ 150 MB)",
        status(pid, "VmRSS"),
        status(pid, "VmHWM")
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
