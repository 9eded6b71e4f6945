//! Reading what a search returned: attributes by name whatever their case, binary SIDs and
//! GUIDs, and the users and groups the port speaks of.

use jitroles_domain::{
    DomainError,
    directory::{DirectoryGroup, DirectoryObject, DirectoryUser, Sid},
};
use ldap3::SearchEntry;

use super::ACCOUNT_DISABLED;
use crate::wire;

/// Values of an attribute, whatever case the server spells its name in.
pub(super) fn values<'e>(e: &'e SearchEntry, attr: &str) -> &'e [String] {
    e.attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .map_or(&[], |(_, v)| v.as_slice())
}

pub(super) fn text(e: &SearchEntry, attr: &str) -> Option<String> {
    values(e, attr).first().cloned()
}

/// Binary values: ldap3 files a value under `attrs` when it happens to be valid UTF-8.
pub(super) fn binary(e: &SearchEntry, attr: &str) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = values(e, attr)
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    if let Some((_, v)) = e
        .bin_attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
    {
        out.extend(v.iter().cloned());
    }
    out
}

pub(super) fn sid_of(e: &SearchEntry) -> Result<Sid, DomainError> {
    binary(e, "objectSid")
        .first()
        .and_then(|b| wire::sid_from_bytes(b))
        .ok_or_else(|| DomainError::Internal(format!("{} has no readable objectSid", e.dn)))
}

pub(super) fn guid_of(e: &SearchEntry) -> Result<String, DomainError> {
    binary(e, "objectGUID")
        .first()
        .and_then(|b| wire::guid_from_bytes(b))
        .ok_or_else(|| DomainError::Internal(format!("{} has no readable objectGUID", e.dn)))
}

pub(super) fn to_user(e: &SearchEntry) -> Result<DirectoryUser, DomainError> {
    let account_name = text(e, "sAMAccountName").unwrap_or_default();
    let uac: u32 = text(e, "userAccountControl")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(DirectoryUser {
        sid: sid_of(e)?,
        guid: guid_of(e)?,
        dn: e.dn.clone(),
        display_name: text(e, "displayName")
            .or_else(|| text(e, "cn"))
            .unwrap_or_else(|| account_name.clone()),
        account_name,
        upn: text(e, "userPrincipalName"),
        mail: text(e, "mail"),
        disabled: uac & ACCOUNT_DISABLED != 0,
    })
}

/// A user or a group, by the entry's `objectClass`.
pub(super) fn to_object(e: &SearchEntry) -> Result<DirectoryObject, DomainError> {
    let is_group = values(e, "objectClass")
        .iter()
        .any(|c| c.eq_ignore_ascii_case("group"));
    Ok(if is_group {
        DirectoryObject::Group(to_group(e)?)
    } else {
        DirectoryObject::User(to_user(e)?)
    })
}

pub(super) fn to_group(e: &SearchEntry) -> Result<DirectoryGroup, DomainError> {
    Ok(DirectoryGroup {
        sid: sid_of(e)?,
        guid: guid_of(e)?,
        dn: e.dn.clone(),
        name: text(e, "sAMAccountName")
            .or_else(|| text(e, "cn"))
            .unwrap_or_else(|| e.dn.clone()),
        description: text(e, "description"),
        protected: text(e, "adminCount").as_deref() == Some("1"),
    })
}

/// The first RDN's value (`jit-role-x` of `CN=jit-role-x,OU=…`): what a caller may read of a
/// DN, without the directory's structure.
pub(super) fn common_name(dn: &str) -> &str {
    let first = dn.split(',').next().unwrap_or(dn);
    first.split_once('=').map_or(first, |(_, v)| v)
}
