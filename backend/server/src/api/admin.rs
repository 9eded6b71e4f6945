//! AdminService: what administrators do. Every RPC first turns the caller into an
//! [`AdminRight`], which the engine's admin operations require.

use std::{sync::Arc, time::Duration};

use jitroles_domain::{
    DomainError,
    access::{AdminRight, Caller, authorize_admin, search_directory},
    audit::{AuditAction, AuditFilter},
    directory::SearchScope,
    page::PageRequest,
    rule::check_text,
};
use jitroles_proto::v1::{self as pb, admin_service_server::AdminService};
use tonic::{Request, Response, Status};

use super::{
    convert,
    error::{auth_status, status},
    roles::{caller, engine, source},
};
use crate::{
    audit_trail::{AuditTrail, Event},
    auth::{caller::Authenticator, error::AuthError},
    grants::{Engine, rules::RuleView},
    notify::channels::Channels,
};

pub struct AdminApi {
    auth: Option<Arc<Authenticator>>,
    engine: Option<Arc<Engine>>,
    channels: Option<Arc<Channels>>,
    trail: Arc<AuditTrail>,
    /// For each grant's `tickets_may_last_until` (`directory.max_ticket_lifetime_hours`).
    max_ticket_lifetime: Duration,
}

impl AdminApi {
    pub fn new(
        auth: Option<Arc<Authenticator>>,
        engine: Option<Arc<Engine>>,
        channels: Option<Arc<Channels>>,
        trail: Arc<AuditTrail>,
        max_ticket_lifetime: Duration,
    ) -> Self {
        Self {
            auth,
            engine,
            channels,
            trail,
            max_ticket_lifetime,
        }
    }

    fn channels(&self) -> Result<&Channels, Status> {
        self.channels.as_deref().ok_or_else(|| {
            status(DomainError::FailedPrecondition(
                "notifications need a directory: this server has no [directory] configured".into(),
            ))
        })
    }

    /// The admin capability for this request's caller, or the status that refuses it.
    async fn admin<T>(&self, request: &Request<T>) -> Result<(AdminRight, Caller), Status> {
        let who = caller(request)?;
        let admin_groups = self.auth()?.admin_groups().await.map_err(status)?;
        let right = match authorize_admin(&who.caller, admin_groups) {
            Ok(right) => right,
            Err(why) => {
                let event = Event {
                    action: AuditAction::CallRefused,
                    actor: &who.caller.account_name,
                    rule_id: None,
                    detail: format!("an admin call refused: {why}"),
                    source: source(request),
                };
                self.trail.refusal(event, "not_an_admin").await;
                return Err(status(why));
            }
        };
        Ok((right, who.caller))
    }

    fn engine(&self) -> Result<&Engine, Status> {
        engine(&self.engine)
    }

    fn auth(&self) -> Result<&Authenticator, Status> {
        self.auth.as_deref().ok_or_else(|| {
            auth_status(AuthError::Unauthenticated(
                "sign-in is not configured".into(),
            ))
        })
    }
}

