//! `jitroles directory check --probe-ttl`: asks the DC itself what it does with the TTL-link
//! writes whose outcome Microsoft's documents leave open, with an account and a scratch group
//! the admin names, and leaves both as they were.

use std::{collections::HashSet, time::Duration};

use jitroles_domain::directory::Sid;
use ldap3::Mod;

use super::{
    ActiveDirectory,
    ttl::{Link, ReAdd},
};
use crate::{DirectoryError, wire};

/// The TTLs the probe writes: short, so a probe cut off half-way leaves little behind.
const FIRST_TTL: Duration = Duration::from_secs(120);
const SECOND_TTL: Duration = Duration::from_secs(300);

/// One write of the probe: what was sent, what the DC answered, and the link read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeStep {
    pub action: String,
    pub answer: String,
    pub link: Link,
}

/// What the DC did, and what it means for jitroles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    pub steps: Vec<ProbeStep>,
    /// A TTL link was added and read back with the TTL asked.
    pub ttl_links_work: bool,
    /// What a second TTL add of the link did: set the new TTL, or not (then the rewrite
    /// decides); `Unknown` when neither set it.
    pub readd: ReAdd,
    /// What a TTL add over a permanent link left: `Permanent` (refused or ignored) or a TTL
    /// link (the DC converts it; jitroles reads first and never sends that add).
    pub over_permanent: Link,
    /// Every link the probe made is gone again.
    pub cleaned_up: bool,
}

impl ProbeReport {
    /// Whether jitroles can rely on TTL links on this DC: they are written and read back as
    /// asked, an extension can be made to hold (by re-adding or by rewriting), and the probe
    /// left nothing behind.
    pub fn assumptions_hold(&self) -> bool {
        self.ttl_links_work && self.readd != ReAdd::Unknown && self.cleaned_up
    }
}

fn answer(rc: u32) -> String {
    match rc {
        0 => "success".into(),
        16 => "noSuchAttribute (16)".into(),
        20 => "attributeOrValueExists (20)".into(),
        50 => "insufficientAccessRights (50)".into(),
        53 => "unwillingToPerform (53)".into(),
        68 => "entryAlreadyExists (68)".into(),
        rc => format!("LDAP result {rc}"),
    }
}

impl ActiveDirectory {
    /// Runs the probe on `group_dn` with the account `member` (who must not be in the group),
    /// on one DC: what it reads back is what that DC did.
    pub async fn probe_ttl(
        &self,
        group_dn: &str,
        member: &Sid,
    ) -> Result<ProbeReport, DirectoryError> {
        self.pool
            .pinned(self.probe_ttl_on_one_dc(group_dn, member))
            .await
    }

    async fn probe_ttl_on_one_dc(
        &self,
        group_dn: &str,
        member: &Sid,
    ) -> Result<ProbeReport, DirectoryError> {
        if !self.pam_enabled().await? {
            return Err(DirectoryError::Invalid(
                "the PAM feature is not on in this forest: there are no TTL links to probe".into(),
            ));
        }
        let member_dn = self.dn_of(member).await.map_err(probe_error)?;
        if self.link(group_dn, &member_dn).await.map_err(probe_error)? != Link::Absent {
            return Err(DirectoryError::Invalid(format!(
                "{member_dn} is a member of {group_dn} already: the probe needs an account that is not"
            )));
        }
        let mut steps = Vec::new();
        let probed = self
            .probe_steps(group_dn, member, &member_dn, &mut steps)
            .await;
        // whatever happened, the probe's link goes
        let cleanup = self
            .modify_members(group_dn, vec![delete(member)])
            .await
            .map(answer);
        let left = self.link(group_dn, &member_dn).await.map_err(probe_error)?;
        steps.push(ProbeStep {
            action: "remove the account from the group".into(),
            answer: cleanup.unwrap_or_else(|e| e.to_string()),
            link: left,
        });
        let (ttl_links_work, readd, over_permanent) = probed?;
        if readd != ReAdd::Unknown {
            self.readd.set(readd);
        }
        Ok(ProbeReport {
            steps,
            ttl_links_work,
            readd,
            over_permanent,
            cleaned_up: left == Link::Absent,
        })
    }

    async fn probe_steps(
        &self,
        group_dn: &str,
        member: &Sid,
        member_dn: &str,
        steps: &mut Vec<ProbeStep>,
    ) -> Result<(bool, ReAdd, Link), DirectoryError> {
        let mut step = async |action: String, changes: Vec<Mod<String>>| {
            let rc = self.modify_members(group_dn, changes).await?;
            let link = self.link(group_dn, member_dn).await.map_err(probe_error)?;
            steps.push(ProbeStep {
                action,
                answer: answer(rc),
                link,
            });
            Ok::<_, DirectoryError>(link)
        };
        let first = step(
            format!("add a TTL link of {} s", FIRST_TTL.as_secs()),
            vec![add(member, Some(FIRST_TTL))],
        )
        .await?;
        let ttl_links_work = first.holds(FIRST_TTL);
        let again = step(
            format!("add it again with {} s", SECOND_TTL.as_secs()),
            vec![add(member, Some(SECOND_TTL))],
        )
        .await?;
        let readd = if again.holds(SECOND_TTL) {
            ReAdd::SetsTtl
        } else {
            let rewritten = step(
                format!(
                    "rewrite it with {} s (delete and add in one modify)",
                    SECOND_TTL.as_secs()
                ),
                vec![delete(member), add(member, Some(SECOND_TTL))],
            )
            .await?;
            if rewritten.holds(SECOND_TTL) {
                ReAdd::NeedsRewrite
            } else {
                ReAdd::Unknown
            }
        };
        step("remove it".into(), vec![delete(member)]).await?;
        step("add a permanent link".into(), vec![add(member, None)]).await?;
        let over_permanent = step(
            format!(
                "add a TTL link of {} s over the permanent one",
                FIRST_TTL.as_secs()
            ),
            vec![add(member, Some(FIRST_TTL))],
        )
        .await?;
        Ok((ttl_links_work, readd, over_permanent))
    }
}

fn add(member: &Sid, ttl: Option<Duration>) -> Mod<String> {
    Mod::Add(
        "member".into(),
        HashSet::from([wire::member_value(member, ttl)]),
    )
}

fn delete(member: &Sid) -> Mod<String> {
    Mod::Delete(
        "member".into(),
        HashSet::from([wire::member_value(member, None)]),
    )
}

/// The probe reports to an admin at a terminal: the domain error's text is enough.
fn probe_error(e: jitroles_domain::DomainError) -> DirectoryError {
    DirectoryError::Invalid(e.to_string())
}
