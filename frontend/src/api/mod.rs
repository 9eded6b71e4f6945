//! The only module that talks to the network: gRPC-web calls to the server that served the app.
//!
//! Every call carries the `x-jitroles-csrf` header: the server accepts the session cookie only
//! with it, and a page on another origin cannot add it without a CORS preflight the server
//! never grants (docs/security.md).

mod approvals;
mod error;
mod raw;
mod reports;
mod rules;

pub use approvals::{Approvals, Decide};
pub use error::ApiError;
use jitroles_proto::v1 as pb;
use tonic::{Request, Status, metadata::MetadataValue, service::interceptor::InterceptedService};
use tonic_web_wasm_client::Client;

pub type ServerInfo = pb::ServerInfoResponse;
pub type Me = pb::WhoAmIResponse;
pub type Role = pb::Role;
pub type Grant = pb::Grant;
pub type Rule = pb::Rule;
pub type RuleSpec = pb::RuleSpec;
pub type RuleVersion = pb::RuleVersion;
pub type RulesPlan = pb::RulesPlan;
pub type AclEntry = pb::AclEntry;
pub type DirectoryEntry = pb::DirectoryEntry;
pub type AuditEvent = pb::AuditEvent;
pub type DirectoryStatus = pb::DirectoryStatus;
pub type Channel = pb::Channel;
pub type ChannelSpec = pb::ChannelSpec;
pub type EmailChannel = pb::EmailChannel;
pub type WebhookChannel = pb::WebhookChannel;
pub type Header = pb::Header;
pub type SecretSource = pb::SecretSource;
pub type TestOutcome = pb::TestChannelResponse;
pub type Notification = pb::Notification;
pub type Freeze = pb::Freeze;
pub type Revoked = pb::RevokeGrantsResponse;
pub type ApprovalPolicy = pb::ApprovalPolicy;
pub type UsageReport = pb::UsageReport;
pub type RuleUsage = pb::RuleUsage;
pub type RuleAccess = pb::GetRuleAccessResponse;
pub type PersonAccess = pb::GetPersonAccessResponse;
pub type RuleStanding = pb::RuleStanding;
pub use pb::{
    AuditAction, DeliveryState, DirectoryObjectKind, Effect, EndReason, GrantState,
    JustificationPolicy, Mechanism, NotificationEvent, PrincipalKind, SmtpTls, Verdict,
    WebhookPreset, channel_spec::Kind as ChannelKind, secret_source::Source as SecretFrom,
};

/// Which audit events to list (empty fields match all).
#[derive(Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub account: String,
    pub rule_id: String,
    /// The wire value of an `AuditAction`; 0 matches every action.
    pub action: i32,
    /// Epoch milliseconds.
    pub since_ms: Option<f64>,
    pub until_ms: Option<f64>,
}

/// Which usage report to read.
#[derive(Clone, Default, PartialEq)]
pub struct UsageQuery {
    /// The period, epoch milliseconds (`None`: missing, which the server refuses).
    pub from_ms: Option<f64>,
    pub to_ms: Option<f64>,
    /// "Not requested in N days"; 0: the server's default.
    pub unused_days: u32,
    /// One rule; empty: every rule.
    pub rule_id: String,
}

/// A request for a role, as the request form makes it.
#[derive(Clone, PartialEq)]
pub struct Ask {
    pub rule_id: String,
    pub secs: i64,
    pub justification: String,
    /// A scheduled start, epoch milliseconds (`None`: now).
    pub start_ms: Option<f64>,
    /// Non-empty: break-glass access now, for this reason.
    pub break_glass: String,
}

/// Which grants to list: newest first; empty fields match all.
#[derive(Clone, PartialEq)]
pub struct GrantQuery {
    /// An account name (any case) or a SID.
    pub person: String,
    pub rule_id: String,
    /// The server's state names ("live", "ended", "failed", …); empty: every state.
    pub states: Vec<&'static str>,
}

impl Default for GrantQuery {
    /// The live grants of everyone.
    fn default() -> Self {
        Self {
            person: String::new(),
            rule_id: String::new(),
            states: vec!["live"],
        }
    }
}

/// One page of a list and the token for the next (`None`: it was the last).
#[derive(Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            next: None,
        }
    }
}

