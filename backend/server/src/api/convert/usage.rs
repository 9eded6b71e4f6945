//! The usage report ⇄ proto.

use jitroles_domain::{
    DomainError,
    usage::{self, Period, UsageReport},
};
use jitroles_proto::v1 as pb;

use super::{proto_duration, time, timestamp};
use crate::grants::usage::UsageAsk;

/// Rule ids are UUIDs; a little room for other forms.
const MAX_RULE_ID_CHARS: usize = 64;

pub fn usage_ask(ask: &pb::GetUsageReportRequest) -> Result<UsageAsk, DomainError> {
    let from = time("from", ask.from.as_ref())?
        .ok_or_else(|| DomainError::invalid("from", "is required: the period's start"))?;
    let to = time("to", ask.to.as_ref())?
        .ok_or_else(|| DomainError::invalid("to", "is required: the period's end"))?;
    jitroles_domain::rule::check_text("rule_id", &ask.rule_id, MAX_RULE_ID_CHARS, false)?;
    Ok(UsageAsk {
        period: Period::new(from, to)?,
        unused_days: usage::unused_days(ask.unused_days)?,
        rule_id: (!ask.rule_id.is_empty()).then(|| ask.rule_id.clone()),
    })
}

pub fn usage_report(report: UsageReport, include_csv: bool) -> pb::UsageReport {
    let csv = if include_csv {
        usage::csv(&report)
    } else {
        String::new()
    };
    pb::UsageReport {
        from: Some(timestamp(report.period.from)),
        to: Some(timestamp(report.period.to)),
        generated_at: Some(timestamp(report.generated_at)),
        unused_days: report.unused_days,
        rules: report
            .rules
            .into_iter()
            .map(|r| {
                let u = r.usage;
                let (deleted, eligible, truncated) = match r.unused {
                    Some(unused) => (
                        false,
                        unused
                            .people
                            .into_iter()
                            .map(|p| pb::EligiblePerson {
                                path: p.path_text(),
                                account_name: p.user.account_name,
                                display_name: p.user.display_name,
                                sid: p.user.sid.to_string(),
                            })
                            .collect(),
                        unused.truncated,
                    ),
                    None => (true, Vec::new(), false),
                };
                pb::RuleUsage {
                    rule_id: u.rule_id,
                    rule_name: u.rule_name,
                    requests: u.requests,
                    grants: u.grants,
                    refusals: u.refusals,
                    held: Some(proto_duration(u.held)),
                    people: u.people,
                    median_duration: u.median.map(proto_duration),
                    last_use: u.last_use.map(timestamp),
                    deleted,
                    eligible_unused: eligible,
                    eligible_unused_truncated: truncated,
                }
            })
            .collect(),
        csv,
    }
}
