//! One file per route.

mod access;
mod admin;
mod admin_grants;
mod approvals;
mod audit;
mod channels;
mod directory_status;
mod not_found;
mod notifications;
mod roles;
mod rule_history;
mod rules;
mod rules_file;
mod usage;

pub use access::{PersonAccessPage, RuleAccessSection};
pub use admin::{AdminPage, AdminsOnly};
pub use admin_grants::AdminGrantsPage;
pub use approvals::ApprovalsPage;
pub use audit::AuditPage;
pub use channels::{AdminChannelsPage, ChannelEditorPage};
pub use directory_status::DirectoryStatusPage;
pub use not_found::NotFoundPage;
pub use notifications::NotificationsPage;
pub use roles::RolesPage;
pub use rule_history::RuleHistoryPage;
pub use rules::{AdminRulesPage, RuleEditorPage};
pub use rules_file::RulesFilePage;
pub use usage::UsagePage;
