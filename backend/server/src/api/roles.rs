//! RoleService: what requesters do. Authenticate, translate, one engine call, translate back.

use std::{sync::Arc, time::Duration};

use jitroles_domain::{
    DomainError, access::authorize_admin, approval::RequestTiming, audit::AuditAction, grant::Ask,
    notify, page::PageRequest,
};
use jitroles_proto::v1::{self as pb, role_service_server::RoleService};
use tonic::{Request, Response, Status};

use super::{
    convert,
    error::{auth_status, status},
};
use crate::{
    audit_trail::{AuditTrail, Event},
    auth::{
        caller::{Authenticated, Authenticator},
        gate,
    },
    grants::Engine,
    net::ClientAddress,
};

pub struct RoleApi {
    auth: Option<Arc<Authenticator>>,
    engine: Option<Arc<Engine>>,
    trail: Arc<AuditTrail>,
    /// For each grant's `tickets_may_last_until` (`directory.max_ticket_lifetime_hours`).
    max_ticket_lifetime: Duration,
}

impl RoleApi {
    pub fn new(
        auth: Option<Arc<Authenticator>>,
        engine: Option<Arc<Engine>>,
        trail: Arc<AuditTrail>,
        max_ticket_lifetime: Duration,
    ) -> Self {
        Self {
            auth,
            engine,
            trail,
            max_ticket_lifetime,
        }
    }

    fn grant(&self, grant: jitroles_domain::grant::Grant) -> pb::Grant {
        convert::grant(grant, self.max_ticket_lifetime)
    }

    /// A request with the decisions made on it.
    fn with_decisions(&self, found: crate::grants::approvals::Decisions) -> pb::Grant {
        pb::Grant {
            decisions: found.decisions.into_iter().map(convert::decision).collect(),
            ..self.grant(found.request)
        }
    }

    fn engine(&self) -> Result<&Engine, Status> {
        engine(&self.engine)
    }

    /// Records `outcome` in the audit trail when it refuses the person (not allowed, the rule
    /// closed or expired, a permanent member): `what` names the request for the log.
    async fn audit_refusal<T, R>(
        &self,
        request: &Request<T>,
        who: &Authenticated,
        rule_id: Option<&str>,
        what: String,
        outcome: &Result<R, DomainError>,
    ) {
        if let Err(why) = outcome
            && notify::announces_refusal(why)
        {
            let reason = why.to_string();
            let event = Event {
                action: AuditAction::RequestRefused,
                actor: &who.caller.account_name,
                rule_id,
                detail: format!("{what} refused: {reason}"),
                source: source(request),
            };
            self.trail.refusal(event, &reason).await;
        }
    }
}

/// The client's address of `request` (see `net::remember_client`).
pub fn source<T>(request: &Request<T>) -> &str {
    request
        .extensions()
        .get::<ClientAddress>()
        .map_or("unknown", |a| a.0.as_str())
}

/// The engine, or FAILED_PRECONDITION when no directory is configured.
pub fn engine(engine: &Option<Arc<Engine>>) -> Result<&Engine, Status> {
    engine.as_deref().ok_or_else(|| {
        status(DomainError::FailedPrecondition(
            "roles need a directory: this server has no [directory] configured".into(),
        ))
    })
}

/// The caller the auth layer established, or UNAUTHENTICATED (saying why a session no longer
/// holds, when there was one).
pub fn caller<T>(request: &Request<T>) -> Result<Authenticated, Status> {
    gate::caller(request.extensions()).map_err(auth_status)
}