impl<T> Page<T> {
    fn new(items: Vec<T>, next_page_token: String) -> Self {
        Self {
            items,
            next: (!next_page_token.is_empty()).then_some(next_page_token),
        }
    }
}

/// A handle on the jitroles API at this page's origin. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    transport: Client,
    /// Called on every `Unauthenticated` answer: the sign-in redirect, given by `app.rs`.
    on_unauthenticated: fn(),
}

type Transport = InterceptedService<Client, fn(Request<()>) -> Result<Request<()>, Status>>;

/// Marks a call as made by the app itself.
fn from_the_app(mut request: Request<()>) -> Result<Request<()>, Status> {
    request
        .metadata_mut()
        .insert("x-jitroles-csrf", MetadataValue::from_static("1"));
    Ok(request)
}

impl Api {
    /// The API of the server the app was loaded from: one origin carries app, auth and API.
    /// `on_unauthenticated` runs whenever an answer says the session is gone.
    pub fn same_origin(on_unauthenticated: fn()) -> Result<Self, ApiError> {
        let origin = leptos::prelude::window()
            .location()
            .origin()
            .map_err(|_| ApiError::Other("cannot read this page's origin".into()))?;
        Ok(Self {
            transport: Client::new(origin),
            on_unauthenticated,
        })
    }

    /// A call's answer as the pages see it; an ended session also starts the sign-in.
    fn answer<T>(&self, reply: Result<tonic::Response<T>, Status>) -> Result<T, ApiError> {
        reply.map(tonic::Response::into_inner).map_err(|status| {
            let error = ApiError::from(status);
            if error == ApiError::Unauthenticated {
                (self.on_unauthenticated)();
            }
            error
        })
    }

    fn transport(&self) -> Transport {
        InterceptedService::new(self.transport.clone(), from_the_app as fn(_) -> _)
    }

    pub async fn server_info(&self) -> Result<ServerInfo, ApiError> {
        self.answer(
            self.call::<_, pb::ServerInfoResponse>(
                "/jitroles.v1.SystemService/ServerInfo",
                pb::ServerInfoRequest {},
            )
            .await,
        )
    }

    pub async fn who_am_i(&self) -> Result<Me, ApiError> {
        self.answer(
            self.call::<_, pb::WhoAmIResponse>(
                "/jitroles.v1.RoleService/WhoAmI",
                pb::WhoAmIRequest {},
            )
            .await,
        )
    }

    pub async fn list_roles(&self) -> Result<Vec<Role>, ApiError> {
        self.answer(
            self.call::<_, pb::ListRolesResponse>(
                "/jitroles.v1.RoleService/ListRoles",
                pb::ListRolesRequest {},
            )
            .await,
        )
        .map(|r| r.roles)
    }

    pub async fn request_role(&self, ask: Ask) -> Result<Grant, ApiError> {
        self.answer(
            self.call::<_, pb::Grant>(
                "/jitroles.v1.RoleService/RequestRole",
                pb::RequestRoleRequest {
                    rule_id: ask.rule_id,
                    duration: Some(seconds(ask.secs)),
                    justification: ask.justification,
                    start_time: ask.start_ms.map(crate::format::timestamp),
                    break_glass_reason: ask.break_glass,
                    ..Default::default()
                },
            )
            .await,
        )
    }

    /// Extends to now + `duration_secs` (`None`: the rule's default); the server caps it at the
    /// rule's maximum and total lifetime.
    pub async fn extend_grant(
        &self,
        grant_id: String,
        duration_secs: Option<i64>,
    ) -> Result<Grant, ApiError> {
        self.answer(
            self.call::<_, pb::Grant>(
                "/jitroles.v1.RoleService/ExtendGrant",
                pb::ExtendGrantRequest {
                    grant_id,
                    duration: duration_secs.map(seconds),
                },
            )
            .await,
        )
    }

    pub async fn release_grant(&self, grant_id: String) -> Result<Grant, ApiError> {
        self.answer(
            self.call::<_, pb::Grant>(
                "/jitroles.v1.RoleService/ReleaseGrant",
                pb::ReleaseGrantRequest { grant_id },
            )
            .await,
        )
    }

    pub async fn search_directory(
        &self,
        query: String,
        kind: DirectoryObjectKind,
    ) -> Result<Vec<DirectoryEntry>, ApiError> {
        self.answer(
            self.call::<_, pb::SearchDirectoryResponse>(
                "/jitroles.v1.AdminService/SearchDirectory",
                pb::SearchDirectoryRequest {
                    query,
                    kind: kind.into(),
                    page_size: 20,
                },
            )
            .await,
        )
        .map(|r| r.entries)
    }

