//! Presentational pieces: props in, callbacks out, no API calls.

mod connection_banner;
mod directory_picker;
mod duration_input;
mod grant_list;
mod role_card;
mod server_footer;
mod site_header;

pub use connection_banner::ConnectionBanner;
pub use directory_picker::DirectoryPicker;
pub use duration_input::{DurationInput, seconds, split};
pub use grant_list::{GrantHistory, LiveGrant};
pub use role_card::RoleCard;
pub use server_footer::ServerFooter;
pub use site_header::SiteHeader;
