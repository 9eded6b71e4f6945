//! Helpers the benchmarks share (a module of each, not a bench target itself).

// each bench uses only some of them
#![allow(dead_code)]

use std::{io::BufReader, sync::Arc};

use ldap3::{LdapConnAsync, LdapConnSettings};

pub fn env(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| {
        panic!("{k} is not set: eval \"$(scripts/ad up)\" and \"$(scripts/oidc up)\" first")
    })
}

/// `message` with the bearer `token`.
pub fn authorized<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// The product's settings for the benchmarks, in `dir` (SQLite unless `database` names
/// another): the test DC as jit-svc over LDAPS, the test provider, ci-bot mapped to svc-ci, and
/// dba-oncall (svc-ci's group) as the admin group, so svc-ci also makes the rules.
pub fn config(dir: &std::path::Path, database: Option<String>) -> jitroles_server::config::Config {
    use jitroles_server::config::{
        AccessSection, Config, DirectorySection, NotificationsSection, OidcSection, ServerConfig,
        UserAttribute,
    };
    let web_root = dir.join("dist");
    std::fs::create_dir_all(&web_root).unwrap();
    std::fs::write(web_root.join("index.html"), "bench").unwrap();
    let mut config = Config {
        data_dir: dir.join("data"),
        server: ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            web_root: Some(web_root),
            public_url: None,
            trusted_proxies: Vec::new(),
            ..ServerConfig::default()
        },
        notifications: NotificationsSection {
            render_program: Some(env!("CARGO_BIN_EXE_jitroles").into()),
            allowed_networks: vec!["127.0.0.0/8".into()],
            ..NotificationsSection::default()
        },
        directory: Some(DirectorySection {
            urls: vec![env("AD_LDAPS_URL")],
            bind_dn: env("AD_SVC_DN"),
            bind_password: env("AD_SVC_PASS").into(),
            ca_file: Some(env("AD_CA_FILE").into()),
            starttls: false,
            allow_plain_ldap: false,
            timeout_seconds: 10,
            force_scheduler: false,
            max_ticket_lifetime_hours: 10,
        }),
        oidc: Some(OidcSection {
            issuer: env("OIDC_ISSUER"),
            audience: env("OIDC_API_AUDIENCE"),
            jwks_url: None,
            service_accounts: [("ci-bot".to_owned(), "svc-ci".to_owned())].into(),
            client_id: None,
            client_secret: None,
            user_claim: "preferred_username".into(),
            user_attribute: UserAttribute::SamAccountName,
            allowed_clients: Vec::new(),
            require_at_jwt: true,
        }),
        access: AccessSection {
            admin_groups: vec!["dba-oncall".into()],
            ..AccessSection::default()
        },
        ..Config::default()
    };
    config.database.url = database.map(Into::into);
    config
}

