//! The fixture's LDAP operations: bind, search, modify and the rootDSE's
//! `enableOptionalFeature`, answered as AD answers them.

use std::sync::Mutex;

use ldap3_proto::{
    control::LdapControl,
    proto::{
        LdapBindCred, LdapBindResponse, LdapFilter, LdapModifyRequest, LdapModifyType, LdapMsg,
        LdapOp, LdapPartialAttribute, LdapResult, LdapResultCode, LdapSearchRequest,
        LdapSearchResultEntry, LdapSearchScope,
    },
};

use crate::{
    ADMIN_DN, ADMIN_PASSWORD, BASE_DN, CONFIG_DN, DcIndex, LINK_TTL_CONTROL, MAX_VAL_RANGE,
    PAM_GUID, PAM_GUID_PLACEHOLDER, PAM_GUID_TEXT, ROLE_OU, ReAdd, SVC_DN, SVC_PASSWORD,
    directory::{Link, Obj, State},
    lock,
};

fn result(code: LdapResultCode, message: &str) -> LdapResult {
    LdapResult {
        code,
        matcheddn: String::new(),
        message: message.to_owned(),
        referral: Vec::new(),
    }
}

fn reply(msgid: i32, op: LdapOp) -> LdapMsg {
    LdapMsg {
        msgid,
        op,
        ctrl: Vec::new(),
    }
}

/// Answers one request to the DC `dc`; `None` ends the connection.
pub(crate) fn handle(
    state: &Mutex<State>,
    dc: DcIndex,
    bound_as: &mut Option<String>,
    msg: LdapMsg,
) -> Option<Vec<LdapMsg>> {
    let mut s = lock(state);
    let link_ttls = msg
        .ctrl
        .iter()
        .any(|c| matches!(c, LdapControl::Unknown { oid, .. } if oid == LINK_TTL_CONTROL));
    for c in &msg.ctrl {
        if let LdapControl::Unknown { oid, .. } = c {
            s.controls_seen.push(oid.clone());
        }
    }
    let id = msg.msgid;
    Some(match msg.op {
        LdapOp::BindRequest(bind) => {
            let ok = [(SVC_DN, SVC_PASSWORD), (ADMIN_DN, ADMIN_PASSWORD)]
                .iter()
                .any(|(dn, password)| {
                    bind.dn.eq_ignore_ascii_case(dn)
                        && matches!(&bind.cred, LdapBindCred::Simple(pw) if pw == password)
                });
            *bound_as = ok.then(|| bind.dn.clone());
            let res = if ok {
                result(LdapResultCode::Success, "")
            } else {
                result(
                    LdapResultCode::InvalidCredentials,
                    "80090308: LdapErr: DSID-0C09044E, data 52e",
                )
            };
            vec![reply(
                id,
                LdapOp::BindResponse(LdapBindResponse {
                    res,
                    saslcreds: None,
                }),
            )]
        }
        LdapOp::UnbindRequest => return None,
        LdapOp::SearchRequest(req) => {
            if bound_as.is_none() {
                vec![reply(
                    id,
                    LdapOp::SearchResultDone(result(LdapResultCode::OperationsError, "bind first")),
                )]
            } else {
                s.purge();
                search(&s, dc, id, &req, link_ttls)
            }
        }
        LdapOp::ModifyRequest(req) => {
            let res = match bound_as {
                None => result(LdapResultCode::InsufficentAccessRights, "bind first"),
                Some(account) => {
                    s.purge();
                    if req.dn.is_empty() {
                        enable_optional_feature(&mut s, dc, account, &req)
                    } else {
                        modify(&mut s, &req)
                    }
                }
            };
            vec![reply(id, LdapOp::ModifyResponse(res))]
        }
        _ => vec![reply(
            id,
            LdapOp::ModifyResponse(result(
                LdapResultCode::UnwillingToPerform,
                "not in the fixture",
            )),
        )],
    })
}

