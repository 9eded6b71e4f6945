//! What the service tests share: bearer tokens for people of the test population, server
//! configurations on the in-test directory fixture or on the test DC and provider, and a
//! rule that dba-oncall may request.

use std::path::Path;

use jitroles_ad_fixture::{SVC_DN, SVC_PASSWORD};
use jitroles_proto::v1::{self as pb, admin_service_client::AdminServiceClient};
use jitroles_server::config::{
    AccessSection, Config, DirectorySection, OidcSection, UserAttribute,
};
use tonic::{Request, transport::Channel};

use crate::{
    oidc::{Provider, provider},
    support::config_in,
};

/// `message` as `account` sends it: with a bearer token the provider's key signed.
pub fn as_<T>(op: &Provider, account: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    let bearer = format!("Bearer {}", op.person_token(account));
    request
        .metadata_mut()
        .insert("authorization", bearer.parse().unwrap());
    request
}

pub fn secs(seconds: i64) -> prost_types::Duration {
    prost_types::Duration { seconds, nanos: 0 }
}

/// Tokens from the test provider, people by `preferred_username`.
pub fn oidc(op: &Provider) -> OidcSection {
    OidcSection {
        issuer: op.issuer.clone(),
        audience: op.audience.clone(),
        jwks_url: None, // discovered
        service_accounts: Default::default(),
        client_id: None,
        client_secret: None,
        user_claim: "preferred_username".into(),
        user_attribute: UserAttribute::SamAccountName,
        // the client `Provider::person_token`s are issued to
        allowed_clients: vec![crate::oidc::PERSON_CLIENT.into()],
        require_at_jwt: true,
    }
}

/// A server in `dir` on SQLite with the fixture (plain LDAP at `ldap_url`) as its directory,
/// the test provider, and jitroles-admins as the admin group.
pub fn on_fixture(dir: &Path, ldap_url: String, op: &Provider) -> Config {
    let mut config = config_in(dir);
    config.directory = Some(DirectorySection {
        urls: vec![ldap_url],
        bind_dn: SVC_DN.into(),
        bind_password: SVC_PASSWORD.into(),
        ca_file: None,
        starttls: false,
        allow_plain_ldap: true, // the fixture speaks plain LDAP on loopback
        timeout_seconds: 2,
        force_scheduler: false,
        max_ticket_lifetime_hours: 10,
    });
    config.oidc = Some(oidc(op));
    config.access = AccessSection {
        admin_groups: vec!["jitroles-admins".into()],
        ..AccessSection::default()
    };
    config
}

/// A rule made by alice on `group` whose ACL allows dba-oncall, at most an hour, with
/// `default_secs` as its default and extension allowed.
pub async fn oncall_rule(
    channel: Channel,
    op: &Provider,
    (name, group): (&str, &str),
    default_secs: i64,
    justification: pb::JustificationPolicy,
) -> pb::Rule {
    let mut admin = AdminServiceClient::new(channel);
    let oncall = admin
        .search_directory(as_(
            op,
            "alice",
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
        .into_iter()
        .find(|e| e.account_name == "dba-oncall")
        .unwrap()
        .sid;
    admin
        .create_rule(as_(
            op,
            "alice",
            pb::CreateRuleRequest {
                spec: Some(pb::RuleSpec {
                    name: name.into(),
                    description: "Production database administration".into(),
                    target_group: group.into(),
                    acl: vec![pb::AclEntry {
                        principal_sid: oncall,
                        display_name: String::new(),
                        kind: pb::PrincipalKind::Group.into(),
                        effect: pb::Effect::Allow.into(),
                    }],
                    max_duration: Some(secs(3600)),
                    default_duration: Some(secs(default_secs)),
                    allow_extension: true,
                    justification: justification.into(),
                    enabled: true,
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap()
        .into_inner()
}

/// A configuration for the test DC (as jit-svc over LDAPS) and provider, with ci-bot mapped to
/// svc-ci and jitroles-admins as the admin group; `None` outside CI when they are not up.
pub fn directory_and_provider(dir: &std::path::Path) -> Option<(Config, Provider)> {
    let op = provider()?;
    let ldaps = crate::service::SAMBA.var()?;
    let var = |k: &str| std::env::var(k).unwrap();
    let mut config = config_in(dir);
    config.directory = Some(DirectorySection {
        urls: vec![ldaps],
        bind_dn: var("AD_SVC_DN"),
        bind_password: var("AD_SVC_PASS").into(),
        ca_file: Some(var("AD_CA_FILE").into()),
        starttls: false,
        allow_plain_ldap: false,
        timeout_seconds: 5,
        force_scheduler: false,
        max_ticket_lifetime_hours: 10,
    });
    config.oidc = Some(OidcSection {
        service_accounts: [("ci-bot".to_owned(), "svc-ci".to_owned())].into(),
        ..oidc(&op)
    });
    config.access = AccessSection {
        admin_groups: vec!["jitroles-admins".into()],
        ..AccessSection::default()
    };
    Some((config, op))
}

/// The SID of the group `name`, as alice's directory search finds it.
pub async fn group_sid(channel: Channel, op: &Provider, name: &str) -> String {
    AdminServiceClient::new(channel)
        .search_directory(as_(
            op,
            "alice",
            pb::SearchDirectoryRequest {
                query: name.into(),
                kind: pb::DirectoryObjectKind::Group.into(),
                page_size: 5,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .entries
        .into_iter()
        .find(|e| e.account_name == name)
        .unwrap_or_else(|| panic!("the directory has no group {name}"))
        .sid
}

/// `rule` with its requests decided by dba-approvers (`required` of them) and the approval
/// events going to `approval_channels`, as alice saves it.
pub async fn decided_by_dba_approvers(
    channel: Channel,
    op: &Provider,
    rule: &pb::Rule,
    required: u32,
    approval_channels: Vec<String>,
) -> pb::Rule {
    let approvers = group_sid(channel.clone(), op, "dba-approvers").await;
    let mut spec = rule.spec.clone().unwrap();
    spec.approval = Some(pb::ApprovalPolicy {
        approvers: vec![pb::AclEntry {
            principal_sid: approvers,
            display_name: String::new(),
            kind: pb::PrincipalKind::Group.into(),
            effect: pb::Effect::Allow.into(),
        }],
        required_approvals: required,
        ..Default::default()
    });
    spec.approval_channels = approval_channels;
    save_spec(channel, op, rule, spec).await
}

/// `rule` with `spec`, as alice saves it.
pub async fn save_spec(
    channel: Channel,
    op: &Provider,
    rule: &pb::Rule,
    spec: pb::RuleSpec,
) -> pb::Rule {
    AdminServiceClient::new(channel)
        .update_rule(as_(
            op,
            "alice",
            pb::UpdateRuleRequest {
                rule_id: rule.id.clone(),
                spec: Some(spec),
                version: rule.version,
            },
        ))
        .await
        .unwrap()
        .into_inner()
}
