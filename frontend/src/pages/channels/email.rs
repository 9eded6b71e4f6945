//! The email (SMTP) settings of the channel editor.

use leptos::prelude::*;

use super::form::{ChannelForm, usual_port};
use crate::{
    api::SmtpTls,
    components::{Field, FieldKind, FieldNotes, FormProblems, SecretSourceInput, described_by},
};

#[component]
pub fn EmailSettings(form: ChannelForm, problems: FormProblems) -> impl IntoView {
    let problem = move |field: &'static str| problems.about(field);
    // a port still at the usual one for the old mode follows the new mode
    let set_tls = move |tls: SmtpTls| {
        let port = form.port.get_untracked();
        let port = port.trim();
        if port.is_empty() || ["25", "465", "587"].contains(&port) {
            form.port.set(usual_port(tls).to_owned());
        }
        form.tls.set(tls);
    };
    let tls_error = problem("email.tls");
    view! {
        <fieldset>
            <legend>"Email (SMTP)"</legend>
            <Field id="channel-host".into() label="SMTP server (host name or address)" value=form.host
                literal=true error=problem("email.host") />
            <div class="field">
                <label for="channel-tls">"Encryption"</label>
                <select id="channel-tls"
                    aria-invalid=move || tls_error.with(Option::is_some).to_string()
                    aria-describedby=move || described_by("channel-tls", false, tls_error.with(Option::is_some))
                    on:change=move |ev| set_tls(event_target_value(&ev).parse().ok().and_then(|n: i32| SmtpTls::try_from(n).ok()).unwrap_or(SmtpTls::Starttls))>
                    {[(SmtpTls::Starttls, "STARTTLS (required)"), (SmtpTls::Implicit, "Implicit TLS (SMTPS)"), (SmtpTls::None, "None (plain SMTP)")]
                        .into_iter()
                        .map(|(t, text)| view! { <option value=(t as i32).to_string() selected=move || form.tls.get() == t>{text}</option> })
                        .collect_view()}
                </select>
                <FieldNotes id="channel-tls".into() error=tls_error />
            </div>
            <Field id="channel-port".into() label="Port" value=form.port kind=FieldKind::Number(1, 65_535)
                hint="Usually 587 with STARTTLS, 465 with implicit TLS, 25 without encryption (trusted networks only)."
                error=problem("email.port") />
            <Field id="channel-username".into() label="User name (optional)" value=form.username literal=true
                hint="Only when the server wants a login; it then needs a password too."
                error=problem("email.username") />
            <SecretSourceInput id="channel-password".into() legend="Password".into()
                hint="jitroles never stores secrets: the server reads the password each time it sends, from a file in its secrets folder (notifications.secrets_dir) or an environment variable named JITROLES_NOTIFY_…; a password is only sent over TLS.".into()
                origin=form.password_from value=form.password problem=problem("email.password") />
            <Field id="channel-sender".into() label="Sender" value=form.sender literal=true
                hint="An address, or a name and an address: jitroles <jitroles@example.com>"
                error=problem("email.sender") />
            <Field id="channel-recipients".into() label="Recipients" value=form.recipients kind=FieldKind::Textarea(3) literal=true
                hint="One address per line, or separated by commas."
                error=problem("email.recipients") />
            <label class="checkbox">
                <input type="checkbox" prop:checked=move || form.to_requester.get() on:change=move |ev| form.to_requester.set(event_target_checked(&ev)) />
                "Also send to the requester (their mail address in the directory)"
            </label>
            <FieldNotes id="channel-to-requester".into() error=problem("email.to_requester") />
            <label class="checkbox">
                <input type="checkbox" prop:checked=move || form.to_approvers.get() on:change=move |ev| form.to_approvers.set(event_target_checked(&ev)) />
                "Also send to the approvers of the role (each one's mail address in the directory, at most 100; for a rule's approval channels)"
            </label>
            <FieldNotes id="channel-to-approvers".into() error=problem("email.to_approvers") />
            <Field id="channel-subject".into() label="Subject template" value=form.subject_template code=true
                hint="A MiniJinja template. Empty: the built-in subject."
                error=problem("email.subject_template") />
            <Field id="channel-body".into() label="Body template (HTML)" value=form.body_template kind=FieldKind::Textarea(8) code=true
                hint="A MiniJinja template producing HTML; values are escaped. Empty: the built-in body."
                error=problem("email.body_template") />
        </fieldset>
    }
}
