//! Notifications: channels managed by admins ([`channels::Channels`]), and the worker that
//! delivers the outbox ([`delivery::Delivery`]); both send through one [`Sender`].
//!
//! Grant transitions write their notifications in their own transaction (the store does it,
//! routed by the domain); refused requests are queued by the grant engine. The worker claims
//! due ones, sends them, and records the outcome: sent, or another attempt later with
//! exponential backoff, or failed after the last. It runs beside the grant engine and never
//! holds it up. Several instances share the outbox: a claim moves the next attempt a lease
//! ahead, so a notification is sent by one instance at a time, and one whose instance died is
//! tried again when the lease runs out (at least once).

pub mod channels;
pub mod delivery;
pub mod network;
pub mod render;
pub mod send;
pub mod template;
#[cfg(test)]
mod template_properties;

use std::sync::Arc;

use jitroles_domain::{
    directory::{Directory, UserLookup},
    notify::{Event, Facts, MAX_APPROVER_RECIPIENTS, Transport},
    ports::RuleStore,
    reach,
};

use render::Renderer;
use send::Outbound;
use template::Rendered;

/// Renders messages (in render children) and sends them through a channel's transport: mail
/// (with the requester's address from the directory when the channel asks for it) or a
/// webhook.
pub struct Sender {
    outbound: Outbound,
    http: reqwest::Client,
    directory: Arc<dyn Directory>,
    /// For the approvers of a grant's rule (channels that mail them).
    rules: Arc<dyn RuleStore>,
    renderer: Renderer,
}

impl Sender {
    pub fn new(
        outbound: Outbound,
        directory: Arc<dyn Directory>,
        rules: Arc<dyn RuleStore>,
        renderer: Renderer,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            http: outbound.http_client()?,
            outbound,
            directory,
            rules,
            renderer,
        })
    }

    pub fn renderer(&self) -> &Renderer {
        &self.renderer
    }

    /// What may be sent where (secrets, CAs): channel settings are checked against it.
    pub fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    pub async fn send(
        &self,
        transport: &Transport,
        delivery: &str,
        event: Event,
        facts: &Facts,
        rendered: Rendered,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, String> {
        match (transport, rendered) {
            (Transport::Email(e), Rendered::Mail(mail)) => {
                let mut to = e.recipients.clone();
                if e.to_requester {
                    to.extend(self.requester_mail(facts).await?);
                }
                if e.to_approvers {
                    to.extend(self.approvers_mail(facts).await?);
                }
                to.sort();
                to.dedup();
                if to.is_empty() {
                    return Err(
                        "no recipient: neither the requester nor an approver has a mail address"
                            .into(),
                    );
                }
                send::email(e, &self.outbound, &to, &mail).await
            }
            (Transport::Webhook(w), Rendered::Json(body)) => {
                send::webhook(
                    w,
                    &self.outbound,
                    &self.http,
                    delivery,
                    event.as_str(),
                    at,
                    body,
                )
                .await
            }
            _ => Err("the rendered message does not fit the channel".into()),
        }
    }

    /// The `mail` of each approver of the grant's rule (the people its approvers ACL reaches in
    /// the directory now, never the requester), at most [`MAX_APPROVER_RECIPIENTS`].
    async fn approvers_mail(&self, facts: &Facts) -> Result<Vec<String>, String> {
        let rule = match self.rules.rule(&facts.rule_id).await {
            Ok(Some(rule)) => rule,
            Ok(None) => return Ok(Vec::new()),
            Err(e) => return Err(format!("the rule's approvers cannot be read: {e}")),
        };
        let Some(policy) = &rule.spec.approval else {
            return Ok(Vec::new());
        };
        let found = reach::reach(
            self.directory.as_ref(),
            &policy.approvers,
            MAX_APPROVER_RECIPIENTS,
        )
        .await
        .map_err(|e| format!("the approvers cannot be read from the directory: {e}"))?;
        if found.truncated {
            tracing::warn!(
                rule = %rule.spec.name,
                "more approvers than one message goes to: the first {MAX_APPROVER_RECIPIENTS} are mailed"
            );
        }
        Ok(found
            .people
            .into_iter()
            .filter(|p| p.user.sid.as_str() != facts.subject_sid)
            .filter_map(|p| p.user.mail)
            .collect())
    }

    /// The requester's `mail` from the directory (none if the account has none).
    async fn requester_mail(&self, facts: &Facts) -> Result<Option<String>, String> {
        let Ok(sid) = facts.subject_sid.parse() else {
            return Ok(None);
        };
        match self.directory.find_user(&UserLookup::Sid(sid)).await {
            Ok(user) => Ok(user.and_then(|u| u.mail)),
            Err(e) => Err(format!("the requester's mail address cannot be read: {e}")),
        }
    }
}