fn page(size: u32, token: &str) -> Result<PageRequest, Status> {
    PageRequest::parse(size, token).map_err(status)
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn search_directory(
        &self,
        request: Request<pb::SearchDirectoryRequest>,
    ) -> Result<Response<pb::SearchDirectoryResponse>, Status> {
        let (right, _) = self.admin(&request).await?;
        let ask = request.get_ref();
        let scope = match ask.kind() {
            pb::DirectoryObjectKind::Unspecified => SearchScope::Both,
            pb::DirectoryObjectKind::User => SearchScope::Users,
            pb::DirectoryObjectKind::Group => SearchScope::Groups,
        };
        let page_size = usize::try_from(ask.page_size).unwrap_or(usize::MAX);
        let directory = self.auth()?.directory();
        let found = search_directory(&right, directory, &ask.query, scope, page_size)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::search_page(found)))
    }

    async fn create_rule(
        &self,
        request: Request<pb::CreateRuleRequest>,
    ) -> Result<Response<pb::Rule>, Status> {
        let (right, who) = self.admin(&request).await?;
        let (spec, target) = convert::rule_spec(request.get_ref().spec.as_ref()).map_err(status)?;
        let rule = self
            .engine()?
            .rules
            .create(&right, &who, spec, &target)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::rule(RuleView {
            rule,
            live_grants: 0,
            frozen: None,
        })))
    }

    async fn get_rule(
        &self,
        request: Request<pb::GetRuleRequest>,
    ) -> Result<Response<pb::Rule>, Status> {
        let (right, _) = self.admin(&request).await?;
        let view = self
            .engine()?
            .rules
            .get(&right, &request.get_ref().rule_id)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::rule(view)))
    }

    async fn update_rule(
        &self,
        request: Request<pb::UpdateRuleRequest>,
    ) -> Result<Response<pb::Rule>, Status> {
        let (right, who) = self.admin(&request).await?;
        let ask = request.get_ref();
        let (spec, target) = convert::rule_spec(ask.spec.as_ref()).map_err(status)?;
        let engine = self.engine()?;
        let rule = engine
            .rules
            .update(&right, &who, &ask.rule_id, spec, &target, ask.version)
            .await
            .map_err(status)?;
        let view = engine.rules.get(&right, &rule.id).await.map_err(status)?;
        Ok(Response::new(convert::rule(view)))
    }

    async fn delete_rule(
        &self,
        request: Request<pb::DeleteRuleRequest>,
    ) -> Result<Response<pb::DeleteRuleResponse>, Status> {
        let (right, who) = self.admin(&request).await?;
        let ask = request.get_ref();
        self.engine()?
            .rules
            .delete(&right, &who, &ask.rule_id, ask.version)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DeleteRuleResponse {}))
    }

    async fn list_rule_versions(
        &self,
        request: Request<pb::ListRuleVersionsRequest>,
    ) -> Result<Response<pb::ListRuleVersionsResponse>, Status> {
        let (right, _) = self.admin(&request).await?;
        let ask = request.get_ref();
        let limit = if ask.limit == 0 { 100 } else { ask.limit };
        let versions = self
            .engine()?
            .rules
            .history(&right, &ask.rule_id, limit)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListRuleVersionsResponse {
            versions: versions
                .into_iter()
                .map(|(v, changes)| convert::rule_version(v, changes))
                .collect(),
        }))
    }

    async fn restore_rule_version(
        &self,
        request: Request<pb::RestoreRuleVersionRequest>,
    ) -> Result<Response<pb::Rule>, Status> {
        let (right, who) = self.admin(&request).await?;
        let ask = request.get_ref();
        let engine = self.engine()?;
        let rule = engine
            .rules
            .restore(
                &right,
                &who,
                &ask.rule_id,
                ask.version,
                ask.expected_version,
            )
            .await
            .map_err(status)?;
        let view = engine.rules.get(&right, &rule.id).await.map_err(status)?;
        Ok(Response::new(convert::rule(view)))
    }

    async fn export_rules(
        &self,
        request: Request<pb::ExportRulesRequest>,
    ) -> Result<Response<pb::ExportRulesResponse>, Status> {
        let (right, _) = self.admin(&request).await?;
        let yaml = self
            .engine()?
            .rules_code
            .export(&right)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ExportRulesResponse { yaml }))
    }

    async fn plan_rules(
        &self,
        request: Request<pb::PlanRulesRequest>,
    ) -> Result<Response<pb::RulesPlan>, Status> {
        let (right, _) = self.admin(&request).await?;
        let ask = request.get_ref();
        let report = self
            .engine()?
            .rules_code
            .plan(&right, &ask.yaml, ask.prune)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::rules_plan(report)))
    }

    async fn apply_rules(
        &self,
        request: Request<pb::PlanRulesRequest>,
    ) -> Result<Response<pb::RulesPlan>, Status> {
        let (right, who) = self.admin(&request).await?;
        let ask = request.get_ref();
        let report = self
            .engine()?
            .rules_code
            .apply(&right, &who, &ask.yaml, ask.prune)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::rules_plan(report)))
    }

    async fn list_rules(
        &self,
        request: Request<pb::ListRulesRequest>,
    ) -> Result<Response<pb::ListRulesResponse>, Status> {
        let (right, _) = self.admin(&request).await?;
        let rules = self
            .engine()?
            .rules
            .list(&right, &request.get_ref().query)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListRulesResponse {
            rules: rules.into_iter().map(convert::rule).collect(),
        }))
    }

    async fn list_grants(
        &self,
        request: Request<pb::ListGrantsRequest>,
    ) -> Result<Response<pb::ListGrantsResponse>, Status> {
        let (right, _) = self.admin(&request).await?;
        let ask = request.get_ref();
        let filter = convert::grant_filter(ask).map_err(status)?;
        let found = self
            .engine()?
            .reports
            .grants(&right, &filter, page(ask.page_size, &ask.page_token)?)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListGrantsResponse {
            grants: found
                .items
                .into_iter()
                .map(|g| convert::grant(g, self.max_ticket_lifetime))
                .collect(),
            next_page_token: found.next.unwrap_or_default(),
        }))
    }

    async fn revoke_grant(
        &self,
        request: Request<pb::RevokeGrantRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let (right, who) = self.admin(&request).await?;
        let ask = request.get_ref();
        let grant = self
            .engine()?
            .endings
            .revoke(&right, &who, &ask.grant_id, &ask.reason)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::grant(
            grant,
            self.max_ticket_lifetime,
        )))
    }

    async fn revoke_grants_of_person(
        &self,
        request: Request<pb::RevokeGrantsOfPersonRequest>,
    ) -> Result<Response<pb::RevokeGrantsResponse>, Status> {
        let (right, who) = self.admin(&request).await?;
        let ask = request.get_ref();
        let done = self
            .engine()?
            .emergency
            .revoke_person(&right, &who, &ask.person, &ask.reason)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::revocations(
            done,
            self.max_ticket_lifetime,
        )))
    }

    async fn revoke_grants_of_rule(
        &self,
        request: Request<pb::RevokeGrantsOfRuleRequest>,
    ) -> Result<Response<pb::RevokeGrantsResponse>, Status> {
        let (right, who) = self.admin(&request).await?;
        let ask = request.get_ref();
        let done = self
            .engine()?
            .emergency
            .revoke_rule(&right, &who, &ask.rule_id, &ask.reason)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::revocations(
            done,
            self.max_ticket_lifetime,
        )))
    }

    async fn freeze_requests(
        &self,
        request: Request<pb::FreezeRequestsRequest>,
    ) -> Result<Response<pb::Freeze>, Status> {
        let (right, who) = self.admin(&request).await?;
        let ask = request.get_ref();
        let scope = convert::freeze_scope(ask.scope.as_ref()).map_err(status)?;
        let frozen = self
            .engine()?
            .emergency
            .freeze(&right, &who, scope, &ask.reason)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::freeze(
            frozen.freeze,
            frozen.rule_name,
        )))
    }

    async fn unfreeze_requests(
        &self,
        request: Request<pb::UnfreezeRequestsRequest>,
    ) -> Result<Response<pb::UnfreezeRequestsResponse>, Status> {
        let (right, who) = self.admin(&request).await?;
        let scope = convert::unfreeze_scope(request.get_ref().scope.as_ref()).map_err(status)?;
        self.engine()?
            .emergency
            .unfreeze(&right, &who, scope)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::UnfreezeRequestsResponse {}))
    }

    async fn list_freezes(
        &self,
        request: Request<pb::ListFreezesRequest>,
    ) -> Result<Response<pb::ListFreezesResponse>, Status> {
        let (right, _) = self.admin(&request).await?;
        let freezes = self
            .engine()?
            .emergency
            .freezes(&right)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListFreezesResponse {
            freezes: freezes
                .into_iter()
                .map(|f| convert::freeze(f.freeze, f.rule_name))
                .collect(),
        }))
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let (right, _) = self.admin(&request).await?;
        let ask = request.get_ref();
        let filter = audit_filter(ask).map_err(status)?;
        let found = self
            .engine()?
            .reports
            .audit_events(&right, &filter, page(ask.page_size, &ask.page_token)?)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListAuditEventsResponse {
            events: found.items.into_iter().map(convert::audit_event).collect(),
            next_page_token: found.next.unwrap_or_default(),
        }))
    }

    async fn get_directory_status(
        &self,
        request: Request<pb::GetDirectoryStatusRequest>,
    ) -> Result<Response<pb::DirectoryStatus>, Status> {
        let (right, _) = self.admin(&request).await?;
        let report = self
            .engine()?
            .reports
            .directory(&right)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::directory_status(report)))
    }

    async fn create_channel(
        &self,
        request: Request<pb::CreateChannelRequest>,
    ) -> Result<Response<pb::Channel>, Status> {
        let (right, who) = self.admin(&request).await?;
        let spec = convert::channel_spec(request.get_ref().spec.as_ref()).map_err(status)?;
        let channel = self
            .channels()?
            .create_channel(&right, &who, spec)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::channel(channel)))
    }

    async fn update_channel(
        &self,
        request: Request<pb::UpdateChannelRequest>,
    ) -> Result<Response<pb::Channel>, Status> {
        let (right, who) = self.admin(&request).await?;
        let ask = request.get_ref();
        let spec = convert::channel_spec(ask.spec.as_ref()).map_err(status)?;
        let channel = self
            .channels()?
            .update_channel(&right, &who, &ask.channel_id, spec, ask.version)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::channel(channel)))
    }

    async fn delete_channel(
        &self,
        request: Request<pb::DeleteChannelRequest>,
    ) -> Result<Response<pb::DeleteChannelResponse>, Status> {
        let (right, who) = self.admin(&request).await?;
        let ask = request.get_ref();
        self.channels()?
            .delete_channel(&right, &who, &ask.channel_id, ask.version)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DeleteChannelResponse {}))
    }

    async fn list_channels(
        &self,
        request: Request<pb::ListChannelsRequest>,
    ) -> Result<Response<pb::ListChannelsResponse>, Status> {
        let (right, _) = self.admin(&request).await?;
        let channels = self.channels()?.channels(&right).await.map_err(status)?;
        Ok(Response::new(pb::ListChannelsResponse {
            channels: channels.into_iter().map(convert::channel).collect(),
        }))
    }

    async fn test_channel(
        &self,
        request: Request<pb::TestChannelRequest>,
    ) -> Result<Response<pb::TestChannelResponse>, Status> {
        let (right, who) = self.admin(&request).await?;
        let channels = self.channels()?;
        let spec = match &request.get_ref().target {
            Some(pb::test_channel_request::Target::ChannelId(id)) => {
                channels.channel(&right, id).await.map_err(status)?.spec
            }
            Some(pb::test_channel_request::Target::Spec(spec)) => {
                convert::channel_spec(Some(spec)).map_err(status)?
            }
            None => {
                return Err(status(DomainError::invalid(
                    "target",
                    "a channel id or a channel spec",
                )));
            }
        };
        let outcome = channels.test(&right, &who, spec).await.map_err(status)?;
        Ok(Response::new(pb::TestChannelResponse {
            delivered: outcome.delivered,
            error: outcome.error,
            sent: outcome.sent,
        }))
    }

    async fn retry_notification(
        &self,
        request: Request<pb::RetryNotificationRequest>,
    ) -> Result<Response<pb::Notification>, Status> {
        let (right, who) = self.admin(&request).await?;
        let (n, name) = self
            .channels()?
            .retry(&right, &who, &request.get_ref().notification_id)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::notification(n, name)))
    }

    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        let (right, _) = self.admin(&request).await?;
        let ask = request.get_ref();
        let (found, names) = self
            .channels()?
            .notifications(
                &right,
                convert::delivery_state(ask.state()),
                page(ask.page_size, &ask.page_token)?,
            )
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications: found
                .items
                .into_iter()
                .map(|n| {
                    let name = names.get(&n.channel_id).cloned().unwrap_or_default();
                    convert::notification(n, name)
                })
                .collect(),
            next_page_token: found.next.unwrap_or_default(),
        }))
    }

    async fn get_usage_report(
        &self,
        request: Request<pb::GetUsageReportRequest>,
    ) -> Result<Response<pb::UsageReport>, Status> {
        let (right, _) = self.admin(&request).await?;
        let ask = request.get_ref();
        let usage = convert::usage_ask(ask).map_err(status)?;
        let report = self
            .engine()?
            .reports
            .usage(&right, &usage)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::usage_report(
            report,
            ask.include_csv,
        )))
    }

    async fn get_rule_access(
        &self,
        request: Request<pb::GetRuleAccessRequest>,
    ) -> Result<Response<pb::GetRuleAccessResponse>, Status> {
        let (right, _) = self.admin(&request).await?;
        let ask = request.get_ref();
        let found = self
            .engine()?
            .access
            .rule_access(
                &right,
                &ask.rule_id,
                &ask.query,
                page(ask.page_size, &ask.page_token)?,
                ask.refresh,
            )
            .await
            .map_err(status)?;
        Ok(Response::new(convert::rule_access(found)))
    }

    async fn get_person_access(
        &self,
        request: Request<pb::GetPersonAccessRequest>,
    ) -> Result<Response<pb::GetPersonAccessResponse>, Status> {
        let (right, _) = self.admin(&request).await?;
        let found = self
            .engine()?
            .access
            .person_access(&right, &request.get_ref().person)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::person_access(found)))
    }
}

fn audit_filter(ask: &pb::ListAuditEventsRequest) -> Result<AuditFilter, DomainError> {
    let text = |field: &str, v: &str| -> Result<Option<String>, DomainError> {
        check_text(field, v, 256, false)?;
        Ok((!v.is_empty()).then(|| v.to_owned()))
    };
    Ok(AuditFilter {
        subject_account: text("subject_account", &ask.subject_account)?,
        rule_id: text("rule_id", &ask.rule_id)?,
        action: match ask.action {
            0 => None,
            a => Some(
                convert::audit_action_of(a)
                    .ok_or_else(|| DomainError::invalid("action", format!("unknown action {a}")))?,
            ),
        },
        since: convert::time("since", ask.since.as_ref())?,
        until: convert::time("until", ask.until.as_ref())?,
    })
}
