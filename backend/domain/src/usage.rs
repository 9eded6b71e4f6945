//! Usage reports: per rule over a period, how often it was asked for, given and refused, how
//! long it was held and by how many people, its median grant and its last use; and who its ACL
//! reaches but has not asked for it lately ("eligible but unused": standing eligibility worth
//! pruning). The figures are decided here from the rows the store hands over a page at a time
//! ([`Tally`]), so the server never holds every grant of a period at once.
//!
//! The definitions (README.md, "Usage report", says the same):
//! - a **request** is a grant row of the rule requested in the period, whatever became of it
//!   (pending, rejected, failed and cancelled ones too);
//! - a **grant** is a request whose access started in the period (`active`, `ending` or
//!   `ended`; access starts at activation for a request that waited, else when it was asked);
//! - a **refusal** is a request refused at the door in the period (a `request_refused` audit
//!   event of the rule: not allowed, the rule closed, frozen, a permanent member…, with the
//!   repeats the audit trail folded into a `repeated` summary counted one by one), or a request
//!   an approver rejected in the period (a `rejected` event);
//! - **time held** is the time each grant actually held the membership (from its start to its
//!   end, or to now while it is live), clipped to the period;
//! - **people** are the distinct persons who held the role at some moment of the period;
//! - the **median duration** is over the grants that started in the period and have ended
//!   (start to end, unclipped; still-live grants have no duration yet); of an even count, the
//!   mean of the two middle ones;
//! - the **last use** is when the latest request of the rule that got access (its access
//!   starting before the period's end) was made, however long before the period (so a rule
//!   unused in the period shows when it last was);
//! - **eligible but unused**: the people the ACL reaches now ([`crate::reach::reach`]) with no
//!   request of the rule (any state) in the last N days before now.

use std::{
    collections::{BTreeMap, HashSet},
    fmt::Write as _,
    time::Duration,
};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use crate::{
    DomainError,
    audit::AuditAction,
    directory::Sid,
    grant::{Grant, GrantState},
    reach::{Reach, Reached},
};

/// The longest period a report covers: ten years.
pub const MAX_PERIOD_DAYS: i64 = 3_660;
/// "Not requested in N days": N is at most this (ten years).
pub const MAX_UNUSED_DAYS: u32 = 3_650;
/// N when the caller does not say.
pub const DEFAULT_UNUSED_DAYS: u32 = 90;
/// How many people the eligibility walk looks at per rule (see [`crate::reach::reach`]).
pub const REACH_LIMIT: usize = 5_000;

/// A report's period, `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    /// `from` before `to`, at most [`MAX_PERIOD_DAYS`] apart.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Self, DomainError> {
        if from >= to {
            return Err(DomainError::invalid(
                "to",
                "the period must end after it starts (to after from)",
            ));
        }
        if to - from > TimeDelta::days(MAX_PERIOD_DAYS) {
            return Err(DomainError::invalid(
                "from",
                format!("a report covers at most {MAX_PERIOD_DAYS} days"),
            ));
        }
        Ok(Self { from, to })
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }
}

/// "Not requested in N days": 0 means [`DEFAULT_UNUSED_DAYS`]; 1 to [`MAX_UNUSED_DAYS`].
pub fn unused_days(days: u32) -> Result<u32, DomainError> {
    match days {
        0 => Ok(DEFAULT_UNUSED_DAYS),
        1..=MAX_UNUSED_DAYS => Ok(days),
        _ => Err(DomainError::invalid(
            "unused_days",
            format!("must be from 1 to {MAX_UNUSED_DAYS} days"),
        )),
    }
}

/// What a report needs of one grant row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageGrant {
    pub id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub subject: Sid,
    pub requested_at: DateTime<Utc>,
    pub state: GrantState,
    /// When access started; `None` when it never had access.
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl UsageGrant {
    /// From a row's columns: `activated_at` is set for requests that waited (approvals, a
    /// scheduled start, break-glass); a grant made at once had access from its request.
    #[allow(clippy::too_many_arguments)] // a row's columns, named at the one call in the store
    pub fn new(
        id: String,
        rule_id: String,
        rule_name: String,
        subject: Sid,
        state: GrantState,
        requested_at: DateTime<Utc>,
        activated_at: Option<DateTime<Utc>>,
        ended_at: Option<DateTime<Utc>>,
    ) -> Self {
        let had_access = had_access(state);
        Self {
            id,
            rule_id,
            rule_name,
            subject,
            requested_at,
            state,
            started_at: had_access.then(|| activated_at.unwrap_or(requested_at)),
            ended_at,
        }
    }

    pub fn of(grant: &Grant) -> Self {
        Self::new(
            grant.id.clone(),
            grant.rule_id.clone(),
            grant.rule_name.clone(),
            grant.subject.sid.clone(),
            grant.state,
            grant.requested_at,
            grant.deferred.as_ref().and_then(|d| d.activated_at),
            grant.ended_at,
        )
    }

    /// When its access ended, or `now` while it holds it.
    fn held_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self.state {
            GrantState::Ended => self.ended_at.unwrap_or(now),
            _ => now,
        }
    }
}