#[tonic::async_trait]
impl RoleService for RoleApi {
    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        let who = caller(&request)?;
        let is_admin = match &self.auth {
            Some(auth) => {
                let admin_groups = auth.admin_groups().await.map_err(status)?;
                authorize_admin(&who.caller, admin_groups).is_ok()
            }
            None => false,
        };
        Ok(Response::new(pb::WhoAmIResponse {
            account_name: who.caller.account_name.clone(),
            display_name: who.caller.display_name.clone(),
            sid: who.caller.sid.to_string(),
            dn: who.caller.dn.clone(),
            is_admin,
            authenticated_by: who.by,
            group_count: u32::try_from(who.caller.groups.len()).unwrap_or(u32::MAX),
        }))
    }

    async fn list_roles(
        &self,
        request: Request<pb::ListRolesRequest>,
    ) -> Result<Response<pb::ListRolesResponse>, Status> {
        let who = caller(&request)?;
        let offer = self
            .engine()?
            .requests
            .roles_for(&who.caller)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListRolesResponse {
            roles: offer
                .roles
                .into_iter()
                .map(|r| convert::role(r, self.max_ticket_lifetime))
                .collect(),
            all_frozen: offer.all_frozen.map(|f| convert::freeze(f, String::new())),
        }))
    }

    async fn request_role(
        &self,
        request: Request<pb::RequestRoleRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let who = caller(&request)?;
        let ask = request.get_ref();
        let duration = convert::duration("duration", ask.duration.as_ref()).map_err(status)?;
        let client_request_id =
            (!ask.client_request_id.is_empty()).then(|| ask.client_request_id.clone());
        let outcome = self
            .engine()?
            .requests
            .request(
                &who.caller,
                &ask.rule_id,
                Ask {
                    duration,
                    justification: ask.justification.clone(),
                    client_request_id,
                    timing: RequestTiming {
                        starts_at: convert::time("start_time", ask.start_time.as_ref())
                            .map_err(status)?,
                        break_glass_reason: (!ask.break_glass_reason.is_empty())
                            .then(|| ask.break_glass_reason.clone()),
                    },
                },
            )
            .await;
        let what = format!("a request for rule {}", ask.rule_id);
        self.audit_refusal(&request, &who, Some(&ask.rule_id), what, &outcome)
            .await;
        Ok(Response::new(self.grant(outcome.map_err(status)?)))
    }

    async fn extend_grant(
        &self,
        request: Request<pb::ExtendGrantRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let who = caller(&request)?;
        let ask = request.get_ref();
        let duration = convert::duration("duration", ask.duration.as_ref()).map_err(status)?;
        let outcome = self
            .engine()?
            .requests
            .extend(&who.caller, &ask.grant_id, duration)
            .await;
        let what = format!("an extension of grant {}", ask.grant_id);
        self.audit_refusal(&request, &who, None, what, &outcome)
            .await;
        Ok(Response::new(self.grant(outcome.map_err(status)?)))
    }

    async fn release_grant(
        &self,
        request: Request<pb::ReleaseGrantRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let who = caller(&request)?;
        let grant = self
            .engine()?
            .endings
            .release(&who.caller, &request.get_ref().grant_id)
            .await
            .map_err(status)?;
        Ok(Response::new(self.grant(grant)))
    }

    async fn list_my_grants(
        &self,
        request: Request<pb::ListMyGrantsRequest>,
    ) -> Result<Response<pb::ListGrantsResponse>, Status> {
        let who = caller(&request)?;
        let ask = request.get_ref();
        let page = PageRequest::parse(ask.page_size, &ask.page_token).map_err(status)?;
        let found = self
            .engine()?
            .reports
            .my_grants(&who.caller, page)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListGrantsResponse {
            grants: found.items.into_iter().map(|g| self.grant(g)).collect(),
            next_page_token: found.next.unwrap_or_default(),
        }))
    }

    async fn list_approvals(
        &self,
        request: Request<pb::ListApprovalsRequest>,
    ) -> Result<Response<pb::ListApprovalsResponse>, Status> {
        let who = caller(&request)?;
        let ask = request.get_ref();
        let page = PageRequest::parse(ask.page_size, &ask.page_token).map_err(status)?;
        let found = self
            .engine()?
            .approvals
            .list(&who.caller, who.service, page)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListApprovalsResponse {
            requests: found
                .page
                .items
                .into_iter()
                .map(|d| self.with_decisions(d))
                .collect(),
            next_page_token: found.page.next.unwrap_or_default(),
            pending_count: u32::try_from(found.pending).unwrap_or(u32::MAX),
        }))
    }

    async fn get_request(
        &self,
        request: Request<pb::GetRequestRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let who = caller(&request)?;
        let found = self
            .engine()?
            .approvals
            .get(&who.caller, who.service, &request.get_ref().grant_id)
            .await
            .map_err(status)?;
        Ok(Response::new(self.with_decisions(found)))
    }

    async fn approve_request(
        &self,
        request: Request<pb::ApproveRequestRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let who = caller(&request)?;
        let ask = request.get_ref();
        let grant = self
            .engine()?
            .approvals
            .approve(&who.caller, who.service, &ask.grant_id, &ask.comment)
            .await
            .map_err(status)?;
        Ok(Response::new(self.grant(grant)))
    }

    async fn reject_request(
        &self,
        request: Request<pb::RejectRequestRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let who = caller(&request)?;
        let ask = request.get_ref();
        let grant = self
            .engine()?
            .approvals
            .reject(&who.caller, who.service, &ask.grant_id, &ask.reason)
            .await
            .map_err(status)?;
        Ok(Response::new(self.grant(grant)))
    }

    async fn cancel_request(
        &self,
        request: Request<pb::CancelRequestRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let who = caller(&request)?;
        let grant = self
            .engine()?
            .approvals
            .cancel(&who.caller, &request.get_ref().grant_id)
            .await
            .map_err(status)?;
        Ok(Response::new(self.grant(grant)))
    }

    async fn acknowledge_break_glass(
        &self,
        request: Request<pb::AcknowledgeBreakGlassRequest>,
    ) -> Result<Response<pb::Grant>, Status> {
        let who = caller(&request)?;
        let ask = request.get_ref();
        let grant = self
            .engine()?
            .approvals
            .acknowledge(&who.caller, who.service, &ask.grant_id, &ask.comment)
            .await
            .map_err(status)?;
        Ok(Response::new(self.grant(grant)))
    }
}
