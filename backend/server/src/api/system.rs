//! SystemService: facts about the running server. Needs no sign-in and reveals nothing about
//! roles, grants or the directory.

use chrono::{DateTime, Utc};
use jitroles_domain::system::Installation;
use jitroles_proto::v1::{self as pb, system_service_server::SystemService};
use tonic::{Request, Response, Status};

use super::convert;

pub const SERVICE_NAME: &str = "jitroles.v1.SystemService";

pub struct SystemApi {
    info: pb::ServerInfoResponse,
}

impl SystemApi {
    /// The answer never changes while the process runs, so it is made once.
    pub fn new(installation: Installation, started_at: DateTime<Utc>) -> Self {
        let info = pb::ServerInfoResponse {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            git_commit: env!("JITROLES_GIT_COMMIT").to_owned(),
            build: env!("JITROLES_BUILD").to_owned(),
            database: convert::database_kind(installation.database).into(),
            installation_id: installation.id,
            started_at: Some(convert::timestamp(started_at)),
        };
        Self { info }
    }
}

#[tonic::async_trait]
impl SystemService for SystemApi {
    async fn server_info(
        &self,
        _request: Request<pb::ServerInfoRequest>,
    ) -> Result<Response<pb::ServerInfoResponse>, Status> {
        Ok(Response::new(self.info.clone()))
    }
}