/// The states of a grant that had the membership: confirmed `active`, and after.
pub fn had_access(state: GrantState) -> bool {
    matches!(
        state,
        GrantState::Active | GrantState::Ending | GrantState::Ended
    )
}

/// The states of a grant that had the membership, as stored (for the store's queries).
pub const HAD_ACCESS: [GrantState; 3] = [GrantState::Active, GrantState::Ending, GrantState::Ended];

/// How many refusals a `repeated` audit summary stands for, when it sums up refused
/// requests (`request_refused repeated 4 more times from …`, see
/// [`crate::audit::repeats::Repeats`]); `None` for any other summary.
pub fn repeated_refusals(detail: &str) -> Option<u64> {
    let rest = detail
        .strip_prefix(AuditAction::RequestRefused.as_str())?
        .strip_prefix(" repeated ")?;
    rest.split(' ').next()?.parse().ok()
}

/// One rule's figures over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleUsage {
    pub rule_id: String,
    pub rule_name: String,
    pub requests: u64,
    pub grants: u64,
    pub refusals: u64,
    pub held: Duration,
    pub people: u64,
    pub median: Option<Duration>,
    pub last_use: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct Acc {
    name: String,
    requests: u64,
    grants: u64,
    refusals: u64,
    held_secs: i64,
    people: HashSet<Sid>,
    /// Seconds of the grants that started in the period and ended: 8 bytes a grant, the only
    /// figure that grows with the rows (a median needs them all).
    durations: Vec<i64>,
    last_use: Option<DateTime<Utc>>,
}

/// The figures, summed up row by row. Memory: per rule a few counters, the distinct people
/// and 8 bytes per ended grant that started in the period.
#[derive(Debug)]
pub struct Tally {
    period: Period,
    now: DateTime<Utc>,
    rules: BTreeMap<String, Acc>,
}

impl Tally {
    pub fn new(period: Period, now: DateTime<Utc>) -> Self {
        Self {
            period,
            now,
            rules: BTreeMap::new(),
        }
    }

    /// A rule to report on even if nothing happened to it.
    pub fn rule(&mut self, id: &str, name: &str) {
        let acc = self.rules.entry(id.to_owned()).or_default();
        acc.name = name.to_owned();
    }

    fn acc(&mut self, id: &str, name: &str) -> &mut Acc {
        let acc = self.rules.entry(id.to_owned()).or_default();
        if acc.name.is_empty() {
            acc.name = name.to_owned();
        }
        acc
    }

    /// One grant row; a row the period does not concern changes nothing.
    pub fn grant(&mut self, g: &UsageGrant) {
        let (period, now) = (self.period, self.now);
        let acc = self.acc(&g.rule_id, &g.rule_name);
        if period.contains(g.requested_at) {
            acc.requests += 1;
        }
        let Some(start) = g.started_at else { return };
        let end = g.held_until(now);
        if start < period.to {
            acc.last_use = acc.last_use.max(Some(g.requested_at));
        }
        let started_in = period.contains(start);
        if started_in {
            acc.grants += 1;
            if g.state == GrantState::Ended {
                acc.durations.push((end - start).num_seconds().max(0));
            }
        }
        let held = (end.min(period.to).min(now) - start.max(period.from)).num_seconds();
        if held > 0 {
            acc.held_secs += held;
        }
        if started_in || held > 0 {
            acc.people.insert(g.subject.clone());
        }
    }

    /// The rules in the report so far, by id.
    pub fn rule_ids(&self) -> Vec<String> {
        self.rules.keys().cloned().collect()
    }

    /// Refusals of a rule counted by the store (only for rules in the report).
    pub fn refusals(&mut self, rule_id: &str, count: u64) {
        if let Some(acc) = self.rules.get_mut(rule_id) {
            acc.refusals += count;
        }
    }

