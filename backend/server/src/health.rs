//! `grpc.health.v1` kept honest: the server and its services follow the database; the
//! directory, and each DC, have their own names.

use std::{sync::Arc, time::Duration};

use jitroles_domain::{directory::Directory, ports::Store};
use tonic_health::ServingStatus;

use crate::api;

/// How often the health service re-checks the database and the directory.
const HEALTH_INTERVAL: Duration = Duration::from_secs(5);

/// The health service name that follows the directory: NOT_SERVING while no DC answers (the
/// server itself, `""`, keeps following the database; sign-in and roles need both). Each DC
/// has its own, `jitroles.directory/<its URL>`.
pub const DIRECTORY_HEALTH: &str = "jitroles.directory";
/// The health service name that follows the database.
pub const DATABASE_HEALTH: &str = "jitroles.database";

pub(crate) async fn watch_directory(
    health: tonic_health::server::HealthReporter,
    directory: Arc<dyn Directory>,
) {
    let mut ticker = tokio::time::interval(HEALTH_INTERVAL);
    loop {
        ticker.tick().await;
        let status = match directory.capabilities().await {
            Ok(_) => ServingStatus::Serving,
            Err(e) => {
                tracing::warn!(error = %e, "health check: the directory does not answer");
                ServingStatus::NotServing
            }
        };
        health.set_service_status(DIRECTORY_HEALTH, status).await;
        // each DC as `jitroles.directory/<url>`: NOT_SERVING while it is skipped
        for dc in directory.controllers() {
            let status = if dc.up {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            health
                .set_service_status(format!("{DIRECTORY_HEALTH}/{}", dc.url), status)
                .await;
        }
    }
}

/// Keeps `grpc.health.v1` honest: NOT_SERVING while the database does not answer.
pub(crate) async fn watch_database(
    health: tonic_health::server::HealthReporter,
    store: Arc<dyn Store>,
) {
    let mut ticker = tokio::time::interval(HEALTH_INTERVAL);
    loop {
        ticker.tick().await;
        let status = match store.ping().await {
            Ok(()) => ServingStatus::Serving,
            Err(e) => {
                tracing::warn!(error = %e, "health check: database does not answer");
                ServingStatus::NotServing
            }
        };
        health.set_service_status("", status).await;
        health.set_service_status(DATABASE_HEALTH, status).await;
        health
            .set_service_status(api::system::SERVICE_NAME, status)
            .await;
    }
}
