//! Approvers' page: the requests the signed-in person may decide (pending first, oldest
//! first), then the break-glass grants that wait for a review; approve, reject, acknowledge.
//! In the requesters' app: approvers need not be admins.

use leptos::prelude::*;

use crate::{
    api::Grant,
    api::{ApiError, Decide, Me},
    app::ApprovalCount,
    components::{ApprovalCard, GrantRows},
    data::{Loaded, use_api},
};

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let api = use_api();
    let count = use_context::<ApprovalCount>();
    let me = use_context::<ReadSignal<Option<Me>>>();
    let pending = RwSignal::new(0_u32);
    // the first 200 (the most a page holds): more than anyone decides at once
    let requests = {
        let api = api.clone();
        LocalResource::new(move || {
            let api = api.clone();
            async move {
                let answer = api.list_approvals(200, String::new()).await?;
                pending.set(answer.pending);
                if let Some(count) = count {
                    count.show(true, answer.pending);
                }
                Ok(answer.page.items)
            }
        })
    };
    let said = RwSignal::new(String::new());
    let error = RwSignal::new(None::<(String, ApiError)>);
    let decide = Action::new_local(move |(how, id, text): &(Decide, String, String)| {
        let (api, how, id, text) = (api.clone(), *how, id.clone(), text.clone());
        error.set(None);
        async move {
            match api.decide(how, id.clone(), text).await {
                Ok(g) => {
                    let whose = format!("{}'s request for {}", g.subject_account, g.rule_name);
                    said.set(match how {
                        Decide::Approve => format!("You approved {whose}."),
                        Decide::Reject => format!("You rejected {whose}."),
                        Decide::Acknowledge => format!("You acknowledged {whose}."),
                    });
                    requests.refetch();
                }
                Err(e) => error.set(Some((id, e))),
            }
        }
    });
    let on_decide = Callback::new(move |ask| {
        decide.dispatch(ask);
    });
    let my_sid = move || {
        me.and_then(|m| m.with_untracked(|m| m.as_ref().map(|m| m.sid.clone())))
            .unwrap_or_default()
    };
    let busy = decide.pending();

    view! {
        <section class="approvals-page" aria-labelledby="approvals-title">
            <h1 id="approvals-title">"Approvals"</h1>
            <p class="approvals-page__count" role="status" aria-live="polite">
                {move || match pending.get() {
                    0 => "No request waits for your decision.".to_owned(),
                    1 => "1 request waits for your decision.".to_owned(),
                    n => format!("{n} requests wait for your decision."),
                }}
                " "
                {move || said.get()}
            </p>
            <Loaded
                data=requests
                loading="Loading the requests…"
                empty=|| view! { <p class="empty">"Nothing to decide or review."</p> }
                view=move |list| {
                    view! {
                        <ul class="approvals">
                            <GrantRows grants=list row=Callback::new(move |g: Grant| {
                                    let mine = g.decisions.iter().any(|d| d.approver_sid == my_sid());
                                    let id = g.id.clone();
                                    let problem = Signal::derive(move || {
                                        error.with(|e| e.as_ref().filter(|(on, _)| *on == id).map(|(_, e)| e.clone()))
                                    });
                                    view! { <ApprovalCard grant=g mine busy=busy error=problem on_decide /> }.into_any()
                            }) />
                        </ul>
                    }
                }
            />
        </section>
    }
}
