//! Which grants an admin's listing shows: by person, by rule, by state. One definition of
//! "matches" ([`GrantFilter::matches`]) that the in-memory store uses and the SQL store
//! mirrors in its query.

use crate::{
    directory::Sid,
    grant::{Grant, GrantState},
};

/// Whose grants: a SID, or an account name (compared ignoring case, as AD does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Person {
    Sid(Sid),
    /// Lower-cased.
    Account(String),
}

impl Person {
    /// A SID when `text` reads as one (`S-1-…`), else an account name.
    pub fn parse(text: &str) -> Self {
        match text.parse::<Sid>() {
            Ok(sid) => Self::Sid(sid),
            Err(_) => Self::Account(text.to_lowercase()),
        }
    }

    pub fn matches(&self, grant: &Grant) -> bool {
        match self {
            Self::Sid(sid) => &grant.subject.sid == sid,
            Self::Account(account) => grant.subject.account.to_lowercase() == *account,
        }
    }
}

/// A listing's filter; every part that is set must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantFilter {
    pub person: Option<Person>,
    pub rule_id: Option<String>,
    /// Grants in any of these states; empty: in any state.
    pub states: Vec<GrantState>,
}

impl GrantFilter {
    /// Live grants (activating, active, ending) of anyone: what the grants page shows.
    pub fn live() -> Self {
        Self {
            person: None,
            rule_id: None,
            states: GrantState::LIVE.to_vec(),
        }
    }

    /// Every grant, history included.
    pub fn all() -> Self {
        Self {
            person: None,
            rule_id: None,
            states: Vec::new(),
        }
    }

    pub fn matches(&self, grant: &Grant) -> bool {
        self.person.as_ref().is_none_or(|p| p.matches(grant))
            && self.rule_id.as_ref().is_none_or(|r| &grant.rule_id == r)
            && (self.states.is_empty() || self.states.contains(&grant.state))
    }
}

impl Default for GrantFilter {
    /// What an old client that sends no filter gets: live grants.
    fn default() -> Self {
        Self::live()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_person_is_a_sid_when_it_reads_as_one_and_an_account_otherwise() {
        assert_eq!(
            Person::parse("S-1-5-21-1-2-3-1106"),
            Person::Sid("S-1-5-21-1-2-3-1106".parse().unwrap())
        );
        assert_eq!(Person::parse("Dave"), Person::Account("dave".into()));
        assert_eq!(Person::parse("S-1-x"), Person::Account("s-1-x".into()));
    }

    fn grant(rule_id: &str, account: &str, state: GrantState) -> Grant {
        use crate::{directory::Mechanism, grant::Subject, rule::TargetGroup};
        let t = chrono::DateTime::UNIX_EPOCH;
        Grant {
            id: "g".into(),
            rule_id: rule_id.into(),
            rule_name: "DBA".into(),
            group: TargetGroup {
                sid: "S-1-5-21-1-2-3-2000".parse().unwrap(),
                guid: String::new(),
                dn: "CN=jit-role-dba".into(),
                name: "jit-role-dba".into(),
            },
            subject: Subject {
                sid: "S-1-5-21-1-2-3-1106".parse().unwrap(),
                dn: "CN=Dave".into(),
                account: account.into(),
                display_name: "Dave".into(),
            },
            requested_by: account.into(),
            justification: String::new(),
            requested_at: t,
            expires_at: t,
            state,
            mechanism: Mechanism::Scheduled,
            extension_count: 0,
            ended_at: None,
            end_reason: None,
            end_note: None,
            last_error: None,
            client_request_id: None,
            lease: None,
            version: 1,
            deferred: None,
        }
    }

    #[test]
    fn every_set_part_of_a_filter_must_match() {
        let g = grant("r1", "Dave", GrantState::Ended);
        assert!(!GrantFilter::default().matches(&g), "live only by default");
        assert!(GrantFilter::all().matches(&g));
        let f = GrantFilter {
            person: Some(Person::parse("DAVE")),
            rule_id: Some("r1".into()),
            states: vec![GrantState::Ended, GrantState::Failed],
        };
        assert!(f.matches(&g));
        assert!(!f.matches(&grant("r2", "dave", GrantState::Ended)));
        assert!(!f.matches(&grant("r1", "erin", GrantState::Ended)));
        assert!(!f.matches(&grant("r1", "dave", GrantState::Active)));
        let by_sid = GrantFilter {
            person: Some(Person::parse("S-1-5-21-1-2-3-1106")),
            ..GrantFilter::all()
        };
        assert!(by_sid.matches(&g));
    }
}
