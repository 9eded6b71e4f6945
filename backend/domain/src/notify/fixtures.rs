//! Builders shared by the unit tests of the notification decisions.

use super::{ChannelSpec, Email, Event, SmtpTls, Transport};

pub(super) fn email() -> ChannelSpec {
    ChannelSpec {
        name: " Ops mail ".into(),
        transport: Transport::Email(Email {
            host: "smtp.example.com".into(),
            port: 587,
            tls: SmtpTls::StartTls,
            username: String::new(),
            password: None,
            sender: "jitroles <jitroles@example.com>".into(),
            recipients: vec!["ops@example.com".into()],
            to_requester: false,
            subject_template: String::new(),
            body_template: String::new(),
            to_approvers: false,
        }),
        lifecycle: vec![Event::Expired],
        expiring_lead: None,
        enabled: true,
    }
}
