//! AdminService: what administrators do. For now the directory pickers' search.

use std::sync::Arc;

use jitroles_domain::{
    access::{AdminRight, authorize_admin, search_directory},
    directory::SearchScope,
};
use jitroles_proto::v1::{self as pb, admin_service_server::AdminService};
use tonic::{Request, Response, Status};

use super::{convert, error::status, roles::caller};
use crate::auth::caller::Authenticator;

pub struct AdminApi {
    auth: Option<Arc<Authenticator>>,
}

impl AdminApi {
    pub fn new(auth: Option<Arc<Authenticator>>) -> Self {
        Self { auth }
    }

    /// The admin capability for this request's caller, or the status that refuses it.
    async fn admin<T>(&self, request: &Request<T>) -> Result<(AdminRight, &Authenticator), Status> {
        let who = caller(request)?;
        let auth = self
            .auth
            .as_deref()
            .ok_or_else(|| Status::unauthenticated("sign-in is not configured"))?;
        let right = authorize_admin(&who.caller, auth.admin_groups().await?).map_err(status)?;
        Ok((right, auth))
    }
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn search_directory(
        &self,
        request: Request<pb::SearchDirectoryRequest>,
    ) -> Result<Response<pb::SearchDirectoryResponse>, Status> {
        let (right, auth) = self.admin(&request).await?;
        let ask = request.get_ref();
        let scope = match ask.kind() {
            pb::DirectoryObjectKind::Unspecified => SearchScope::Both,
            pb::DirectoryObjectKind::User => SearchScope::Users,
            pb::DirectoryObjectKind::Group => SearchScope::Groups,
        };
        let page_size = usize::try_from(ask.page_size).unwrap_or(usize::MAX);
        let page = search_directory(&right, auth.directory(), &ask.query, scope, page_size)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::search_page(page)))
    }
}
