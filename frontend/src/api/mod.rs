//! The only module that talks to the network: gRPC-web calls to the server that served the app.

mod error;

pub use error::ApiError;
use jitroles_proto::v1::{self as pb, system_service_client::SystemServiceClient};
use tonic_web_wasm_client::Client;

pub type ServerInfo = pb::ServerInfoResponse;

/// A handle on the jitroles API at this page's origin. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    transport: Client,
}

impl Api {
    /// The API of the server the app was loaded from: one origin carries app, auth and API.
    pub fn same_origin() -> Result<Self, ApiError> {
        let origin = leptos::prelude::window()
            .location()
            .origin()
            .map_err(|_| ApiError::Other("cannot read this page's origin".into()))?;
        Ok(Self {
            transport: Client::new(origin),
        })
    }

    pub async fn server_info(&self) -> Result<ServerInfo, ApiError> {
        let mut client = SystemServiceClient::new(self.transport.clone());
        Ok(client
            .server_info(pb::ServerInfoRequest {})
            .await?
            .into_inner())
    }
}
