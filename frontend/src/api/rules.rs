//! Rules as admins call them: list, read and save; a rule's history and restore; rules as
//! code (export, plan, apply).

use jitroles_proto::v1 as pb;

use super::{Api, ApiError, Rule, RuleSpec, RuleVersion, RulesPlan};

impl Api {
    pub async fn list_rules(&self, query: String) -> Result<Vec<Rule>, ApiError> {
        self.answer(
            self.call::<_, pb::ListRulesResponse>(
                "/jitroles.v1.AdminService/ListRules",
                pb::ListRulesRequest { query },
            )
            .await,
        )
        .map(|r| r.rules)
    }

    pub async fn get_rule(&self, rule_id: String) -> Result<Rule, ApiError> {
        self.answer(
            self.call::<_, pb::Rule>(
                "/jitroles.v1.AdminService/GetRule",
                pb::GetRuleRequest { rule_id },
            )
            .await,
        )
    }

    /// The rule's saved versions, newest first, each with what it changed.
    pub async fn rule_versions(&self, rule_id: String) -> Result<Vec<RuleVersion>, ApiError> {
        self.answer(
            self.call::<_, pb::ListRuleVersionsResponse>(
                "/jitroles.v1.AdminService/ListRuleVersions",
                pb::ListRuleVersionsRequest { rule_id, limit: 0 },
            )
            .await,
        )
        .map(|r| r.versions)
    }

    /// Saves `version` of the rule again as its newest; `expected_version` is its newest as
    /// read.
    pub async fn restore_rule_version(
        &self,
        rule_id: String,
        version: i64,
        expected_version: i64,
    ) -> Result<Rule, ApiError> {
        self.answer(
            self.call::<_, pb::Rule>(
                "/jitroles.v1.AdminService/RestoreRuleVersion",
                pb::RestoreRuleVersionRequest {
                    rule_id,
                    version,
                    expected_version,
                },
            )
            .await,
        )
    }

    /// Every rule as a YAML rules file.
    pub async fn export_rules(&self) -> Result<String, ApiError> {
        self.answer(
            self.call::<_, pb::ExportRulesResponse>(
                "/jitroles.v1.AdminService/ExportRules",
                pb::ExportRulesRequest {},
            )
            .await,
        )
        .map(|r| r.yaml)
    }

    /// What applying `yaml` would do (`apply`: does it, in one transaction).
    pub async fn rules_file(
        &self,
        yaml: String,
        prune: bool,
        apply: bool,
    ) -> Result<RulesPlan, ApiError> {
        let method = if apply {
            "/jitroles.v1.AdminService/ApplyRules"
        } else {
            "/jitroles.v1.AdminService/PlanRules"
        };
        self.answer(
            self.call::<_, pb::RulesPlan>(method, pb::PlanRulesRequest { yaml, prune })
                .await,
        )
    }

    /// Creates the rule (no id) or saves over `version` of an existing one.
    pub async fn save_rule(
        &self,
        existing: Option<(String, i64)>,
        spec: RuleSpec,
    ) -> Result<Rule, ApiError> {
        self.answer(match existing {
            None => {
                self.call::<_, pb::Rule>(
                    "/jitroles.v1.AdminService/CreateRule",
                    pb::CreateRuleRequest { spec: Some(spec) },
                )
                .await
            }
            Some((rule_id, version)) => {
                self.call::<_, pb::Rule>(
                    "/jitroles.v1.AdminService/UpdateRule",
                    pb::UpdateRuleRequest {
                        rule_id,
                        spec: Some(spec),
                        version,
                    },
                )
                .await
            }
        })
    }
}