fn search(
    s: &State,
    dc: DcIndex,
    id: i32,
    req: &LdapSearchRequest,
    link_ttls: bool,
) -> Vec<LdapMsg> {
    let done = |code, msg: &str| reply(id, LdapOp::SearchResultDone(result(code, msg)));
    if req.base.is_empty() && req.scope == LdapSearchScope::Base {
        let attrs = vec![
            attr("defaultNamingContext", [BASE_DN]),
            attr("configurationNamingContext", [CONFIG_DN]),
            attr("forestFunctionality", [s.forest_level.to_string()]),
            attr("supportedControl", [LINK_TTL_CONTROL]),
            attr("dsServiceName", [s.dcs[dc].ntds_settings.as_str()]),
            attr("dnsHostName", [s.dcs[dc].host.as_str()]),
        ];
        return vec![
            reply(
                id,
                LdapOp::SearchResultEntry(LdapSearchResultEntry {
                    dn: String::new(),
                    attributes: attrs,
                }),
            ),
            done(LdapResultCode::Success, ""),
        ];
    }
    let Some(base) = s.resolve(&req.base) else {
        return vec![done(
            LdapResultCode::NoSuchObject,
            "0000208D: NameErr: DSID-0310028D, problem 2001 (NO_OBJECT)",
        )];
    };
    let base_dn = base.dn.to_ascii_lowercase();
    let in_scope = |o: &&Obj| {
        let dn = o.dn.to_ascii_lowercase();
        match req.scope {
            LdapSearchScope::Base => dn == base_dn,
            LdapSearchScope::OneLevel => dn
                .split_once(',')
                .is_some_and(|(_, parent)| parent == base_dn),
            _ => dn == base_dn || dn.ends_with(&format!(",{base_dn}")),
        }
    };
    let mut matched: Vec<&Obj> = s
        .objects
        .iter()
        .filter(in_scope)
        .filter(|o| matches(s, o, &req.filter))
        .collect();
    let mut code = LdapResultCode::Success;
    let limit = usize::try_from(req.sizelimit).unwrap_or(0);
    if limit > 0 && matched.len() > limit {
        matched.truncate(limit);
        code = LdapResultCode::SizeLimitExceeded;
    }
    let mut out: Vec<LdapMsg> = matched
        .iter()
        .map(|o| {
            let attributes = req
                .attrs
                .iter()
                .filter_map(|a| attribute(s, o, a, link_ttls))
                .collect();
            reply(
                id,
                LdapOp::SearchResultEntry(LdapSearchResultEntry {
                    dn: o.dn.clone(),
                    attributes,
                }),
            )
        })
        .collect();
    out.push(done(code, ""));
    out
}

fn attr<I: IntoIterator<Item = T>, T: Into<Vec<u8>>>(
    name: &str,
    values: I,
) -> LdapPartialAttribute {
    LdapPartialAttribute {
        atype: name.to_owned(),
        vals: values.into_iter().map(Into::into).collect(),
    }
}

fn attribute(s: &State, o: &Obj, requested: &str, link_ttls: bool) -> Option<LdapPartialAttribute> {
    let lower = requested.to_ascii_lowercase();
    match lower.as_str() {
        "objectsid" => o.sid_bytes().map(|b| attr("objectSid", [b])),
        "objectguid" => Some(attr("objectGUID", [o.guid.to_vec()])),
        "objectclass" => Some(attr("objectClass", o.classes.iter().copied())),
        "tokengroups" => o.is("user").then(|| attr("tokenGroups", s.token_groups(o))),
        "allowedattributeseffective" => {
            let writable = o.is("group")
                && o.dn
                    .to_ascii_lowercase()
                    .ends_with(&ROLE_OU.to_ascii_lowercase());
            writable.then(|| attr("allowedAttributesEffective", ["member"]))
        }
        "msds-optionalfeatureguid" => o
            .is("msDS-OptionalFeature")
            .then(|| attr("msDS-OptionalFeatureGUID", [PAM_GUID.to_vec()])),
        _ if lower == "member" || lower.starts_with("member;range=") => {
            members(s.now, o, &lower, link_ttls)
        }
        // per-value replication metadata of `member` (MS-ADTS 3.1.1.4.5.x), all in one range
        _ if lower == "msds-replvaluemetadata" || lower.starts_with("msds-replvaluemetadata;") => {
            (o.is("group") && !o.links.is_empty())
                .then(|| attr("msDS-ReplValueMetaData", o.links.iter().map(value_metadata)))
        }
        _ => o
            .attrs
            .get(&lower)
            .map(|v| attr(requested, v.iter().map(String::as_str))),
    }
}

