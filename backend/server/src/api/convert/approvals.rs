//! Approvals on the wire: a rule's approval policy, what a waiting request carries, and the
//! approvers' decisions.

use jitroles_domain::{
    DomainError,
    approval::{ApprovalPolicy, ApprovalSpec, Decision, Deferred, Verdict},
};
use jitroles_proto::v1 as pb;

use super::{acl_entries, duration, pb_acl, proto_duration, timestamp};

pub fn approval_spec(p: &pb::ApprovalPolicy) -> Result<ApprovalSpec, DomainError> {
    Ok(ApprovalSpec {
        approvers: acl_entries("approval.approvers", &p.approvers)?,
        required: p.required_approvals,
        pending_window: duration("approval.pending_window", p.pending_window.as_ref())?,
        break_glass: p.break_glass,
        service_approvers: p.service_approvers,
    })
}

pub fn approval_policy(p: &ApprovalPolicy) -> pb::ApprovalPolicy {
    pb::ApprovalPolicy {
        approvers: pb_acl(&p.approvers),
        required_approvals: u32::from(p.required),
        pending_window: Some(proto_duration(p.pending_window)),
        break_glass: p.break_glass,
        service_approvers: p.service_approvers,
    }
}

/// The wire fields of a waiting request (all unset for a grant made at once).
pub fn deferred(d: Option<&Deferred>) -> pb::Grant {
    let Some(d) = d else {
        return pb::Grant::default();
    };
    pb::Grant {
        duration: Some(proto_duration(d.duration)),
        starts_at: d.starts_at.map(timestamp),
        required_approvals: u32::from(d.required),
        lapses_at: d.lapses_at.map(timestamp),
        activated_at: d.activated_at.map(timestamp),
        break_glass: d.break_glass.as_ref().map(|b| {
            let ack = b.acknowledged.as_ref();
            pb::BreakGlass {
                reason: b.reason.clone(),
                acknowledged_by: ack.map(|a| a.by_account.clone()).unwrap_or_default(),
                acknowledgement: ack.map(|a| a.comment.clone()).unwrap_or_default(),
                acknowledged_at: ack.map(|a| timestamp(a.at)),
            }
        }),
        ..pb::Grant::default()
    }
}

pub fn decision(d: Decision) -> pb::Decision {
    pb::Decision {
        approver_sid: d.approver.to_string(),
        approver_account: d.approver_account,
        verdict: match d.verdict {
            Verdict::Approve => pb::Verdict::Approve,
            Verdict::Reject => pb::Verdict::Reject,
        }
        .into(),
        comment: d.comment,
        decided_at: Some(timestamp(d.at)),
    }
}
