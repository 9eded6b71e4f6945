//! Presentational pieces: props in, callbacks out, no API calls.

mod connection_banner;
mod server_footer;
mod site_header;

pub use connection_banner::ConnectionBanner;
pub use server_footer::ServerFooter;
pub use site_header::SiteHeader;
