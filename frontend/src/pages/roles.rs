//! Requesters' page: my access (live grants with countdowns, extend, release; requests that
//! wait for approval or their start, with Cancel), the roles I may request, and my history.
//! Loads through the API; components only show and emit. While a request waits, the page
//! reads the grants again every few seconds, so a decision shows without a reload.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use leptos::prelude::*;

use crate::{
    api::{ApiError, Ask, Grant, GrantState, Role},
    components::{GrantHistory, GrantRows, LiveGrant, RoleCard, WaitingRequest},
    data::{Loaded, MoreButton, Paged, use_api},
    format,
};

/// How often the countdowns tick.
const TICK: Duration = Duration::from_secs(1);
/// How often the grants are read again while a request waits (a decision shows within 5 s).
const WAITING_POLL_MS: f64 = 3000.0;

/// What a person does with a grant or request of theirs.
#[derive(Clone, Copy)]
enum Change {
    /// By this many seconds from now.
    Extend(i64),
    Release,
    Cancel,
}

fn is_waiting(g: &Grant) -> bool {
    matches!(g.state(), GrantState::Pending | GrantState::Scheduled)
}

fn is_live(g: &Grant) -> bool {
    matches!(
        g.state(),
        GrantState::Activating | GrantState::Active | GrantState::Ending
    )
}

fn secs(d: Option<&prost_types::Duration>) -> i64 {
    d.map_or(3600, |d| d.seconds)
}

/// What keeps a role card: a reload that changes none of these keeps the card (and what is
/// typed in it).
type CardKey = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    bool,
    i32,
    String,
    (u32, bool, i64),
);

fn card_key(r: &Role) -> CardKey {
    (
        r.rule_id.clone(),
        r.name.clone(),
        r.description.clone(),
        r.group_name.clone(),
        secs(r.default_duration.as_ref()),
        secs(r.max_duration.as_ref()),
        r.allow_extension,
        r.justification,
        r.frozen
            .as_ref()
            .map(|f| f.reason.clone())
            .unwrap_or_default(),
        (
            r.required_approvals,
            r.break_glass,
            r.max_lead.map_or(0, |d| d.seconds),
        ),
    )
}

