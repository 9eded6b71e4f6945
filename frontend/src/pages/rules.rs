//! Role rules for admins: the list, and the editor (seed step 3: settings, access control,
//! durations, justification, enabled and expiry; the channels notified on success and failure;
//! approvals, break-glass and scheduling).

use leptos::{prelude::*, task::spawn_local};
use leptos_router::{
    components::A,
    hooks::{use_navigate, use_params_map},
};

use crate::{
    api::{
        AclEntry, ApprovalPolicy, DirectoryEntry, DirectoryObjectKind, JustificationPolicy, Rule,
        RuleSpec,
    },
    components::{
        AclEditor, ChannelChoice, ChannelChoices, DirectoryPicker, DurationInput, Field, FieldKind,
        FormProblems, seconds, split,
    },
    data::{Failure, Loaded, use_api},
    format,
    pages::RuleAccessSection,
};

const STALE: &str = "Someone else saved this rule after you opened it. Reload the page to see their version, then make your change again.";

/// The rule editor's fields, so a server violation it cannot place is still shown.
const RULE_FIELDS: [&str; 15] = [
    "name",
    "description",
    "target_group",
    "acl",
    "max_duration",
    "default_duration",
    "max_total_duration",
    "expires_at",
    "success_channels",
    "failure_channels",
    "approval_channels",
    "approval.approvers",
    "approval.required",
    "approval.pending_window",
    "max_lead",
];

/// A pending window when the rule has none yet: the server's default, 24 h.
const DEFAULT_WINDOW_SECS: i64 = 86_400;

/// The rules, searchable by name; the list follows the search as it is typed, and a newer
/// answer always replaces an older one still in flight.
#[component]
pub fn AdminRulesPage() -> impl IntoView {
    let api = use_api();
    let query = RwSignal::new(String::new());
    let rules = LocalResource::new(move || {
        let (api, q) = (api.clone(), query.get());
        async move { api.list_rules(q).await }
    });
    let duration_of =
        |d: Option<prost_types::Duration>| format::duration(d.map_or(0, |d| d.seconds));
    view! {
        <section aria-labelledby="rules-title">
            <h1 id="rules-title">"Role rules"</h1>
            <div class="toolbar">
                <Field id="rule-search".into() label="Search rules" value=query kind=FieldKind::Search />
                <A href="/admin/rules/new" attr:class="button">"New rule"</A>
                <A href="/admin/rules/file" attr:class="button secondary">"Export or import rules"</A>
            </div>
            <Loaded
                data=rules
                loading="Loading rules…"
                empty=|| view! { <p class="empty">"No rules yet."</p> }
                view=move |list| view! {
                    <table class="data-table">
                        <caption class="visually-hidden">"Role rules"</caption>
                        <thead>
                            <tr>
                                <th scope="col">"Name"</th>
                                <th scope="col">"Group"</th>
                                <th scope="col">"Enabled"</th>
                                <th scope="col">"Default"</th>
                                <th scope="col">"Maximum"</th>
                                <th scope="col">"Live grants"</th>
                                <th scope="col">"Requests"</th>
                            </tr>
                        </thead>
                        <tbody>
                            <For each=move || list.get() key=|r| (r.id.clone(), r.version, r.live_grants, r.frozen.clone()) let:r>
                                {
                                    let spec = r.spec.clone().unwrap_or_default();
                                    let grants_label = format!("{} live grants of {}", r.live_grants, spec.name);
                                    view! {
                                        <tr>
                                            <td><A href=format!("/admin/rules/{}", r.id)>{spec.name.clone()}</A></td>
                                            <td>{r.target.map(|t| t.name).unwrap_or_default()}</td>
                                            <td>{if spec.enabled { "yes" } else { "no" }}</td>
                                            <td>{duration_of(spec.default_duration)}</td>
                                            <td>{duration_of(spec.max_duration)}</td>
                                            // the grants page filtered by the rule: its emergency controls
                                            <td><A href=format!("/admin/grants?rule={}", r.id)
                                                attr:title=grants_label>{r.live_grants}</A></td>
                                            <td>{r.frozen.map_or_else(|| "open".to_owned(), |f| format!("frozen by {}: {}", f.frozen_by, f.reason))}</td>
                                        </tr>
                                    }
                                }
                            </For>
                        </tbody>
                    </table>
                }
            />
        </section>
    }
}

