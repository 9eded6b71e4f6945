//! The usage report ([`jitroles_domain::usage`]): the period's grant rows streamed from the
//! store a page at a time into the domain's tally, the refusals and last uses the store
//! counts, and per live rule the people its ACL reaches who have not asked for it lately.

use std::collections::HashSet;

use chrono::TimeDelta;
use jitroles_domain::{
    DomainError,
    access::AdminRight,
    directory::Sid,
    reach::reach,
    usage::{self, Period, REACH_LIMIT, RuleReport, Tally, UsageReport},
};

use super::reports::Reports;

/// Rows read per store call: the report holds one page at a time.
const PAGE: u32 = 1_000;

/// What an admin asks for.
#[derive(Debug, Clone)]
pub struct UsageAsk {
    pub period: Period,
    /// "Not requested in the last N days" (checked: [`usage::unused_days`]).
    pub unused_days: u32,
    /// One live rule, or every rule (with those deleted since that were used in the period).
    pub rule_id: Option<String>,
}

impl Reports {
    pub async fn usage(&self, _: &AdminRight, ask: &UsageAsk) -> Result<UsageReport, DomainError> {
        let ports = &self.0.ports;
        let now = self.0.now();
        let period = ask.period;
        let mut rules = ports.rules.rules().await?;
        if let Some(id) = &ask.rule_id {
            rules.retain(|r| &r.id == id);
            if rules.is_empty() {
                return Err(DomainError::NotFound {
                    what: format!("rule {id}"),
                });
            }
        }
        let wanted = |rule_id: &str| ask.rule_id.as_deref().is_none_or(|id| id == rule_id);

        let mut tally = Tally::new(period, now);
        for rule in &rules {
            tally.rule(&rule.id, &rule.spec.name);
        }
        let mut after = None;
        loop {
            let page = ports.grants.usage_requested(&period, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some((last.requested_at, last.id.clone()));
            for g in page.iter().filter(|g| wanted(&g.rule_id)) {
                tally.grant(g);
            }
        }
        let mut after: Option<String> = None;
        loop {
            let page = ports
                .grants
                .usage_held_into(&period, after.as_deref(), PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            for g in page.iter().filter(|g| wanted(&g.rule_id)) {
                tally.grant(g);
            }
        }
        for (rule_id, count) in ports.grants.usage_refusals(&period).await? {
            tally.refusals(&rule_id, count);
        }
        for rule_id in tally.rule_ids() {
            if let Some(at) = ports.grants.last_use(&rule_id, period.to).await? {
                tally.last_use(&rule_id, at);
            }
        }

        let since = now - TimeDelta::days(i64::from(ask.unused_days));
        let mut report = Vec::new();
        for usage in tally.finish() {
            let unused = match rules.iter().find(|r| r.id == usage.rule_id) {
                Some(rule) => {
                    let reached =
                        reach(ports.directory.as_ref(), &rule.spec.acl, REACH_LIMIT).await?;
                    let requested: HashSet<Sid> = ports
                        .grants
                        .requesters_since(&rule.id, since)
                        .await?
                        .into_iter()
                        .collect();
                    Some(usage::unused(reached, &requested))
                }
                None => None,
            };
            report.push(RuleReport { usage, unused });
        }
        Ok(UsageReport {
            period,
            generated_at: now,
            unused_days: ask.unused_days,
            rules: report,
        })
    }
}