    pub async fn list_grants(
        &self,
        query: GrantQuery,
        page_token: String,
    ) -> Result<Page<Grant>, ApiError> {
        self.answer(
            self.call::<_, pb::ListGrantsResponse>(
                "/jitroles.v1.AdminService/ListGrants",
                pb::ListGrantsRequest {
                    // read only when `states` is empty: then every state
                    include_ended: true,
                    page_size: 100,
                    page_token,
                    person: query.person,
                    rule_id: query.rule_id,
                    states: query.states.into_iter().map(str::to_owned).collect(),
                },
            )
            .await,
        )
        .map(|a| Page::new(a.grants, a.next_page_token))
    }

    pub async fn revoke_grant(&self, grant_id: String, reason: String) -> Result<Grant, ApiError> {
        self.answer(
            self.call::<_, pb::Grant>(
                "/jitroles.v1.AdminService/RevokeGrant",
                pb::RevokeGrantRequest { grant_id, reason },
            )
            .await,
        )
    }

    /// Every live grant of a person (account or SID) or, with `of_rule`, of a rule.
    pub async fn revoke_all(
        &self,
        who: String,
        of_rule: bool,
        reason: String,
    ) -> Result<Revoked, ApiError> {
        self.answer(if of_rule {
            let ask = pb::RevokeGrantsOfRuleRequest {
                rule_id: who,
                reason,
            };
            self.call("/jitroles.v1.AdminService/RevokeGrantsOfRule", ask)
                .await
        } else {
            let ask = pb::RevokeGrantsOfPersonRequest {
                person: who,
                reason,
            };
            self.call("/jitroles.v1.AdminService/RevokeGrantsOfPerson", ask)
                .await
        })
    }

    /// Freezes requests of a rule (`None`: of every rule) with `reason`, or, with no reason,
    /// unfreezes them.
    pub async fn freeze(
        &self,
        rule_id: Option<String>,
        reason: Option<String>,
    ) -> Result<(), ApiError> {
        use pb::{freeze_requests_request::Scope as F, unfreeze_requests_request::Scope as U};
        let done = match reason {
            Some(reason) => {
                let ask = pb::FreezeRequestsRequest {
                    scope: Some(rule_id.map_or(F::All(true), F::RuleId)),
                    reason,
                };
                self.call::<_, pb::Freeze>("/jitroles.v1.AdminService/FreezeRequests", ask)
                    .await
                    .map(|_| tonic::Response::new(()))
            }
            None => {
                let ask = pb::UnfreezeRequestsRequest {
                    scope: Some(rule_id.map_or(U::All(true), U::RuleId)),
                };
                self.call::<_, pb::UnfreezeRequestsResponse>(
                    "/jitroles.v1.AdminService/UnfreezeRequests",
                    ask,
                )
                .await
                .map(|_| tonic::Response::new(()))
            }
        };
        self.answer(done)
    }

    pub async fn list_freezes(&self) -> Result<Vec<Freeze>, ApiError> {
        self.answer(
            self.call::<_, pb::ListFreezesResponse>(
                "/jitroles.v1.AdminService/ListFreezes",
                pb::ListFreezesRequest {},
            )
            .await,
        )
        .map(|r| r.freezes)
    }

    /// The unary call `path` with `ask`, through [`raw`]: one copy of tonic's call path for
    /// every RPC, instead of one per (request, response) pair as the generated clients would
    /// compile (see `raw`).
    async fn call<Q: prost::Message, A: prost::Message + Default>(
        &self,
        path: &'static str,
        ask: Q,
    ) -> Result<tonic::Response<A>, Status> {
        let (meta, bytes, extensions) = raw::unary(self.transport(), path, ask.encode_to_vec())
            .await?
            .into_parts();
        let answer = A::decode(bytes.as_slice())
            .map_err(|e| Status::internal(format!("the server's answer cannot be read: {e}")))?;
        Ok(tonic::Response::from_parts(meta, answer, extensions))
    }