/// One `msDS-ReplValueMetaData` value, as AD writes it (fixture second `n` is
/// [`METADATA_EPOCH`] + `n`).
fn value_metadata(link: &Link) -> String {
    let written = metadata_time(link.written);
    format!(
        "<DS_REPL_VALUE_META_DATA>\n\t<pszAttributeName>member</pszAttributeName>\n\t\
         <pszObjectDn>{}</pszObjectDn>\n\t<cbData>0</cbData>\n\t<pbData></pbData>\n\t\
         <ftimeDeleted>1601-01-01T00:00:00Z</ftimeDeleted>\n\t<ftimeCreated>{written}</ftimeCreated>\n\t\
         <dwVersion>1</dwVersion>\n\t<ftimeLastOriginatingChange>{written}</ftimeLastOriginatingChange>\n\t\
         <uuidLastOriginatingDsaInvocationID>00000000-0000-0000-0000-000000000000</uuidLastOriginatingDsaInvocationID>\n\t\
         <usnOriginatingChange>{}</usnOriginatingChange>\n\t<usnLocalChange>{}</usnLocalChange>\n\t\
         <pszLastOriginatingDsaDN></pszLastOriginatingDsaDN>\n</DS_REPL_VALUE_META_DATA>",
        link.dn
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;"),
        link.written + 1,
        link.written + 1,
    )
}

/// Unix time of fixture second 0 in replication metadata: 2026-01-01T00:00:00Z.
pub const METADATA_EPOCH: u64 = 1_767_225_600;

/// Fixture second `n` as AD's metadata writes a time (UTC, whole seconds).
fn metadata_time(n: u64) -> String {
    let unix = METADATA_EPOCH + n;
    let (days, rest) = (unix / 86_400, unix % 86_400);
    // civil from days (H. Hinnant), for days since 1970-01-01
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

/// `member`, in ranges of at most [`MAX_VAL_RANGE`] values; with the link-TTL control, TTL
/// links as `<TTL=remaining>,DN`.
fn members(now: u64, o: &Obj, requested: &str, link_ttls: bool) -> Option<LdapPartialAttribute> {
    let values: Vec<String> = o
        .links
        .iter()
        .map(|l| match (link_ttls, l.expires) {
            (true, Some(at)) => format!("<TTL={}>,{}", at.saturating_sub(now), l.dn),
            _ => l.dn.clone(),
        })
        .collect();
    if values.is_empty() {
        return None;
    }
    let start = requested
        .strip_prefix("member;range=")
        .and_then(|r| r.split_once('-'))
        .and_then(|(low, _)| low.parse::<usize>().ok());
    if start.is_none() && values.len() <= MAX_VAL_RANGE {
        return Some(attr("member", values));
    }
    let start = start.unwrap_or(0);
    if start >= values.len() {
        return None;
    }
    let end = (start + MAX_VAL_RANGE).min(values.len());
    let name = if end == values.len() {
        format!("member;range={start}-*")
    } else {
        format!("member;range={start}-{}", end - 1)
    };
    Some(attr(&name, values[start..end].iter().map(String::as_str)))
}

/// LDAP_MATCHING_RULE_IN_CHAIN (MS-ADTS 3.1.1.3.4.4.3).
const IN_CHAIN: &str = "1.2.840.113556.1.4.1941";

fn matches(s: &State, o: &Obj, f: &LdapFilter) -> bool {
    match f {
        LdapFilter::And(fs) => fs.iter().all(|f| matches(s, o, f)),
        LdapFilter::Or(fs) => fs.iter().any(|f| matches(s, o, f)),
        LdapFilter::Not(f) => !matches(s, o, f),
        // `(member:1.2.840.113556.1.4.1941:=DN)`: groups DN is in at any depth
        LdapFilter::Extensible(m)
            if m.matching_rule.as_deref() == Some(IN_CHAIN)
                && m.type_
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case("member")) =>
        {
            s.containing(&m.match_value).iter().any(|g| g.dn == o.dn)
        }
        LdapFilter::Present(a) => {
            a.eq_ignore_ascii_case("objectClass") || o.attrs.contains_key(&a.to_ascii_lowercase())
        }
        LdapFilter::Equality(a, v) => match a.to_ascii_lowercase().as_str() {
            "objectclass" => o.is(v),
            "objectcategory" => (v.eq_ignore_ascii_case("person") && o.is("person")) || o.is(v),
            "msds-optionalfeatureguid" => {
                o.is("msDS-OptionalFeature") && v.as_bytes() == PAM_GUID_PLACEHOLDER
            }
            // the back link of `member`: o is directly in the group named
            "memberof" => s
                .find(v)
                .is_some_and(|g| g.links.iter().any(|l| l.dn.eq_ignore_ascii_case(&o.dn))),
            "distinguishedname" => o.dn.eq_ignore_ascii_case(v),
            "primarygroupid" => o
                .primary_group_rid
                .is_some_and(|rid| v.parse::<u32>().is_ok_and(|want| want == rid)),
            other => o
                .attrs
                .get(other)
                .is_some_and(|vals| vals.iter().any(|x| x.eq_ignore_ascii_case(v))),
        },
        LdapFilter::Substring(a, sub) => o.attrs.get(&a.to_ascii_lowercase()).is_some_and(|vals| {
            vals.iter().any(|x| {
                let x = x.to_lowercase();
                let mut rest = x.as_str();
                if let Some(i) = &sub.initial {
                    let i = i.to_lowercase();
                    if !rest.starts_with(&i) {
                        return false;
                    }
                    rest = &rest[i.len()..];
                }
                for any in &sub.any {
                    let any = any.to_lowercase();
                    match rest.find(&any) {
                        Some(p) => rest = &rest[p + any.len()..],
                        None => return false,
                    }
                }
                sub.final_
                    .as_ref()
                    .is_none_or(|f| rest.ends_with(&f.to_lowercase()))
            })
        }),
        _ => false,
    }
}

