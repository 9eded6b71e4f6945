//! What admins read to answer auditors: a rule's effective access, a person's, and the usage
//! report.

use jitroles_proto::v1 as pb;

use super::{Api, ApiError, PersonAccess, RuleAccess, UsageQuery, UsageReport};

impl Api {
    /// One page of the people rule `rule_id` admits now whose names or paths hold `query`;
    /// `refresh` has the server read the directory again instead of the answer it holds.
    pub async fn rule_access(
        &self,
        rule_id: String,
        query: String,
        page_token: String,
        refresh: bool,
    ) -> Result<RuleAccess, ApiError> {
        self.answer(
            self.call::<_, RuleAccess>(
                "/jitroles.v1.AdminService/GetRuleAccess",
                pb::GetRuleAccessRequest {
                    rule_id,
                    query,
                    page_size: 50,
                    page_token,
                    refresh,
                },
            )
            .await,
        )
    }

    /// What every rule says about `person` (an account name, a UPN or a SID), and why.
    pub async fn person_access(&self, person: String) -> Result<PersonAccess, ApiError> {
        self.answer(
            self.call::<_, PersonAccess>(
                "/jitroles.v1.AdminService/GetPersonAccess",
                pb::GetPersonAccessRequest { person },
            )
            .await,
        )
    }

    /// The usage report; with `csv`, its CSV too.
    pub async fn usage_report(
        &self,
        query: UsageQuery,
        csv: bool,
    ) -> Result<UsageReport, ApiError> {
        self.answer(
            self.call::<_, pb::UsageReport>(
                "/jitroles.v1.AdminService/GetUsageReport",
                pb::GetUsageReportRequest {
                    from: query.from_ms.map(crate::format::timestamp),
                    to: query.to_ms.map(crate::format::timestamp),
                    unused_days: query.unused_days,
                    rule_id: query.rule_id,
                    include_csv: csv,
                },
            )
            .await,
        )
    }
}
