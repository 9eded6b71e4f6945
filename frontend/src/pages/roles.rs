//! Requesters' page: my access (live grants with countdowns, extend, release), the roles I may
//! request, and my history. Loads through the API; components only show and emit.

use std::collections::HashMap;
use std::time::Duration;

use leptos::{prelude::*, task::spawn_local};

use crate::{
    api::{self, Api, ApiError, Grant, GrantState, Role},
    components::{GrantHistory, LiveGrant, RoleCard},
    format,
};

/// How often the countdowns tick.
const TICK: Duration = Duration::from_secs(1);

fn is_live(g: &Grant) -> bool {
    matches!(
        g.state(),
        GrantState::Activating | GrantState::Active | GrantState::Ending
    )
}

/// What a failed call means for the page: sign in again, or a message to show.
fn problem(e: ApiError) -> Option<ApiError> {
    if e == ApiError::Unauthenticated {
        api::sign_in();
        None
    } else {
        Some(e)
    }
}

#[component]
pub fn RolesPage() -> impl IntoView {
    let api = use_context::<Api>();
    let roles = RwSignal::new(None::<Result<Vec<Role>, ApiError>>);
    let grants = RwSignal::new(None::<Result<Vec<Grant>, ApiError>>);
    let older = RwSignal::new(Vec::<Grant>::new());
    let next_page = RwSignal::new(None::<String>);
    let busy = RwSignal::new(None::<String>);
    let errors = RwSignal::new(HashMap::<String, ApiError>::new());
    let grant_problems = RwSignal::new(HashMap::<String, String>::new());
    let confirmations = RwSignal::new(HashMap::<String, String>::new());
    let now = RwSignal::new(format::now_ms());
    let last_load = RwSignal::new(0.0_f64);

    let load = {
        let api = api.clone();
        move || {
            let Some(api) = api.clone() else { return };
            last_load.set(format::now_ms());
            spawn_local(async move {
                let r = api.list_roles().await;
                let g = api.my_grants(String::new()).await;
                match r {
                    Ok(list) => roles.set(Some(Ok(list))),
                    Err(e) => {
                        if let Some(e) = problem(e) {
                            roles.set(Some(Err(e)));
                        }
                    }
                }
                match g {
                    Ok(page) => {
                        // "granted until …" only while that grant lives
                        confirmations.update(|c| {
                            c.retain(|rule, _| {
                                page.grants.iter().any(|g| &g.rule_id == rule && is_live(g))
                            })
                        });
                        grants.set(Some(Ok(page.grants)));
                        older.set(Vec::new());
                        next_page.set(page.next);
                    }
                    Err(e) => {
                        if let Some(e) = problem(e) {
                            grants.set(Some(Err(e)));
                        }
                    }
                }
            });
        }
    };
    load();

    if let Ok(handle) = set_interval_with_handle(move || now.set(format::now_ms()), TICK) {
        on_cleanup(move || handle.clear());
    }
    // a countdown that reaches zero moves its grant to history without a reload
    {
        let load = load.clone();
        Effect::new(move |_| {
            let t = now.get();
            let due = grants.with_untracked(|g| {
                g.as_ref()
                    .and_then(|r| r.as_ref().ok())
                    .is_some_and(|list| {
                        list.iter()
                            .any(|g| is_live(g) && format::epoch_ms(g.expires_at.as_ref()) <= t)
                    })
            });
            // and a load that failed (server away) is tried again every few seconds
            let failed = roles.with_untracked(|r| matches!(r, Some(Err(_))))
                || grants.with_untracked(|g| matches!(g, Some(Err(_))));
            let wait = if failed { 5000.0 } else { 2000.0 };
            if (due || failed) && t - last_load.get_untracked() > wait {
                load();
            }
        });
    }

    let on_request = {
        let (api, load) = (api.clone(), load.clone());
        Callback::new(move |(rule_id, secs, why): (String, i64, String)| {
            let Some(api) = api.clone() else { return };
            let load = load.clone();
            busy.set(Some(rule_id.clone()));
            errors.update(|e| {
                e.remove(&rule_id);
            });
            spawn_local(async move {
                match api.request_role(rule_id.clone(), secs, why).await {
                    Ok(grant) => {
                        let until = format::local_time(grant.expires_at.as_ref());
                        confirmations.update(|c| {
                            c.insert(rule_id.clone(), format!("Granted until {until}."));
                        });
                        load();
                    }
                    Err(e) => {
                        if let Some(e) = problem(e) {
                            errors.update(|all| {
                                all.insert(rule_id.clone(), e);
                            });
                        }
                    }
                }
                busy.set(None);
            });
        })
    };
    let act = {
        let (api, load) = (api.clone(), load.clone());
        move |id: String, release: bool| {
            let Some(api) = api.clone() else { return };
            let load = load.clone();
            spawn_local(async move {
                let answer = if release {
                    api.release_grant(id.clone()).await
                } else {
                    api.extend_grant(id.clone()).await
                };
                match answer {
                    Ok(_) => {
                        grant_problems.update(|p| {
                            p.remove(&id);
                        });
                        load();
                    }
                    Err(e) => {
                        if let Some(e) = problem(e) {
                            grant_problems.update(|p| {
                                p.insert(id.clone(), e.to_string());
                            });
                        }
                    }
                }
            });
        }
    };
    let on_extend = {
        let act = act.clone();
        Callback::new(move |id: String| act(id, false))
    };
    let on_release = Callback::new(move |id: String| {
        let sure = window()
            .confirm_with_message("End this access now? You are removed from the group at once.")
            .unwrap_or(false);
        if sure {
            act(id, true);
        }
    });
    let more = {
        let api = api.clone();
        move |_| {
            let (Some(api), Some(token)) = (api.clone(), next_page.get()) else {
                return;
            };
            spawn_local(async move {
                match api.my_grants(token).await {
                    Ok(page) => {
                        older.update(|o| o.extend(page.grants));
                        next_page.set(page.next);
                    }
                    Err(e) => {
                        if let Some(e) = problem(e) {
                            grants.set(Some(Err(e)));
                        }
                    }
                }
            });
        }
    };

    let live = move || {
        grants.with(|g| match g {
            Some(Ok(list)) => list.iter().filter(|g| is_live(g)).cloned().collect(),
            _ => Vec::new(),
        })
    };
    let history = Signal::derive(move || {
        let mut past: Vec<Grant> = grants.with(|g| match g {
            Some(Ok(list)) => list.iter().filter(|g| !is_live(g)).cloned().collect(),
            _ => Vec::new(),
        });
        past.extend(older.get().into_iter().filter(|g| !is_live(g)));
        past
    });
    let extendable = move |rule_id: &str| {
        roles.with(|r| match r {
            Some(Ok(list)) => list
                .iter()
                .any(|role| role.rule_id == rule_id && role.allow_extension),
            _ => false,
        })
    };

    view! {
        <section class="roles-page" aria-labelledby="roles-title">
            <h1 id="roles-title">"Roles"</h1>

            <h2>"My access"</h2>
            {move || match grants.get() {
                None => view! { <p class="loading">"Loading your access…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="field-error" role="alert">{e.to_string()}</p> }.into_any(),
                Some(Ok(_)) => {
                    let live = live();
                    if live.is_empty() {
                        view! { <p class="empty">"You hold no role right now."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="live-grants">
                                {live
                                    .into_iter()
                                    .map(|g| {
                                        let id = g.id.clone();
                                        let can_extend = extendable(&g.rule_id);
                                        view! {
                                            <LiveGrant
                                                grant=g
                                                now=now
                                                can_extend=can_extend
                                                problem=Signal::derive(move || grant_problems.with(|p| p.get(&id).cloned()))
                                                on_extend=on_extend
                                                on_release=on_release
                                            />
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        }
                            .into_any()
                    }
                }
            }}

            <h2>"Roles you can request"</h2>
            {move || match roles.get() {
                None => view! { <p class="loading">"Loading roles…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="field-error" role="alert">{e.to_string()}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => {
                    view! { <p class="empty">"There is no role you may request. Ask an administrator if you need one."</p> }
                        .into_any()
                }
                Some(Ok(list)) => {
                    view! {
                        <div class="role-cards">
                            {list
                                .into_iter()
                                .map(|role| {
                                    let id = role.rule_id.clone();
                                    let (id1, id2, id3, id4) = (id.clone(), id.clone(), id.clone(), id);
                                    let held = Signal::derive(move || {
                                        grants.with(|g| match g {
                                            Some(Ok(list)) => list.iter().any(|g| g.rule_id == id1 && is_live(g)),
                                            _ => false,
                                        })
                                    });
                                    view! {
                                        <RoleCard
                                            role=role
                                            held=held
                                            busy=Signal::derive(move || busy.get().as_deref() == Some(id2.as_str()))
                                            error=Signal::derive(move || errors.with(|e| e.get(&id3).cloned()))
                                            confirmation=Signal::derive(move || confirmations.with(|c| c.get(&id4).cloned()))
                                            on_request=on_request
                                        />
                                    }
                                })
                                .collect_view()}
                        </div>
                    }
                        .into_any()
                }
            }}

            <h2>"History"</h2>
            <GrantHistory grants=history />
            <Show when=move || next_page.with(Option::is_some)>
                <button type="button" on:click=more.clone()>"Show older grants"</button>
            </Show>
        </section>
    }
}