/// A modify of `member` values, applied whole or not at all (as AD applies a modify).
fn modify(s: &mut State, req: &LdapModifyRequest) -> LdapResult {
    let Some(target) = s.resolve(&req.dn).map(|o| o.dn.clone()) else {
        return result(
            LdapResultCode::NoSuchObject,
            "0000208D: NameErr: problem 2001 (NO_OBJECT)",
        );
    };
    if !target
        .to_ascii_lowercase()
        .ends_with(&ROLE_OU.to_ascii_lowercase())
    {
        return result(
            LdapResultCode::InsufficentAccessRights,
            "00002098: SecErr: DSID-03150F94, problem 4003 (INSUFF_ACCESS_RIGHTS)",
        );
    }
    let mut links = s.find(&target).expect("resolved above").links.clone();
    for change in &req.changes {
        if !change.modification.atype.eq_ignore_ascii_case("member") {
            return result(
                LdapResultCode::InsufficentAccessRights,
                "only member is delegated",
            );
        }
        for value in &change.modification.vals {
            let value = String::from_utf8_lossy(value);
            let Some((sid, ttl)) = parse_member_value(&value) else {
                return result(
                    LdapResultCode::InvalidDNSyntax,
                    "0000208F: NameErr: DSID-03100225, problem 2006 (BAD_NAME)",
                );
            };
            if ttl.is_some() && !s.pam_enabled {
                return result(
                    LdapResultCode::UnwillingToPerform,
                    "TTL values need the PAM optional feature",
                );
            }
            let Some(member_dn) = s.resolve(&format!("<SID={sid}>")).map(|o| o.dn.clone()) else {
                return result(LdapResultCode::UnwillingToPerform, "no object has that SID");
            };
            let expires = ttl.map(|t| s.now + s.max_ttl.map_or(t, |cap| t.min(cap)));
            if let Err(refused) = change_link(
                &mut links,
                &change.operation,
                member_dn,
                expires,
                s.readd,
                s.now,
            ) {
                return refused;
            }
        }
    }
    s.find_mut(&target).expect("resolved above").links = links;
    result(LdapResultCode::Success, "")
}

fn entry_exists() -> LdapResult {
    result(
        LdapResultCode::EntryAlreadyExists,
        "00000562: UpdErr: DSID-031A11E2, problem 6005 (ENTRY_EXISTS)",
    )
}

