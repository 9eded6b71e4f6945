//! AD's values on the wire, parsed and formatted without I/O.

use std::time::Duration;

use jitroles_domain::directory::Sid;

/// The binary SID of objectSid / tokenGroups (MS-DTYP 2.4.2.2) as `S-1-…`.
pub fn sid_from_bytes(b: &[u8]) -> Option<Sid> {
    let (&revision, rest) = b.split_first()?;
    let (&count, rest) = rest.split_first()?;
    if revision != 1 || rest.len() != 6 + 4 * usize::from(count) {
        return None;
    }
    let authority = rest[..6]
        .iter()
        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
    let mut text = format!("S-1-{authority}");
    for chunk in rest[6..].chunks_exact(4) {
        let sub = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        text.push('-');
        text.push_str(&sub.to_string());
    }
    text.parse().ok()
}

/// objectGUID (16 bytes, the first three fields little-endian) in canonical form.
pub fn guid_from_bytes(b: &[u8]) -> Option<String> {
    let b: &[u8; 16] = b.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    ))
}

/// A canonical GUID string, checked, lower-cased; for `<GUID=…>` bases.
pub fn parse_guid(s: &str) -> Option<String> {
    let groups: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip(lens)
            .all(|(g, n)| g.len() == n && g.bytes().all(|c| c.is_ascii_hexdigit()));
    ok.then(|| s.to_ascii_lowercase())
}

/// The `member` value that names a member by SID, with a time-to-live when given (PAM).
pub fn member_value(sid: &Sid, ttl: Option<Duration>) -> String {
    match ttl {
        // AD refuses TTL 0; a grant never asks for less than a second
        Some(ttl) => format!("<TTL={},<SID={sid}>>", ttl.as_secs().max(1)),
        None => format!("<SID={sid}>"),
    }
}

/// One value read with the link-TTL control: `<TTL=n>,CN=…` or a plain DN.
pub fn parse_member(value: &str) -> (String, Option<Duration>) {
    if let Some(rest) = value.strip_prefix("<TTL=")
        && let Some((secs, dn)) = rest.split_once(">,")
        && let Ok(secs) = secs.parse::<u64>()
    {
        return (dn.to_owned(), Some(Duration::from_secs(secs)));
    }
    (value.to_owned(), None)
}

/// Where a ranged read of `attr` continues: `member;range=0-1499` → `Some(1500)`;
/// `member;range=1500-*` (the last range) or plain `member` → `None`.
pub fn next_range_start(attribute_name: &str) -> Option<usize> {
    let (_, range) = attribute_name.split_once(";range=")?;
    let (_, end) = range.split_once('-')?;
    end.parse::<usize>().ok().map(|e| e + 1)
}

/// The filter that finds objects whose names start with `text`, escaped so input can never
/// change the filter's structure (RFC 4515).
pub fn prefix_filter(class_filter: &str, text: &str) -> String {
    let t = ldap3::ldap_escape(text);
    format!("(&{class_filter}(|(cn={t}*)(sAMAccountName={t}*)(displayName={t}*)(mail={t}*)))")
}

/// The filter that finds the groups `dn` is nested in, at any depth
/// (LDAP_MATCHING_RULE_IN_CHAIN), escaped like [`prefix_filter`].
pub fn containing_groups_filter(dn: &str) -> String {
    format!(
        "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:={}))",
        ldap3::ldap_escape(dn)
    )
}

/// `url` with its host replaced by `host`, keeping the scheme, port and path:
/// `ldaps://dc1.example.com:636` with `dc2.example.com` → `ldaps://dc2.example.com:636`.
pub fn with_host(url: &str, host: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let port = match authority.rfind(':') {
        // a port after the host, not a colon inside a bracketed IPv6 address
        Some(i) if !authority[i..].contains(']') => &authority[i..],
        _ => "",
    };
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    (!host.is_empty() && !host.contains(['/', '@']))
        .then(|| format!("{scheme}://{host}{port}{path}"))
}

