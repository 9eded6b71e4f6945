//! Deliveries for admins: the notification outbox, newest first, filtered by state (failed
//! ones first, since those are what an admin comes here for); paged.

use leptos::{prelude::*, task::spawn_local};
use leptos_router::components::A;

use super::{
    admin::{AdminsOnly, shown},
    channels::event_label,
};
use crate::{
    api::{Api, DeliveryState, Notification},
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
    let api = use_context::<Api>();
    let rows = RwSignal::new(None::<Result<Vec<Notification>, String>>);
    let next = RwSignal::new(None::<String>);
    let state = RwSignal::new(DeliveryState::Failed);
    // the state the rows on screen were listed with, for the summary
    let listed = RwSignal::new(DeliveryState::Failed);
    let retry_error = RwSignal::new(None::<String>);
    let retrier = api.clone();
    // sends a failed notification again and shows it pending in its row
    let retry = Callback::new(move |id: String| {
        let Some(api) = retrier.clone() else { return };
        retry_error.set(None);
        spawn_local(async move {
            match api.retry_notification(id.clone()).await {
                Ok(again) => rows.update(|r| {
                    if let Some(Ok(list)) = r
                        && let Some(row) = list.iter_mut().find(|n| n.id == id)
                    {
                        *row = again;
                    }
                }),
                Err(e) => retry_error.set(shown(e)),
            }
        });
    });
    let fetch = Callback::new(move |more: bool| {
        let Some(api) = api.clone() else { return };
        let token = if more {
            next.get_untracked().unwrap_or_default()
        } else {
            String::new()
        };
        // the next page continues the list on screen, whatever the filter says now
        let wanted = if more {
            listed.get_untracked()
        } else {
            state.get_untracked()
        };
        spawn_local(async move {
            match api.notifications(wanted, token).await {
                Ok((page, after)) => {
                    if more {
                        rows.update(|r| {
                            if let Some(Ok(list)) = r {
                                list.extend(page);
                            }
                        });
                    } else {
                        rows.set(Some(Ok(page)));
                    }
                    listed.set(wanted);
                    next.set(after);
                }
                Err(e) => {
                    if let Some(m) = shown(e) {
                        rows.set(Some(Err(m)));
                    }
                }
            }
        });
    });
    fetch.run(false);
    let filter = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        fetch.run(false);
    };
    let summary = move || {
        let which = match listed.get() {
            DeliveryState::Unspecified => String::new(),
            s => format!("{} ", state_label(s).to_lowercase()),
        };
        rows.with(|r| match r {
            Some(Ok(list)) if list.is_empty() => format!("No {which}deliveries."),
            Some(Ok(list)) if list.len() == 1 => format!("1 {which}delivery shown."),
            Some(Ok(list)) => format!("{} {which}deliveries shown.", list.len()),
            _ => String::new(),
        })
    };
    view! {
        <AdminsOnly>
            <section aria-labelledby="deliveries-title">
                <h1 id="deliveries-title">"Notification deliveries"</h1>
                <p>
                    "What jitroles sent, is sending and gave up on, through the "
                    <A href="/admin/channels">"notification channels"</A>
                    ". A failed delivery was tried until the retries ran out: mend the channel, then send it again."
                </p>
                <form class="filters" on:submit=filter>
                    <label>"State"
                        <select on:change=move |ev| {
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
                    </label>
                    <button type="submit">"Show"</button>
                </form>
                <p class="visually-hidden" role="status">{summary}</p>
                {move || retry_error.get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
                {move || match rows.get() {
                    None => view! { <p class="loading">"Loading deliveries…"</p> }.into_any(),
                    Some(Err(m)) => view! { <p class="field-error" role="alert">{m}</p> }.into_any(),
                    Some(Ok(list)) if list.is_empty() => view! { <p class="empty">{summary}</p> }.into_any(),
                    Some(Ok(list)) => view! {
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
                                    {list.into_iter().map(|n| {
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
                                                        on:click=move |_| retry.run(id.clone())>"Send again"</button>
                                                })}
                                            </td>
                                        </tr>
                                    }}).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                }}
                <Show when=move || next.with(Option::is_some)>
                    <button type="button" on:click=move |_| fetch.run(true)>"Older deliveries"</button>
                </Show>
            </section>
        </AdminsOnly>
    }
}
