//! Effective access (a rule's reach, a person's standing), between the domain and the wire.

use jitroles_domain::{
    directory::DirectoryObject,
    effective::{Admission, PersonAccess, RuleStanding},
};
use jitroles_proto::v1 as pb;

use super::{pb_acl, search_page, timestamp};
use crate::grants::access::RuleAccess;

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub fn rule_access(found: RuleAccess) -> pb::GetRuleAccessResponse {
    pb::GetRuleAccessResponse {
        rule_id: found.rule.id,
        rule_name: found.rule.spec.name,
        admitted: count(found.admitted),
        matching: count(found.matching),
        left_out_disabled: count(found.disabled),
        left_out_denied: count(found.denied),
        truncated: found.truncated,
        closed: found.closed.unwrap_or_default(),
        computed_at: Some(timestamp(found.computed_at)),
        people: found
            .page
            .items
            .into_iter()
            .map(|r| pb::ReachedPerson {
                path_text: r.path_text(),
                sid: r.user.sid.to_string(),
                account_name: r.user.account_name,
                display_name: r.user.display_name,
                dn: r.user.dn,
                path: r.path,
            })
            .collect(),
        next_page_token: found.page.next.unwrap_or_default(),
    }
}

fn reason(a: Option<Admission>, person: &str) -> Option<pb::AccessReason> {
    a.map(|a| pb::AccessReason {
        path_text: a.path_text(person),
        entry: pb_acl(std::slice::from_ref(&a.entry)).pop(),
        path: a.path,
    })
}

fn standing(s: RuleStanding, person: &str) -> pb::RuleStanding {
    pb::RuleStanding {
        why: s.why(person),
        rule_id: s.rule_id,
        rule_name: s.rule_name,
        may_request: s.may_request,
        allowed_by: reason(s.allowed_by, person),
        denied_by: reason(s.denied_by, person),
        account_disabled: s.account_disabled,
        closed: s.closed.unwrap_or_default(),
    }
}

pub fn person_access(access: PersonAccess) -> pb::GetPersonAccessResponse {
    let name = access.person.account_name.clone();
    let person = search_page(jitroles_domain::directory::SearchPage {
        objects: vec![DirectoryObject::User(access.person)],
        more: false,
    })
    .entries
    .pop();
    pb::GetPersonAccessResponse {
        person,
        allowed: access
            .allowed
            .into_iter()
            .map(|s| standing(s, &name))
            .collect(),
        denied: access
            .denied
            .into_iter()
            .map(|s| standing(s, &name))
            .collect(),
        not_listed: count(access.not_listed),
    }
}
