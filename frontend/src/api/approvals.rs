//! Requests that wait, as approvers and requesters call them: the approvals list, one request,
//! a decision, a cancel.

use jitroles_proto::v1 as pb;

use super::{Api, ApiError, Grant, Page};

/// What an approver does with a request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Decide {
    /// With an optional comment.
    Approve,
    /// With the reason (required).
    Reject,
    /// A break-glass grant reviewed, with a comment (required).
    Acknowledge,
}

/// A page of the requests an approver may decide, and how many pending ones they have not.
pub struct Approvals {
    pub page: Page<Grant>,
    pub pending: u32,
}

impl Api {
    /// What the caller may decide (`page_size` at a time), with the count of pending
    /// requests they have not decided.
    pub async fn list_approvals(
        &self,
        page_size: u32,
        page_token: String,
    ) -> Result<Approvals, ApiError> {
        self.answer(
            self.call::<_, pb::ListApprovalsResponse>(
                "/jitroles.v1.RoleService/ListApprovals",
                pb::ListApprovalsRequest {
                    page_size,
                    page_token,
                },
            )
            .await,
        )
        .map(|a| Approvals {
            page: Page::new(a.requests, a.next_page_token),
            pending: a.pending_count,
        })
    }

    /// One request of the caller's (or one they approve) with its decisions.
    pub async fn get_request(&self, grant_id: String) -> Result<Grant, ApiError> {
        self.answer(
            self.call::<_, pb::Grant>(
                "/jitroles.v1.RoleService/GetRequest",
                pb::GetRequestRequest { grant_id },
            )
            .await,
        )
    }

    /// An approver's decision on request `grant_id`, with the comment or reason.
    pub async fn decide(
        &self,
        how: Decide,
        grant_id: String,
        comment: String,
    ) -> Result<Grant, ApiError> {
        self.answer(match how {
            Decide::Approve => {
                let ask = pb::ApproveRequestRequest { grant_id, comment };
                self.call("/jitroles.v1.RoleService/ApproveRequest", ask)
                    .await
            }
            Decide::Reject => {
                let ask = pb::RejectRequestRequest {
                    grant_id,
                    reason: comment,
                };
                self.call("/jitroles.v1.RoleService/RejectRequest", ask)
                    .await
            }
            Decide::Acknowledge => {
                let ask = pb::AcknowledgeBreakGlassRequest { grant_id, comment };
                self.call("/jitroles.v1.RoleService/AcknowledgeBreakGlass", ask)
                    .await
            }
        })
    }

    /// The requester takes back a pending or scheduled request.
    pub async fn cancel_request(&self, grant_id: String) -> Result<Grant, ApiError> {
        self.answer(
            self.call::<_, pb::Grant>(
                "/jitroles.v1.RoleService/CancelRequest",
                pb::CancelRequestRequest { grant_id },
            )
            .await,
        )
    }
}
