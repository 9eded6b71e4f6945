//! Presentational pieces: props in, callbacks out, no API calls.

mod acl_editor;
mod approval_card;
mod channel_choices;
mod connection_banner;
mod directory_picker;
mod duration_input;
mod field;
mod grant_list;
mod role_card;
mod rule_filter;
mod secret_source;
mod server_footer;
mod site_header;

pub use acl_editor::AclEditor;
pub use approval_card::{ApprovalCard, Decisions, approvals};
pub use channel_choices::{ChannelChoice, ChannelChoices};
pub use connection_banner::ConnectionBanner;
pub use directory_picker::DirectoryPicker;
pub use duration_input::{DurationInput, seconds, split};
pub use field::{Field, FieldKind, FieldNotes, FormProblems, described_by};
pub use grant_list::{GrantHistory, GrantRows, LiveGrant, WaitingRequest, outcome};
pub use role_card::RoleCard;
pub use rule_filter::RuleFilter;
pub use secret_source::{SecretOrigin, SecretSourceInput};
pub use server_footer::ServerFooter;
pub use site_header::SiteHeader;
