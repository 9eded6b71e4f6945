//! Presentational pieces: props in, callbacks out, no API calls.

mod connection_banner;
mod grant_list;
mod role_card;
mod server_footer;
mod site_header;

pub use connection_banner::ConnectionBanner;
pub use grant_list::{GrantHistory, LiveGrant};
pub use role_card::RoleCard;
pub use server_footer::ServerFooter;
pub use site_header::SiteHeader;
