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

pub fn search_page(page: jitroles_domain::directory::SearchPage) -> pb::SearchDirectoryResponse {
    use jitroles_domain::directory::DirectoryObject;
    let entries = page
        .objects
        .into_iter()
        .map(|object| match object {
            DirectoryObject::User(u) => pb::DirectoryEntry {
                kind: pb::DirectoryObjectKind::User.into(),
                sid: u.sid.to_string(),
                guid: u.guid,
                dn: u.dn,
                account_name: u.account_name,
                display_name: u.display_name,
                mail: u.mail.unwrap_or_default(),
                disabled: u.disabled,
                protected: false,
            },
            DirectoryObject::Group(g) => pb::DirectoryEntry {
                kind: pb::DirectoryObjectKind::Group.into(),
                sid: g.sid.to_string(),
                guid: g.guid,
                dn: g.dn,
                display_name: g.name.clone(),
                account_name: g.name,
                mail: String::new(),
                disabled: false,
                protected: g.protected,
            },
        })
        .collect();
    pb::SearchDirectoryResponse {
        entries,
        more: page.more,
    }
}
