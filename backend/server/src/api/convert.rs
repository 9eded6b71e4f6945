//! Domain → proto conversions for the API.

use chrono::{DateTime, Utc};
use jitroles_domain::system::DatabaseKind;
use jitroles_proto::v1 as pb;

pub fn database_kind(kind: DatabaseKind) -> pb::DatabaseKind {
    match kind {
        DatabaseKind::Sqlite => pb::DatabaseKind::Sqlite,
        DatabaseKind::Postgres => pb::DatabaseKind::Postgres,
    }
}

pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}
