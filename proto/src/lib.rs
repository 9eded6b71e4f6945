//! The jitroles gRPC API, generated from `proto/jitroles/v1/*.proto`.
//!
//! Feature `client` adds clients (no transport, so they build for wasm32); feature `server` adds
//! servers and [`v1::FILE_DESCRIPTOR_SET`] for gRPC reflection.

pub mod v1 {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    tonic::include_proto!("jitroles.v1");

    /// The encoded descriptors of every jitroles.v1 file, served by gRPC reflection.
    #[cfg(feature = "server")]
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("jitroles_descriptor");
}

impl v1::AuditAction {
    /// The action as the audit log shows it: `rule_created` for `AUDIT_ACTION_RULE_CREATED`.
    pub fn label(self) -> String {
        self.as_str_name()
            .trim_start_matches("AUDIT_ACTION_")
            .to_ascii_lowercase()
    }

    /// Every action but UNSPECIFIED, in wire order.
    pub fn all() -> impl Iterator<Item = Self> {
        (1..).map_while(|n| Self::try_from(n).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::v1::AuditAction;

    #[test]
    fn audit_action_labels_are_the_short_snake_case_names() {
        assert_eq!(AuditAction::RuleCreated.label(), "rule_created");
        assert_eq!(
            AuditAction::RevokedAllOfPerson.label(),
            "revoked_all_of_person"
        );
        assert_eq!(AuditAction::all().next(), Some(AuditAction::Requested));
        assert_eq!(
            AuditAction::BreakGlassAcknowledged.label(),
            "break_glass_acknowledged"
        );
        assert_eq!(AuditAction::all().count(), 36);
    }
}