/// One value of a modify, on the group's links as the modify has left them so far.
fn change_link(
    links: &mut Vec<Link>,
    operation: &LdapModifyType,
    member_dn: String,
    expires: Option<u64>,
    readd: ReAdd,
    now: u64,
) -> Result<(), LdapResult> {
    let existing = links
        .iter()
        .position(|l| l.dn.eq_ignore_ascii_case(&member_dn));
    match (operation, existing) {
        (LdapModifyType::Add, Some(i)) => match (links[i].expires, expires) {
            // a plain add of a member, and a TTL add over a permanent link: never converted
            (_, None) | (None, Some(_)) => return Err(entry_exists()),
            (Some(_), Some(new)) => match readd {
                ReAdd::ReplaceTtl => {
                    links[i].expires = Some(new);
                    links[i].written = now;
                }
                ReAdd::EntryExists => return Err(entry_exists()),
                ReAdd::KeepOldTtl => {}
            },
        },
        (LdapModifyType::Add, None) => links.push(Link {
            dn: member_dn,
            expires,
            written: now,
        }),
        (LdapModifyType::Delete, Some(i)) => {
            links.remove(i);
        }
        (LdapModifyType::Delete, None) => {
            return Err(result(
                LdapResultCode::NoSuchAttribute,
                "00002077: AtrErr: DSID-03152F9F, #1: 0: 00002077: no such value",
            ));
        }
        _ => {
            return Err(result(
                LdapResultCode::UnwillingToPerform,
                "only add and delete of member values",
            ));
        }
    }
    Ok(())
}

/// `<SID=…>` or `<TTL=n,<SID=…>>`.
fn parse_member_value(v: &str) -> Option<(String, Option<u64>)> {
    if let Some(rest) = v.strip_prefix("<TTL=") {
        let (secs, inner) = rest.split_once(',')?;
        let inner = inner.strip_suffix('>')?;
        let (sid, _) = parse_member_value(inner)?;
        return Some((sid, Some(secs.parse().ok().filter(|s| *s > 0)?)));
    }
    let sid = v.strip_prefix("<SID=")?.strip_suffix('>')?;
    Some((sid.to_owned(), None))
}

/// The rootDSE's `enableOptionalFeature` (MS-ADTS 3.1.1.3.3.28), for the PAM feature.
fn enable_optional_feature(
    s: &mut State,
    dc: DcIndex,
    account: &str,
    req: &LdapModifyRequest,
) -> LdapResult {
    s.feature_requests.push(dc);
    let wanted = format!("CN=Partitions,{CONFIG_DN}:{PAM_GUID_TEXT}");
    let asks = req.changes.iter().any(|c| {
        c.modification
            .atype
            .eq_ignore_ascii_case("enableOptionalFeature")
            && c.modification
                .vals
                .iter()
                .any(|v| String::from_utf8_lossy(v).eq_ignore_ascii_case(&wanted))
    });
    if !asks || s.forest_level < 7 {
        return result(
            LdapResultCode::UnwillingToPerform,
            "0000209A: SvcErr: DSID-03152D2A, problem 5003 (WILL_NOT_PERFORM)",
        );
    }
    if dc != s.naming_master {
        // a forest-wide feature is enabled on the Domain Naming Master only
        return result(
            LdapResultCode::UnwillingToPerform,
            "00002035: SvcErr: DSID-03152FD5, problem 5003 (WILL_NOT_PERFORM), not the Domain Naming Master",
        );
    }
    if !account.eq_ignore_ascii_case(ADMIN_DN) {
        // the Manage-Optional-Features control access right on CN=Partitions
        return result(
            LdapResultCode::InsufficentAccessRights,
            "00002098: SecErr: DSID-03150F94, problem 4003 (INSUFF_ACCESS_RIGHTS)",
        );
    }
    if s.pam_enabled {
        return result(
            LdapResultCode::AttributeOrValueExists,
            "00002083: AtrErr: DSID-03151904, #1: 0: 00002083: problem 1006 (ATT_OR_VALUE_EXISTS)",
        );
    }
    s.enable_pam();
    result(LdapResultCode::Success, "")
}
