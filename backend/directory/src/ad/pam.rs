//! Turning on the Privileged Access Management optional feature (MS-ADTS 3.1.1.9.2) with the
//! rootDSE operation `enableOptionalFeature` (3.1.1.3.3.28). A forest-wide feature is enabled
//! on the Domain Naming Master only (other DCs answer unwillingToPerform); the caller needs
//! the Manage-Optional-Features control access right on `CN=Partitions`; a feature that is on
//! already answers attributeOrValueExists.

use std::collections::HashSet;

use ldap3::Mod;

use super::{ActiveDirectory, PAM_FEATURE_GUID, text};
use crate::{DirectoryError, wire};

/// What enabling the feature did, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PamEnabled {
    /// The URL of the Domain Naming Master the operation went to.
    pub dc: String,
    /// It was on already (attributeOrValueExists): nothing changed.
    pub already: bool,
}

impl ActiveDirectory {
    /// The URL of the Domain Naming Master: `fsmoRoleOwner` of `CN=Partitions` names its
    /// `nTDSDSA` object. When that is the answering DC's (its rootDSE's `dsServiceName`), that
    /// DC's URL; otherwise the parent of that object (the server object) holds the master's
    /// `dNSHostName`, reached with the same scheme and port. The reads go to one DC.
    pub async fn naming_master(&self) -> Result<String, DirectoryError> {
        self.pool.pinned(self.naming_master_on_one_dc()).await
    }

    async fn naming_master_on_one_dc(&self) -> Result<String, DirectoryError> {
        let config_nc = self.root().await?.config_nc.clone();
        // this DC's own object: read here, not the cached rootDSE, which may be another DC's
        let this = self
            .read("", "(objectClass=*)", &["dsServiceName"])
            .await?
            .and_then(|e| text(&e, "dsServiceName"));
        let partitions = format!("CN=Partitions,{config_nc}");
        let owner = self
            .read(&partitions, "(objectClass=*)", &["fsmoRoleOwner"])
            .await?
            .and_then(|e| text(&e, "fsmoRoleOwner"))
            .ok_or_else(|| DirectoryError::Invalid(format!("{partitions} has no fsmoRoleOwner")))?;
        let url = self
            .pool
            .pinned_url()
            .ok_or_else(|| DirectoryError::Invalid("no domain controller answered".into()))?
            .to_owned();
        if this.is_some_and(|this| this.eq_ignore_ascii_case(&owner)) {
            return Ok(url);
        }
        let server = owner
            .split_once(',')
            .map(|(_, parent)| parent.to_owned())
            .ok_or_else(|| DirectoryError::Invalid(format!("{owner} is not an nTDSDSA DN")))?;
        let host = self
            .read(&server, "(objectClass=*)", &["dNSHostName"])
            .await?
            .and_then(|e| text(&e, "dNSHostName"))
            .ok_or_else(|| DirectoryError::Invalid(format!("{server} has no dNSHostName")))?;
        wire::with_host(&url, &host).ok_or_else(|| {
            DirectoryError::Config(format!("cannot put the host {host} into the URL {url}"))
        })
    }

    /// Turns the PAM optional feature on for the whole forest, on the Domain Naming Master.
    /// Irreversible: callers must have the operator's explicit consent.
    pub async fn enable_pam(&self) -> Result<PamEnabled, DirectoryError> {
        let master = self.naming_master().await?;
        let value = format!(
            "CN=Partitions,{}:{PAM_FEATURE_GUID}",
            self.root().await?.config_nc
        );
        // the master only, without failover: another DC answers unwillingToPerform
        let elsewhere = if let [only] = self.pool.config().urls.as_slice()
            && only.eq_ignore_ascii_case(&master)
        {
            None
        } else {
            let mut config = self.pool.config().clone();
            config.urls = vec![master.clone()];
            Some(Self::new(config)?)
        };
        let on = elsewhere.as_ref().unwrap_or(self);
        let result = on
            .pool
            .write("", |mut ldap| {
                let value = value.clone();
                async move {
                    ldap.modify(
                        "",
                        vec![Mod::Add(
                            "enableOptionalFeature".to_owned(),
                            HashSet::from([value]),
                        )],
                    )
                    .await
                }
            })
            .await?;
        let already = match result.rc {
            0 => false,
            20 => true, // attributeOrValueExists: on already
            50 => {
                return Err(DirectoryError::InsufficientRights {
                    detail: format!(
                        "{} lacks the Manage-Optional-Features right on CN=Partitions (Enterprise Admins have it)",
                        self.pool.config().bind_dn
                    ),
                });
            }
            rc => {
                return Err(DirectoryError::from_code(
                    rc,
                    &result.text,
                    &self.pool.config().bind_dn,
                ));
            }
        };
        *self.pam.write().await = Some(true);
        Ok(PamEnabled {
            dc: master,
            already,
        })
    }
}