    pub async fn audit_events(
        &self,
        query: AuditQuery,
        page_token: String,
    ) -> Result<Page<AuditEvent>, ApiError> {
        self.answer(
            self.call::<_, pb::ListAuditEventsResponse>(
                "/jitroles.v1.AdminService/ListAuditEvents",
                pb::ListAuditEventsRequest {
                    subject_account: query.account,
                    rule_id: query.rule_id,
                    action: query.action,
                    since: query.since_ms.map(crate::format::timestamp),
                    until: query.until_ms.map(crate::format::timestamp),
                    page_size: 50,
                    page_token,
                },
            )
            .await,
        )
        .map(|a| Page::new(a.events, a.next_page_token))
    }

    pub async fn directory_status(&self) -> Result<DirectoryStatus, ApiError> {
        self.answer(
            self.call::<_, pb::DirectoryStatus>(
                "/jitroles.v1.AdminService/GetDirectoryStatus",
                pb::GetDirectoryStatusRequest {},
            )
            .await,
        )
    }

    pub async fn list_channels(&self) -> Result<Vec<Channel>, ApiError> {
        self.answer(
            self.call::<_, pb::ListChannelsResponse>(
                "/jitroles.v1.AdminService/ListChannels",
                pb::ListChannelsRequest {},
            )
            .await,
        )
        .map(|r| r.channels)
    }

    /// Creates the channel (no id) or saves over `version` of an existing one.
    pub async fn save_channel(
        &self,
        existing: Option<(String, i64)>,
        spec: ChannelSpec,
    ) -> Result<Channel, ApiError> {
        self.answer(match existing {
            None => {
                self.call::<_, pb::Channel>(
                    "/jitroles.v1.AdminService/CreateChannel",
                    pb::CreateChannelRequest { spec: Some(spec) },
                )
                .await
            }
            Some((channel_id, version)) => {
                self.call::<_, pb::Channel>(
                    "/jitroles.v1.AdminService/UpdateChannel",
                    pb::UpdateChannelRequest {
                        channel_id,
                        spec: Some(spec),
                        version,
                    },
                )
                .await
            }
        })
    }

    pub async fn delete_channel(&self, channel_id: String, version: i64) -> Result<(), ApiError> {
        self.answer(
            self.call::<_, pb::DeleteChannelResponse>(
                "/jitroles.v1.AdminService/DeleteChannel",
                pb::DeleteChannelRequest {
                    channel_id,
                    version,
                },
            )
            .await,
        )
        .map(|_| ())
    }

    /// Sends a sample notification through `spec` as it stands in the editor, saved or not.
    pub async fn test_channel(&self, spec: ChannelSpec) -> Result<TestOutcome, ApiError> {
        self.answer(
            self.call::<_, pb::TestChannelResponse>(
                "/jitroles.v1.AdminService/TestChannel",
                pb::TestChannelRequest {
                    target: Some(pb::test_channel_request::Target::Spec(spec)),
                },
            )
            .await,
        )
    }

    /// The outbox, newest first; `DeliveryState::Unspecified` lists every state.
    pub async fn notifications(
        &self,
        state: DeliveryState,
        page_token: String,
    ) -> Result<Page<Notification>, ApiError> {
        self.answer(
            self.call::<_, pb::ListNotificationsResponse>(
                "/jitroles.v1.AdminService/ListNotifications",
                pb::ListNotificationsRequest {
                    state: state.into(),
                    page_size: 50,
                    page_token,
                },
            )
            .await,
        )
        .map(|a| Page::new(a.notifications, a.next_page_token))
    }

    /// A failed notification sent again; the notification as it is now (pending).
    pub async fn retry_notification(&self, id: String) -> Result<Notification, ApiError> {
        self.answer(
            self.call::<_, pb::Notification>(
                "/jitroles.v1.AdminService/RetryNotification",
                pb::RetryNotificationRequest {
                    notification_id: id,
                },
            )
            .await,
        )
    }

    pub async fn my_grants(&self, page_token: String) -> Result<Page<Grant>, ApiError> {
        self.answer(
            self.call::<_, pb::ListGrantsResponse>(
                "/jitroles.v1.RoleService/ListMyGrants",
                pb::ListMyGrantsRequest {
                    page_size: 50,
                    page_token,
                },
            )
            .await,
        )
        .map(|a| Page::new(a.grants, a.next_page_token))
    }
}

fn seconds(n: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: n,
        nanos: 0,
    }
}