#[component]
pub fn RolesPage() -> impl IntoView {
    let api = use_api();
    // both calls start at once
    let roles = {
        let api = api.clone();
        LocalResource::new(move || {
            let api = api.clone();
            async move { api.list_roles().await }
        })
    };
    let grants =
        {
            let api = api.clone();
            Paged::new(
                || (),
                move |(), token| {
                    let api = api.clone();
                    async move {
                        let mut page = api.my_grants(token).await?;
                        // the list has no decisions: a request that needs several approvals is
                        // read with them, so the page can say who approved so far
                        for g in page.items.iter_mut().filter(|g| {
                            g.state() == GrantState::Pending && g.required_approvals > 1
                        }) {
                            if let Ok(full) = api.get_request(g.id.clone()).await {
                                *g = full;
                            }
                        }
                        Ok(page)
                    }
                },
            )
        };
    let errors = RwSignal::new(HashMap::<String, ApiError>::new());
    let grant_problems = RwSignal::new(HashMap::<String, String>::new());
    let confirmations = RwSignal::new(HashMap::<String, String>::new());
    let now = RwSignal::new(format::now_ms());
    let last_load = StoredValue::new(format::now_ms());
    let reload = move || {
        last_load.set_value(format::now_ms());
        grants.reload();
    };

    if let Ok(handle) = set_interval_with_handle(move || now.set(format::now_ms()), TICK) {
        on_cleanup(move || handle.clear());
    }
    // a countdown that reaches zero moves its grant to history without a reload; a load that
    // failed (server away) is tried again every few seconds
    Effect::new(move |_| {
        let t = now.get();
        let (due, waiting) = grants.first.with_untracked(|g| {
            g.as_ref()
                .and_then(|r| r.as_ref().ok())
                .map_or((false, false), |l| {
                    let items = &l.page.items;
                    (
                        items
                            .iter()
                            .any(|g| is_live(g) && format::epoch_ms(g.expires_at.as_ref()) <= t),
                        items.iter().any(is_waiting),
                    )
                })
        });
        let roles_failed = roles.with_untracked(|r| matches!(r, Some(Err(_))));
        let grants_failed = grants.first.with_untracked(|g| matches!(g, Some(Err(_))));
        let wait = if roles_failed || grants_failed {
            5000.0
        } else if waiting && !due {
            WAITING_POLL_MS
        } else {
            2000.0
        };
        if t - last_load.get_value() > wait {
            if roles_failed {
                last_load.set_value(t);
                roles.refetch();
            }
            if due || waiting || grants_failed {
                reload();
            }
        }
    });

    let request = {
        let api = api.clone();
        Action::new_local(move |ask: &Ask| {
            let (api, ask) = (api.clone(), ask.clone());
            let rule_id = ask.rule_id.clone();
            errors.update(|e| {
                e.remove(&rule_id);
            });
            async move {
                match api.request_role(ask).await {
                    Ok(g) => {
                        // a request that waits says so in place of the form (`held`)
                        if is_live(&g) {
                            let until = format::local_time(g.expires_at.as_ref());
                            let said = if g.break_glass.is_some() {
                                format!(
                                    "Granted through break-glass until {until}. The approvers are told."
                                )
                            } else {
                                format!("Granted until {until}.")
                            };
                            confirmations.update(|c| {
                                c.insert(rule_id, said);
                            });
                        }
                        reload();
                    }
                    Err(e) => errors.update(|all| {
                        all.insert(rule_id, e);
                    }),
                }
            }
        })
    };
    let change = Action::new_local(move |(id, how): &(String, Change)| {
        let (api, id, how) = (api.clone(), id.clone(), *how);
        async move {
            let answer = match how {
                Change::Extend(secs) => api.extend_grant(id.clone(), Some(secs)).await,
                Change::Release => api.release_grant(id.clone()).await,
                Change::Cancel => api.cancel_request(id.clone()).await,
            };
            match answer {
                Ok(_) => {
                    grant_problems.update(|p| {
                        p.remove(&id);
                    });
                    reload();
                }
                Err(e) => grant_problems.update(|p| {
                    p.insert(id, e.to_string());
                }),
            }
        }
    });
    let on_request = Callback::new(move |ask: Ask| {
        request.dispatch(ask);
    });
    let on_extend = Callback::new(move |(id, secs): (String, i64)| {
        change.dispatch((id, Change::Extend(secs)));
    });
    let on_cancel = Callback::new(move |id: String| {
        change.dispatch((id, Change::Cancel));
    });
    let on_release = Callback::new(move |id: String| {
        let sure = window()
            .confirm_with_message("End this access now? You are removed from the group at once.")
            .unwrap_or(false);
        if sure {
            change.dispatch((id, Change::Release));
        }
    });
    let busy_rule = move || {
        request
            .input()
            .with(|i| i.as_ref().map(|ask| ask.rule_id.clone()))
    };

    // every grant listed, computed once per answer
    let all = Memo::new(move |_| grants.items());
    let rules_where = move |which: fn(&Grant) -> bool| {
        Memo::new(move |_| {
            all.with(|a| {
                a.iter()
                    .filter(|g| which(g))
                    .map(|g| g.rule_id.clone())
                    .collect::<HashSet<_>>()
            })
        })
    };
    let (live_rules, waiting_rules) = (rules_where(is_live), rules_where(is_waiting));
    // "granted until …" only while that grant lives
    Effect::new(move |_| {
        live_rules.with(|live| confirmations.update(|c| c.retain(|rule, _| live.contains(rule))));
    });
    let role_of = move |rule_id: &str| {
        roles.with(|r| match r {
            Some(Ok(list)) => list.iter().find(|role| role.rule_id == rule_id).cloned(),
            _ => None,
        })
    };
    let live = Memo::new(move |_| {
        all.with(|a| a.iter().filter(|g| is_live(g)).cloned().collect::<Vec<_>>())
    });
    let waiting = Memo::new(move |_| {
        all.with(|a| {
            a.iter()
                .filter(|g| is_waiting(g))
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let history = Signal::derive(move || {
        all.with(|a| {
            a.iter()
                .filter(|g| !is_live(g) && !is_waiting(g))
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let held = move |rule_id: &str| {
        if live_rules.with(|r| r.contains(rule_id)) {
            Some("You have this role now (see My access).")
        } else if waiting_rules.with(|r| r.contains(rule_id)) {
            Some("Your request for this role waits (see My access).")
        } else {
            None
        }
    };
    // a freeze of every role is on each role: said once, above them
    let all_frozen = move || {
        roles.with(|r| {
            r.as_ref()?.as_ref().ok()?.iter().find_map(|role| {
                role.frozen
                    .as_ref()
                    .filter(|f| f.rule_id.is_empty())
                    .map(|f| {
                        format!(
                            "Requests for all roles are frozen by {}: {}",
                            f.frozen_by, f.reason
                        )
                    })
            })
        })
    };

    view! {
        <section class="roles-page" aria-labelledby="roles-title">
            <h1 id="roles-title">"Roles"</h1>

            <h2>"My access"</h2>
            <Loaded
                data=grants.first
                loading="Loading your access…"
                empty=|| view! { <p class="empty">"You hold no role right now."</p> }
                view=move |_| {
                    view! {
                        <Show when=move || !waiting.with(Vec::is_empty)>
                            <ul class="live-grants waiting-requests" aria-label="Requests that wait">
                                <GrantRows grants=waiting row=Callback::new(move |g: Grant| {
                                        let id = g.id.clone();
                                        view! {
                                            <WaitingRequest
                                                grant=g
                                                problem=Signal::derive(move || grant_problems.with(|p| p.get(&id).cloned()))
                                                on_cancel=on_cancel
                                            />
                                        }.into_any()
                                }) />
                            </ul>
                        </Show>
                        <Show when=move || live.with(|l| !l.is_empty()) fallback=|| view! { <p class="empty">"You hold no role right now."</p> }>
                            <ul class="live-grants">
                                <GrantRows grants=live row=Callback::new(move |g: Grant| {
                                        let id = g.id.clone();
                                        let rule_id = g.rule_id.clone();
                                        // the roles may answer after the grants: follows them
                                        let extension = Memo::new(move |_| {
                                            // a frozen role is not extended either
                                            role_of(&rule_id).filter(|r| r.allow_extension && r.frozen.is_none()).map(|r| {
                                                (secs(r.default_duration.as_ref()), secs(r.max_duration.as_ref()))
                                            })
                                        });
                                        view! {
                                            <LiveGrant
                                                grant=g
                                                now=now
                                                extension=extension
                                                problem=Signal::derive(move || grant_problems.with(|p| p.get(&id).cloned()))
                                                on_extend=on_extend
                                                on_release=on_release
                                            />
                                        }.into_any()
                                }) />
                            </ul>
                        </Show>
                    }
                }
            />

            <h2>"Roles you can request"</h2>
            {move || all_frozen().map(|f| view! { <p class="notice notice--frozen" role="status">{f}</p> })}
            <Loaded
                data=roles
                loading="Loading roles…"
                empty=|| view! { <p class="empty">"There is no role you may request. Ask an administrator if you need one."</p> }
                view=move |list| {
                    view! {
                        <div class="role-cards">
                            <For each=move || list.get() key=card_key let:role>
                                {
                                    let id = role.rule_id.clone();
                                    let (id1, id2, id3, id4) = (id.clone(), id.clone(), id.clone(), id);
                                    view! {
                                        <RoleCard
                                            role=role
                                            held=Signal::derive(move || held(&id1))
                                            busy=Signal::derive(move || busy_rule().as_deref() == Some(id2.as_str()))
                                            error=Signal::derive(move || errors.with(|e| e.get(&id3).cloned()))
                                            confirmation=Signal::derive(move || confirmations.with(|c| c.get(&id4).cloned()))
                                            on_request=on_request
                                        />
                                    }
                                }
                            </For>
                        </div>
                    }
                }
            />

            <h2>"History"</h2>
            {move || grants.first.with(|g| matches!(g, Some(Ok(_)))).then(|| view! { <GrantHistory grants=history /> })}
            <MoreButton paged=grants label="Show older grants" />
        </section>
    }
}