    /// When the rule's latest request that got access before the period's end was made (the
    /// store's answer, from rows before the period too).
    pub fn last_use(&mut self, rule_id: &str, at: DateTime<Utc>) {
        if let Some(acc) = self.rules.get_mut(rule_id)
            && at < self.period.to
        {
            acc.last_use = acc.last_use.max(Some(at));
        }
    }

    /// The figures, by rule name (then id).
    pub fn finish(self) -> Vec<RuleUsage> {
        let mut out: Vec<RuleUsage> = self
            .rules
            .into_iter()
            .map(|(rule_id, mut acc)| RuleUsage {
                rule_name: if acc.name.is_empty() {
                    rule_id.clone()
                } else {
                    acc.name
                },
                rule_id,
                requests: acc.requests,
                grants: acc.grants,
                refusals: acc.refusals,
                held: secs(acc.held_secs),
                people: acc.people.len() as u64,
                median: median(&mut acc.durations).map(secs),
                last_use: acc.last_use,
            })
            .collect();
        out.sort_by(|a, b| (&a.rule_name, &a.rule_id).cmp(&(&b.rule_name, &b.rule_id)));
        out
    }
}

fn secs(s: i64) -> Duration {
    Duration::from_secs(u64::try_from(s).unwrap_or(0))
}

/// The middle value; of an even count, the mean of the two middle ones (rounded down).
fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2
    })
}

/// The people a rule's ACL reaches who have not requested it lately.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unused {
    pub people: Vec<Reached>,
    /// The walk stopped at [`REACH_LIMIT`]: there may be more.
    pub truncated: bool,
}

/// `reach` without the people in `requested` (those with a request in the last N days).
pub fn unused(reach: Reach, requested: &HashSet<Sid>) -> Unused {
    Unused {
        people: reach
            .people
            .into_iter()
            .filter(|p| !requested.contains(&p.user.sid))
            .collect(),
        truncated: reach.truncated,
    }
}

/// One rule's line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleReport {
    pub usage: RuleUsage,
    /// `None` for a rule deleted since (it has no ACL any more).
    pub unused: Option<Unused>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    pub period: Period,
    pub generated_at: DateTime<Utc>,
    pub unused_days: u32,
    pub rules: Vec<RuleReport>,
}

/// The CSV header, in the order of [`csv`]'s columns.
pub const CSV_COLUMNS: [&str; 15] = [
    "rule",
    "rule_id",
    "from",
    "to",
    "requests",
    "grants",
    "refusals",
    "hours_held",
    "people",
    "median_hours",
    "last_use",
    "unused_days",
    "eligible_unused_count",
    "eligible_unused_truncated",
    "eligible_unused",
];

/// The report as CSV (RFC 4180, CRLF line ends), one line per rule; the eligible but unused
/// people are one cell of account names separated by spaces.
pub fn csv(report: &UsageReport) -> String {
    let mut out = String::new();
    line(&mut out, CSV_COLUMNS.iter().map(|c| (*c).to_owned()));
    for rule in &report.rules {
        let u = &rule.usage;
        let (count, truncated, names) = match &rule.unused {
            Some(unused) => (
                unused.people.len().to_string(),
                unused.truncated.to_string(),
                unused
                    .people
                    .iter()
                    .map(|p| p.user.account_name.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            None => (String::new(), String::new(), String::new()),
        };
        line(
            &mut out,
            [
                u.rule_name.clone(),
                u.rule_id.clone(),
                timestamp(report.period.from),
                timestamp(report.period.to),
                u.requests.to_string(),
                u.grants.to_string(),
                u.refusals.to_string(),
                hours(u.held),
                u.people.to_string(),
                u.median.map(hours).unwrap_or_default(),
                u.last_use.map(timestamp).unwrap_or_default(),
                report.unused_days.to_string(),
                count,
                truncated,
                names,
            ],
        );
    }
    out
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Hours with two decimals.
pub fn hours(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() / 3600.0)
}

fn line(out: &mut String, cells: impl IntoIterator<Item = String>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}", csv_cell(&cell));
    }
    out.push_str("\r\n");
}

/// One CSV cell: a text a spreadsheet would run as a formula (starting with `=`, `+`, `-`,
/// `@`, a tab or a carriage return) gets a leading `'`; a cell with a quote, a comma or a line
/// break is quoted, its quotes doubled.
pub fn csv_cell(text: &str) -> String {
    let neutral = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if neutral.contains(['"', ',', '\n', '\r']) {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral
    }
}

#[cfg(test)]
mod tests;