/// An access token for ci-bot (svc-ci) from the test provider.
pub async fn ci_bot_token() -> String {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/token", env("OIDC_ISSUER")))
        .basic_auth("ci-bot", Some(env("OIDC_CI_BOT_SECRET")))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

/// A rule on `group` that dba-oncall may request for up to an hour, made by svc-ci.
pub async fn oncall_rule(
    channel: tonic::transport::Channel,
    token: &str,
    name: &str,
    group: &str,
) -> String {
    use jitroles_proto::v1::{self as pb, admin_service_client::AdminServiceClient};
    let mut admin = AdminServiceClient::new(channel);
    let oncall = admin
        .search_directory(authorized(
            token,
            pb::SearchDirectoryRequest {
                query: "dba-oncall".into(),
                kind: pb::DirectoryObjectKind::Group.into(),
                page_size: 5,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .entries
        .remove(0)
        .sid;
    admin
        .create_rule(authorized(
            token,
            pb::CreateRuleRequest {
                spec: Some(pb::RuleSpec {
                    name: name.into(),
                    target_group: group.into(),
                    acl: vec![pb::AclEntry {
                        principal_sid: oncall,
                        display_name: String::new(),
                        kind: pb::PrincipalKind::Group.into(),
                        effect: pb::Effect::Allow.into(),
                    }],
                    max_duration: Some(prost_types::Duration {
                        seconds: 3600,
                        nanos: 0,
                    }),
                    enabled: true,
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .id
}

pub fn group_dn(name: &str) -> String {
    format!("CN={name},{}", env("AD_ROLE_OU"))
}

/// Fresh global security groups `names` in OU=JIT Roles (as the domain administrator).
pub async fn make_groups(names: &[String]) {
    use std::collections::HashSet;
    let mut admin = ldaps(&env("AD_ADMIN_DN"), &env("AD_ADMIN_PASS")).await;
    for name in names {
        let _ = admin.delete(&group_dn(name)).await;
        admin
            .add(
                &group_dn(name),
                vec![
                    ("objectClass", HashSet::from(["group"])),
                    ("sAMAccountName", HashSet::from([name.as_str()])),
                    ("groupType", HashSet::from(["-2147483646"])),
                ],
            )
            .await
            .unwrap()
            .success()
            .unwrap();
    }
}

pub async fn drop_groups(names: &[String]) {
    let mut admin = ldaps(&env("AD_ADMIN_DN"), &env("AD_ADMIN_PASS")).await;
    for name in names {
        admin.delete(&group_dn(name)).await.unwrap();
    }
}

/// A raw ldap3 connection to the test DC over LDAPS, bound as `dn`, trusting the DC's CA.
pub async fn ldaps(dn: &str, password: &str) -> ldap3::Ldap {
    let mut roots = rustls::RootCertStore::empty();
    let ca = env("AD_CA_FILE");
    for cert in rustls_pemfile::certs(&mut BufReader::new(std::fs::File::open(&ca).unwrap())) {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let (conn, mut ldap) = LdapConnAsync::with_settings(
        LdapConnSettings::new().set_config(Arc::new(tls)),
        &env("AD_LDAPS_URL"),
    )
    .await
    .unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(dn, password)
        .await
        .unwrap()
        .success()
        .unwrap();
    ldap
}

/// p50, p99 and max of `values` (sorted in place).
pub fn percentiles(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let pct = |p: f64| values[((p * values.len() as f64) as usize).min(values.len() - 1)];
    (pct(0.5), pct(0.99), values[values.len() - 1])
}

/// A fresh SQLite database in `data`, migrated.
pub async fn fresh_database(data: &std::path::Path) -> jitroles_store::Database {
    std::fs::create_dir_all(data).unwrap();
    let db = jitroles_store::Database::connect(&format!(
        "sqlite://{}",
        data.join("jitroles.db").display()
    ))
    .await
    .unwrap();
    db.migrate().await.unwrap();
    db
}

/// An audit event the benchmark's set-up writes.
pub fn bench_audit(
    action: jitroles_domain::audit::AuditAction,
) -> jitroles_domain::audit::NewAudit {
    jitroles_domain::audit::NewAudit {
        at: chrono::Utc::now(),
        action,
        actor: "bench".into(),
        rule_id: None,
        grant_id: None,
        subject_account: None,
        detail: String::new(),
        source: None,
    }
}

/// A rule "bench" on `group`, as the server would have stored it, with `shape` applied to its
/// settings (an ACL, an approval policy).
pub async fn seed_rule(
    db: &jitroles_store::Database,
    group: &jitroles_domain::directory::DirectoryGroup,
    shape: impl FnOnce(&mut jitroles_domain::rule::RuleSpec),
) -> jitroles_domain::rule::RoleRule {
    use jitroles_domain::{
        audit::AuditAction,
        ports::RuleStore,
        rule::{JustificationPolicy, RoleRule, RuleSpec, TargetGroup},
    };
    let now = chrono::Utc::now();
    let mut spec = RuleSpec {
        name: "bench".into(),
        description: String::new(),
        acl: Vec::new(),
        max_duration: Some(std::time::Duration::from_secs(2 * 86_400)),
        default_duration: None,
        allow_extension: false,
        max_total_duration: None,
        justification: Some(JustificationPolicy::Optional),
        enabled: true,
        expires_at: None,
        channels: Default::default(),
        approval: None,
        max_lead: None,
    };
    shape(&mut spec);
    let rule = RoleRule {
        id: uuid::Uuid::new_v4().to_string(),
        spec: spec.validate(now).unwrap(),
        target: TargetGroup {
            sid: group.sid.clone(),
            guid: group.guid.clone(),
            dn: group.dn.clone(),
            name: group.name.clone(),
        },
        version: 1,
        created_at: now,
        updated_at: now,
    };
    db.create_rule(&rule, bench_audit(AuditAction::RuleCreated))
        .await
        .unwrap();
    rule
}

/// Person `i` (`sid`, `dn`)'s `active` grant of `rule` until `expires_at`, scheduler
/// mechanism, as the server would have stored it.
pub fn bench_grant(
    rule: &jitroles_domain::rule::RoleRule,
    i: usize,
    (sid, dn): (String, String),
    expires_at: chrono::DateTime<chrono::Utc>,
) -> jitroles_domain::grant::Grant {
    use jitroles_domain::{
        directory::Mechanism,
        grant::{Grant, GrantState, Subject},
    };
    Grant {
        id: uuid::Uuid::new_v4().to_string(),
        rule_id: rule.id.clone(),
        rule_name: rule.spec.name.clone(),
        group: rule.target.clone(),
        subject: Subject {
            sid: sid.parse().unwrap(),
            dn,
            account: format!("bench-{i}"),
            display_name: format!("bench {i}"),
        },
        requested_by: "bench".into(),
        justification: String::new(),
        requested_at: chrono::Utc::now(),
        expires_at,
        state: GrantState::Active,
        mechanism: Mechanism::Scheduled,
        extension_count: 0,
        ended_at: None,
        end_reason: None,
        end_note: None,
        last_error: None,
        client_request_id: None,
        lease: None,
        version: 1,
        deferred: None,
    }
}

/// A fresh SQLite database in `data`, migrated, holding what the server would have written for
/// one rule on `group` and an `active`, scheduled grant of it for each (SID, DN, expiry) in
/// `grants`. Returns the open database.
pub async fn seed(
    data: &std::path::Path,
    group: &jitroles_domain::directory::DirectoryGroup,
    grants: impl Iterator<Item = (String, String, chrono::DateTime<chrono::Utc>)>,
) -> jitroles_store::Database {
    use jitroles_domain::{audit::AuditAction, ports::GrantStore};
    let db = fresh_database(data).await;
    let rule = seed_rule(&db, group, |_| {}).await;
    for (i, (sid, dn, expires_at)) in grants.enumerate() {
        let grant = bench_grant(&rule, i, (sid, dn), expires_at);
        db.insert_grant(&grant, bench_audit(AuditAction::Granted))
            .await
            .unwrap();
    }
    db
}
