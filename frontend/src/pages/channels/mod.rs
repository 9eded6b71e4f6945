//! Notification channels for admins: the list (`list`), and the editor (`editor`) with its
//! form state (`form`) and the email (`email`) and webhook (`webhook`) settings.

mod editor;
mod email;
mod form;
mod list;
mod webhook;

pub use editor::ChannelEditorPage;
pub use list::AdminChannelsPage;

use crate::api::NotificationEvent;

/// The events a channel subscribes to for every rule, in the order the editor lists them.
const LIFECYCLE: [NotificationEvent; 4] = [
    NotificationEvent::ExpiringSoon,
    NotificationEvent::Expired,
    NotificationEvent::Released,
    NotificationEvent::Revoked,
];

/// "Expiring soon" is sent this long before the expiry unless the channel says otherwise.
const DEFAULT_LEAD_SECS: i64 = 15 * 60;

/// An event as people read it.
pub fn event_label(event: NotificationEvent) -> &'static str {
    match event {
        NotificationEvent::Granted => "Granted",
        NotificationEvent::Extended => "Extended",
        NotificationEvent::Failed => "Failed",
        NotificationEvent::ExpiringSoon => "Expiring soon",
        NotificationEvent::Expired => "Expired",
        NotificationEvent::Released => "Released",
        NotificationEvent::Revoked => "Revoked",
        NotificationEvent::ApprovalRequested => "Approval requested",
        NotificationEvent::Approved => "Approved",
        NotificationEvent::Rejected => "Rejected",
        NotificationEvent::Cancelled => "Cancelled",
        NotificationEvent::Lapsed => "Lapsed",
        NotificationEvent::BreakGlassUsed => "Break-glass used",
        NotificationEvent::Unspecified => "Unknown",
    }
}