/// Create (`/admin/rules/new`) or edit (`/admin/rules/:id`) a rule.
#[component]
pub fn RuleEditorPage() -> impl IntoView {
    let api = use_api();
    let params = use_params_map();
    let rule_id = params
        .with_untracked(|p| p.get("id"))
        .filter(|id| id != "new");
    let navigate = use_navigate();

    let existing = RwSignal::new(None::<(String, i64)>);
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let target = RwSignal::new(None::<(String, String, bool)>); // sid, name, protected
    let acl = RwSignal::new(Vec::<AclEntry>::new());
    let (max_amount, max_unit) = (RwSignal::new("1".to_owned()), RwSignal::new(3600));
    let (def_amount, def_unit) = (RwSignal::new("1".to_owned()), RwSignal::new(3600));
    let allow_extension = RwSignal::new(false);
    let cap_on = RwSignal::new(false);
    let (cap_amount, cap_unit) = (RwSignal::new("8".to_owned()), RwSignal::new(3600));
    let justification = RwSignal::new(JustificationPolicy::Required as i32);
    let enabled = RwSignal::new(true);
    let expires = RwSignal::new(String::new());
    let group_results = RwSignal::new(Vec::<DirectoryEntry>::new());
    let acl_results = RwSignal::new(Vec::<DirectoryEntry>::new());
    let problems = FormProblems::default();
    let success_channels = RwSignal::new(Vec::<String>::new());
    let failure_channels = RwSignal::new(Vec::<String>::new());
    let approval_on = RwSignal::new(false);
    let approvers = RwSignal::new(Vec::<AclEntry>::new());
    let approver_results = RwSignal::new(Vec::<DirectoryEntry>::new());
    let required = RwSignal::new("1".to_owned());
    let (window_amount, window_unit) = (RwSignal::new("24".to_owned()), RwSignal::new(3600));
    let break_glass = RwSignal::new(false);
    let service_approvers = RwSignal::new(false);
    let lead_on = RwSignal::new(false);
    let lead_days = RwSignal::new("7".to_owned());
    let approval_channels = RwSignal::new(Vec::<String>::new());

    let fill = move |r: Rule| {
        let spec = r.spec.unwrap_or_default();
        existing.set(Some((r.id.clone(), r.version)));
        name.set(spec.name.clone());
        description.set(spec.description.clone());
        if let Some(t) = r.target {
            target.set(Some((t.sid, t.name, false)));
        }
        acl.set(spec.acl.clone());
        let (a, u) = split(spec.max_duration.map_or(3600, |d| d.seconds));
        max_amount.set(a.to_string());
        max_unit.set(u);
        let (a, u) = split(spec.default_duration.map_or(3600, |d| d.seconds));
        def_amount.set(a.to_string());
        def_unit.set(u);
        allow_extension.set(spec.allow_extension);
        if let Some(cap) = spec.max_total_duration {
            cap_on.set(true);
            let (a, u) = split(cap.seconds);
            cap_amount.set(a.to_string());
            cap_unit.set(u);
        }
        justification.set(spec.justification);
        enabled.set(spec.enabled);
        expires.set(format::to_local_input(spec.expires_at.as_ref()));
        success_channels.set(spec.success_channels);
        failure_channels.set(spec.failure_channels);
        if let Some(p) = spec.approval {
            approval_on.set(true);
            approvers.set(p.approvers);
            required.set(p.required_approvals.to_string());
            let (a, u) = split(p.pending_window.map_or(DEFAULT_WINDOW_SECS, |d| d.seconds));
            window_amount.set(a.to_string());
            window_unit.set(u);
            break_glass.set(p.break_glass);
            service_approvers.set(p.service_approvers);
        }
        if let Some(lead) = spec.max_lead {
            lead_on.set(true);
            lead_days.set((lead.seconds / 86_400).max(1).to_string());
        }
        approval_channels.set(spec.approval_channels);
    };
    // the rule as saved (a new rule: an empty one), filled into the form once it arrives
    let loaded = {
        let (api, rule_id) = (api.clone(), rule_id.clone());
        LocalResource::new(move || {
            let (api, rule_id) = (api.clone(), rule_id.clone());
            async move {
                match rule_id {
                    Some(id) => api.get_rule(id).await,
                    None => Ok(Rule::default()),
                }
            }
        })
    };
    leptos::prelude::Effect::new(move |filled: Option<bool>| {
        if filled == Some(true) {
            return true;
        }
        match loaded.get() {
            Some(Ok(r)) if !r.id.is_empty() => {
                fill(r);
                true
            }
            _ => false,
        }
    });
    let status = {
        let api = api.clone();
        LocalResource::new(move || {
            let api = api.clone();
            async move { api.directory_status().await }
        })
    };
    let channels = {
        let api = api.clone();
        LocalResource::new(move || {
            let api = api.clone();
            async move {
                api.list_channels().await.map(|list| {
                    list.into_iter()
                        .map(|c| {
                            let spec = c.spec.unwrap_or_default();
                            ChannelChoice {
                                id: c.id,
                                name: spec.name,
                                enabled: spec.enabled,
                            }
                        })
                        .collect::<Vec<_>>()
                })
            }
        })
    };

    let search = |results: RwSignal<Vec<DirectoryEntry>>, kind: DirectoryObjectKind| {
        let api = use_api();
        Callback::new(move |q: String| {
            let api = api.clone();
            spawn_local(async move {
                match api.search_directory(q, kind).await {
                    Ok(found) => results.set(found),
                    Err(e) => problems.server.set(Some(e)),
                }
            });
        })
    };
    let search_groups = search(group_results, DirectoryObjectKind::Group);
    let search_principals = search(acl_results, DirectoryObjectKind::Unspecified);
    let search_approvers = search(approver_results, DirectoryObjectKind::Unspecified);
    let pick_group = Callback::new(move |e: DirectoryEntry| {
        target.set(Some((e.sid.clone(), e.account_name.clone(), e.protected)));
        group_results.set(Vec::new());
    });

    let problem = move |field: &'static str| problems.about(field);
    let group_warning = move || {
        let (sid, _, protected) = target.get()?;
        let mut notes = Vec::new();
        if protected {
            notes.push("This is a protected group: AdminSDHolder resets its permissions, so jitroles may lose the right to change it.".to_owned());
        }
        status.with(|s| {
            if let Some(Ok(s)) = s
                && let Some(g) = s
                    .groups
                    .iter()
                    .find(|g| g.group.as_ref().is_some_and(|t| t.sid == sid))
            {
                if !g.can_write_members {
                    notes.push("The jitroles service account cannot write this group's members: requests will fail until it is delegated.".into());
                }
                if g.protected && !protected {
                    notes.push("This is a protected group (adminCount = 1).".into());
                }
            }
        });
        (!notes.is_empty()).then(|| notes.join(" "))
    };

    let save = {
        let api = api.clone();
        Action::new_local(move |spec: &RuleSpec| {
            let (api, spec, navigate) = (api.clone(), spec.clone(), navigate.clone());
            async move {
                match api.save_rule(existing.get_untracked(), spec).await {
                    Ok(_) => navigate("/admin/rules", Default::default()),
                    Err(e) => problems.server.set(Some(e)),
                }
            }
        })
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut found = Vec::new();
        let mut secs = |field: &str, amount: RwSignal<String>, unit: RwSignal<i64>| {
            seconds(&amount.get_untracked(), unit.get_untracked())
                .map_err(|m| found.push((field.to_owned(), m)))
                .ok()
        };
        let max = secs("max_duration", max_amount, max_unit);
        let def = secs("default_duration", def_amount, def_unit);
        let cap = if cap_on.get_untracked() {
            secs("max_total_duration", cap_amount, cap_unit)
        } else {
            None
        };
        let window = if approval_on.get_untracked() {
            secs("approval.pending_window", window_amount, window_unit)
        } else {
            None
        };
        let mut whole = |field: &str, value: RwSignal<String>, most: i64, what: &str| match value
            .get_untracked()
            .trim()
            .parse::<i64>()
        {
            Ok(n) if (1..=most).contains(&n) => Some(n),
            _ => {
                found.push((
                    field.to_owned(),
                    format!("A whole number of {what}, 1 to {most}."),
                ));
                None
            }
        };
        let needed = if approval_on.get_untracked() {
            whole("approval.required", required, 5, "approvals")
        } else {
            None
        };
        let lead = if lead_on.get_untracked() {
            whole("max_lead", lead_days, 90, "days")
        } else {
            None
        };
        let expires_at = format::parse_local(&expires.get_untracked());
        if !expires.get_untracked().trim().is_empty() && expires_at.is_none() {
            found.push(("expires_at".into(), "Not a date and time.".into()));
        }
        problems.clear();
        if !found.is_empty() {
            problems.local.set(found);
            return;
        }
        let duration =
            |s: Option<i64>| s.map(|seconds| prost_types::Duration { seconds, nanos: 0 });
        save.dispatch(RuleSpec {
            name: name.get_untracked(),
            description: description.get_untracked(),
            target_group: target
                .get_untracked()
                .map(|(sid, _, _)| sid)
                .unwrap_or_default(),
            acl: acl.get_untracked(),
            max_duration: duration(max),
            default_duration: duration(def),
            allow_extension: allow_extension.get_untracked(),
            max_total_duration: duration(cap),
            justification: justification.get_untracked(),
            enabled: enabled.get_untracked(),
            expires_at: expires_at.map(format::timestamp),
            success_channels: success_channels.get_untracked(),
            failure_channels: failure_channels.get_untracked(),
            approval: approval_on.get_untracked().then(|| ApprovalPolicy {
                approvers: approvers.get_untracked(),
                required_approvals: needed.map_or(1, |n| n as u32),
                pending_window: duration(window),
                break_glass: break_glass.get_untracked(),
                service_approvers: service_approvers.get_untracked(),
            }),
            max_lead: duration(lead.map(|days| days * 86_400)),
            approval_channels: approval_channels.get_untracked(),
        });
    };
    let saving = save.pending();
    let channel_choices = Signal::derive(move || {
        channels.with(|c| match c {
            Some(Ok(list)) => list.clone(),
            _ => Vec::new(),
        })
    });

    view! {
        <section aria-labelledby="editor-title">
            <h1 id="editor-title">{move || if existing.with(Option::is_some) { "Edit rule" } else { "New rule" }}</h1>
            {move || existing.get().map(|(id, _)| view! {
                <p><A href=format!("/admin/rules/{id}/history")>"History: every saved version, what changed, restore"</A></p>
            })}
            <Loaded data=loaded loading="Loading the rule…" view=move |_| view! {
            <form class="rule-editor" on:submit=submit>
                <fieldset>
                    <legend>"Rule settings"</legend>
                    <Field id="rule-name".into() label="Name" value=name required=true maxlength=100 error=problem("name") />
                    <Field id="rule-description".into() label="Description (shown to requesters)" value=description
                        kind=FieldKind::Textarea(2) maxlength=2000 error=problem("description") />
                    <p class="rule-editor__target">
                        "Target group: "
                        <strong data-testid="target-group">{move || target.get().map(|(_, n, _)| n).unwrap_or_else(|| "none chosen".into())}</strong>
                    </p>
                    {move || group_warning().map(|w| view! { <p class="warning" role="note">{w}</p> })}
                    {move || problem("target_group").get().map(|m| view! { <p class="field-error">{m}</p> })}
                    <DirectoryPicker id="group-search".into() label="Find the target group".into()
                        results=group_results on_search=search_groups on_pick=pick_group />
                </fieldset>

                <fieldset>
                    <legend>"Access control"</legend>
                    <AclEditor entries=acl id="acl-search".into() label="Find users and groups to allow or deny".into()
                        what="" empty="Nobody may request this role yet." results=acl_results
                        on_search=search_principals problem=problem("acl") />
                </fieldset>

                <fieldset>
                    <legend>"Durations"</legend>
                    <DurationInput id="max-duration".into() label="Maximum duration" amount=max_amount unit=max_unit problem=problem("max_duration") />
                    <DurationInput id="default-duration".into() label="Default duration" amount=def_amount unit=def_unit problem=problem("default_duration") />
                    <label class="checkbox">
                        <input type="checkbox" prop:checked=move || allow_extension.get() on:change=move |ev| allow_extension.set(event_target_checked(&ev)) />
                        "Allow extension"
                    </label>
                    <label class="checkbox">
                        <input type="checkbox" prop:checked=move || cap_on.get() on:change=move |ev| cap_on.set(event_target_checked(&ev)) />
                        "Cap a grant's total lifetime, extensions included"
                    </label>
                    <Show when=move || cap_on.get()>
                        <DurationInput id="total-cap".into() label="Total lifetime at most" amount=cap_amount unit=cap_unit problem=problem("max_total_duration") />
                    </Show>
                </fieldset>

                <fieldset>
                    <legend>"Request form"</legend>
                    <div class="field">
                        <label for="justification">"Justification"</label>
                        <select id="justification" on:change=move |ev| justification.set(event_target_value(&ev).parse().unwrap_or(1))>
                            {[(JustificationPolicy::Required, "required"), (JustificationPolicy::Optional, "optional"), (JustificationPolicy::Hidden, "not asked")]
                                .into_iter()
                                .map(|(p, text)| view! { <option value=(p as i32).to_string() selected=move || justification.get() == p as i32>{text}</option> })
                                .collect_view()}
                        </select>
                    </div>
                    <label class="checkbox">
                        <input type="checkbox" prop:checked=move || enabled.get() on:change=move |ev| enabled.set(event_target_checked(&ev)) />
                        "Enabled"
                    </label>
                    <Field id="rule-expires".into() label="Rule expires (optional)" value=expires kind=FieldKind::DateTimeLocal error=problem("expires_at") />
                </fieldset>

                <fieldset>
                    <legend>"Approval and scheduling"</legend>
                    <label class="checkbox">
                        <input type="checkbox" prop:checked=move || approval_on.get() on:change=move |ev| approval_on.set(event_target_checked(&ev)) />
                        "Requests need approval"
                    </label>
                    <Show when=move || approval_on.get()>
                        <fieldset class="rule-editor__approvers">
                            <legend>"Approvers"</legend>
                            <p class="hint">"Nobody approves their own request, approvers and admins included."</p>
                            <AclEditor entries=approvers id="approver-search".into() label="Find approvers (users and groups)".into()
                                what="approver" empty="No approver yet." results=approver_results
                                on_search=search_approvers problem=problem("approval.approvers") />
                        </fieldset>
                        <Field id="approvals-required".into() label="Approvals required (1 to 5)" value=required
                            kind=FieldKind::Number(1, 5) hint="Distinct approvers; any one rejection ends the request."
                            error=problem("approval.required") />
                        <DurationInput id="pending-window".into() label="Pending window" amount=window_amount unit=window_unit
                            hint="An undecided request lapses after this: 5 minutes to 7 days." problem=problem("approval.pending_window") />
                        <label class="checkbox">
                            <input type="checkbox" prop:checked=move || break_glass.get() on:change=move |ev| break_glass.set(event_target_checked(&ev)) />
                            "Break-glass: requesters may take access at once with a reason; approvers are told and review it"
                        </label>
                        <label class="checkbox">
                            <input type="checkbox" prop:checked=move || service_approvers.get() on:change=move |ev| service_approvers.set(event_target_checked(&ev)) />
                            "Service accounts may approve"
                        </label>
                    </Show>
                    <label class="checkbox">
                        <input type="checkbox" prop:checked=move || lead_on.get() on:change=move |ev| lead_on.set(event_target_checked(&ev)) />
                        "Requests may name a start time"
                    </label>
                    <Show when=move || lead_on.get()>
                        <Field id="max-lead".into() label="Maximum lead (days, 1 to 90)" value=lead_days
                            kind=FieldKind::Number(1, 90) error=problem("max_lead") />
                    </Show>
                </fieldset>

                <fieldset>
                    <legend>"Notifications"</legend>
                    {move || channels.with(|c| match c {
                        None => Some(view! { <p class="loading">"Loading the notification channels…"</p> }.into_any()),
                        Some(Err(e)) => Some(view! {
                            <p class="field-error">"Cannot list the notification channels."</p>
                            <Failure error=e.clone() retry=Callback::new(move |()| channels.refetch()) />
                        }.into_any()),
                        Some(Ok(list)) if list.is_empty() => Some(view! {
                            <p class="empty">"No notification channels yet. "<A href="/admin/channels/new">"Create a channel"</A></p>
                        }.into_any()),
                        Some(Ok(_)) => None,
                    })}
                    <Show when=move || channels.with(|c| matches!(c, Some(Ok(list)) if !list.is_empty()))>
                        <ChannelChoices id="success-channel".into() legend="Notify on success (granted, extended)".into()
                            channels=channel_choices chosen=success_channels problem=problem("success_channels") />
                        <ChannelChoices id="failure-channel".into() legend="Notify on failure (request refused, directory write failed)".into()
                            channels=channel_choices chosen=failure_channels problem=problem("failure_channels") />
                        <ChannelChoices id="approval-channel".into() legend="Notify the approvers (a request waits, each decision, a cancel, a lapse, break-glass; needed for break-glass)".into()
                            channels=channel_choices chosen=approval_channels problem=problem("approval_channels") />
                    </Show>
                    <p class="hint">"Expiring soon, expired, released and revoked go to every channel that subscribes to them, in "<A href="/admin/channels">"the channel's settings"</A>"."</p>
                </fieldset>

                {move || problems.summary(&RULE_FIELDS, STALE).map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
                <div class="rule-editor__actions">
                    <button type="submit" disabled=move || saving.get()>{move || if saving.get() { "Saving…" } else { "Save rule" }}</button>
                    <A href="/admin/rules">"Cancel"</A>
                </div>
            </form>
            } />
            {rule_id.clone().map(|id| view! { <RuleAccessSection rule_id=id /> })}
        </section>
    }
}