#[cfg(test)]
pub(crate) mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_dc_is_reached_with_the_configured_scheme_and_port() {
        assert_eq!(
            with_host("ldaps://dc1.example.com:636", "dc2.example.com").as_deref(),
            Some("ldaps://dc2.example.com:636")
        );
        assert_eq!(
            with_host("ldap://127.0.0.1:3890", "127.0.0.2").as_deref(),
            Some("ldap://127.0.0.2:3890")
        );
        assert_eq!(
            with_host("ldaps://dc1.example.com", "dc2.example.com").as_deref(),
            Some("ldaps://dc2.example.com")
        );
        assert_eq!(
            with_host("ldaps://[::1]:636", "::2").as_deref(),
            Some("ldaps://[::2]:636")
        );
        assert_eq!(with_host("ldaps://dc1", "evil/x"), None);
        assert_eq!(with_host("dc1.example.com", "dc2"), None);
    }

    #[test]
    fn binary_sids_convert_to_string_form() {
        // S-1-5-21-1-2-3-1104
        let mut b = vec![1, 5, 0, 0, 0, 0, 0, 5];
        for sub in [21u32, 1, 2, 3, 1104] {
            b.extend_from_slice(&sub.to_le_bytes());
        }
        assert_eq!(sid_from_bytes(&b).unwrap().as_str(), "S-1-5-21-1-2-3-1104");
        assert_eq!(
            sid_from_bytes(&[1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 32, 2, 0, 0])
                .unwrap()
                .as_str(),
            "S-1-5-32-544"
        );
    }

    #[test]
    fn truncated_or_foreign_sid_bytes_are_refused() {
        assert!(sid_from_bytes(&[]).is_none());
        assert!(sid_from_bytes(&[1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0]).is_none());
        assert!(sid_from_bytes(&[2, 0, 0, 0, 0, 0, 0, 5]).is_none());
    }

    #[test]
    fn guids_use_the_mixed_endian_layout() {
        let b = [
            0x73, 0xe8, 0x43, 0xec, 0xe8, 0xcc, 0x40, 0x46, 0xb4, 0xab, 0x07, 0xff, 0xe4, 0xab,
            0x5b, 0xcd,
        ];
        assert_eq!(
            guid_from_bytes(&b).unwrap(),
            "ec43e873-cce8-4640-b4ab-07ffe4ab5bcd"
        );
        assert!(guid_from_bytes(&b[..15]).is_none());
        assert_eq!(
            parse_guid("EC43E873-CCE8-4640-B4AB-07FFE4AB5BCD").unwrap(),
            "ec43e873-cce8-4640-b4ab-07ffe4ab5bcd"
        );
        assert!(parse_guid("ec43e873-cce8-4640-b4ab-07ffe4ab5bc").is_none());
        assert!(parse_guid("ec43e873>cce8-4640-b4ab-07ffe4ab5bcd").is_none());
    }

    #[test]
    fn member_values_name_the_sid_with_an_optional_ttl() {
        let sid: Sid = "S-1-5-21-1-2-3-1104".parse().unwrap();
        assert_eq!(member_value(&sid, None), "<SID=S-1-5-21-1-2-3-1104>");
        assert_eq!(
            member_value(&sid, Some(Duration::from_secs(3600))),
            "<TTL=3600,<SID=S-1-5-21-1-2-3-1104>>"
        );
        assert_eq!(
            member_value(&sid, Some(Duration::from_millis(10))),
            "<TTL=1,<SID=S-1-5-21-1-2-3-1104>>"
        );
    }

    #[test]
    fn ttl_prefixed_members_parse_and_plain_dns_pass_through() {
        assert_eq!(
            parse_member("<TTL=59>,CN=Dave Dba,CN=Users,DC=example,DC=test"),
            (
                "CN=Dave Dba,CN=Users,DC=example,DC=test".into(),
                Some(Duration::from_secs(59))
            )
        );
        assert_eq!(
            parse_member("CN=Carol,CN=Users,DC=example,DC=test"),
            ("CN=Carol,CN=Users,DC=example,DC=test".into(), None)
        );
        assert_eq!(parse_member("<TTL=x>,CN=a"), ("<TTL=x>,CN=a".into(), None));
    }

    #[test]
    fn ranged_attribute_names_say_where_to_continue() {
        assert_eq!(next_range_start("member;range=0-1499"), Some(1500));
        assert_eq!(next_range_start("member;range=1500-*"), None);
        assert_eq!(next_range_start("member"), None);
    }

    #[test]
    fn search_text_cannot_change_the_filter() {
        let f = prefix_filter("(objectClass=group)", "*)(objectClass=*");
        assert_eq!(
            f,
            "(&(objectClass=group)(|(cn=\\2a\\29\\28objectClass=\\2a*)(sAMAccountName=\\2a\\29\\28objectClass=\\2a*)(displayName=\\2a\\29\\28objectClass=\\2a*)(mail=\\2a\\29\\28objectClass=\\2a*)))"
        );
        assert!(prefix_filter("(objectClass=user)", "a\\b\0c").contains("a\\5cb\\00c*"));
        assert!(ldap3::parse_filter(prefix_filter("(objectClass=user)", "émile (x)")).is_ok());
    }
}
