//! RoleService: what requesters do. For now WhoAmI; the role and grant RPCs come with the
//! grant engine.

use std::sync::Arc;

use jitroles_domain::access::authorize_admin;
use jitroles_proto::v1::{self as pb, role_service_server::RoleService};
use tonic::{Request, Response, Status};

use crate::auth::{
    browser::NoSession,
    caller::{Authenticated, Authenticator},
};

pub struct RoleApi {
    auth: Option<Arc<Authenticator>>,
}

impl RoleApi {
    pub fn new(auth: Option<Arc<Authenticator>>) -> Self {
        Self { auth }
    }
}

/// The caller the auth layer established, or UNAUTHENTICATED (saying why a session no longer
/// holds, when there was one).
pub fn caller<T>(request: &Request<T>) -> Result<Authenticated, Status> {
    let extensions = request.extensions();
    extensions
        .get::<Authenticated>()
        .cloned()
        .ok_or_else(|| match extensions.get::<NoSession>() {
            Some(NoSession(why)) => Status::unauthenticated(why.clone()),
            None => Status::unauthenticated("sign in first, or send a bearer token"),
        })
}

#[tonic::async_trait]
impl RoleService for RoleApi {
    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        let who = caller(&request)?;
        let is_admin = match &self.auth {
            Some(auth) => authorize_admin(&who.caller, auth.admin_groups().await?).is_ok(),
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
}
