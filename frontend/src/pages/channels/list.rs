//! The channels, with kind, target and the lifecycle events each receives.

use leptos::prelude::*;
use leptos_router::components::A;

use super::{DEFAULT_LEAD_SECS, LIFECYCLE, event_label};
use crate::{
    api::{ChannelKind, ChannelSpec, NotificationEvent},
    data::{Loaded, use_api},
    format,
};

/// The host (and port) of a URL, for the list: "hooks.slack.com".
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

/// The channels, with kind, target and the lifecycle events each receives.
#[component]
pub fn AdminChannelsPage() -> impl IntoView {
    let api = use_api();
    let channels = LocalResource::new(move || {
        let api = api.clone();
        async move { api.list_channels().await }
    });
    let kind_of = |spec: &ChannelSpec| match &spec.kind {
        Some(ChannelKind::Email(e)) => format!("Email ({})", e.host),
        Some(ChannelKind::Webhook(w)) => format!("Webhook ({})", url_host(&w.url)),
        None => "none".into(),
    };
    let events_of = |spec: &ChannelSpec| {
        let names: Vec<String> = LIFECYCLE
            .iter()
            .filter(|e| spec.lifecycle_events.contains(&(**e as i32)))
            .map(|e| match e {
                NotificationEvent::ExpiringSoon => format!(
                    "Expiring soon ({} before)",
                    format::duration(spec.expiring_lead.map_or(DEFAULT_LEAD_SECS, |d| d.seconds))
                ),
                other => event_label(*other).to_owned(),
            })
            .collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    };
    view! {
            <section aria-labelledby="channels-title">
                <h1 id="channels-title">"Notification channels"</h1>
                <p>
                    "Email and webhooks that hear about grants. Granted, extended and failed requests go to the channels a rule lists; the lifecycle events below go to every channel that subscribes. "
                    <A href="/admin/notifications">"Deliveries"</A>
                    " shows what was sent and what failed."
                </p>
                <div class="toolbar">
                    <A href="/admin/channels/new" attr:class="button">"New channel"</A>
                </div>
                <Loaded
                    data=channels
                    loading="Loading channels…"
                    empty=|| view! { <p class="empty">"No channels yet."</p> }
                    view=move |list| view! {
                        <div class="table-scroll">
                            <table class="data-table">
                                <caption class="visually-hidden">"Notification channels"</caption>
                                <thead>
                                    <tr>
                                        <th scope="col">"Name"</th>
                                        <th scope="col">"Kind"</th>
                                        <th scope="col">"Lifecycle events"</th>
                                        <th scope="col">"Enabled"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    <For each=move || list.get() key=|c| (c.id.clone(), c.version) let:c>
                                        {
                                            let spec = c.spec.unwrap_or_default();
                                            let (kind, events) = (kind_of(&spec), events_of(&spec));
                                            view! {
                                                <tr>
                                                    <td><A href=format!("/admin/channels/{}", c.id)>{spec.name}</A></td>
                                                    <td>{kind}</td>
                                                    <td>{events}</td>
                                                    <td>{if spec.enabled { "yes" } else { "no" }}</td>
                                                </tr>
                                            }
                                        }
                                    </For>
                                </tbody>
                            </table>
                        </div>
                    }
                />
            </section>
    }
}
