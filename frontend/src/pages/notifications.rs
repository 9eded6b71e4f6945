//! Deliveries for admins: the notification outbox, newest first, filtered by state (failed
//! ones first, since those are what an admin comes here for); paged.

use std::collections::HashMap;

use leptos::prelude::*;
use leptos_router::components::A;

use super::channels::event_label;
use crate::{
    api::{ApiError, DeliveryState, Notification},
    data::{Failure, Loaded, MoreButton, Paged, use_api},
    format,
};

const STATES: [(DeliveryState, &str); 5] = [
    (DeliveryState::Failed, "Failed"),
    (DeliveryState::Pending, "Pending"),
    (DeliveryState::Sent, "Sent"),
    (DeliveryState::Skipped, "Skipped"),
    (DeliveryState::Unspecified, "All"),
];

fn state_label(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Pending => "Pending",
        DeliveryState::Sent => "Sent",
        DeliveryState::Failed => "Failed",
        DeliveryState::Skipped => "Skipped (no longer true when due)",
        DeliveryState::Unspecified => "Unknown",
    }
}

/// What the state column says: the state, and when it was sent or is tried next.
fn state_text(n: &Notification) -> String {
    match n.state() {
        DeliveryState::Sent if n.sent_at.is_some() => {
            format!("Sent {}", format::local_time(n.sent_at.as_ref()))
        }
        DeliveryState::Pending if n.next_attempt_at.is_some() => format!(
            "Pending, next attempt {}",
            format::local_time(n.next_attempt_at.as_ref())
        ),
        state => state_label(state).to_owned(),
    }
}

/// The outbox: time, channel, event, rule, person, state, attempts and the last error.
#[component]
pub fn NotificationsPage() -> impl IntoView {
    let api = use_api();
    let state = RwSignal::new(DeliveryState::Failed);
    // the state last submitted: the list follows it
    let applied = RwSignal::new(DeliveryState::Failed);
    let rows = {
        let api = api.clone();
        Paged::new(
            move || applied.get(),
            move |wanted, token| {
                let api = api.clone();
                async move { api.notifications(wanted, token).await }
            },
        )
    };
    // notifications sent again, as the server answered: shown over the listed rows
    let retried = RwSignal::new(HashMap::<String, Notification>::new());
    let retry_error = RwSignal::new(None::<ApiError>);
    let retry = Action::new_local(move |id: &String| {
        let (api, id) = (api.clone(), id.clone());
        async move {
            match api.retry_notification(id.clone()).await {
                Ok(again) => {
                    retry_error.set(None);
                    retried.update(|r| {
                        r.insert(id, again);
                    });
                }
                Err(e) => retry_error.set(Some(e)),
            }
        }
    });
    let shown = move || {
        let items = rows.items();
        retried.with(|r| {
            items
                .into_iter()
                .map(|n| r.get(&n.id).cloned().unwrap_or(n))
                .collect::<Vec<_>>()
        })
    };
    let filter = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        retried.set(HashMap::new());
        if state.get_untracked() == applied.get_untracked() {
            rows.reload();
        } else {
            applied.set(state.get_untracked());
        }
    };
    let summary = move || {
        let which = match applied.get() {
            DeliveryState::Unspecified => String::new(),
            s => format!("{} ", state_label(s).to_lowercase()),
        };
        if !rows.first.with(|r| matches!(r, Some(Ok(_)))) {
            return String::new();
        }
        match rows.items().len() {
            0 => format!("No {which}deliveries."),
            1 => format!("1 {which}delivery shown."),
            n => format!("{n} {which}deliveries shown."),
        }
    };
    view! {
        <section aria-labelledby="deliveries-title">
            <h1 id="deliveries-title">"Notification deliveries"</h1>
            <p>
                "What jitroles sent, is sending and gave up on, through the "
                <A href="/admin/channels">"notification channels"</A>
                ". A failed delivery was tried until the retries ran out: mend the channel, then send it again."
            </p>
            <form class="filters" on:submit=filter>
                <div class="field">
                    <label for="deliveries-state">"State"</label>
                    <select id="deliveries-state" on:change=move |ev| {
                        let wanted = event_target_value(&ev)
                            .parse()
                            .ok()
                            .and_then(|n: i32| DeliveryState::try_from(n).ok())
                            .unwrap_or(DeliveryState::Unspecified);
                        state.set(wanted);
                    }>
                        {STATES.into_iter().map(|(s, text)| view! {
                            <option value=(s as i32).to_string() selected=move || state.get() == s>{text}</option>
                        }).collect_view()}
                    </select>
                </div>
                <button type="submit">"Show"</button>
            </form>
            <p class="visually-hidden" role="status">{summary}</p>
            {move || retry_error.get().map(|e| view! { <Failure error=e /> })}
            <Loaded
                data=rows.first
                loading="Loading deliveries…"
                empty=move || view! { <p class="empty">{summary}</p> }
                view=move |_| view! {
                    <div class="table-scroll">
                        <table class="data-table deliveries">
                            <caption class="visually-hidden">"Notification deliveries"</caption>
                            <thead>
                                <tr>
                                    <th scope="col">"When"</th>
                                    <th scope="col">"Channel"</th>
                                    <th scope="col">"Event"</th>
                                    <th scope="col">"Role"</th>
                                    <th scope="col">"Person"</th>
                                    <th scope="col">"State"</th>
                                    <th scope="col">"Attempts"</th>
                                    <th scope="col">"Last error"</th>
                                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                </tr>
                            </thead>
                            <tbody>
                                <For each=shown key=|n| (n.id.clone(), n.state, n.attempts) let:n>
                                    {
                                        let failed = n.state() == DeliveryState::Failed;
                                        let (id, what) = (n.id.clone(), format!("Send again: {} to {}", event_label(n.event()), n.channel_name));
                                        view! {
                                            <tr>
                                                <td>{format::local_time(n.created_at.as_ref())}</td>
                                                <td>{n.channel_name.clone()}</td>
                                                <td>{event_label(n.event())}</td>
                                                <td>{n.rule_name.clone()}</td>
                                                <td>{n.subject_account.clone()}</td>
                                                <td>{state_text(&n)}</td>
                                                <td>{n.attempts}</td>
                                                <td class="deliveries__error">{n.last_error.clone()}</td>
                                                <td>
                                                    {failed.then(|| view! {
                                                        <button type="button" class="secondary" aria-label=what
                                                            on:click=move |_| { retry.dispatch(id.clone()); }>"Send again"</button>
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    }
                                </For>
                            </tbody>
                        </table>
                    </div>
                }
            />
            <MoreButton paged=rows label="Older deliveries" />
        </section>
    }
}
